"""Parser of ``polymer.lammps``: reads ``log.lammps`` and the sampling files (never relies on the launcher's
stdout, which on some machines goes elsewhere; it is only consulted for errors raised on MPI ranks > 0 when the
log stops without one).

Every sampled series gets a ``time`` array (fs): its steps times the timestep this run used, which after a timestep
halving is not the protocol's. The summary flags a run whose box became shorter than twice the pair cut-off.

A phase (several stages in one run) is split at its stage lines: each stage's thermo is an output of its own
(``stage_thermo.<name>``), the summary lists each stage's progress, and the other outputs are those of the last
stage that ran (``series_stage``); a phase stopped by the walltime, or killed, names the stage to go on from.

A stage with ``vdos`` settings dumps the velocities of its last frames (``velocities.dump``, retrieved to a
temporary folder only: it is large); they become the ``vdos`` output, the vibrational density of states and the
quantum correction of the specific heat (:func:`aiida_polymer.chem.vdos.specific_correction`).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from aiida import orm
from aiida.parsers import Parser

from ..calculations.lammps import LOG
from ..chem.lammps_input import (
    FINAL_DATA,
    FINAL_RESTART,
    NEMD_FILES,
    OUTPUT_FILES,
    PHASE,
    THERMO_COLUMNS,
    UNIAXIAL_FILES,
    VDOS_FILE,
    Stage,
    heat_flux_terms,
    stage_files,
    stages_of,
)
from ..chem.lammps_io import read_dump, read_vector_frames
from ..chem.lammps_log import LammpsLog, parse_log, split_stages
from ..chem.mechanics import read_deformation
from ..chem.nemd import read_flux, read_heat_flux, read_profile
from ..chem.vdos import specific_correction
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


def _thermo(log: LammpsLog) -> dict[str, np.ndarray]:
    """The thermo of the log's last run, by the project's column names."""
    thermo = log.thermo(concatenate=False)
    if len(thermo) == len(THERMO_COLUMNS):  # LAMMPS prints its own headers (TotEng, E_bond, ...): use keywords
        thermo = dict(zip(THERMO_COLUMNS, thermo.values(), strict=True))
    return thermo


def phase_progress(stages: list[Stage], text: str) -> tuple[list[dict], dict[str, dict[str, np.ndarray]]]:
    """Each stage of a phase that began: name, completed, ended (its end line: stopped by the walltime when not
    completed), last_step, target_step; and each one's thermo."""
    progress, thermo = [], {}
    by_name = {stage.name: stage for stage in stages}
    for part in split_stages(text):
        stage = by_name.get(part.name)
        if stage is None:
            continue
        log = parse_log(part.text)
        last = part.end_step if part.end_step is not None else log.last_step
        completed = part.end_step is not None and (stage.ensemble == "minimize" or part.end_step >= stage.steps)
        progress.append({"name": stage.name, "completed": completed, "ended": part.end_step is not None,
                         "last_step": last, "target_step": stage.steps})
        series = _thermo(log)
        if series:
            thermo[stage.name] = series
    return progress, thermo


def _array(**arrays: np.ndarray) -> orm.ArrayData:
    node = orm.ArrayData()
    for name, values in arrays.items():
        node.set_array(name, np.asarray(values))
    return node


class LammpsParser(Parser):
    """Thermo series, sampled series, final data file and a summary; LAMMPS errors as distinct exit codes."""

    def parse(self, **kwargs):
        self._temporary = kwargs.get("retrieved_temporary_folder")
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

        spec = self.node.inputs.stage.get_dict()
        stages = stages_of(spec)
        if PHASE in spec:
            return self._parse_phase(log, read_text(retrieved, LOG), names, stages, spec)
        stage = stages[0]
        thermo = _thermo(log)  # the MD run is the stage's last run
        if thermo:
            self.out("thermo", _array(**thermo))
        self._parse_outputs(names, stage)
        summary = log.summary()
        summary.pop("runs", None)
        summary.update(target_step=stage.steps, final_restart=FINAL_RESTART if log.completed else None,
                       stage=stage.name, timestep=stage.timestep, **half_box_check(thermo, stage))
        self.out("output_parameters", orm.Dict(summary))

        failed = self._failure(log)
        if failed:
            return failed
        if log.truncated:
            step = log.last_step if log.last_step is not None else "0 (no thermo output: a log cut or not LAMMPS's)"
            return self.exit_codes.ERROR_INCOMPLETE.format(step=step)
        if not thermo:
            return self.exit_codes.ERROR_NO_THERMO
        if log.timeout and (log.last_step or 0) < stage.steps:
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(step=log.last_step)
        return None

    def _failure(self, log: LammpsLog):
        if log.error_kind:
            message = log.errors[0] if log.errors else "non-finite thermo values"
            return getattr(self.exit_codes, EXIT_BY_KIND[log.error_kind]).format(message=message.splitlines()[0])
        return None

    def _parse_phase(self, log: LammpsLog, text: str, names: list[str], stages: list[Stage], spec: dict):
        progress, thermo = phase_progress(stages, text)
        for name, series in thermo.items():
            self.out(f"stage_thermo.{name}", _array(**series))
        current = next((s for s in stages if progress and s.name == progress[-1]["name"]), stages[0])
        if current.name in thermo:
            self.out("thermo", _array(**thermo[current.name]))
        self._parse_outputs(names, current)
        done = [p["name"] for p in progress if p["completed"]]
        last = progress[-1] if progress else {}
        summary = log.summary()
        summary.pop("runs", None)
        summary.update(
            stage=spec.get("name", "phase"), stages=progress, stages_completed=done, series_stage=current.name,
            target_step=current.steps, timestep=current.timestep, last_step=last.get("last_step"),
            restart_file=stage_files(current.name)[0] if last.get("ended") and not last.get("completed") else None,
            final_restart=FINAL_RESTART if len(done) == len(stages) else None,
            **half_box_check(thermo.get(current.name, {}), current))
        self.out("output_parameters", orm.Dict(summary))
        failed = self._failure(log)
        if failed:
            return failed
        if len(done) == len(stages):
            return None if current.name in thermo or current.ensemble == "minimize" else \
                self.exit_codes.ERROR_NO_THERMO
        if last.get("ended"):  # stopped by the walltime, in or after this stage
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(step=last["last_step"])
        step = last.get("last_step", "0 (no stage began)")
        return self.exit_codes.ERROR_INCOMPLETE.format(step=f"{step} of stage {current.name}")

    def _parse_outputs(self, names: list[str], stage: Stage) -> None:
        """The sampled series (with their times) and the final data file."""
        self._parse_samples(names, stage)
        self._parse_vdos(stage)
        if FINAL_DATA in names:
            content = self.retrieved.base.repository.get_object_content(FINAL_DATA, mode="rb")
            self.out("final_data", orm.SinglefileData(io.BytesIO(content), filename=FINAL_DATA))

    def _parse_vdos(self, stage: Stage) -> None:
        """The ``vdos`` output from the velocity dump, if the stage wrote one with enough frames (a run stopped
        before the dump began has none; one stopped within it leaves fewer frames, used as they are)."""
        path = Path(self._temporary or "") / VDOS_FILE
        if stage.vdos is None or not self._temporary or not path.is_file():
            return
        steps, columns, frames = read_dump(path.read_text(errors="replace"))
        if len(steps) < 8 or len(set(np.diff(steps))) != 1:
            self.logger.warning(f"{VDOS_FILE}: {len(steps)} frames, not evenly spaced or fewer than 8: no vdos")
            return
        mass = frames[0, :, columns.index("mass")]
        velocity = frames[:, :, [columns.index(c) for c in ("vx", "vy", "vz")]]
        temperature = stage.t_start_stop[1]
        result = specific_correction(float(steps[1] - steps[0]) * stage.timestep, velocity, mass, temperature)
        node = _array(frequency=result["frequency"], dos=result["dos"])
        node.base.attributes.set_many({"temperature": temperature, "correction": result["value"],
                                       "correction_stderr": result["stderr"], "unit": "J/(kg K)",
                                       "degrees_of_freedom": result["degrees_of_freedom"],
                                       "atoms": result["atoms"], "frames": result["frames"]})
        self.out("vdos", node)

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
        deformation = UNIAXIAL_FILES[stage.uniaxial_settings["axis"]] if stage.uniaxial is not None else None
        if deformation in names:
            tables["deformation"] = read_deformation(content(deformation))
        for name, table in tables.items():
            if len(table["step"]):
                self.out(name, _array(time=np.asarray(table["step"]) * stage.timestep, **table))
