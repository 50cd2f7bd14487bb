"""``polymer.charges``: RESP charges and the polarizability of a repeat unit or end group, by Psi4."""

from __future__ import annotations

from typing import Any

from aiida import orm
from aiida.engine import ToContext, WorkChain, append_, if_
from aiida.plugins import WorkflowFactory

from ..calcfunctions.charges import conformer_search, esp_grid, fragment, polarizability_summary, resp_charges
from ..chem import protocols
from ..chem.psi4_io import Psi4Task
from .amorphous_cell import input_error

Psi4BaseWorkChain = WorkflowFactory("polymer.psi4.base")
PROTOCOL_FILE = "charges.yaml"
SECTIONS = ("conformers", "optimize", "esp", "grid", "polarizability")


def protocol(name: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The validated charge protocol ``name`` (fast / moderate / precise) with ``overrides`` merged in recursively
    (:func:`aiida_polymer.chem.protocols.settings`)."""
    return protocols.settings(PROTOCOL_FILE, name, overrides)


class ChargesWorkChain(WorkChain):
    """H-capped fragment → MMFF conformers → Psi4 optimisation of each → lowest → ESP on an MSK grid → two-stage
    RESP (caps folded onto their atoms, exactly neutral) and, optionally, the static polarizability.

    Every step is deterministic, so with caching enabled for ``polymer.psi4`` (and the calcfunctions) a second
    request for the same fragment and protocol reuses the first results instead of running Psi4 again.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("smiles", valid_type=orm.Str, help="Repeat unit (two `*`) or end group (one `*`).")
        spec.input("code", valid_type=orm.AbstractCode, help="The psi4 code.")
        spec.input("parameters", valid_type=orm.Dict, validator=cls._validate_parameters,
                   help="The protocol settings: conformers, optimize, esp, grid, polarizability (see "
                        "protocols/charges.yaml, checked against its schema in chem/protocol_schema.py); "
                        "polarizability null skips it.")
        spec.input("options", valid_type=orm.Dict, required=False, help="metadata.options of the psi4 jobs.")
        spec.input("total_charge", valid_type=orm.Int, default=lambda: orm.Int(0))
        spec.outline(
            cls.validate,
            cls.search_conformers,
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

    def _psi4(self, task: str, structure: orm.StructureData, label: str, **extra) -> Any:
        settings = self.inputs.parameters[task]
        parameters = {**settings, "task": task, "charge": self.inputs.total_charge.value}
        options = {"resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}, "withmpi": False}
        if "options" in self.inputs:
            options.update(self.inputs.options.get_dict())
        inputs = {"psi4": {"code": self.inputs.code, "structure": structure, "parameters": orm.Dict(parameters),
                           "metadata": {"options": options}, **extra},
                  "metadata": {"call_link_label": label}}
        return self.submit(Psi4BaseWorkChain, **inputs)

    def search_conformers(self):
        results = conformer_search(self.inputs.smiles, orm.Dict(self.inputs.parameters["conformers"]))
        self.ctx.conformers = [results[key] for key in sorted(k for k in results if k.startswith("conformer_"))]
        self.report(f"{len(self.ctx.conformers)} conformer(s) of {self.inputs.smiles.value} to optimise")

    def optimize(self):
        for i, structure in enumerate(self.ctx.conformers):
            self.to_context(optimizations=append_(self._psi4("optimize", structure, f"optimize_{i}")))

    def pick_lowest(self):
        done = [n for n in self.ctx.optimizations if n.is_finished_ok]
        if not done:
            return self.exit_codes.ERROR_OPTIMIZATIONS_FAILED
        best = min(done, key=lambda n: n.outputs.output_parameters["energy"])
        self.ctx.structure = best.outputs.structure
        energies = ", ".join(f"{n.outputs.output_parameters['energy']:.6f}" for n in done)
        self.report(f"optimised energies (Hartree): {energies}; lowest from {best.process_label}<{best.pk}>")
        return None

    def has_polarizability(self) -> bool:
        return self.inputs.parameters.get_dict().get("polarizability") is not None

    def run_esp_and_polarizability(self):
        grid = esp_grid(self.ctx.structure, orm.Dict(self.inputs.parameters["grid"]))
        jobs = {"esp": self._psi4("esp", self.ctx.structure, "esp", grid=grid)}
        if self.has_polarizability():
            jobs["polarizability"] = self._psi4("polarizability", self.ctx.structure, "polarizability")
        return ToContext(**jobs)

    def fit_charges(self):
        node = self.ctx.esp
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ESP_FAILED.format(message=node.exit_message or node.exit_status)
        parameters = {"orientations": self.inputs.parameters["grid"].get("orientations", 1),
                      "total_charge": self.inputs.total_charge.value}
        charges = resp_charges(self.inputs.smiles, self.ctx.structure, node.outputs.esp, orm.Dict(parameters))
        self.out("charges", charges)
        self.out("structure", self.ctx.structure)
        return None

    def collect_polarizability(self):
        node = self.ctx.polarizability
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_POLARIZABILITY_FAILED.format(message=node.exit_message or node.exit_status)
        self.out("polarizability", polarizability_summary(self.inputs.smiles, node.outputs.output_parameters))
        return None

