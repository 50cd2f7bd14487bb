"""``polymer.charges``: RESP charges and the polarizability of a repeat unit or end group, by Psi4."""

from __future__ import annotations

from typing import Any

from aiida import orm
from aiida.engine import ToContext, WorkChain, append_, if_
from aiida.plugins import CalculationFactory, WorkflowFactory

from ..calcfunctions.charges import conformer_search, esp_grid, fragment, polarizability_summary, resp_charges
from ..chem import protocols
from ..chem.psi4_io import Psi4Task
from .amorphous_cell import input_error
from .exclusive import Exclusive

Psi4BaseWorkChain = WorkflowFactory("polymer.psi4.base")
Psi4UnitCalculation = CalculationFactory("polymer.psi4.unit")
PROTOCOL_FILE = "charges.yaml"
SECTIONS = ("conformers", "optimize", "esp", "grid", "polarizability")


def protocol(name: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The validated charge protocol ``name`` (fast / moderate / precise) with ``overrides`` merged in recursively
    (:func:`aiida_polymer.chem.protocols.settings`)."""
    return protocols.settings(PROTOCOL_FILE, name, overrides)


class ChargesWorkChain(Exclusive, WorkChain):
    """H-capped fragment → MMFF conformers → Psi4 optimisation of each → lowest → ESP on an MSK grid → two-stage
    RESP (caps folded onto their atoms, exactly neutral) and, optionally, the static polarizability.

    With ``fused`` (the protocols' default) all the psi4 work is one job (``polymer.psi4.unit``); what that job did
    not finish (it failed or was killed in a stage) is then computed stage by stage, each stage a
    ``polymer.psi4.base`` workflow with its restart handlers, starting from the stages it finished. ``fused: false``
    runs every stage as a job of its own (for debugging); both give the same charges.

    Every step is deterministic, so with caching enabled for ``polymer.psi4``, ``polymer.psi4.unit`` (and the
    calcfunctions) a second request for the same fragment and protocol reuses the first results instead of running
    Psi4 again.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("smiles", valid_type=orm.Str, help="Repeat unit (two `*`) or end group (one `*`).")
        spec.input("code", valid_type=orm.AbstractCode, help="The psi4 code.")
        spec.input("parameters", valid_type=orm.Dict, validator=cls._validate_parameters,
                   help="The protocol settings: conformers, optimize, esp, grid, polarizability, fused (see "
                        "protocols/charges.yaml, checked against its schema in chem/protocol_schema.py); "
                        "polarizability null skips it.")
        spec.input("options", valid_type=orm.Dict, required=False, help="metadata.options of the psi4 jobs.")
        spec.input("total_charge", valid_type=orm.Int, default=lambda: orm.Int(0))
        spec.outline(
            cls.validate,
            cls.search_conformers,
            if_(cls.is_fused)(cls.run_unit, cls.inspect_unit),
            cls.optimize,
            cls.pick_lowest,
            cls.run_esp_and_polarizability,
            cls.fit_charges,
            if_(cls.has_polarizability)(cls.collect_polarizability),
        )
        spec.output("charges", valid_type=orm.Dict, help="RESP charges: capped molecule and folded fragment.")
        spec.output("structure", valid_type=orm.StructureData, help="The optimised lowest-energy conformer.")
        spec.output("polarizability", valid_type=orm.Dict, required=False,
                    help="Isotropic polarizability (a.u. and Å³), tensor, and the fragment's mass without caps.")
        spec.exit_code(201, "ERROR_INVALID_SMILES", message="Invalid SMILES: {message}")
        spec.exit_code(202, "ERROR_INVALID_PARAMETERS", message="Invalid protocol settings: {message}")
        spec.exit_code(401, "ERROR_OPTIMIZATIONS_FAILED", message="No conformer optimisation finished.")
        spec.exit_code(402, "ERROR_ESP_FAILED", message="The ESP calculation failed: {message}")
        spec.exit_code(403, "ERROR_POLARIZABILITY_FAILED", message="The polarizability calculation failed: {message}")

    @staticmethod
    def _validate_parameters(value: orm.Dict, _) -> str | None:
        """The schema's message for protocol settings that do not fit it (refused before anything runs)."""
        return protocols.check(value.get_dict(), PROTOCOL_FILE)

    def validate(self):
        def check():
            fragment(self.inputs.smiles.value)
            params = self.inputs.parameters.get_dict()
            missing = [s for s in SECTIONS if s not in params]
            if missing:
                raise ValueError(f"missing sections {missing}")
            for task in ("optimize", "esp", "polarizability"):
                if params[task] is not None:
                    Psi4Task(task=task, charge=self.inputs.total_charge.value, **params[task])

        return input_error(self, check)

    def _options(self) -> dict[str, Any]:
        options = {"resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}, "withmpi": False}
        if "options" in self.inputs:
            options.update(self.inputs.options.get_dict())
        return options

    def _psi4(self, task: str, structure: orm.StructureData, label: str, **extra) -> Any:
        settings = self.inputs.parameters[task]
        parameters = {**settings, "task": task, "charge": self.inputs.total_charge.value}
        inputs = {"psi4": {"code": self.inputs.code, "structure": structure, "parameters": orm.Dict(parameters),
                           "metadata": {"options": self._options()}, **extra},
                  "metadata": {"call_link_label": label}}
        return self.submit(Psi4BaseWorkChain, **inputs)

    def search_conformers(self):
        results = conformer_search(self.inputs.smiles, orm.Dict(self.inputs.parameters["conformers"]))
        self.ctx.conformers = [results[key] for key in sorted(k for k in results if k.startswith("conformer_"))]
        self.ctx.optimized = {}  # conformer index (str) -> energy, optimised structure, pk of the process
        self.ctx.esp_data = self.ctx.polarizability_data = None
        self.report(f"{len(self.ctx.conformers)} conformer(s) of {self.inputs.smiles.value} to optimise")

    def is_fused(self) -> bool:
        return bool(self.inputs.parameters.get_dict().get("fused", True))

    def run_unit(self):
        params = self.inputs.parameters.get_dict()
        job = {key: params[key] for key in ("optimize", "esp", "grid", "polarizability")}
        inputs = {"code": self.inputs.code, "parameters": orm.Dict({**job, "charge": self.inputs.total_charge.value}),
                  "conformers": {f"conformer_{i}": s for i, s in enumerate(self.ctx.conformers)},
                  "metadata": {"options": self._options(), "call_link_label": "unit"}}
        return ToContext(unit=self.submit(Psi4UnitCalculation, **inputs))

    def inspect_unit(self):
        """Keep every stage the unit job finished; the rest runs stage by stage."""
        node = self.ctx.unit
        if "output_parameters" not in node.outputs:
            self.report(f"{node.process_label}<{node.pk}> left no results ({node.exit_message or node.exit_status});"
                        " running every stage as a job of its own")
            return
        summary = node.outputs.output_parameters.get_dict()
        done = summary["stages_completed"]
        for name in done:
            if name.startswith("optimize_"):
                self.ctx.optimized[name.split("_")[1]] = {"energy": node.outputs.stage_parameters[name]["energy"],
                                                          "structure": node.outputs.stage_structure[name],
                                                          "pk": node.pk}
        if "esp" in done:
            self.ctx.esp_data = node.outputs.esp
            self.ctx.structure = node.outputs.stage_structure[f"optimize_{summary['lowest']}"]
        if "polarizability" in done:
            self.ctx.polarizability_data = node.outputs.stage_parameters.polarizability
        if not node.is_finished_ok:
            self.report(f"{node.process_label}<{node.pk}> stopped in stage {summary['failed_stage']} "
                        f"({node.exit_message or node.exit_status}); kept {done or 'nothing'}, the rest runs stage "
                        "by stage")

    def optimize(self):
        self.ctx.pending = [i for i in range(len(self.ctx.conformers)) if str(i) not in self.ctx.optimized]
        for i in self.ctx.pending:
            self.to_context(optimizations=append_(self._psi4("optimize", self.ctx.conformers[i], f"optimize_{i}")))

    def pick_lowest(self):
        for i, node in zip(self.ctx.pending, self.ctx.get("optimizations", []), strict=True):
            if node.is_finished_ok:
                self.ctx.optimized[str(i)] = {"energy": node.outputs.output_parameters["energy"],
                                              "structure": node.outputs.structure, "pk": node.pk}
        if not self.ctx.optimized:
            return self.exit_codes.ERROR_OPTIMIZATIONS_FAILED
        if self.ctx.esp_data is None:
            lowest = min(self.ctx.optimized.values(), key=lambda item: item["energy"])
            self.ctx.structure = lowest["structure"]
            energies = ", ".join(f"{item['energy']:.6f}" for item in self.ctx.optimized.values())
            self.report(f"optimised energies (Hartree): {energies}; lowest from <{lowest['pk']}>")
        return None

    def has_polarizability(self) -> bool:
        return self.inputs.parameters.get_dict().get("polarizability") is not None

    def run_esp_and_polarizability(self):
        jobs = {}
        if self.ctx.esp_data is None:
            grid = esp_grid(self.ctx.structure, orm.Dict(self.inputs.parameters["grid"]))
            jobs["esp"] = self._psi4("esp", self.ctx.structure, "esp", grid=grid)
        if self.has_polarizability() and self.ctx.polarizability_data is None:
            jobs["polarizability"] = self._psi4("polarizability", self.ctx.structure, "polarizability")
        return ToContext(**jobs)

    def fit_charges(self):
        if self.ctx.esp_data is None:
            node = self.ctx.esp
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_ESP_FAILED.format(message=node.exit_message or node.exit_status)
            self.ctx.esp_data = node.outputs.esp
        parameters = {"orientations": self.inputs.parameters["grid"].get("orientations", 1),
                      "total_charge": self.inputs.total_charge.value}
        charges = resp_charges(self.inputs.smiles, self.ctx.structure, self.ctx.esp_data, orm.Dict(parameters))
        self.out("charges", charges)
        self.out("structure", self.ctx.structure)
        return None

    def collect_polarizability(self):
        if self.ctx.polarizability_data is None:
            node = self.ctx.polarizability
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_POLARIZABILITY_FAILED.format(
                    message=node.exit_message or node.exit_status)
            self.ctx.polarizability_data = node.outputs.output_parameters
        self.out("polarizability", polarizability_summary(self.inputs.smiles, self.ctx.polarizability_data))
        return None
