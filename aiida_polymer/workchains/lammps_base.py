"""``polymer.lammps.base``: run one LAMMPS stage to completion, recovering from the failures it knows."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_
from aiida.plugins import CalculationFactory

from ..chem.lammps_input import FINAL_RESTART, RESTART_FILES

LammpsCalculation = CalculationFactory("polymer.lammps")


class LammpsBaseWorkChain(BaseRestartWorkChain):
    """Walltime or a killed job: continue the stage from its last restart file with the remaining steps.
    Lost atoms, missing bond atoms, SHAKE failure, out-of-range atoms or NaN: rerun the stage from its start with
    the timestep halved and twice the steps (same simulated time), at most ``max_timestep_halvings`` times."""

    _process_class = LammpsCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(LammpsCalculation, namespace="lammps")
        spec.input("max_timestep_halvings", valid_type=orm.Int, default=lambda: orm.Int(2),
                   help="How often a blown-up stage may be rerun with half the timestep.")
        spec.outline(cls.setup, while_(cls.should_run_process)(cls.run_process, cls.inspect_process), cls.results)
        spec.expose_outputs(LammpsCalculation)
        spec.exit_code(310, "ERROR_NO_RESTART_FILE", message="The stage was interrupted and left no restart file.")
        spec.exit_code(410, "ERROR_TIMESTEP_HALVINGS_EXHAUSTED",
                       message="The stage kept failing ({exit}) after halving the timestep {n} times.")

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(LammpsCalculation, "lammps"))
        self.ctx.original = AttributeDict(self.ctx.inputs)
        self.ctx.halvings = 0

    def _continue_from(self, node, restart_file: str) -> None:
        inputs = self.ctx.inputs
        inputs.pop("data_file", None)
        inputs.parent_folder = node.outputs.remote_folder
        settings = inputs.settings.get_dict() if "settings" in inputs else {}
        inputs.settings = orm.Dict({**settings, "continuation": True, "restart_file": restart_file})

    @process_handler(priority=600, exit_codes=[LammpsCalculation.exit_codes.ERROR_OUT_OF_WALLTIME])
    def handle_walltime(self, node):
        """LAMMPS stopped itself before the walltime and wrote final.restart: run the remaining steps."""
        self._continue_from(node, FINAL_RESTART)
        step = node.outputs.output_parameters.get("last_step")
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
        stage.update(timestep=stage.get("timestep", 1.0) / 2, steps=int(stage.get("steps", 0)) * 2)
        for key in ("thermo_every", "sample_every", "restart_every"):  # same output times
            if stage.get(key):
                stage[key] *= 2
        self.ctx.inputs = AttributeDict(self.ctx.original)
        self.ctx.inputs.stage = orm.Dict(stage)
        self.report(f"{node.process_label}<{node.pk}> failed [{node.exit_status}] {node.exit_message}; "
                    f"rerunning the stage with timestep {stage['timestep']:g} fs")
        return ProcessHandlerReport(do_break=True)
