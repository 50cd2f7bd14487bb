"""``polymer.lammps.base``: run one LAMMPS stage to completion, recovering from the failures it knows."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_
from aiida.plugins import CalculationFactory

from ..calcfunctions.pieces import join_pieces
from ..chem.lammps_input import FINAL_RESTART, RESTART_FILES

LammpsCalculation = CalculationFactory("polymer.lammps")
SERIES = ("thermo", "rg", "com", "dipole", "nemd_profile", "nemd_flux", "nemd_heat_flux")


class LammpsBaseWorkChain(BaseRestartWorkChain):
    """Walltime or a killed job: continue the stage from its last restart file with the remaining steps, as often
    as each continuation gets further than the one before. Lost atoms, missing bond atoms, SHAKE failure,
    out-of-range atoms or NaN: rerun the stage from its start with the timestep halved and twice the steps (same
    simulated time, same thermostat and barostat damping times), at most ``max_timestep_halvings`` times.

    The series outputs (thermo, rg, com, dipole, NEMD) cover the whole stage: those of a stage run in pieces are
    joined (:func:`aiida_polymer.calcfunctions.pieces.join_pieces`); the rest are the last run's."""

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
        self.ctx.reached = -1  # the step the last interrupted run resumed the stage from

    def pieces(self) -> list:
        """The LAMMPS runs whose output makes up the stage's result, in order: a run from the stage's start begins
        the list, each continuation extends it; runs that left no thermo output contribute nothing."""
        runs = []
        calcs = (c for c in self.node.called if c.process_class is LammpsCalculation)
        for calc in sorted(calcs, key=lambda c: c.ctime):
            settings = calc.inputs.settings.get_dict() if "settings" in calc.inputs else {}
            runs = [*runs, calc] if settings.get("continuation") else [calc]
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

    @process_handler(priority=600, exit_codes=[LammpsCalculation.exit_codes.ERROR_OUT_OF_WALLTIME])
    def handle_walltime(self, node):
        """LAMMPS stopped itself before the walltime and wrote final.restart: run the remaining steps."""
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
        stage = self.ctx.inputs.stage.get_dict()
        timestep = stage.get("timestep", 1.0)
        # damping times stay what they were in fs (their defaults are 100 and 1000 timesteps)
        stage.update(tdamp=stage.get("tdamp") or 100 * timestep, pdamp=stage.get("pdamp") or 1000 * timestep,
                     timestep=timestep / 2, steps=int(stage.get("steps", 0)) * 2)
        for key in ("thermo_every", "sample_every", "restart_every"):  # same output times
            if stage.get(key):
                stage[key] *= 2
        self.ctx.inputs = AttributeDict(self.ctx.original)
        self.ctx.inputs.stage = orm.Dict(stage)
        self.ctx.reached = -1
        self.report(f"{node.process_label}<{node.pk}> failed [{node.exit_status}] {node.exit_message}; "
                    f"rerunning the stage with timestep {stage['timestep']:g} fs")
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
