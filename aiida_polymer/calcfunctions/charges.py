"""Calcfunctions of the charge stage: conformers, ESP grid and RESP fit, over :mod:`aiida_polymer.chem`."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction
from rdkit import Chem

from ..chem import conformers, resp
from ..chem import esp_grid as grid_points
from ..chem.monomer import Fragment, parse_end_group, parse_repeat_unit
from ..chem.residues import fold_caps
from ..parsers.psi4 import molecule


def fragment(smiles: str) -> Fragment:
    """A repeat unit (two ``*``) or an end group (one ``*``); MonomerError on anything else."""
    return parse_end_group(smiles) if smiles.count("*") == 1 else parse_repeat_unit(smiles)


def capped_molecule(smiles: str, structure: orm.StructureData | None = None) -> tuple[Chem.Mol, dict[int, int], int]:
    """The H-capped fragment (fragment atoms first, then the caps), its caps and the fragment's atom count,
    with the coordinates of ``structure`` (same atom order) as its conformer when given."""
    frag = fragment(smiles)
    mol, caps = frag.capped()
    if structure is not None:
        positions = [site.position for site in structure.sites]
        if len(positions) != mol.GetNumAtoms():
            raise ValueError(f"{len(positions)} atoms in the structure, {mol.GetNumAtoms()} in {smiles}")
        conf = Chem.Conformer(mol.GetNumAtoms())
        for i, xyz in enumerate(positions):
            conf.SetAtomPosition(i, [float(v) for v in xyz])
        mol.RemoveAllConformers()
        mol.AddConformer(conf, assignId=True)
    return mol, caps, frag.n_atoms


@calcfunction
def conformer_search(smiles: orm.Str, parameters: orm.Dict) -> dict[str, orm.Data]:
    """The lowest distinct conformers of the H-capped fragment (``conformer_0`` lowest) and their MMFF energies.

    ``parameters``: n_conformers, keep, prune_rms, cluster_rms, seed (see :func:`conformers.search`).
    """
    mol, _, _ = capped_molecule(smiles.value)
    found = conformers.search(mol, **parameters.get_dict())
    elements = [atom.GetSymbol() for atom in mol.GetAtoms()]
    outputs: dict[str, orm.Data] = {f"conformer_{i}": molecule(elements, c.coords) for i, c in enumerate(found)}
    outputs["energies"] = orm.List([c.energy for c in found])
    return outputs


@calcfunction
def esp_grid(structure: orm.StructureData, parameters: orm.Dict) -> orm.ArrayData:
    """MSK fitting points (array ``points``, Å) around the molecule; ``parameters``: density (points/Å²),
    orientations, scales (see :func:`aiida_polymer.chem.esp_grid.msk_points`)."""
    elements = [structure.get_kind(site.kind_name).symbol for site in structure.sites]
    coords = np.array([site.position for site in structure.sites])
    node = orm.ArrayData()
    node.set_array("points", grid_points.msk_points(elements, coords, **parameters.get_dict()))
    return node


@calcfunction
def resp_charges(smiles: orm.Str, structure: orm.StructureData, esp: orm.ArrayData, parameters: orm.Dict
                 ) -> orm.Dict:
    """Two-stage RESP charges of the H-capped fragment, and the fragment's charges with each cap folded onto the
    atom it replaces (exactly neutral), from the potential at the grid points.

    ``parameters``: orientations (number of grids merged in ``esp``, scales the restraint), total_charge.
    """
    params = parameters.get_dict()
    mol, caps, n_atoms = capped_molecule(smiles.value, structure)
    result = resp.resp_charges(mol, esp.get_array("points"), esp.get_array("esp"),
                               total_charge=params.get("total_charge", 0), n_grids=params.get("orientations", 1))
    folded = fold_caps(result.charges, caps, n_atoms)
    return orm.Dict({
        "smiles": smiles.value,
        "method": "resp",
        "charges": [float(q) for q in folded],
        "capped_charges": [float(q) for q in result.charges],
        "stage1_charges": [float(q) for q in result.stage1_charges],
        "elements": [atom.GetSymbol() for atom in mol.GetAtoms()],
        "caps": {str(cap): site for cap, site in caps.items()},
        "rrms": {"stage1": result.stage1.rrms, "stage2": result.stage2.rrms if result.stage2 else None},
        "n_points": len(esp.get_array("esp")),
    })


@calcfunction
def polarizability_summary(smiles: orm.Str, result: orm.Dict) -> orm.Dict:
    """Isotropic polarizability of the capped fragment and the fragment's molar mass without the caps (the mass
    that goes with it in the Lorentz–Lorenz equation)."""
    return orm.Dict({
        "smiles": smiles.value,
        "polarizability_au": result["polarizability_iso_au"],
        "polarizability_angstrom3": result["polarizability_iso_angstrom3"],
        "tensor_au": result["polarizability_au"],
        "method": result["polarizability_method"],
        "fragment_mass": fragment(smiles.value).mass,
        "psi4_version": result["version"],
    })
