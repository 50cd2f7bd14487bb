"""``polymer.mechanics``: Young's modulus and Poisson's ratio by uniaxial deformation of an equilibrated cell."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import WorkChain
from aiida.plugins import WorkflowFactory

from ..calcfunctions.mechanics import compute_mechanics
from ..chem import mechanics, protocols
from ..chem.lammps_io import read_data
from .exclusive import Exclusive

LammpsBaseWorkChain = WorkflowFactory("polymer.lammps.base")
STAGE_INPUTS = ("lammps.stage", "lammps.data_file", "lammps.parent_folder")


class MechanicsWorkChain(Exclusive, WorkChain):
    """Stretch the equilibrated cell along x, y and z (``deformation.axes``), each direction from the same cell as
    a ``polymer.lammps.base`` job of its own (the jobs run side by side), at the protocol's engineering strain rate
    with the lateral directions barostatted at its pressure; then fit E and ν per direction and averaged
    (:mod:`aiida_polymer.chem.mechanics`). The strains are measured from the box of ``final_data``, so a job
    continued after a walltime keeps its reference. The deformation series of a job run in pieces is that of its
    last piece (``polymer.lammps.base`` joins only the series it knows)."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("final_data", valid_type=orm.SinglefileData,
                   help="The equilibrated cell (a data file with velocities, e.g. polymer.equilibrate's final_data).")
        spec.expose_inputs(LammpsBaseWorkChain, namespace="md", exclude=STAGE_INPUTS)
        spec.inputs["md"]["lammps"].validator = None  # data_file is set per stage here
        spec.input("protocol", valid_type=orm.Dict, default=lambda: orm.Dict(mechanics.protocol()),
                   validator=cls._validate_protocol,
                   help="Expanded protocol settings (see aiida_polymer/protocols/mechanics.yaml), checked against its "
                        "schema (aiida_polymer/chem/protocol_schema.py); default: moderate.")
        spec.outline(cls.setup, cls.run_stages, cls.inspect_stages, cls.analyse)
        spec.output("properties", valid_type=orm.Dict,
                    help="{youngs_modulus, poisson_ratio, bulk_modulus_uniaxial (GPa or 1), youngs_modulus_<axis>, "
                         "poisson_ratio_<axis>: {value, unit, stderr, flags}}.")
        spec.output("mechanics", valid_type=orm.Dict, help="The fits of each direction, the window, passed.")
        spec.exit_code(201, "ERROR_INVALID_PROTOCOL", message="Invalid protocol settings: {message}")
        spec.exit_code(401, "ERROR_STAGE_FAILED", message="Deformation stage {stage} failed: {message}")
        spec.exit_code(402, "ERROR_NO_DEFORMATION_OUTPUT", message="Stage {stage} left no deformation series.")
        spec.exit_code(403, "ERROR_ANALYSIS_FAILED", message="The deformation analysis failed: {message}")
        spec.exit_code(410, "ERROR_GATE", message="The fits failed their gates ({flags}); the properties are output "
                                                  "and flagged.")

    @staticmethod
    def _validate_protocol(value: orm.Dict, _) -> str | None:
        return protocols.check(value.get_dict(), mechanics.PROTOCOL_FILE)

    @classmethod
    def get_builder_from_protocol(cls, code: orm.AbstractCode, final_data: orm.SinglefileData,
                                  protocol: str | None = None, overrides: dict | None = None,
                                  options: dict | None = None):
        """A builder with ``fast``/``moderate``/``precise`` settings, ``overrides`` merged in recursively."""
        builder = cls.get_builder()
        builder.final_data = final_data
        builder.md.lammps.code = code
        builder.md.lammps.metadata.options = options or {
            "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}
        }
        builder.protocol = orm.Dict(mechanics.protocol(protocol, overrides))
        return builder

    def setup(self):
        settings = self.inputs.protocol.get_dict()
        reference = [float(x) for x in read_data(self.inputs.final_data.get_content()).box]
        try:
            self.ctx.stages = [s.to_dict() for s in mechanics.stages(settings, reference)]
            self.ctx.analysis = mechanics.analysis_parameters(settings)
        except (KeyError, TypeError, ValueError) as exc:
            return self.exit_codes.ERROR_INVALID_PROTOCOL.format(message=repr(exc))
        return None

    def run_stages(self):
        for stage in self.ctx.stages:
            inputs = AttributeDict(self.exposed_inputs(LammpsBaseWorkChain, "md"))
            inputs.lammps = AttributeDict(inputs.lammps)
            inputs.lammps.stage = orm.Dict(stage)
            inputs.lammps.data_file = self.inputs.final_data
            inputs.metadata = {"call_link_label": stage["name"]}
            self.report(f"launching {stage['name']} ({stage['steps']} steps)")
            self.to_context(**{stage["name"]: self.submit(LammpsBaseWorkChain, **inputs)})

    def inspect_stages(self):
        for stage in self.ctx.stages:
            node = self.ctx[stage["name"]]
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_STAGE_FAILED.format(stage=stage["name"], message=node.exit_message)
            if "deformation" not in node.outputs:
                return self.exit_codes.ERROR_NO_DEFORMATION_OUTPUT.format(stage=stage["name"])
        return None

    def analyse(self):
        arrays = {stage["uniaxial"]["axis"]: self.ctx[stage["name"]].outputs.deformation for stage in self.ctx.stages}
        parameters = {**self.ctx.analysis, "units": "real"}
        if any(self.ctx[s["name"]].outputs.output_parameters.get("cutoff_exceeds_half_box") for s in self.ctx.stages):
            self.report("WARNING: the pair cut-off exceeded half the box: atoms interact with their own images")
            parameters["flags"] = ["cutoff_exceeds_half_box"]
        results, node = compute_mechanics.run_get_node(parameters=orm.Dict(parameters), **arrays)
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ANALYSIS_FAILED.format(message=node.exit_message)
        self.out("properties", results["properties"])
        self.out("mechanics", results["mechanics"])
        props, details = results["properties"].get_dict(), results["mechanics"].get_dict()
        e, nu = props["youngs_modulus"], props["poisson_ratio"]
        self.report(f"E = {e['value']} ± {e['stderr']} GPa, nu = {nu['value']} ± {nu['stderr']} "
                    f"(flags: {', '.join(e['flags'] + nu['flags']) or 'none'})")
        if not details["passed"]:
            flags = sorted({f for v in props.values() for f in v["flags"] if f in mechanics.GATE_FLAGS})
            return self.exit_codes.ERROR_GATE.format(flags=", ".join(flags))
        return None
