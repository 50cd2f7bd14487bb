"""``polymer.equilibrate``: packing, 21-step compression and NPT production until converged, then properties.

Packing and compression run as one LAMMPS job (a phase, ``md.fused``, the default) or, for debugging, one job per
stage (``md.fused: false``); each production segment is one job."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_, while_
from aiida.plugins import WorkflowFactory

from ..calcfunctions.properties import check_convergence, compute_properties
from ..chem import equilibration, protocols
from ..chem.builder import box_length_for_cutoff
from ..chem.lammps_input import PHASE, describe
from ..codes import local_code
from ..presets.resources import stage_options
from .amorphous_cell import AmorphousCellWorkChain
from .exclusive import Exclusive

LammpsBaseWorkChain = WorkflowFactory("polymer.lammps.base")
STAGE_INPUTS = ("lammps.stage", "lammps.data_file", "lammps.parent_folder", "lammps.settings")


class EquilibrateWorkChain(Exclusive, WorkChain):
    """From a repeat-unit SMILES (``cell`` inputs) or a LAMMPS data file to an equilibrated cell and its
    equilibrium properties. Every stage is a ``polymer.lammps.base`` run continuing from the previous one."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(AmorphousCellWorkChain, namespace="cell", namespace_options={"required": False,
                           "populate_defaults": False, "help": "Build the cell from SMILES first."})
        spec.input("data_file", valid_type=orm.SinglefileData, required=False,
                   help="Start from this data file (as written by polymer.amorphous_cell) instead of building a cell.")
        spec.expose_inputs(LammpsBaseWorkChain, namespace="md", exclude=STAGE_INPUTS)
        spec.inputs["md"]["lammps"].validator = None  # data_file / parent_folder are set per stage here
        spec.input("protocol", valid_type=orm.Dict, validator=cls._validate_protocol,
                   help="Expanded protocol settings (see aiida_polymer/protocols/equilibrate.yaml), checked against "
                        "its schema (aiida_polymer/chem/protocol_schema.py).")
        spec.input("optical", valid_type=orm.Dict, required=False,
                   help="For the refractive index and ε_dc: polarizability (Å³, one per repeat unit: the H-capped "
                        "optical fragment's, scaled to the unit's mass) and repeat_mass (g/mol, without caps); "
                        "the mole fractions of a copolymer are those of the cell "
                        "built here (its summary's composition), or `fractions` with a given data_file.")
        spec.inputs.validator = cls._validate_inputs
        spec.outline(
            if_(cls.should_build_cell)(cls.build_cell, cls.inspect_cell),
            cls.setup,
            while_(cls.has_stage)(cls.run_stage, cls.inspect_stage),
            while_(cls.needs_production)(cls.run_production, cls.inspect_production),
            cls.results,
        )
        spec.expose_outputs(AmorphousCellWorkChain, namespace="cell", namespace_options={"required": False})
        spec.output("final_data", valid_type=orm.SinglefileData, help="Data file at the end of production.")
        spec.output("thermo", valid_type=orm.ArrayData,
                    help="Thermo series of the last production segment (all its pieces, when it was continued).")
        spec.output("convergence", valid_type=orm.Dict, help="The convergence checks of the last segment.")
        spec.output("properties", valid_type=orm.Dict, help="{name: {value, unit, stderr, flags}}.")
        spec.exit_code(201, "ERROR_INVALID_PROTOCOL", message="Invalid protocol settings: {message}")
        spec.exit_code(301, "ERROR_CELL_FAILED", message="Building the cell failed: {message}")
        spec.exit_code(401, "ERROR_STAGE_FAILED", message="MD stage {stage} failed: {message}")

    @staticmethod
    def _validate_protocol(value: orm.Dict, _) -> str | None:
        """The schema's message for a protocol Dict that does not fit it (refused before anything runs)."""
        return protocols.check(value.get_dict(), equilibration.PROTOCOL_FILE)

    @staticmethod
    def _validate_inputs(inputs, _):
        if bool(inputs.get("cell")) == ("data_file" in inputs):
            return "give exactly one of `cell` (build from SMILES) or `data_file`"
        return None

    @classmethod
    def get_builder_from_protocol(cls, code: orm.AbstractCode, smiles: str | list[str], protocol: str | None = None,
                                  overrides: dict | None = None, antechamber: orm.AbstractCode | None = None,
                                  parmchk2: orm.AbstractCode | None = None, options: dict | None = None):
        """A builder for SMILES → equilibrated cell → properties with ``fast``/``moderate``/``precise`` settings.

        ``overrides`` are merged recursively into the protocol (e.g. ``{"production": {"duration": 100}}``,
        ``{"cell": {...}}``); an unknown key, a wrong type or an unphysical value raises
        :class:`~aiida_polymer.chem.protocols.ProtocolError` naming it.
        The cell gets enough chains for its box to exceed twice the pair cut-off (``cell.min_box_length``).

        :param code: the LAMMPS code (any computer: this machine, a cluster, Fugaku).
        :param antechamber: the AmberTools ``antechamber`` code (GAFF2 typing of the repeat units); ``parmchk2``:
            its ``parmchk2`` code. Both run where the cell is built, next to the daemon: by default the codes of
            that name on this machine (on ``code``'s computer if that is local, else ``antechamber@localhost``,
            else any local computer's; :func:`aiida_polymer.codes.local_code`), whatever computer the LAMMPS code
            is on. Pass them to use others, e.g. ``antechamber=orm.load_code("antechamber@cluster")``.
        :param options: ``metadata.options`` of the LAMMPS jobs; default
            :func:`~aiida_polymer.presets.resources.stage_options` of the ``equilibration`` stage on ``code``'s
            computer for the protocol (on this machine: one MPI rank per available core).
        """
        settings = equilibration.protocol(protocol, overrides)
        builder = cls.get_builder()
        parameters = {"smiles": [smiles] if isinstance(smiles, str) else list(smiles),
                      "min_box_length": box_length_for_cutoff(settings["md"]["cutoff"]), **settings["cell"]}
        AmorphousCellWorkChain.check_parameters(parameters)  # bad SMILES or composition: refused here, not later
        builder.cell.parameters = orm.Dict(parameters)
        builder.cell.antechamber = antechamber or local_code("antechamber", code.computer)
        builder.cell.parmchk2 = parmchk2 or local_code("parmchk2", code.computer)
        builder.md.lammps.code = code
        builder.md.lammps.metadata.options = options or stage_options(
            "equilibration", code.computer, protocol or "moderate")
        builder.protocol = orm.Dict(settings)
        return builder

    def should_build_cell(self):
        return "cell" in self.inputs and bool(self.inputs.cell)

    def build_cell(self):
        inputs = AttributeDict(self.exposed_inputs(AmorphousCellWorkChain, "cell"))
        inputs.metadata = {"call_link_label": "cell"}
        return ToContext(cell=self.submit(AmorphousCellWorkChain, **inputs))

    def inspect_cell(self):
        node = self.ctx.cell
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_CELL_FAILED.format(message=node.exit_message or node.process_state)
        self.out_many(self.exposed_outputs(node, AmorphousCellWorkChain, namespace="cell"))
        return None

    def setup(self):
        settings = self.inputs.protocol.get_dict()
        try:
            stages = [equilibration.packing_stage(settings, seed=1 + self._cell_seed(settings)),
                      *equilibration.compression_stages(settings)]
        except (KeyError, TypeError, ValueError) as exc:
            return self.exit_codes.ERROR_INVALID_PROTOCOL.format(message=repr(exc))
        self.ctx.settings = settings
        self.ctx.stages = [s.to_dict() for s in stages]
        if settings["md"].get("fused", True):  # one job: packing and the 21 compression stages as a phase
            self.ctx.stages = [{"name": "equilibration", PHASE: self.ctx.stages}]
        self.ctx.data_file = self.ctx.cell.outputs.data_file if "cell" in self.ctx else self.inputs.data_file
        self.ctx.previous = None
        self.ctx.segment = 0
        self.ctx.converged = False
        return None

    def _cell_seed(self, settings: dict) -> int:
        """The seed of the chains (the cell's parameters, else the protocol's); the packing velocities use seed + 1,
        so that replicates with other cell seeds are independent from the first step on."""
        if self.should_build_cell():
            return int(self.inputs.cell.parameters.get("seed", 0))
        return int(settings.get("cell", {}).get("seed", 0))

    def _launch(self, stage: dict, label: str):
        inputs = AttributeDict(self.exposed_inputs(LammpsBaseWorkChain, "md"))
        inputs.lammps = AttributeDict(inputs.lammps)
        inputs.lammps.stage = orm.Dict(stage)
        if self.ctx.previous is None:
            inputs.lammps.data_file = self.ctx.data_file
        else:
            inputs.lammps.parent_folder = self.ctx.previous.outputs.remote_folder
        inputs.metadata = {"call_link_label": label}
        self.report(f"launching {label} ({describe(stage)})")
        return self.submit(LammpsBaseWorkChain, **inputs)

    def has_stage(self):
        return bool(self.ctx.stages)

    def run_stage(self):
        stage = self.ctx.stages[0]
        return ToContext(stage=self._launch(stage, stage["name"]))

    def _check(self, node, name):
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_STAGE_FAILED.format(stage=name, message=node.exit_message)
        self.ctx.previous = node
        summary = node.outputs.output_parameters
        self.ctx.half_box = bool(summary.get("cutoff_exceeds_half_box"))
        if self.ctx.half_box:
            self.report(f"WARNING: in {name} the pair cut-off {summary['cutoff']:g} Å exceeded half the box "
                        f"({summary['min_box_length']:.2f} Å): atoms interact with their own periodic images; "
                        f"build a larger cell (more chains)")
        return None

    def inspect_stage(self):
        stage = self.ctx.stages.pop(0)
        return self._check(self.ctx.stage, stage["name"])

    def needs_production(self):
        return not self.ctx.converged and self.ctx.segment < self.ctx.settings["production"]["max_segments"]

    def run_production(self):
        self.ctx.segment += 1
        stage = equilibration.production_stage(self.ctx.settings, self.ctx.segment).to_dict()
        return ToContext(production=self._launch(stage, stage["name"]))

    def inspect_production(self):
        node = self.ctx.production
        failed = self._check(node, f"production_{self.ctx.segment:02d}")
        if failed:
            return failed
        conv = self.ctx.settings.get("convergence", {})
        self.ctx.convergence = check_convergence(node.outputs.thermo, node.outputs.rg, orm.Dict(conv))
        self.ctx.converged = self.ctx.convergence["converged"]
        failing = [k for k, v in self.ctx.convergence["checks"].items() if not v["pass"]]
        self.report(f"production segment {self.ctx.segment}: " + ("converged" if self.ctx.converged else
                    f"not converged ({', '.join(failing)})"))
        return None

    def results(self):
        node = self.ctx.production
        if not self.ctx.converged:
            self.report(f"NOT CONVERGED after {self.ctx.segment} production segments: properties are flagged")
        p = self.ctx.settings["production"]
        optical = self.inputs.optical.get_dict() if "optical" in self.inputs else {}
        if optical and "cell" in self.ctx:  # Lorentz–Lorenz with the composition of the chains actually built
            optical["fractions"] = self.ctx.cell.outputs.summary["composition"]
        flags = ["cutoff_exceeds_half_box"] if self.ctx.half_box else []
        parameters = orm.Dict({"temperature": p["temperature"], "pressure": p["pressure"], "flags": flags, **optical})
        vdos = {"vdos": node.outputs.vdos} if "vdos" in node.outputs else {}
        props = compute_properties(node.outputs.thermo, node.outputs.rg, node.outputs.com, node.outputs.dipole,
                                   node.outputs.final_data, self.ctx.convergence, parameters, **vdos)
        self.out("final_data", node.outputs.final_data)
        self.out("thermo", node.outputs.thermo)
        self.out("convergence", self.ctx.convergence)
        self.out("properties", props)
