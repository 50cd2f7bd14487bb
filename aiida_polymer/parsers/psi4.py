"""Parser of ``polymer.psi4``: reads ``output.dat``, ``grid_esp.dat`` and ``geometry.xyz`` (never stdout)."""

from __future__ import annotations

from aiida import orm
from aiida.parsers import Parser

from ..calculations.psi4 import OUTPUT
from ..chem.psi4_io import ESP_FILE, GEOMETRY_FILE, parse_output
from . import read_text


def molecule(elements: list[str], coords) -> orm.StructureData:
    """A molecule as StructureData in a large non-periodic box."""
    structure = orm.StructureData(cell=[[50.0, 0, 0], [0, 50.0, 0], [0, 0, 50.0]], pbc=(False, False, False))
    for element, xyz in zip(elements, coords, strict=True):
        structure.append_atom(position=tuple(float(v) for v in xyz), symbols=element)
    return structure


class Psi4Parser(Parser):
    """Energies, dipole, polarizability, geometry and ESP; psi4's failures as distinct exit codes."""

    def parse(self, **kwargs):
        names = self.retrieved.base.repository.list_object_names()
        def content(name: str) -> str:
            return read_text(self.retrieved, name)

        files = {name: content(name) for name in (ESP_FILE, GEOMETRY_FILE) if name in names}
        result = parse_output(content(OUTPUT) if OUTPUT in names else None, files)
        if result.error_kind == "missing_output":
            return self.exit_codes.ERROR_MISSING_OUTPUT

        summary = result.to_dict()
        for key in ("geometry", "elements", "esp"):
            summary.pop(key)
        self.out("output_parameters", orm.Dict(summary))
        if result.geometry is not None and result.task == "optimize":
            self.out("structure", molecule(result.elements, result.geometry))
        if result.esp is not None:
            grid = self.node.inputs.grid.get_array("points")
            if len(grid) != len(result.esp):
                return self.exit_codes.ERROR_PSI4_CRASH.format(
                    message=f"{len(result.esp)} ESP values for {len(grid)} grid points")
            esp = orm.ArrayData()
            esp.set_array("points", grid)
            esp.set_array("esp", result.esp)
            self.out("esp", esp)

        kind, message = result.error_kind, result.error_message or ""
        if kind == "scf_not_converged":
            return self.exit_codes.ERROR_SCF_NOT_CONVERGED.format(message=message)
        if kind == "optimization_not_converged":
            return self.exit_codes.ERROR_OPTIMIZATION_NOT_CONVERGED.format(steps=result.optimization_steps)
        if kind == "crash":
            return self.exit_codes.ERROR_PSI4_CRASH.format(message=message)
        if kind == "incomplete" or not result.completed:
            return self.exit_codes.ERROR_INCOMPLETE
        if result.task == "esp" and result.esp is None:
            return self.exit_codes.ERROR_MISSING_ESP
        return None
