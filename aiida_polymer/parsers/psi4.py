"""Parsers of ``polymer.psi4`` (``output.dat``, ``grid_esp.dat``, ``geometry.xyz``) and ``polymer.psi4.unit``
(``output.dat``, ``grid.dat``, ``grid_esp.dat``); never stdout."""

from __future__ import annotations

from aiida import orm
from aiida.parsers import Parser

from ..calculations.psi4 import OUTPUT
from ..chem.psi4_io import ESP_FILE, GEOMETRY_FILE, GRID_FILE, parse_output
from ..chem.psi4_unit import parse_unit_output
from . import read_text


def molecule(elements: list[str], coords) -> orm.StructureData:
    """A molecule as StructureData in a large non-periodic box."""
    structure = orm.StructureData(cell=[[50.0, 0, 0], [0, 50.0, 0], [0, 0, 50.0]], pbc=(False, False, False))
    for element, xyz in zip(elements, coords, strict=True):
        structure.append_atom(position=tuple(float(v) for v in xyz), symbols=element)
    return structure


def _stage_dict(result) -> orm.Dict:
    summary = result.to_dict()
    for key in ("geometry", "elements", "esp"):
        summary.pop(key)
    return orm.Dict(summary)


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

        self.out("output_parameters", _stage_dict(result))
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


class Psi4UnitParser(Parser):
    """Each stage of a unit job (conformer optimisations, ESP, polarizability) as outputs of its own, the finished
    ones also when a later stage failed; the failure as the exit code ``polymer.psi4`` gives it."""

    def parse(self, **kwargs):
        names = self.retrieved.base.repository.list_object_names()
        files = {name: read_text(self.retrieved, name) for name in (ESP_FILE, GRID_FILE) if name in names}
        result = parse_unit_output(read_text(self.retrieved, OUTPUT) if OUTPUT in names else None, files)
        job = result.job
        if job.error_kind == "missing_output":
            return self.exit_codes.ERROR_MISSING_OUTPUT

        self.out("output_parameters", orm.Dict(result.summary()))
        for name, stage in result.stages.items():
            self.out(f"stage_parameters.{name}", _stage_dict(stage))
            if name in result.done and stage.task == "optimize" and stage.geometry is not None:
                self.out(f"stage_structure.{name}", molecule(stage.elements, stage.geometry))
        esp = result.stages.get("esp")
        if esp is not None and esp.completed:
            if esp.esp is None or result.points is None:
                return self.exit_codes.ERROR_MISSING_ESP
            if len(result.points) != len(esp.esp):
                return self.exit_codes.ERROR_PSI4_CRASH.format(
                    message=f"{len(esp.esp)} ESP values for {len(result.points)} grid points")
            node = orm.ArrayData()
            node.set_array("points", result.points)
            node.set_array("esp", esp.esp)
            self.out("esp", node)

        failed = result.stages.get(result.failed_stage) if result.failed_stage else None
        kind, message = job.error_kind, job.error_message or ""
        if kind == "scf_not_converged":
            return self.exit_codes.ERROR_SCF_NOT_CONVERGED.format(message=f"{result.failed_stage}: {message}")
        if kind == "optimization_not_converged":
            steps = failed.optimization_steps if failed is not None else None
            return self.exit_codes.ERROR_OPTIMIZATION_NOT_CONVERGED.format(steps=steps)
        if kind == "crash":
            return self.exit_codes.ERROR_PSI4_CRASH.format(message=f"{result.failed_stage}: {message}")
        if kind == "incomplete" or not job.completed or failed is not None:
            return self.exit_codes.ERROR_INCOMPLETE
        return None
