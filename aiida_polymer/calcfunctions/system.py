"""Calcfunctions of the system builder: thin adapters over :mod:`aiida_polymer.chem.builder`."""

from __future__ import annotations

import hashlib
import io

import numpy as np
from aiida import orm
from aiida.engine import ExitCode, calcfunction
from rdkit import Chem

from ..chem import amber
from ..chem.amber_params import MissingParameterError
from ..chem.builder import CellSpec, build, check_charges, prepare
from ..chem.cell import PackingError
from ..chem.chains import ChainGrowthError


def cell_spec(parameters: orm.Dict) -> CellSpec:
    """The build specification stored in a Dict (validated on construction)."""
    return CellSpec(**parameters.get_dict())


@calcfunction
def build_template(parameters: orm.Dict) -> orm.SinglefileData:
    """The capped template oligomer (3D, explicit H) that antechamber types, as an MDL molfile."""
    prep = prepare(cell_spec(parameters))
    return orm.SinglefileData(io.BytesIO(Chem.MolToMolBlock(prep.template.mol).encode()), filename="template.sdf")


def _template_coordinates(template: orm.SinglefileData) -> np.ndarray:
    mol = Chem.MolFromMolBlock(template.get_content(), removeHs=False, sanitize=False)
    return mol.GetConformer().GetPositions()


@calcfunction
def build_cell(parameters: orm.Dict, template: orm.SinglefileData, typed: orm.SinglefileData,
               frcmod: orm.SinglefileData, charges: orm.Dict | None = None) -> dict[str, orm.Data] | ExitCode:
    """Grow and pack the chains, assign GAFF2 parameters and write the LAMMPS data file.

    ``charges`` (``{"charges": [[...], ...]}``: one list per unit, then head and tail group) replaces the
    charges of ``parameters['charges']`` (e.g. RESP charges from ``polymer.charges``).
    """
    spec = cell_spec(parameters)
    prep = prepare(spec, coordinates=_template_coordinates(template))
    types = amber.read_mol2_types(typed.get_content())
    gaff2_path = amber.gaff2_dat()
    gaff2_text = gaff2_path.read_text()
    try:
        given = None if charges is None else [np.array(q, dtype=float) for q in charges["charges"]]
        if given is not None:
            check_charges([*prep.units, prep.head, prep.tail], given)
    except (KeyError, TypeError, ValueError) as exc:
        return ExitCode(202, f"invalid charges: {exc}")
    try:
        cell = build(spec, prep, types, frcmod.get_content(), gaff2_text, charges=given)
    except MissingParameterError as exc:
        return ExitCode(320, str(exc))
    except (ChainGrowthError, PackingError) as exc:
        return ExitCode(410, str(exc))

    data = orm.SinglefileData(io.BytesIO(cell.data_file().encode()), filename="system.data")
    structure = orm.StructureData(cell=np.eye(3) * cell.box)
    for element, xyz in zip(cell.topology.elements, cell.coords, strict=True):
        structure.append_atom(position=tuple(xyz), symbols=element)
    units = list(spec.smiles)
    names = [*units, spec.head_group, spec.tail_group, units[prep.sequence[0]], units[prep.sequence[-1]]]
    roles = ["repeat_unit"] * len(units) + ["head_group", "tail_group", "first_unit", "last_unit"]
    residues = orm.Dict({
        "residues": [
            {"smiles": s, "role": role, "canonical": r.name, "types": r.types,
             "charges": [float(q) for q in r.charges], "elements": r.elements, "stereocentres": r.stereocentres,
             "net_charge": float(np.sum(r.charges))}
            for s, role, r in zip(names, roles, cell.residues, strict=True)
        ],
        "charge_method": spec.charges,
    })
    ff = cell.forcefield
    forcefield = orm.Dict({
        "name": "GAFF2",
        "gaff2_dat": {"path": str(gaff2_path), "sha256": hashlib.sha256(gaff2_text.encode()).hexdigest(),
                      "title": gaff2_text.splitlines()[0].strip()},
        "masses": ff.masses,
        "lj_epsilon_sigma": {k: list(v) for k, v in ff.pair.items()},
        "bonds": {"-".join(k): list(v) for k, v in ff.bond_coeffs.items()},
        "angles": {"-".join(k): list(v) for k, v in ff.angle_coeffs.items()},
        "dihedrals": {"-".join(k): [[t.k, t.n, t.phase] for t in v] for k, v in ff.dihedral_coeffs.items()},
        "impropers": {"-".join(k): list(v) for k, v in ff.improper_coeffs.items()},
        "estimated_by_parmchk2": cell.summary["estimated_parameters"],
        "styles": "see the data file header",
    })
    return {"data_file": data, "structure": structure, "residues": residues, "forcefield": forcefield,
            "summary": orm.Dict(cell.summary)}
