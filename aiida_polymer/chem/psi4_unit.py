"""The QM of a repeat unit or end group as one psi4 job: optimise each conformer, take the lowest, sample its ESP on
the MSK grid of the optimised geometry, then its polarizability (pure Python, for a ``polymer.psi4.unit`` CalcJob).

The job runs the stages one after another in one psithon ``input.dat``: ``optimize_0`` … ``optimize_<n-1>``,
``esp``, ``polarizability`` (when asked for). Each stage resets psi4 (``core.clean``, ``core.clean_options``) and
sets its own memory and options, so it computes what the same task does as a job of its own
(:func:`aiida_polymer.chem.psi4_io.write_input`). The ESP grid depends on the optimised geometry, so it is built
inside the job by :mod:`aiida_polymer.chem.esp_grid`, whose source travels with the input as :data:`GRID_MODULE`
(it needs numpy only) and written to ``grid.dat``, which is retrieved with the potential.

Each stage's output is framed by ``@aiida_polymer stage "<name>"`` and ``@aiida_polymer stage_done "<name>"``
lines; :func:`parse_unit_output` splits the output there, so a job that fails (or is killed) in a stage still
returns every stage finished before it — the workflow computes only what is left, stage by stage.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import esp_grid
from .psi4_io import (
    _PSITHON_HELPERS,
    GRID_FILE,
    MARKER,
    Psi4Result,
    Psi4Task,
    _check_geometry,
    molecule_block,
    parse_output,
    psi4_options,
    task_body,
)

GRID_MODULE = "aiida_polymer_esp_grid.py"
GRID_KEYS = ("density", "orientations", "scales", "radii")
_STAGE = re.compile(rf"^{MARKER} stage (.+)$", re.M)
_DONE = re.compile(rf"^{MARKER} stage_done (.+)$", re.M)
_LOWEST = re.compile(rf"^{MARKER} lowest (.+)$", re.M)


@dataclass(frozen=True)
class UnitJob:
    """The tasks of one unit job; ``polarizability`` None skips that stage."""

    optimize: Psi4Task
    esp: Psi4Task
    grid: dict[str, Any]
    polarizability: Psi4Task | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitJob:
        """From ``{optimize, esp, grid, polarizability, charge}`` (the charge protocol's sections and the charge)."""
        unknown = set(data) - {"optimize", "esp", "grid", "polarizability", "charge"}
        if unknown:
            raise ValueError(f"unknown unit-job keys: {sorted(unknown)}")
        charge = data.get("charge", 0)
        grid = dict(data.get("grid") or {})
        if set(grid) - set(GRID_KEYS):
            raise ValueError(f"unknown grid keys: {sorted(set(grid) - set(GRID_KEYS))}")

        def task(name: str) -> Psi4Task | None:
            settings = data.get(name)
            return None if settings is None else Psi4Task.from_dict({**settings, "task": name, "charge": charge})

        optimize, esp = task("optimize"), task("esp")
        if optimize is None or esp is None:
            raise ValueError("a unit job needs `optimize` and `esp` settings")
        return cls(optimize=optimize, esp=esp, grid=grid, polarizability=task("polarizability"))


def grid_module() -> str:
    """The source of :mod:`aiida_polymer.chem.esp_grid`, written next to the input as :data:`GRID_MODULE`."""
    return Path(esp_grid.__file__).read_text()


def _stage(name: str, task: Psi4Task, elements: list[str], psi4_version: str | tuple[int, ...] | None) -> str:
    options = dict(psi4_options(task, elements, psi4_version))
    return f"_aiida_stage({name}, {json.dumps(task.memory.strip())}, {json.dumps(options)})\n"


_UNIT_HELPERS = f'''\
import os
import sys

sys.path.insert(0, os.getcwd())
import {GRID_MODULE[:-3]} as _aiida_grid


def _aiida_stage(name, memory, options):
    """Begin a stage: psi4's state and options reset, then the stage's own memory and options."""
    _aiida_emit("stage", name)
    core.clean()
    core.clean_options()
    set_memory(memory)
    set_options(options)


def _aiida_write_grid(molecule, settings):
    """MSK points around the molecule's current geometry, written to {GRID_FILE} (Angstrom)."""
    xyz = molecule.geometry().to_array() * psi4.constants.bohr2angstroms
    symbols = [molecule.symbol(i).capitalize() for i in range(molecule.natom())]
    points = _aiida_grid.msk_points(symbols, xyz, **settings)
    with open("{GRID_FILE}", "w") as handle:
        for x, y, z in points:
            handle.write("%18.10f %18.10f %18.10f\\n" % (x, y, z))
    _aiida_emit("grid_points", len(points))

'''


def write_unit_input(job: UnitJob | dict[str, Any], elements: list[str], conformers: list[Any],
                     psi4_version: str | tuple[int, ...] | None = None) -> str:
    """Render the psithon ``input.dat`` of a unit job over ``conformers`` (each (N, 3) Å, atoms as ``elements``);
    write :func:`grid_module` next to it as :data:`GRID_MODULE`."""
    job = job if isinstance(job, UnitJob) else UnitJob.from_dict(job)
    elements = list(elements)
    if not conformers:
        raise ValueError("a unit job needs at least one conformer")
    coords = [_check_geometry(elements, c) for c in conformers]
    names = [f"conformer_{i}" for i in range(len(coords))]
    lines = [f"# aiida-polymer psi4 input: task=unit, {len(coords)} conformer optimisation(s) "
             f"({job.optimize.method}/{job.optimize.basis}), ESP ({job.esp.method}/{job.esp.basis})"
             + (f", polarizability ({job.polarizability.method}/{job.polarizability.basis})"
                if job.polarizability else ""),
             f"memory {job.optimize.memory.strip()}", ""]
    for name, xyz in zip(names, coords, strict=True):
        lines += molecule_block(name, job.optimize, elements, xyz)
    text = "\n".join(lines) + "\n" + _PSITHON_HELPERS + _UNIT_HELPERS + '_aiida_emit("task", "unit")\n'
    optimize = _stage('"optimize_%d" % _aiida_i', job.optimize, elements, psi4_version)
    optimize += "activate(mol)\n" + task_body(job.optimize)
    optimize += '_aiida_emit("stage_done", "optimize_%d" % _aiida_i)\n'
    optimize += ("if _aiida_lowest is None or _aiida_e < _aiida_lowest[1]:\n"
                 "    _aiida_lowest = (_aiida_i, _aiida_e, mol)\n")
    text += "_aiida_lowest = None\n"
    text += f"for _aiida_i, mol in enumerate([{', '.join(names)}]):\n" + textwrap.indent(optimize, "    ")
    text += '_aiida_emit("lowest", _aiida_lowest[0])\nmol = _aiida_lowest[2]\n'
    text += _stage('"esp"', job.esp, elements, psi4_version) + "activate(mol)\n"
    text += f"_aiida_write_grid(mol, {json.dumps(job.grid)})\n" + task_body(job.esp)
    text += '_aiida_emit("stage_done", "esp")\n'
    if job.polarizability is not None:
        text += _stage('"polarizability"', job.polarizability, elements, psi4_version) + "activate(mol)\n"
        text += task_body(job.polarizability) + '_aiida_emit("stage_done", "polarizability")\n'
    return text + '_aiida_emit("finished", True)\n'


@dataclass
class UnitResult:
    """What :func:`parse_unit_output` found: the job as a whole and each stage that began."""

    job: Psi4Result
    stages: dict[str, Psi4Result] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    lowest: int | None = None
    points: np.ndarray | None = None  # (M, 3) Å, the grid.dat the job wrote

    @property
    def failed_stage(self) -> str | None:
        """The stage that began and did not finish."""
        return next((name for name in self.stages if name not in self.done), None)

    def summary(self) -> dict[str, Any]:
        """JSON-serializable: version, wall time, stages, the lowest conformer and the energies."""
        return {"version": self.job.version, "wall_time": self.job.wall_time, "completed": self.job.completed,
                "stages": list(self.stages), "stages_completed": list(self.done), "failed_stage": self.failed_stage,
                "lowest": self.lowest, "error_kind": self.job.error_kind, "error_message": self.job.error_message,
                "energies": {name: r.energy for name, r in self.stages.items() if name in self.done}}


def _stage_chunks(text: str) -> list[tuple[str, str]]:
    """(name, text) of each stage, split at its ``stage`` line."""
    starts = [(m.start(), json.loads(m[1])) for m in _STAGE.finditer(text)]
    ends = [start for start, _ in starts[1:]] + [len(text)]
    return [(name, text[start:end]) for (start, name), end in zip(starts, ends, strict=True)]





def parse_unit_output(text: str | None, files: dict[str, str] | None = None) -> UnitResult:
    """Parse a unit job's ``output.dat`` (and ``grid.dat``, ``grid_esp.dat``) stage by stage."""
    files = files or {}
    whole = parse_output(text, {})
    result = UnitResult(job=whole)
    if whole.error_kind == "missing_output":
        return result
    result.done = [json.loads(m) for m in _DONE.findall(text)]
    lowest = _LOWEST.findall(text)
    result.lowest = int(json.loads(lowest[-1])) if lowest else None
    for name, chunk in _stage_chunks(text):
        stage = parse_output(chunk, files if name == "esp" else {})
        stage.version, stage.wall_time = whole.version, None
        stage.task = "optimize" if name.startswith("optimize_") else name
        stage.completed = name in result.done
        if stage.completed:
            stage.error_kind = stage.error_message = None
        else:
            stage.error_kind = whole.error_kind or "incomplete"
            stage.error_message = whole.error_message
        result.stages[name] = stage
    if files.get(GRID_FILE) and "esp" in result.done:
        result.points = np.array([[float(v) for v in line.split()] for line in files[GRID_FILE].splitlines()
                                  if line.strip()])
    return result
