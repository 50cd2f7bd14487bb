"""The CLI's scheduler side: job options per stage (``submit --options-file``) and the job scripts the run's jobs
would get (``submit --dry-run``).

An options file is YAML with one mapping of ``metadata.options`` per code or stage::

    lmp:                          # every LAMMPS job (equilibration, production and NEMD)
      queue_name: small           # PJM resource group (#PJM -L rscgrp=), Slurm partition, PBS queue
      account: hp123456           # PJM group (#PJM -g), Slurm account, PBS project
      max_wallclock_seconds: 2:00:00          # or seconds; PJM elapse, Slurm --time
      custom_scheduler_commands: "#PJM -x PJM_LLIO_GFSCACHE=/vol0004"
    nemd:                         # the NEMD jobs only (over lmp)
      resources: {num_machines: 4}
    psi4: {queue_name: normal, account: chem}

Keys: the codes ``lmp``, ``psi4``, ``antechamber``, ``parmchk2`` and the stages of
``PropertiesWorkChain.get_builder_from_protocol(options=...)``: ``lammps`` (equilibration and production),
``nemd``, ``psi4``, ``amber`` (antechamber and parmchk2). Each stage starts from
:func:`~aiida_polymer.presets.resources.stage_options` of its code's computer and the protocol; the code's entry is
merged over it, then the stage's (``resources`` key by key; giving any of ``num_mpiprocs_per_machine``,
``num_cores_per_mpiproc``, ``num_cores_per_machine`` replaces the default layout of a node).
"""

from __future__ import annotations

import difflib
import logging
import re
from pathlib import Path
from typing import Any

#: builder stage -> (its code, its stage in presets.resources); the code's plugin (codes.PLUGINS) gets the options
STAGES = {"lammps": ("lmp", "equilibration"), "nemd": ("lmp", "nemd"), "psi4": ("psi4", "psi4"),
          "amber": ("antechamber", "amber")}
#: builder stage -> the options file's entries that apply to it, in the order they are merged
ENTRIES = {"lammps": ("lmp", "lammps"), "nemd": ("lmp", "nemd"), "psi4": ("psi4",),
           "amber": ("antechamber", "parmchk2", "amber")}
KEYS = ("lmp", "psi4", "antechamber", "parmchk2", "lammps", "nemd", "amber")
LAYOUT = ("num_mpiprocs_per_machine", "num_cores_per_mpiproc", "num_cores_per_machine")
_DURATION = re.compile(r"^(?:(?P<days>\d+)-)?(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+)$")


class OptionsFileError(ValueError):
    """An options file that cannot be used; the message names the file, the key and what would be valid."""


def _hint(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_options_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """The file's entries by key, checked: a mapping of known keys to mappings (OptionsFileError otherwise)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OptionsFileError(f"options file {path}: cannot read it: {exc}") from None
    if not isinstance(data, dict):
        raise OptionsFileError(f"options file {path}: expected a mapping of {', '.join(KEYS)} to options, "
                               f"not {type(data).__name__}")
    for key, value in data.items():
        if key not in KEYS:
            raise OptionsFileError(f"options file {path}: unknown key {key!r}{_hint(str(key), KEYS)}; "
                                   f"keys: {', '.join(KEYS)}")
        if not isinstance(value, dict):
            raise OptionsFileError(f"options file {path}: {key} must be a mapping of metadata.options, "
                                   f"not {value!r}")
    return data


def _seconds(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise OptionsFileError(f"{where}: max_wallclock_seconds must be seconds or [D-]H:MM:SS, not {value!r}")
    if isinstance(value, int | float):
        return int(value)
    match = _DURATION.match(str(value).strip())
    if not match:
        raise OptionsFileError(f"{where}: max_wallclock_seconds must be seconds or [D-]H:MM:SS, not {value!r}")
    parts = {k: int(v or 0) for k, v in match.groupdict().items()}
    return ((parts["days"] * 24 + parts["h"]) * 60 + parts["m"]) * 60 + parts["s"]


def _merge(options: dict[str, Any], extra: dict[str, Any], where: str) -> dict[str, Any]:
    merged = {**options, **{k: v for k, v in extra.items() if k != "resources"}}
    if "resources" in extra:
        resources = extra["resources"]
        if not isinstance(resources, dict):
            raise OptionsFileError(f"{where}: resources must be a mapping, not {resources!r}")
        base = dict(options.get("resources") or {})
        if any(key in resources for key in LAYOUT):
            base = {k: v for k, v in base.items() if k not in LAYOUT}
        merged["resources"] = {**base, **resources}
    if "max_wallclock_seconds" in extra:
        merged["max_wallclock_seconds"] = _seconds(extra["max_wallclock_seconds"], where)
    if isinstance(merged.get("custom_scheduler_commands"), list):
        merged["custom_scheduler_commands"] = "\n".join(map(str, merged["custom_scheduler_commands"]))
    return merged


def _option_names(calculation: str) -> set[str]:
    from aiida.plugins import CalculationFactory

    return set(CalculationFactory(calculation).spec().inputs["metadata"]["options"])


def job_options(codes: dict, protocol: str, entries: dict[str, dict] | None = None,
                source: str = "options file") -> dict[str, dict[str, Any]]:
    """``metadata.options`` per builder stage (``lammps``, ``nemd``, ``psi4``, ``amber``): the presets' defaults
    for each code's computer, with the ``entries`` of an options file merged over them, each checked against the
    calculation's option names and the scheduler's resources (OptionsFileError naming the problem)."""
    from ..codes import PLUGINS
    from ..presets.resources import stage_options

    entries = entries or {}
    result = {}
    for stage, (code_key, preset) in STAGES.items():
        calculation = PLUGINS[code_key]
        code = codes.get(code_key)
        if code is None:
            continue
        options = stage_options(preset, code.computer, protocol)
        keys = [key for key in ENTRIES[stage] if key in entries]
        for key in keys:  # the codes' entries first, the stage's over them
            where = f"{source}, {key}"
            allowed = _option_names(calculation)
            unknown = sorted(set(entries[key]) - allowed)
            if unknown:
                raise OptionsFileError(f"{where}: unknown option {unknown[0]!r}{_hint(unknown[0], allowed)}; "
                                       f"metadata.options are e.g. queue_name, account, max_wallclock_seconds, "
                                       f"resources, custom_scheduler_commands, qos, max_memory_kb")
            options = _merge(options, entries[key], where)
        if keys:
            try:
                code.computer.get_scheduler().validate_resources(**options["resources"])
            except (TypeError, ValueError) as exc:
                raise OptionsFileError(f"{source}, {stage}: resources {options['resources']} do not fit "
                                       f"{code.computer.scheduler_type} on {code.computer.label}: {exc}") from None
        result[stage] = options
    return result


# ---------------------------------------------------------------------------------------------------------------
# Dry run


def _placeholder_data_file():
    from aiida import orm

    text = "placeholder: the workflow builds the cell and writes the real data file\n"
    return orm.SinglefileData.from_string(text, filename="system.data")


def _molecule(smiles: str):
    """The H-capped repeat unit with one embedded conformer (what the Psi4 jobs compute, before optimisation)."""
    from rdkit.Chem import AllChem

    from ..calcfunctions.charges import capped_molecule
    from ..parsers.psi4 import molecule

    mol, _, _ = capped_molecule(smiles)
    if mol.GetNumConformers() == 0 and AllChem.EmbedMolecule(mol, randomSeed=42) != 0:
        AllChem.Compute2DCoords(mol)
    coords = mol.GetConformer().GetPositions()
    return molecule([atom.GetSymbol() for atom in mol.GetAtoms()], coords)


def _jobs(inputs: dict) -> list[tuple[str, str, type, dict]]:
    """(name, what, calculation class, inputs) of the first job of each kind that the run would submit."""
    from aiida import orm
    from aiida.plugins import CalculationFactory

    from ..chem import equilibration, nemd

    lammps = CalculationFactory("polymer.lammps")

    def lammps_job(md: dict, stage) -> dict:
        extra = {"settings": md["settings"]} if "settings" in md else {}
        return {"code": md["code"], "stage": orm.Dict(stage.to_dict()), "data_file": _placeholder_data_file(),
                "metadata": {"options": dict(md["metadata"]["options"])}, **extra}

    first = equilibration.packing_stage(inputs["equilibrate"]["protocol"].get_dict())
    jobs = [("lammps", "packing, compression and production stages", lammps,
             lammps_job(inputs["equilibrate"]["md"]["lammps"], first))]
    if "nemd" in inputs and "md" in inputs["nemd"]:
        stage = nemd.stages(inputs["nemd"]["protocol"].get_dict())[-1]
        jobs.append(("nemd", "NEMD stages (thermal conductivity)", lammps,
                     lammps_job(inputs["nemd"]["md"]["lammps"], stage)))
    charges = inputs.get("charges") or {}
    if "code" in charges:
        parameters = charges["parameters"].get_dict()
        task = "optimize" if parameters.get("optimize") else "polarizability" if parameters.get(
            "polarizability") else None
        smiles = inputs["equilibrate"]["cell"]["parameters"]["smiles"][0]
        options = {"resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}, "withmpi": False}
        options.update(charges["options"].get_dict() if "options" in charges else {})
        if task:
            jobs.append(("psi4", f"Psi4 jobs of the charges ({task} of {smiles}, H-capped)",
                         CalculationFactory("polymer.psi4"),
                         {"code": charges["code"], "structure": _molecule(smiles),
                          "parameters": orm.Dict({**parameters[task], "task": task, "charge": 0}),
                          "metadata": {"options": options}}))
    return jobs


def dry_run(builder) -> list[dict[str, Any]]:
    """AiiDA's own dry run (``metadata.dry_run``, nothing stored) of the first job of each kind of the run of
    ``builder`` (LAMMPS, NEMD, Psi4): each writes its input files and ``_aiidasubmit.sh`` into a new folder under
    ``./submit_test/``. Returns per job: name, what, code, computer, scheduler, folder and the job script."""
    from aiida.manage import get_manager

    inputs = builder._inputs(prune=True)
    error = builder._process_class.spec().inputs.validate(inputs)
    if error is not None:
        raise ValueError(f"the inputs do not validate: {error}")
    runner = get_manager().create_runner(with_persistence=False, communicator=None)  # no broker, no daemon
    results = []
    plumpy = logging.getLogger("plumpy")
    level, plumpy.level = plumpy.level, logging.ERROR  # not "Disabling persistence" once per job
    try:
        for name, what, calculation, job in _jobs(inputs):
            job["metadata"].update({"dry_run": True, "store_provenance": False, "label": f"dry-run {name}"})
            _, node = runner.run_get_node(calculation, **job)
            folder = Path(node.dry_run_info["folder"])
            code = job["code"]
            results.append({"name": name, "what": what, "code": code.full_label, "computer": code.computer.label,
                            "scheduler": code.computer.scheduler_type, "folder": folder,
                            "script": (folder / node.dry_run_info["script_filename"]).read_text()})
    finally:
        plumpy.setLevel(level)
        runner.close()
    return results


def amber_line(inputs: dict) -> str | None:
    cell = inputs["equilibrate"].get("cell") or {}
    if "antechamber" not in cell:
        return None
    codes = [cell[name] for name in ("antechamber", "parmchk2") if name in cell]
    computers = sorted({f"{c.computer.label} ({c.computer.scheduler_type})" for c in codes})
    options = cell["options"].get_dict() if "options" in cell else {}
    return (f"amber: {', '.join(c.full_label for c in codes)}: short core.shell jobs on {', '.join(computers)}, "
            f"options {options}")
