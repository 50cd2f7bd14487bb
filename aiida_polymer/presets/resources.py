"""Default ``metadata.options`` per pipeline stage, protocol and kind of computer.

Stages: ``psi4`` (threaded quantum chemistry), ``amber`` (antechamber/parmchk2, serial), ``equilibration`` and
``production`` (LAMMPS MD), ``nemd`` (non-equilibrium LAMMPS MD, the longest runs). Protocols: ``fast``,
``screening``, ``moderate``, ``precise``. The layout depends on the scheduler:

* ``polymer.pjm`` (Fugaku, A64FX): whole nodes of 48 cores as 4 MPI ranks x 12 OpenMP threads (one rank per CMG)
  for LAMMPS, one rank x 48 threads for Psi4, one core for the serial AmberTools;
* other batch schedulers (``core.slurm``, ``core.pbspro``, ...; x86): LAMMPS as pure MPI over the node's cores,
  Psi4 one process with all the node's cores as threads;
* ``core.direct`` (this machine): the same, on ``cores_per_node`` cores (default: the computer's default MPI
  processes per machine, else the cores this process may use, :func:`available_cores`).
"""

from __future__ import annotations

import os
from typing import Any

from ..chem.protocols import NAMES as PROTOCOLS

__all__ = ("PROTOCOLS", "STAGES", "available_cores", "stage_options")

STAGES = ("psi4", "amber", "equilibration", "production", "nemd")

#: A64FX: compute cores per node, and the MPI ranks x OpenMP threads that fill it (one rank per CMG).
A64FX_CORES, A64FX_RANKS, A64FX_THREADS = 48, 4, 12

_HOUR = 3600
#: Walltime (s) per stage and protocol (fast, screening, moderate, precise). Long LAMMPS stages continue from their
#: restart file after the walltime (polymer.lammps.base), so these are job sizes rather than limits of the science.
WALLTIME = {
    "psi4": (1 * _HOUR, 4 * _HOUR, 4 * _HOUR, 12 * _HOUR),
    "amber": (900, 1800, 1800, 1 * _HOUR),
    "equilibration": (2 * _HOUR, 4 * _HOUR, 12 * _HOUR, 24 * _HOUR),
    "production": (2 * _HOUR, 4 * _HOUR, 12 * _HOUR, 24 * _HOUR),
    "nemd": (4 * _HOUR, 12 * _HOUR, 24 * _HOUR, 24 * _HOUR),
}
#: Nodes of an MD stage per protocol (bigger cells on the more precise protocols) on Fugaku and on x86 clusters.
MD_NODES = {
    "polymer.pjm": {"equilibration": (1, 1, 2, 4), "production": (1, 1, 2, 4), "nemd": (2, 2, 4, 8)},
    "cluster": {"equilibration": (1, 1, 1, 2), "production": (1, 1, 1, 2), "nemd": (1, 1, 2, 2)},
}
#: Cores per node assumed for an x86 cluster whose computer does not say (``mpiprocs_per_machine``).
DEFAULT_CLUSTER_CORES = 32


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; ``os.cpu_count()`` where that is not known)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _scheduler_and_cores(computer: Any) -> tuple[str, int | None]:
    if isinstance(computer, str):
        return computer, None
    return computer.scheduler_type, computer.get_default_mpiprocs_per_machine()


def stage_options(
    stage: str,
    computer: Any,
    protocol: str = "moderate",
    *,
    cores_per_node: int | None = None,
    queue_name: str | None = None,
    account: str | None = None,
    custom_scheduler_commands: str | None = None,
) -> dict[str, Any]:
    """``metadata.options`` (resources, max_wallclock_seconds, withmpi, ...) for one stage.

    :param computer: an ``orm.Computer`` or a scheduler entry point name (``polymer.pjm``, ``core.slurm``, ...).
    :param cores_per_node: cores of a node; default: 48 on PJM, else the computer's default MPI processes per
        machine, else 32 on a batch cluster and this machine's cores (:func:`available_cores`) on ``core.direct``.
    :param queue_name: resource group / partition / queue (PJM ``rscgrp``).
    :param account: PJM group (``#PJM -g``), Slurm account, PBS project.
    :param custom_scheduler_commands: extra scheduler lines, e.g. ``#PJM -x PJM_LLIO_GFSCACHE=/vol0004``.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: one of {', '.join(STAGES)}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: one of {', '.join(PROTOCOLS)}")
    level = PROTOCOLS.index(protocol)
    scheduler, computer_cores = _scheduler_and_cores(computer)
    pjm = scheduler == "polymer.pjm"
    local = scheduler == "core.direct"
    if cores_per_node is None:
        cores_per_node = A64FX_CORES if pjm else computer_cores or (
            available_cores() if local else DEFAULT_CLUSTER_CORES)

    if stage == "amber":
        resources = {"num_machines": 1, "num_mpiprocs_per_machine": 1, "num_cores_per_mpiproc": 1}
        withmpi = False
    elif stage == "psi4":
        resources = {"num_machines": 1, "num_mpiprocs_per_machine": 1, "num_cores_per_mpiproc": cores_per_node}
        withmpi = False
    elif pjm:
        ranks = A64FX_RANKS * cores_per_node // A64FX_CORES or 1
        resources = {
            "num_machines": MD_NODES["polymer.pjm"][stage][level],
            "num_mpiprocs_per_machine": ranks,
            "num_cores_per_mpiproc": cores_per_node // ranks,
        }
        withmpi = True
    else:
        resources = {
            "num_machines": 1 if local else MD_NODES["cluster"][stage][level],
            "num_mpiprocs_per_machine": cores_per_node,
            "num_cores_per_mpiproc": 1,
        }
        withmpi = True

    options: dict[str, Any] = {"resources": resources, "withmpi": withmpi}
    if not local:
        options["max_wallclock_seconds"] = WALLTIME[stage][level]
    if queue_name:
        options["queue_name"] = queue_name
    if account:
        options["account"] = account
    if custom_scheduler_commands:
        options["custom_scheduler_commands"] = custom_scheduler_commands
    return options
