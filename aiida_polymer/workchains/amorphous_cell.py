"""``polymer.amorphous_cell``: repeat-unit SMILES → GAFF2-typed amorphous cell and LAMMPS data file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiida import orm
from aiida.engine import ExitCode, ToContext, WorkChain

from ..calcfunctions.system import build_cell, build_template
from ..calculations.amber import AmberToolsJob
from ..chem import amber
from ..chem.builder import CHARGE_METHODS, CellSpec
from ..chem.monomer import MonomerError, parse_end_group, parse_repeat_unit
from .exclusive import Exclusive


def input_error(process: WorkChain, check: Callable[[], Any]) -> ExitCode | None:
    """Run ``check``: a MonomerError becomes ERROR_INVALID_SMILES, a TypeError/ValueError ERROR_INVALID_PARAMETERS
    (reported, with the message), so bad input fails before any job is launched."""
    try:
        check()
    except MonomerError as exc:
        process.report(str(exc))
        return process.exit_codes.ERROR_INVALID_SMILES.format(message=str(exc))
    except (TypeError, ValueError) as exc:
        process.report(str(exc))
        return process.exit_codes.ERROR_INVALID_PARAMETERS.format(message=str(exc))
    return None


class AmorphousCellWorkChain(Exclusive, WorkChain):
    """Validate the SMILES, build and type a capped template oligomer with antechamber/parmchk2 (recorded as
    ShellJobs), then grow, pack and parameterise the chains."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("parameters", valid_type=orm.Dict,
                   help="Build options: smiles (list), fractions, copolymer, block_lengths, head_group, "
                        "tail_group, tacticity, n_chains (a minimum), atoms_per_chain, degree_of_polymerization, "
                        "density, min_distance, min_box_length (Å, at the estimated final density), charges, seed "
                        "(see aiida_polymer.chem.builder.CellSpec). Contradictory ones fail with exit 202.")
        spec.input("antechamber", valid_type=orm.AbstractCode, help="AmberTools antechamber.")
        spec.input("parmchk2", valid_type=orm.AbstractCode, help="AmberTools parmchk2.")
        spec.input("options", valid_type=orm.Dict, required=False,
                   help="metadata.options for the AmberTools jobs (e.g. resources, queue).")
        spec.input("charges", valid_type=orm.Dict, required=False,
                   help="Atomic charges per fragment, {'charges': [[unit 1], ..., [head], [tail]]} (e.g. RESP from "
                        "polymer.charges, caps folded); needed when parameters['charges'] is 'resp'.")
        spec.outline(cls.validate, cls.make_template, cls.run_antechamber, cls.run_parmchk2, cls.make_cell)
        spec.output("template", valid_type=orm.SinglefileData, help="Capped template oligomer that was typed.")
        spec.output("data_file", valid_type=orm.SinglefileData, help="LAMMPS data file (atom_style full).")
        spec.output("structure", valid_type=orm.StructureData, help="The amorphous cell.")
        spec.output("residues", valid_type=orm.Dict, help="Types and charges of each repeat unit and end group.")
        spec.output("forcefield", valid_type=orm.Dict, help="The GAFF2 parameters used, by atom types.")
        spec.output("summary", valid_type=orm.Dict,
                    help="Counts, DP, the composition measured on the built chains (`composition`: mole fractions in "
                         "the order of `smiles`; `unit_counts`), box, density, estimated final density and box, "
                         "distances, tacticity.")
        spec.exit_code(201, "ERROR_INVALID_SMILES", message="Invalid SMILES: {message}")
        spec.exit_code(202, "ERROR_INVALID_PARAMETERS", message="Invalid build parameters: {message}")
        spec.exit_code(310, "ERROR_ANTECHAMBER_FAILED", message="antechamber failed (exit status {status}).")
        spec.exit_code(311, "ERROR_PARMCHK2_FAILED", message="parmchk2 failed (exit status {status}).")
        spec.exit_code(320, "ERROR_MISSING_PARAMETER", message="GAFF2 has no parameter: {message}")
        spec.exit_code(410, "ERROR_BUILD_FAILED", message="Could not build the cell: {message}")

    @staticmethod
    def check_smiles(params: dict) -> None:
        """Parse every repeat unit and end group of the build parameters (MonomerError with the reason)."""
        smiles = params.get("smiles")
        for s in [smiles] if isinstance(smiles, str) else (smiles or []):
            parse_repeat_unit(s)
        for key in ("head_group", "tail_group"):
            if key in params:
                parse_end_group(params[key])

    @classmethod
    def check_parameters(cls, params: dict) -> CellSpec:
        """Every SMILES parsed and the build specification validated (MonomerError or ValueError naming the
        problem): what a builder can check before anything is submitted."""
        cls.check_smiles(params)
        return CellSpec(**params)

    def validate(self):
        """Parse every SMILES and the options before anything is stored."""

        def check():
            spec = self.check_parameters(self.inputs.parameters.get_dict())
            if spec.charges not in CHARGE_METHODS and "charges" not in self.inputs:
                raise ValueError(f"charges {spec.charges!r} need the `charges` input")

        return input_error(self, check)

    def make_template(self):
        self.ctx.template = build_template(self.inputs.parameters)

    def _shell_inputs(self, code, args, node, filename, output):
        options = {"resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}, "withmpi": False}
        if "options" in self.inputs:
            options.update(self.inputs.options.get_dict())
        return {
            "code": code,
            "arguments": orm.List(list(args)),
            "nodes": {filename[0]: node},
            "filenames": orm.Dict({filename[0]: filename[1]}),
            "outputs": orm.List([output]),
            "metadata": {"options": options, "call_link_label": code.label},
        }

    def run_antechamber(self):
        inputs = self._shell_inputs(self.inputs.antechamber, amber.ANTECHAMBER_ARGS, self.ctx.template,
                                    ("structure", "structure.sdf"), "typed.mol2")
        return ToContext(antechamber=self.submit(AmberToolsJob, **inputs))

    def run_parmchk2(self):
        job = self.ctx.antechamber
        if not job.is_finished_ok or "typed_mol2" not in job.outputs:
            return self.exit_codes.ERROR_ANTECHAMBER_FAILED.format(status=job.exit_status)
        inputs = self._shell_inputs(self.inputs.parmchk2, amber.PARMCHK2_ARGS, job.outputs.typed_mol2,
                                    ("typed", "typed.mol2"), "missing.frcmod")
        return ToContext(parmchk2=self.submit(AmberToolsJob, **inputs))

    def make_cell(self):
        job = self.ctx.parmchk2
        if not job.is_finished_ok or "missing_frcmod" not in job.outputs:
            return self.exit_codes.ERROR_PARMCHK2_FAILED.format(status=job.exit_status)
        charges = {"charges": self.inputs.charges} if "charges" in self.inputs else {}
        results, node = build_cell.run_get_node(self.inputs.parameters, self.ctx.template,
                                                self.ctx.antechamber.outputs.typed_mol2, job.outputs.missing_frcmod,
                                                **charges)
        if not node.is_finished_ok:
            self.report(node.exit_message)
            code = {320: self.exit_codes.ERROR_MISSING_PARAMETER,
                    202: self.exit_codes.ERROR_INVALID_PARAMETERS}.get(node.exit_status,
                                                                       self.exit_codes.ERROR_BUILD_FAILED)
            return code.format(message=node.exit_message)
        self.out("template", self.ctx.template)
        for key, node in results.items():
            self.out(key, node)
        s = results["summary"].get_dict()
        self.report(f"built {s['n_chains']} chains × DP {s['degree_of_polymerization']}: {s['n_atoms']} atoms, "
                    f"box {s['box_length_angstrom']:.2f} Å, min non-bonded distance "
                    f"{s['min_nonbonded_distance_angstrom']:.2f} Å")
        return None
