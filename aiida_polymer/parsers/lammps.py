"""Parser of ``polymer.lammps``: reads ``log.lammps`` and the sampling files (never relies on the launcher's
stdout, which on some machines goes elsewhere; it is only consulted for errors raised on MPI ranks > 0 when the
log stops without one).

Every sampled series gets a ``time`` array (fs): its steps times the timestep this run used, which after a timestep
halving is not the protocol's. The summary flags a run whose box became shorter than twice the pair cut-off.
"""

from __future__ import annotations

import io

import numpy as np
from aiida import orm
from aiida.parsers import Parser

from ..calculations.lammps import LOG
from ..chem.lammps_input import (
    FINAL_DATA,
    FINAL_RESTART,
    NEMD_FILES,
    OUTPUT_FILES,
    THERMO_COLUMNS,
    Stage,
    heat_flux_terms,
)
from ..chem.lammps_io import read_vector_frames
from ..chem.lammps_log import parse_log
from ..chem.nemd import read_flux, read_heat_flux, read_profile
from . import read_text

EXIT_BY_KIND = {"lost_atoms": "ERROR_LOST_ATOMS", "bond_atoms_missing": "ERROR_BOND_ATOMS_MISSING",
                "shake_failure": "ERROR_SHAKE", "out_of_range_atoms": "ERROR_OUT_OF_RANGE_ATOMS",
                "nan": "ERROR_NAN", "other": "ERROR_LAMMPS"}


def read_vector_file(text: str) -> tuple[np.ndarray, np.ndarray]:
    """A ``fix ave/time ... mode vector`` file of one value per row: (steps, values[frame, row])."""
    steps, frames = read_vector_frames(text)
    return steps, frames[..., 0] if frames.size else np.zeros((0, 0))


def read_scalar_file(text: str) -> np.ndarray:
    """A ``fix ave/time`` scalar file: one row per sample (step first)."""
    return np.loadtxt(io.StringIO(text), comments="#", ndmin=2)


def half_box_check(thermo: dict[str, np.ndarray], stage: Stage) -> dict[str, float | bool]:
    """The shortest box length of the run against twice the pair cut-off (the minimum-image limit)."""
    cutoff = stage.cutoff if stage.potential == "full" else stage.lj_cutoff
    lengths = [np.asarray(thermo[k], dtype=float) for k in ("lx", "ly", "lz") if k in thermo]
    if not lengths:
        return {}
    shortest = float(min(length.min() for length in lengths))
    return {"min_box_length": shortest, "cutoff": float(cutoff), "cutoff_exceeds_half_box": cutoff > shortest / 2}


def _array(**arrays: np.ndarray) -> orm.ArrayData:
    node = orm.ArrayData()
    for name, values in arrays.items():
        node.set_array(name, np.asarray(values))
    return node


class LammpsParser(Parser):
    """Thermo series, sampled series, final data file and a summary; LAMMPS errors as distinct exit codes."""

    def parse(self, **kwargs):
        retrieved = self.retrieved
        names = retrieved.base.repository.list_object_names()
        if LOG not in names:
            return self.exit_codes.ERROR_NO_LOG
        try:
            log = parse_log(read_text(retrieved, LOG))
        except Exception as exc:
            return self.exit_codes.ERROR_LOG_UNPARSABLE.format(message=str(exc))
        if log.truncated and not log.errors:
            stdout = self.node.get_option("scheduler_stdout")
            if stdout in names:
                screen = parse_log(read_text(retrieved, stdout))
                log.errors, log.error_kind = screen.errors, screen.error_kind

        thermo = log.thermo(concatenate=False)  # the MD run is the stage's last run
        if len(thermo) == len(THERMO_COLUMNS):  # LAMMPS prints its own headers (TotEng, E_bond, ...): use keywords
            thermo = dict(zip(THERMO_COLUMNS, thermo.values(), strict=True))
        if thermo:
            self.out("thermo", _array(**thermo))
        stage = Stage.from_dict(self.node.inputs.stage.get_dict())
        self._parse_samples(names, stage)
        if FINAL_DATA in names:
            content = retrieved.base.repository.get_object_content(FINAL_DATA, mode="rb")
            self.out("final_data", orm.SinglefileData(io.BytesIO(content), filename=FINAL_DATA))

        target = int(self.node.inputs.stage.get("steps", 0))
        summary = log.summary()
        summary.pop("runs", None)
        summary.update(target_step=target, final_restart=FINAL_RESTART if log.completed else None,
                       stage=stage.name, timestep=stage.timestep, **half_box_check(thermo, stage))
        self.out("output_parameters", orm.Dict(summary))

        if log.error_kind:
            message = log.errors[0] if log.errors else "non-finite thermo values"
            return getattr(self.exit_codes, EXIT_BY_KIND[log.error_kind]).format(message=message.splitlines()[0])
        if log.truncated:
            step = log.last_step if log.last_step is not None else "0 (no thermo output: a log cut or not LAMMPS's)"
            return self.exit_codes.ERROR_INCOMPLETE.format(step=step)
        if not thermo:
            return self.exit_codes.ERROR_NO_THERMO
        if log.timeout and (log.last_step or 0) < target:
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(step=log.last_step)
        return None

    def _parse_samples(self, names: list[str], stage: Stage) -> None:
        def content(name: str) -> str:
            return read_text(self.retrieved, name)

        tables = {}
        if OUTPUT_FILES["rg"] in names:
            steps, values = read_vector_file(content(OUTPUT_FILES["rg"]))
            tables["rg"] = {"step": steps, "values": values}
        if OUTPUT_FILES["com"] in names:
            steps, values = read_vector_frames(content(OUTPUT_FILES["com"]))
            tables["com"] = {"step": steps, "values": values}
        if OUTPUT_FILES["dipole"] in names:
            table = read_scalar_file(content(OUTPUT_FILES["dipole"]))
            if table.size:
                tables["dipole"] = {"step": table[:, 0].astype(int), "dipole": table[:, 1:4]}
        if NEMD_FILES["nemd_profile"] in names:
            tables["nemd_profile"] = read_profile(content(NEMD_FILES["nemd_profile"]))
        if NEMD_FILES["nemd_flux"] in names:
            tables["nemd_flux"] = read_flux(content(NEMD_FILES["nemd_flux"]))
        if NEMD_FILES["nemd_heat_flux"] in names:
            tables["nemd_heat_flux"] = read_heat_flux(content(NEMD_FILES["nemd_heat_flux"]), heat_flux_terms(stage))
        for name, table in tables.items():
            if len(table["step"]):
                self.out(name, _array(time=np.asarray(table["step"]) * stage.timestep, **table))
