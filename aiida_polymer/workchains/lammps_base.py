"""``polymer.lammps.base``: run one LAMMPS stage to completion, recovering from the failures it knows."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_
from aiida.plugins import CalculationFactory

from ..calcfunctions.pieces import join_pieces
from ..chem.lammps_input import FINAL_RESTART, PHASE, RESTART_FILES, stage_files
from .exclusive import Exclusive

LammpsCalculation = CalculationFactory("polymer.lammps")
SERIES = ("thermo", "rg", "com", "dipole", "nemd_profile", "nemd_flux", "nemd_heat_flux", "deformation")


class LammpsBaseWorkChain(Exclusive, BaseRestartWorkChain):
    """Walltime or a killed job: continue the stage from its last restart file with the remaining steps, as often
    as each continuation gets further than the one before. Lost atoms, missing bond atoms, SHAKE failure,
    out-of-range atoms or NaN: rerun the stage from its start with the timestep halved and twice the steps (same
    simulated time, same thermostat and barostat damping times), at most ``max_timestep_halvings`` times.

    The series outputs (thermo, rg, com, dipole, NEMD) cover the whole stage: those of a stage run in pieces are
    joined (:func:`aiida_polymer.calcfunctions.pieces.join_pieces`); the rest are the last run's.

    A phase (several stages in one job) goes on from where it stopped: after the walltime, the interrupted stage
    continues from its restart file, or the next stage starts from the data file of the last one completed, and
    the rest of the phase follows in the same job; killed, it continues from the stage's newest periodic restart
    file or starts the stage again from the one before; blown up, the rest of the phase is rerun from the start
    of the failing stage with half the timestep. The series outputs are the last stage's."""

    _process_class = LammpsCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(LammpsCalculation, namespace="lammps")
        spec.input("max_timestep_halvings", valid_type=orm.Int, default=lambda: orm.Int(2),
                   help="How often a blown-up stage may be rerun with half the timestep.")
        spec.inputs["max_iterations"].default = lambda: orm.Int(100)
        spec.inputs["max_iterations"].help = ("A safety bound on the number of LAMMPS runs: continuations are bounded "
                                              "by their progress, blow-ups by max_timestep_halvings.")
        spec.outline(cls.setup, while_(cls.should_run_process)(cls.run_process, cls.inspect_process), cls.results)
        spec.expose_outputs(LammpsCalculation)
        spec.exit_code(310, "ERROR_NO_RESTART_FILE", message="The stage was interrupted and left no restart file.")
        spec.exit_code(311, "ERROR_NO_PROGRESS",
                       message="The stage was interrupted at step {step} without getting further than the previous "
                               "run (step {previous}): the walltime is too short for a restart interval.")
        spec.exit_code(410, "ERROR_TIMESTEP_HALVINGS_EXHAUSTED",
                       message="The stage kept failing ({exit}) after halving the timestep {n} times.")

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(LammpsCalculation, "lammps"))
        self.ctx.original = AttributeDict(self.ctx.inputs)
        self.ctx.halvings = 0
        spec = self.ctx.inputs.stage.get_dict()
        self.ctx.phase = [stage["name"] for stage in spec[PHASE]] if PHASE in spec else None
        self._reset_progress()
        self.ctx.data_of = {}  # a phase: stage name -> pk of the run whose folder holds its data file

    def inspect_process(self):
        node = self.ctx.children[self.ctx.iteration - 1]
        if self.ctx.phase and "output_parameters" in node.outputs:
            for name in node.outputs.output_parameters.get("stages_completed", []):
                self.ctx.data_of[name] = node.pk
        return super().inspect_process()

    def _reset_progress(self) -> None:
        """Where the last interrupted run resumed from: a step, or for a phase (stage index, step)."""
        self.ctx.reached = (-1, -1) if self.ctx.phase else -1

    def pieces(self) -> list:
        """The LAMMPS runs whose output makes up the stage's result, in order: a run from the stage's start begins
        the list, each continuation extends it; runs that left no thermo output contribute nothing."""
        runs = []
        calcs = (c for c in self.node.called if c.process_class is LammpsCalculation)
        for calc in sorted(calcs, key=lambda c: c.ctime):
            settings = calc.inputs.settings.get_dict() if "settings" in calc.inputs else {}
            same = runs and _series_stage(runs[-1]) == _series_stage(calc)  # a phase: the series of one stage
            runs = [*runs, calc] if settings.get("continuation") and same else [calc]
        return [calc for calc in runs if "thermo" in calc.outputs]

    def get_outputs(self, node):
        outputs = dict(super().get_outputs(node))
        runs = self.pieces()
        if len(runs) > 1:
            series = {f"{name}__{i}": calc.outputs[name] for i, calc in enumerate(runs) for name in SERIES
                      if name in calc.outputs}
            outputs.update(join_pieces(**series, metadata={"call_link_label": "join_pieces"}))
            self.report(f"joined the series of {len(runs)} pieces of the stage")
        return outputs

    def _progress(self, node, step: int | None):
        """Refuse a continuation that would resume no later than the previous one (no progress: it would loop)."""
        if step is None or step <= self.ctx.reached:
            self.report(f"{node.process_label}<{node.pk}> made no progress (step {step})")
            return ProcessHandlerReport(do_break=True, exit_code=self.exit_codes.ERROR_NO_PROGRESS.format(
                step=step, previous=self.ctx.reached))
        self.ctx.reached = step
        return None

    def _continue_from(self, node, restart_file: str) -> None:
        inputs = self.ctx.inputs
        inputs.pop("data_file", None)
        inputs.parent_folder = node.outputs.remote_folder
        settings = inputs.settings.get_dict() if "settings" in inputs else {}
        inputs.settings = orm.Dict({**settings, "continuation": True, "restart_file": restart_file})

    def _phase_position(self, node) -> tuple[list[dict], dict, tuple[int, float] | None]:
        """A phase run's stages (as it ran them), the progress of its last stage that began, and that position
        in the whole phase: (stage index, step; a completed stage counts as beyond its last step)."""
        stages = node.inputs.stage.get_dict()[PHASE]
        progress = node.outputs.output_parameters.get("stages", []) if "output_parameters" in node.outputs else []
        if not progress:
            return stages, {}, None
        last = progress[-1]
        step = float("inf") if last["completed"] else (last["last_step"] if last["last_step"] is not None else -1)
        return stages, last, (self.ctx.phase.index(last["name"]), step)

    def _rest_of_phase(self, stages: list[dict], first: str) -> orm.Dict:
        names = [stage["name"] for stage in stages]
        spec = self.ctx.inputs.stage.get_dict()
        return orm.Dict({**spec, PHASE: stages[names.index(first):]})

    def _start_stage(self, stages: list[dict], first: str) -> None:
        """Run the phase from the start of stage ``first``: from the data file of the stage before, or from the
        phase's own input for its first stage."""
        index = self.ctx.phase.index(first)
        stage = self._rest_of_phase(stages, first)
        if index == 0:
            self.ctx.inputs = AttributeDict(self.ctx.original)
        else:
            previous = self.ctx.phase[index - 1]
            inputs = self.ctx.inputs
            inputs.pop("data_file", None)
            inputs.parent_folder = orm.load_node(self.ctx.data_of[previous]).outputs.remote_folder
            settings = inputs.settings.get_dict() if "settings" in inputs else {}
            settings.pop("restart_file", None)
            inputs.settings = orm.Dict({**settings, "continuation": False, "data_file": stage_files(previous)[1]})
        self.ctx.inputs.stage = stage

    def _phase_walltime(self, node):
        stages, last, position = self._phase_position(node)
        if stuck := self._progress(node, position):
            return stuck
        names = [stage["name"] for stage in stages]
        if last["completed"]:
            following = names[names.index(last["name"]) + 1]
            self._start_stage(stages, following)
            what = f"starting {following}"
        else:
            self._continue_from(node, node.outputs.output_parameters["restart_file"])
            self.ctx.inputs.stage = self._rest_of_phase(stages, last["name"])
            what = f"continuing {last['name']} from step {last['last_step']}"
        self.report(f"{node.process_label}<{node.pk}> reached the walltime: {what} and the rest of the phase")
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=600, exit_codes=[LammpsCalculation.exit_codes.ERROR_OUT_OF_WALLTIME])
    def handle_walltime(self, node):
        """LAMMPS stopped itself before the walltime and wrote final.restart: run the remaining steps."""
        if self.ctx.phase:
            return self._phase_walltime(node)
        step = node.outputs.output_parameters.get("last_step")
        if stuck := self._progress(node, step):
            return stuck
        self._continue_from(node, FINAL_RESTART)
        self.report(f"{node.process_label}<{node.pk}> reached the walltime at step {step}: continuing")
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=590, exit_codes=[LammpsCalculation.exit_codes.ERROR_INCOMPLETE,
                                               LammpsCalculation.exit_codes.ERROR_SCHEDULER_OUT_OF_WALLTIME])
    def handle_killed(self, node):
        """The job was killed mid-run: continue from the newest periodic restart file, if any."""
        files = {f["name"]: f for f in node.outputs.remote_folder.listdir_withattributes()} \
            if "remote_folder" in node.outputs else {}
        if self.ctx.phase:
            return self._phase_killed(node, files)
        candidates = [name for name in (FINAL_RESTART, *RESTART_FILES) if name in files]
        if not candidates:
            self.report(f"{node.process_label}<{node.pk}> was interrupted and wrote no restart file")
            return ProcessHandlerReport(do_break=True, exit_code=self.exit_codes.ERROR_NO_RESTART_FILE)
        newest = max(candidates, key=lambda name: files[name]["attributes"]["st_mtime"])
        if stuck := self._progress(node, self._restart_step(node, newest)):
            return stuck
        self._continue_from(node, newest)
        self.report(f"{node.process_label}<{node.pk}> was interrupted: continuing from {newest}")
        return ProcessHandlerReport(do_break=True)

    def _phase_killed(self, node, files: dict):
        """Continue the stage that was running from a periodic restart file it wrote (newer than the data file of
        the stage before), else start it again from that data file."""
        stages, last, _ = self._phase_position(node)
        if not last:
            self.report(f"{node.process_label}<{node.pk}> was interrupted before its first stage began")
            return ProcessHandlerReport(do_break=True, exit_code=self.exit_codes.ERROR_NO_RESTART_FILE)
        name, index = last["name"], self.ctx.phase.index(last["name"])
        names = [stage["name"] for stage in stages]
        if name == names[0]:  # the run began with this stage: its periodic restart files are this stage's
            own = [f for f in RESTART_FILES if f in files]
        else:  # newer than the data file of the stage before, which this run wrote
            before = stage_files(names[names.index(name) - 1])[1]
            began = files[before]["attributes"]["st_mtime"] if before in files else float("inf")
            own = [f for f in RESTART_FILES if f in files and files[f]["attributes"]["st_mtime"] > began]
        every = int(stages[names.index(name)].get("restart_every") or 0)
        if own and every and (last["last_step"] or 0) >= every:
            newest = max(own, key=lambda f: files[f]["attributes"]["st_mtime"])
            step = last["last_step"] // every * every
            if stuck := self._progress(node, (index, step)):
                return stuck
            self._continue_from(node, newest)
            self.ctx.inputs.stage = self._rest_of_phase(stages, name)
            self.report(f"{node.process_label}<{node.pk}> was interrupted in {name}: continuing from {newest}")
            return ProcessHandlerReport(do_break=True)
        if stuck := self._progress(node, (index, -1)):
            return stuck
        self._start_stage(stages, name)
        self.report(f"{node.process_label}<{node.pk}> was interrupted in {name}: starting it again")
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=500, exit_codes=[
        LammpsCalculation.exit_codes.ERROR_LOST_ATOMS, LammpsCalculation.exit_codes.ERROR_BOND_ATOMS_MISSING,
        LammpsCalculation.exit_codes.ERROR_SHAKE, LammpsCalculation.exit_codes.ERROR_OUT_OF_RANGE_ATOMS,
        LammpsCalculation.exit_codes.ERROR_NAN])
    def handle_blow_up(self, node):
        """Rerun the stage from its original start with half the timestep and twice the steps."""
        if self.ctx.halvings >= self.inputs.max_timestep_halvings.value:
            return ProcessHandlerReport(do_break=True, exit_code=self.exit_codes.ERROR_TIMESTEP_HALVINGS_EXHAUSTED
                                        .format(exit=node.exit_status, n=self.ctx.halvings))
        self.ctx.halvings += 1
        if self.ctx.phase:
            return self._phase_blow_up(node)
        stage = self.ctx.inputs.stage.get_dict()
        _halve(stage)
        self.ctx.inputs = AttributeDict(self.ctx.original)
        self.ctx.inputs.stage = orm.Dict(stage)
        self._reset_progress()
        self.report(f"{node.process_label}<{node.pk}> failed [{node.exit_status}] {node.exit_message}; "
                    f"rerunning the stage with timestep {stage['timestep']:g} fs")
        return ProcessHandlerReport(do_break=True)

    def _phase_blow_up(self, node):
        """Rerun the rest of the phase from the start of the failing stage with half the timestep."""
        stages, last, _ = self._phase_position(node)
        name = last.get("name", stages[0]["name"])
        halved = [dict(stage) for stage in stages]
        for stage in halved:
            _halve(stage)
        self._start_stage(halved, name)
        self._reset_progress()
        self.report(f"{node.process_label}<{node.pk}> failed in {name} [{node.exit_status}] {node.exit_message}; "
                    f"rerunning the phase from {name} with half the timestep")
        return ProcessHandlerReport(do_break=True)

    @staticmethod
    def _restart_step(node, name: str) -> int | None:
        """The step a periodic restart file was written at: the last multiple of the stage's restart interval
        that the killed run's thermo reached (LAMMPS writes ``restart.a``/``restart.b`` alternately)."""
        every = int(node.inputs.stage.get("restart_every") or 0)
        last = node.outputs.output_parameters.get("last_step") if "output_parameters" in node.outputs else None
        if name == FINAL_RESTART:
            return last
        if not every or last is None:
            return None
        return last // every * every


def _series_stage(calc) -> str | None:
    """The stage whose series a run's outputs hold (a phase's last stage that ran; None for a single stage)."""
    return calc.outputs.output_parameters.get("series_stage") if "output_parameters" in calc.outputs else None


def _halve(stage: dict) -> None:
    """Half the timestep, twice the steps: the same simulated time, damping times and output times."""
    timestep = stage.get("timestep", 1.0)
    # damping times stay what they were in fs (their defaults are 100 and 1000 timesteps)
    stage.update(tdamp=stage.get("tdamp") or 100 * timestep, pdamp=stage.get("pdamp") or 1000 * timestep,
                 timestep=timestep / 2, steps=int(stage.get("steps", 0)) * 2)
    for key in ("thermo_every", "sample_every", "restart_every"):
        if stage.get(key):
            stage[key] *= 2
