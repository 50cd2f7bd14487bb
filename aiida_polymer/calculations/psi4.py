"""``polymer.psi4``: one Psi4 calculation (energy, optimisation, ESP on a grid, polarizability) of a molecule;
``polymer.psi4.unit``: all the QM of a repeat unit or end group in one job."""

from __future__ import annotations

from aiida import orm
from aiida.common import datastructures
from aiida.engine import CalcJob

from ..chem.psi4_io import ESP_FILE, GEOMETRY_FILE, GRID_FILE, Psi4Task, write_grid, write_input
from ..chem.psi4_unit import GRID_MODULE, UnitJob, grid_module, write_unit_input
from ..workchains.exclusive import Exclusive

INPUT, OUTPUT = "input.dat", "output.dat"


def _validate_parameters(value: orm.Dict, _) -> str | None:
    try:
        Psi4Task.from_dict(value.get_dict())
    except (TypeError, ValueError) as exc:
        return f"invalid psi4 task: {exc}"
    return None


def _validate_inputs(inputs, _) -> str | None:
    if "parameters" not in inputs:
        return None  # the port itself reports it missing
    task = inputs["parameters"].get("task", "energy")
    if (task == "esp") != ("grid" in inputs):
        return "a `grid` (ArrayData 'points', Å) is required for task 'esp' and only for it"
    return None


def structure_elements(structure: orm.StructureData) -> tuple[list[str], list[list[float]]]:
    """Element symbols and Cartesian coordinates (Å) of a molecule stored as StructureData."""
    sites = structure.sites
    return [structure.get_kind(site.kind_name).symbol for site in sites], [list(site.position) for site in sites]


def threads(options) -> int:
    """Threads for ``psi4 -n``: the job's cores per process (default 1)."""
    resources = options.get("resources", {}) or {}
    return int(resources.get("num_cores_per_mpiproc") or resources.get("num_cores_per_machine") or 1)


def run_psi4(calc: CalcJob, retrieve: list[str]) -> datastructures.CalcInfo:
    """``psi4 -n T input.dat output.dat`` with the job's threads, retrieving ``retrieve``."""
    codeinfo = datastructures.CodeInfo()
    codeinfo.code_uuid = calc.inputs.code.uuid
    codeinfo.cmdline_params = ["-n", str(threads(calc.inputs.metadata.options)), INPUT, OUTPUT]
    calcinfo = datastructures.CalcInfo()
    calcinfo.codes_info = [codeinfo]
    calcinfo.local_copy_list, calcinfo.remote_copy_list = [], []
    calcinfo.retrieve_list = retrieve
    return calcinfo


class Psi4Calculation(Exclusive, CalcJob):
    """Run ``psi4 -n T input.dat output.dat`` for one :class:`~aiida_polymer.chem.psi4_io.Psi4Task`.

    Failed runs are never reused by AiiDA's caching: only a calculation that finished OK is a valid cache source.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("structure", valid_type=orm.StructureData, help="The molecule (coordinates in Å).")
        spec.input("parameters", valid_type=orm.Dict, validator=_validate_parameters,
                   help="The task: see aiida_polymer.chem.psi4_io.Psi4Task (task, method, basis, charge, "
                        "multiplicity, memory, SCF and optimiser options).")
        spec.input("grid", valid_type=orm.ArrayData, required=False,
                   help="ESP points (array 'points', Å), for task 'esp'.")
        spec.input("settings", valid_type=orm.Dict, required=False,
                   help="psi4_version (unlocks options of newer psi4 versions).")
        spec.inputs.validator = _validate_inputs
        options = spec.inputs["metadata"]["options"]
        options["parser_name"].default = "polymer.psi4"
        options["resources"].default = {"num_machines": 1, "num_mpiprocs_per_machine": 1}
        options["withmpi"].default = False

        spec.output("output_parameters", valid_type=orm.Dict,
                    help="Energy, dipole, polarizability, convergence, psi4 version and wall time.")
        spec.output("structure", valid_type=orm.StructureData, required=False,
                    help="Optimised geometry (or, not converged, the next step's geometry).")
        spec.output("esp", valid_type=orm.ArrayData, required=False,
                    help="Potential (array 'esp', Hartree/e) at the grid points (array 'points', Å).")
        spec.default_output_node = "output_parameters"

        spec.exit_code(300, "ERROR_MISSING_OUTPUT", message="output.dat is missing or empty: psi4 did not start.",
                       invalidates_cache=True)
        spec.exit_code(310, "ERROR_INCOMPLETE", message="psi4 stopped without finishing (killed?).",
                       invalidates_cache=True)
        spec.exit_code(311, "ERROR_MISSING_ESP", message="The ESP file grid_esp.dat was not produced.",
                       invalidates_cache=True)
        spec.exit_code(320, "ERROR_PSI4_CRASH", message="psi4 failed: {message}", invalidates_cache=True)
        spec.exit_code(410, "ERROR_SCF_NOT_CONVERGED", message="The SCF did not converge: {message}",
                       invalidates_cache=True)
        spec.exit_code(420, "ERROR_OPTIMIZATION_NOT_CONVERGED",
                       message="The geometry optimisation did not converge in {steps} steps; the last geometry is "
                               "in the `structure` output.", invalidates_cache=True)

    @classmethod
    def is_valid_cache(cls, node) -> bool:
        return super().is_valid_cache(node) and node.is_finished_ok

    def prepare_for_submission(self, folder):
        settings = self.inputs.settings.get_dict() if "settings" in self.inputs else {}
        elements, coords = structure_elements(self.inputs.structure)
        with folder.open(INPUT, "w") as handle:
            handle.write(write_input(self.inputs.parameters.get_dict(), elements, coords,
                                     settings.get("psi4_version")))
        if "grid" in self.inputs:
            with folder.open(GRID_FILE, "w") as handle:
                handle.write(write_grid(self.inputs.grid.get_array("points")))

        return run_psi4(self, [OUTPUT, ESP_FILE, GEOMETRY_FILE])


def _validate_unit_parameters(value: orm.Dict, _) -> str | None:
    try:
        UnitJob.from_dict(value.get_dict())
    except (TypeError, ValueError) as exc:
        return f"invalid psi4 unit job: {exc}"
    return None


class Psi4UnitCalculation(Exclusive, CalcJob):
    """The QM of a unit in one job (:mod:`aiida_polymer.chem.psi4_unit`): every conformer optimised, the ESP of the
    lowest on its MSK grid, its polarizability. Each finished stage is an output of its own, also when a later
    stage fails, so the workflow continues from there (``polymer.charges``)."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace("conformers", valid_type=orm.StructureData, dynamic=True,
                             help="The starting geometries (Å), ``conformer_<i>``, same atoms in the same order.")
        spec.input("parameters", valid_type=orm.Dict, validator=_validate_unit_parameters,
                   help="optimize, esp, polarizability (psi4 tasks less task and charge, or null), grid "
                        "(aiida_polymer.chem.esp_grid.msk_points settings) and charge.")
        spec.input("settings", valid_type=orm.Dict, required=False,
                   help="psi4_version (unlocks options of newer psi4 versions).")
        options = spec.inputs["metadata"]["options"]
        options["parser_name"].default = "polymer.psi4.unit"
        options["resources"].default = {"num_machines": 1, "num_mpiprocs_per_machine": 1}
        options["withmpi"].default = False

        spec.output("output_parameters", valid_type=orm.Dict,
                    help="Stages begun and completed, the lowest conformer, energies, psi4 version and wall time.")
        spec.output_namespace("stage_parameters", valid_type=orm.Dict, dynamic=True,
                              help="Each stage's results as polymer.psi4 reports them (optimize_<i>, esp, "
                                   "polarizability).")
        spec.output_namespace("stage_structure", valid_type=orm.StructureData, dynamic=True,
                              help="The optimised geometry of each finished optimize_<i>.")
        spec.output("esp", valid_type=orm.ArrayData, required=False,
                    help="Potential (array 'esp', Hartree/e) at the grid points (array 'points', Å).")
        spec.default_output_node = "output_parameters"
        for label, code in Psi4Calculation.spec().exit_codes.items():  # the same failures, the same codes
            if code.status >= 300:
                spec.exit_code(code.status, label, message=code.message, invalidates_cache=code.invalidates_cache)

    @classmethod
    def is_valid_cache(cls, node) -> bool:
        return super().is_valid_cache(node) and node.is_finished_ok

    def prepare_for_submission(self, folder):
        settings = self.inputs.settings.get_dict() if "settings" in self.inputs else {}
        geometries = [structure_elements(self.inputs.conformers[name])
                      for name in sorted(self.inputs.conformers, key=lambda n: int(n.rsplit("_", 1)[1]))]
        elements = geometries[0][0]
        if any(e != elements for e, _ in geometries):
            raise ValueError("the conformers do not have the same atoms in the same order")
        with folder.open(INPUT, "w") as handle:
            handle.write(write_unit_input(self.inputs.parameters.get_dict(), elements, [c for _, c in geometries],
                                          settings.get("psi4_version")))
        with folder.open(GRID_MODULE, "w") as handle:
            handle.write(grid_module())

        return run_psi4(self, [OUTPUT, ESP_FILE, GRID_FILE])
