"""``polymer.glass_transition``: Tg by stepwise cooling of an equilibrated cell (RadonPy's method)."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain
from aiida.plugins import CalculationFactory, WorkflowFactory

from ..calcfunctions.glass_transition import compute_glass_transition
from ..chem import glass_transition as tg
from ..chem import protocols
from ..chem.lammps_input import describe
from .exclusive import Exclusive

LammpsBaseWorkChain = WorkflowFactory("polymer.lammps.base")
LammpsCalculation = CalculationFactory("polymer.lammps")
STAGE_INPUTS = ("lammps.stage", "lammps.data_file", "lammps.parent_folder")


class GlassTransitionWorkChain(Exclusive, WorkChain):
    """Heat the equilibrated cell to the start temperature, hold, then cool it in steps (an NPT ramp and an NPT hold
    per step) as one ``polymer.lammps.base`` job (a phase, continued after a walltime or a killed job like every
    stage); the density of each hold from its thermo, Tg and α above and below from the two-line fit of the
    specific volume (:mod:`aiida_polymer.chem.glass_transition`). The holds' thermo is gathered from every LAMMPS
    run of the job (a hold interrupted and continued is joined)."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("final_data", valid_type=orm.SinglefileData,
                   help="The equilibrated cell (a data file with velocities, e.g. polymer.equilibrate's final_data).")
        spec.expose_inputs(LammpsBaseWorkChain, namespace="md", exclude=STAGE_INPUTS)
        spec.inputs["md"]["lammps"].validator = None  # data_file is set here
        spec.input("protocol", valid_type=orm.Dict, default=lambda: orm.Dict(tg.protocol()),
                   validator=cls._validate_protocol,
                   help="Expanded protocol settings (see aiida_polymer/protocols/glass_transition.yaml), checked "
                        "against its schema (aiida_polymer/chem/protocol_schema.py); default: moderate.")
        spec.outline(cls.setup, cls.run_cooling, cls.inspect_cooling, cls.analyse)
        spec.output("properties", valid_type=orm.Dict,
                    help="{glass_transition_temperature (K), thermal_expansion_above_tg, thermal_expansion_below_tg "
                         "(1/K): {value, unit, stderr, flags}}.")
        spec.output("glass_transition", valid_type=orm.Dict,
                    help="The fit: Tg and its interval, slopes, residuals, RSS profile, range sensitivity, flags.")
        spec.output("holds", valid_type=orm.ArrayData,
                    help="Per hold: set_temperature, temperature, density, density_stderr, samples.")
        spec.exit_code(201, "ERROR_INVALID_PROTOCOL", message="Invalid protocol settings: {message}")
        spec.exit_code(401, "ERROR_STAGE_FAILED", message="The cooling failed: {message}")
        spec.exit_code(403, "ERROR_ANALYSIS_FAILED", message="The Tg analysis failed: {message}")
        spec.exit_code(410, "ERROR_GATE", message="The Tg fit failed its gates ({flags}); the properties are output "
                                                  "and flagged.")

    @staticmethod
    def _validate_protocol(value: orm.Dict, _) -> str | None:
        return protocols.check(value.get_dict(), tg.PROTOCOL_FILE)

    @classmethod
    def get_builder_from_protocol(cls, code: orm.AbstractCode, final_data: orm.SinglefileData,
                                  protocol: str | None = None, overrides: dict | None = None,
                                  options: dict | None = None):
        """A builder with ``fast``/``moderate``/``precise`` settings, ``overrides`` merged in recursively (e.g.
        ``{"cooling": {"t_start": 700.0}}``); a bad key raises :class:`~aiida_polymer.chem.protocols.ProtocolError`."""
        builder = cls.get_builder()
        builder.final_data = final_data
        builder.md.lammps.code = code
        builder.md.lammps.metadata.options = options or {
            "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}}
        builder.protocol = orm.Dict(tg.protocol(protocol, overrides))
        return builder

    def setup(self):
        settings = self.inputs.protocol.get_dict()
        try:
            self.ctx.schedule = tg.schedule_of(settings)
            self.ctx.phase = tg.phase_of(settings)
        except (KeyError, TypeError, ValueError) as exc:
            return self.exit_codes.ERROR_INVALID_PROTOCOL.format(message=repr(exc))
        self.ctx.analysis = tg.analysis_parameters(settings)
        return None

    def run_cooling(self):
        inputs = AttributeDict(self.exposed_inputs(LammpsBaseWorkChain, "md"))
        inputs.lammps = AttributeDict(inputs.lammps)
        inputs.lammps.stage = orm.Dict(self.ctx.phase)
        inputs.lammps.data_file = self.inputs.final_data
        inputs.metadata = {"call_link_label": "cooling"}
        schedule = self.ctx.schedule
        self.report(f"launching the cooling {schedule.t_start:g} → {schedule.temperatures[-1]:g} K in "
                    f"{len(schedule.temperatures)} holds ({describe(self.ctx.phase)})")
        return ToContext(cooling=self.submit(LammpsBaseWorkChain, **inputs))

    def inspect_cooling(self):
        node = self.ctx.cooling
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_STAGE_FAILED.format(message=node.exit_message)
        return None

    def analyse(self):
        runs = sorted((c for c in self.ctx.cooling.called if c.process_class is LammpsCalculation),
                      key=lambda c: c.ctime)
        holds = {}
        for i, calc in enumerate(runs):
            if "stage_thermo" not in calc.outputs:
                continue
            for name in calc.outputs.stage_thermo:
                if name.startswith("tg_hold_"):
                    holds[f"{name}__{i}"] = calc.outputs.stage_thermo[name]
        flags = []
        if any(c.outputs.output_parameters.get("cutoff_exceeds_half_box") for c in runs
               if "output_parameters" in c.outputs):
            flags.append("cutoff_exceeds_half_box")
        parameters = {"schedule": self.ctx.schedule.to_dict(), "analysis": self.ctx.analysis, "flags": flags}
        results, node = compute_glass_transition.run_get_node(parameters=orm.Dict(parameters), **holds)
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ANALYSIS_FAILED.format(message=node.exit_message)
        for name in ("properties", "glass_transition", "holds"):
            self.out(name, results[name])
        entry = results["properties"]["glass_transition_temperature"]
        fit = results["glass_transition"].get_dict()
        self.report(f"Tg = {entry['value']} ± {entry['stderr']} K from {fit.get('n')} holds (flags: "
                    f"{entry['flags'] or 'none'})")
        gates = [f for f in entry["flags"] if f in tg.GATE_FLAGS]
        if gates:
            return self.exit_codes.ERROR_GATE.format(flags=", ".join(gates))
        return None
