"""``polymer.properties``: the front door — repeat-unit SMILES to the full property table, in one graph."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import WorkChain, if_

from ..calcfunctions.collect import aggregate_replicates, assemble_charges, merge_properties
from ..calcfunctions.system import cell_spec
from ..chem import glass_transition, mechanics, protocols
from ..chem.canonical import polarizability_unit
from ..chem.protocol_schema import PROPERTIES_OVERRIDES
from ..chem.protocols import NAMES as PROTOCOLS
from ..codes import PLUGINS
from ..presets.resources import stage_options
from .amorphous_cell import AmorphousCellWorkChain, input_error
from .charges import ChargesWorkChain
from .charges import protocol as charges_protocol
from .equilibrate import EquilibrateWorkChain
from .exclusive import Exclusive
from .glass_transition import GlassTransitionWorkChain
from .mechanics import MechanicsWorkChain
from .thermal_conductivity import ThermalConductivityWorkChain

NEMD_SET_HERE = ("final_data", "parent_folder", "density", "heat_capacity", "equilibrium_properties", "convergence")


# the stages run on each equilibrated cell besides NEMD, switched on by their overrides: namespace -> workchain,
# its protocol module, the stage preset of its jobs' resources, the key of its table in the merged properties
CELL_STAGES = {"mechanics": (MechanicsWorkChain, mechanics, "nemd", "c_mechanics"),
               "glass_transition": (GlassTransitionWorkChain, glass_transition, "nemd", "d_glass_transition")}


class PropertiesWorkChain(Exclusive, WorkChain):
    """Charges (Psi4 RESP, per unique fragment, cached) → amorphous cell → equilibration → equilibrium
    properties (with the refractive index and ε_dc from the units' polarizabilities) → NEMD thermal conductivity
    and diffusivity.

    NEMD is skipped (its properties flagged ``skipped``) when the cell did not equilibrate or its chains are aligned,
    unless ``nemd_requires_equilibrium`` is False (the ``fast`` protocol, a demo on cells too small for a meaningful
    nematic order), in which case the values carry the equilibration's ``not_converged`` flag. A profile that fails
    the linearity gates gives flagged values, not a failure; the table is output whenever the equilibration
    finished (a failed NEMD run then ends the workflow with exit code 403).

    The repeat units, end groups, tacticity and copolymer layout are the ``equilibrate.cell.parameters``; each
    stage has its own code and ``metadata.options``, so quantum chemistry and MD may run on different computers.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(ChargesWorkChain, namespace="charges", exclude=("smiles",),
                           namespace_options={"required": False, "populate_defaults": False,
                                              "help": "Psi4 RESP charges; without them the cell uses the "
                                                      "charges named in the cell parameters (e.g. gasteiger)."})
        spec.expose_inputs(EquilibrateWorkChain, namespace="equilibrate", exclude=("data_file", "optical"))
        spec.expose_inputs(ThermalConductivityWorkChain, namespace="nemd", exclude=NEMD_SET_HERE,
                           namespace_options={"required": False, "populate_defaults": False,
                                              "help": "NEMD thermal conductivity; left out: not computed."})
        spec.inputs["nemd"].validator = None  # the cell comes from the equilibration
        for name, (process, *_) in CELL_STAGES.items():
            spec.expose_inputs(process, namespace=name, exclude=("final_data",),
                               namespace_options={"required": False, "populate_defaults": False,
                                                  "help": f"{process.__doc__.splitlines()[0]} Left out: not run."})
        spec.input("nemd_requires_equilibrium", valid_type=orm.Bool, default=lambda: orm.Bool(True),
                   help="Skip NEMD when the equilibration did not converge or the chains are aligned.")
        spec.input("replicates", valid_type=orm.Int, default=lambda: orm.Int(1), validator=_positive,
                   help="Independent cells (chain seed + r, packing velocities with it) through the same stages; "
                        "`properties` is then their mean with the run-to-run SD and count "
                        "(aiida_polymer/chem/replicates.py), each replicate's table in `replicates`.")
        spec.outline(
            cls.validate,
            if_(cls.should_run_charges)(cls.run_charges, cls.inspect_charges),
            cls.run_equilibrate,
            cls.inspect_equilibrate,
            cls.run_cell_stages,
            cls.inspect_cell_stages,
            cls.results,
        )
        spec.output("properties", valid_type=orm.Dict, help="{name: {value, unit, stderr, flags}}.")
        spec.output("charges", valid_type=orm.Dict, required=False, help="RESP charges per fragment.")
        spec.output_namespace("replicates", valid_type=orm.Dict, dynamic=True, required=False,
                              help="With replicates > 1: the property table of each (replicate_0 is the one whose "
                                   "cell and runs are the `equilibrate` and `nemd` outputs).")
        spec.expose_outputs(EquilibrateWorkChain, namespace="equilibrate")
        spec.expose_outputs(ThermalConductivityWorkChain, namespace="nemd", namespace_options={"required": False})
        for name, (process, *_) in CELL_STAGES.items():
            spec.expose_outputs(process, namespace=name, namespace_options={"required": False})
        spec.exit_code(201, "ERROR_INVALID_SMILES", message="Invalid SMILES: {message}")
        spec.exit_code(202, "ERROR_INVALID_PARAMETERS", message="Invalid parameters: {message}")
        spec.exit_code(401, "ERROR_CHARGES_FAILED", message="The charges of {smiles} failed: {message}")
        spec.exit_code(402, "ERROR_EQUILIBRATION_FAILED", message="The equilibration failed: {message}")
        spec.exit_code(403, "ERROR_NEMD_FAILED", message="The NEMD run failed (the other properties are output): "
                                                         "{message}")
        spec.exit_code(404, "ERROR_CELL_STAGE_FAILED", message="A stage on the equilibrated cell failed (the other "
                                                               "properties are output): {message}")

    @classmethod
    def get_builder_from_protocol(cls, codes: dict[str, orm.AbstractCode], smiles: str | list[str],
                                  protocol: str = "moderate", overrides: dict[str, Any] | None = None,
                                  options: dict[str, dict] | None = None, temperature: float | None = None,
                                  pressure: float | None = None):
        """A ready builder. ``codes``: ``lmp``, ``psi4``, ``antechamber``, ``parmchk2`` (any computers);
        ``overrides``: ``{"charges": {...}, "equilibrate": {...}, "nemd": {...}}``, each merged recursively into
        that protocol file's settings, and ``{"replicates": N}`` for N independent cells (``equilibrate`` takes the
        sections of protocols/equilibrate.yaml, e.g.
        ``{"cell": {"tacticity": "isotactic"}}``; ``nemd`` those of protocols/nemd.yaml, e.g.
        ``{"nemd": {"method": "langevin"}}``); an unknown or wrong key raises
        :class:`~aiida_polymer.chem.protocols.ProtocolError` naming it; ``options``:
        ``metadata.options`` per stage (``psi4``, ``amber``, ``lammps``, ``nemd``), default from the computers'
        schedulers and the protocol (:func:`aiida_polymer.presets.resources.stage_options`); ``temperature`` (K)
        and ``pressure`` (atm): the state point of the compression's end, the production and the NEMD run."""
        check_codes(codes)
        if protocol not in PROTOCOLS:
            raise protocols.ProtocolError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
        protocols.validate(overrides or {}, PROPERTIES_OVERRIDES, "properties overrides")
        overrides, options = _state_point(overrides or {}, temperature, pressure), options or {}

        def stage(name: str, code: orm.AbstractCode, preset: str) -> dict:
            return options.get(name) or stage_options(preset, code.computer, protocol)

        builder = cls.get_builder()
        with _overrides("equilibrate"):
            equilibrate = EquilibrateWorkChain.get_builder_from_protocol(
                codes["lmp"], smiles, protocol, overrides.get("equilibrate"), antechamber=codes["antechamber"],
                parmchk2=codes["parmchk2"], options=stage("lammps", codes["lmp"], "equilibration"))
        equilibrate.cell.options = orm.Dict(stage("amber", codes["antechamber"], "amber"))
        with _overrides("charges"):
            charges = charges_protocol(protocol, overrides.get("charges"))
        if charges.get("charges", "resp") == "resp":
            parameters = equilibrate.cell.parameters.get_dict()
            equilibrate.cell.parameters = orm.Dict({**parameters, "charges": "resp"})
            builder.charges.code = codes["psi4"]
            builder.charges.parameters = orm.Dict({k: charges[k] for k in ("conformers", "optimize", "esp", "grid",
                                                                           "polarizability")})
            builder.charges.options = orm.Dict(stage("psi4", codes["psi4"], "psi4"))
        builder.equilibrate._data = equilibrate._data
        with _overrides("nemd"):
            nemd = ThermalConductivityWorkChain.get_builder_from_protocol(
                codes["lmp"], protocol=protocol, overrides=overrides.get("nemd"),
                options=stage("nemd", codes["lmp"], "nemd"))
        if nemd.protocol.get_dict().get("run", True):
            builder.nemd._update({"md": nemd.md._inputs(prune=True), "protocol": nemd.protocol})
        for name, (_, module, preset, _) in CELL_STAGES.items():
            if overrides.get(name) is not None:  # {} switches the stage on with the protocol's settings
                with _overrides(name):
                    settings = module.protocol(protocol, overrides[name] or None)
                builder[name].protocol = orm.Dict(settings)
                builder[name].md.lammps.code = codes["lmp"]
                builder[name].md.lammps.metadata.options = stage(name, codes["lmp"], preset)
        builder.nemd_requires_equilibrium = orm.Bool(protocol != "fast")
        builder.replicates = orm.Int(overrides.get("replicates") or 1)
        return builder

    def validate(self):
        def check():
            parameters = self.inputs.equilibrate.cell.parameters
            AmorphousCellWorkChain.check_smiles(parameters.get_dict())
            spec = self.ctx.spec = cell_spec(parameters)
            # polarizability on each unit's optical fragment (*C* → *CC*: never on a one-atom backbone)
            self.ctx.optical = [polarizability_unit(unit) for unit in spec.smiles]
            self.ctx.fragments = list(dict.fromkeys([*spec.smiles, spec.head_group, spec.tail_group,
                                                     *self.ctx.optical]))

        return input_error(self, check)

    def should_run_charges(self) -> bool:
        return bool(self.inputs.get("charges"))

    def run_charges(self):
        inputs = self.exposed_inputs(ChargesWorkChain, "charges")
        optical = set(self.ctx.optical)
        for i, smiles in enumerate(self.ctx.fragments):
            parameters = inputs["parameters"].get_dict()
            if smiles not in optical:  # end groups and one-atom units: charges only
                parameters["polarizability"] = None
            node = self.submit(ChargesWorkChain, **{**inputs, "smiles": orm.Str(smiles),
                                                    "parameters": orm.Dict(parameters),
                                                    "metadata": {"call_link_label": f"charges_{i}"}})
            self.to_context(**{f"charges_{i}": node})

    def inspect_charges(self):
        nodes = {}
        for i, smiles in enumerate(self.ctx.fragments):
            node = self.ctx[f"charges_{i}"]
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_CHARGES_FAILED.format(smiles=smiles, message=node.exit_message)
            nodes[f"charges_{i}"] = node.outputs.charges
            for u, fragment in enumerate(self.ctx.optical):
                if fragment == smiles:
                    nodes[f"polarizability_{u}"] = node.outputs.polarizability
        self.ctx.qm = assemble_charges(self.inputs.equilibrate.cell.parameters, **nodes)
        self.out("charges", self.ctx.qm["charges"])
        return None

    def run_equilibrate(self):
        for r in range(self.inputs.replicates.value):
            inputs = AttributeDict(self.exposed_inputs(EquilibrateWorkChain, "equilibrate"))
            inputs.cell = AttributeDict(inputs.cell)
            if r:  # another cell: the chains' seed, and with it the packing velocities'
                parameters = inputs.cell.parameters.get_dict()
                inputs.cell.parameters = orm.Dict({**parameters, "seed": int(parameters.get("seed", 0)) + r})
            if "qm" in self.ctx:
                inputs.cell.charges = self.ctx.qm["charges"]
                if "optical" in self.ctx.qm:
                    inputs.optical = self.ctx.qm["optical"]
            inputs.metadata = {"call_link_label": _label("equilibrate", r)}
            self.to_context(**{_label("equilibrate", r): self.submit(EquilibrateWorkChain, **inputs)})

    def inspect_equilibrate(self):
        for r in range(self.inputs.replicates.value):
            node = self.ctx[_label("equilibrate", r)]
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_EQUILIBRATION_FAILED.format(
                    message=f"{_label('equilibrate', r)}: {node.exit_message}")
        self.ctx.equilibrate = self.ctx[_label("equilibrate", 0)]
        self.out_many(self.exposed_outputs(self.ctx.equilibrate, EquilibrateWorkChain, namespace="equilibrate"))
        return None

    def run_cell_stages(self):
        """On each replicate's equilibrated cell, side by side: NEMD and the stages of CELL_STAGES asked for."""
        for r in range(self.inputs.replicates.value):
            if self.inputs.get("nemd"):
                self._run_nemd(r)
            for name, (process, *_) in CELL_STAGES.items():
                if self.inputs.get(name):
                    inputs = AttributeDict(self.exposed_inputs(process, name))
                    inputs.final_data = self.ctx[_label("equilibrate", r)].outputs.final_data
                    inputs.metadata = {"call_link_label": _label(name, r)}
                    self.to_context(**{_label(name, r): self.submit(process, **inputs)})

    def _run_nemd(self, r: int) -> None:
        equilibrate = self.ctx[_label("equilibrate", r)].outputs
        table = equilibrate.properties.get_dict()
        inputs = AttributeDict(self.exposed_inputs(ThermalConductivityWorkChain, "nemd"))
        inputs.final_data = equilibrate.final_data
        if self.inputs.nemd_requires_equilibrium:  # else not_converged flags are carried over by merge_properties
            inputs.equilibrium_properties = equilibrate.properties
            inputs.convergence = equilibrate.convergence
        if table.get("heat_capacity_cp", {}).get("value") is not None:
            inputs.heat_capacity = orm.Float(table["heat_capacity_cp"]["value"])
            inputs.density = orm.Float(table["density"]["value"])
        inputs.metadata = {"call_link_label": _label("nemd", r)}
        self.to_context(**{_label("nemd", r): self.submit(ThermalConductivityWorkChain, **inputs)})

    def inspect_cell_stages(self):
        stages = {"nemd": (ThermalConductivityWorkChain, "nemd_failure"),
                  **{name: (process, "cell_stage_failure") for name, (process, *_) in CELL_STAGES.items()}}
        for name, (process, failure) in stages.items():
            if _label(name, 0) not in self.ctx:
                continue
            self.out_many(self.exposed_outputs(self.ctx[_label(name, 0)], process, namespace=name))
            gate = process.exit_codes.ERROR_NONLINEAR_PROFILE if name == "nemd" else process.exit_codes.ERROR_GATE
            for r in range(self.inputs.replicates.value):
                node = self.ctx[_label(name, r)]
                if not node.is_finished_ok and node.exit_status != gate.status:
                    self.ctx[failure] = f"{_label(name, r)}: {node.exit_message or node.process_state}"
                elif not node.is_finished_ok:
                    self.report(f"{_label(name, r)}: {node.exit_message} (its properties are flagged)")
        return None

    def _table(self, r: int) -> orm.Dict:
        """The property table of replicate ``r``: its equilibrium properties, then those of NEMD and of the other
        stages on its cell."""
        tables = {"a_equilibrium": self.ctx[_label("equilibrate", r)].outputs.properties}
        for name, key in (("nemd", "b_nemd"), *((name, stage[3]) for name, stage in CELL_STAGES.items())):
            node = self.ctx.get(_label(name, r))
            if node is not None and "properties" in node.outputs:
                tables[key] = node.outputs.properties
        return merge_properties(**tables)

    def results(self):
        n = self.inputs.replicates.value
        if n == 1:
            properties = self._table(0)
        else:
            tables = {f"replicate_{r}": self._table(r) for r in range(n)}
            for key, table in tables.items():
                self.out(f"replicates.{key}", table)
            properties = aggregate_replicates(**tables)
        self.out("properties", properties)
        self._store_summary(properties)
        if "nemd_failure" in self.ctx:
            return self.exit_codes.ERROR_NEMD_FAILED.format(message=self.ctx.nemd_failure)
        if "cell_stage_failure" in self.ctx:
            return self.exit_codes.ERROR_CELL_STAGE_FAILED.format(message=self.ctx.cell_stage_failure)
        return None

    def _store_summary(self, properties: orm.Dict) -> None:
        """The extra ``polymer_values`` of this workflow: the values of ``properties`` for fast queries
        (:mod:`aiida_polymer.database.summary`). A failure is reported, never fatal: a query makes the summary
        itself from the Dict."""
        from ..database.summary import SUMMARY, of_workflow

        try:
            self.node.base.extras.set(SUMMARY, of_workflow(self.node, properties))
        except Exception as exc:  # a cache: never fail the run for it
            self.report(f"the property summary (extra {SUMMARY}) was not stored: {exc}")


def _label(stage: str, replicate: int) -> str:
    """The call label (and context key) of a stage of a replicate: ``equilibrate``, ``equilibrate_r1``, ..."""
    return stage if replicate == 0 else f"{stage}_r{replicate}"


def _positive(value: orm.Int, _) -> str | None:
    return None if value.value >= 1 else f"replicates must be at least 1, not {value.value}"


@contextmanager
def _overrides(name: str) -> Iterator[None]:
    """Name ``overrides[name]`` in the protocol errors raised inside (their paths are relative to it)."""
    try:
        yield
    except protocols.ProtocolError as exc:
        raise protocols.ProtocolError([f"overrides[{name!r}]: {error}" for error in exc.errors]) from None


def _state_point(overrides: dict[str, Any], temperature: float | None, pressure: float | None) -> dict[str, Any]:
    """``overrides`` with the temperature and pressure set in every stage that has them."""
    state: dict[str, Any] = {}
    if temperature is not None:
        state = protocols.merge(state, {"equilibrate": {"compression": {"t_final": temperature},
                                                        "production": {"temperature": temperature}},
                                        "nemd": {"temperature": temperature}})
    if pressure is not None:
        state = protocols.merge(state, {"equilibrate": {"compression": {"p_final": pressure},
                                                        "production": {"pressure": pressure}}})
    return protocols.merge({k: v for k, v in overrides.items() if v is not None}, state)


def check_codes(codes: dict) -> None:
    """Every code the pipeline needs is given, is an AiiDA code, and (where its default plugin is set) is meant for
    its stage: a TypeError or ValueError naming the code otherwise."""
    missing = [name for name in PLUGINS if name not in codes]
    if missing:
        raise ValueError(f"codes must have {', '.join(PLUGINS)}; missing: {', '.join(missing)}")
    for name, plugin in PLUGINS.items():
        code = codes[name]
        if not isinstance(code, orm.AbstractCode):
            raise TypeError(f"codes[{name!r}] must be an AiiDA code (e.g. orm.load_code('{name}@localhost')), got "
                            f"{type(code).__name__} {code!r}")
        if code.default_calc_job_plugin not in (None, plugin):
            raise ValueError(f"codes[{name!r}] is {code.full_label}, a code for {code.default_calc_job_plugin}, not "
                             f"{plugin}")
