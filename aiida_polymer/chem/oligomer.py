"""Join repeat units and end groups into one molecule, remembering which residue each atom came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem

from .monomer import Fragment


@dataclass
class Oligomer:
    """A capped oligomer: ``residue[i]`` is the position of atom i's fragment in ``fragments`` and ``local[i]`` its
    index inside that fragment's ``mol``."""

    mol: Chem.Mol
    fragments: list[Fragment]
    residue: np.ndarray
    local: np.ndarray

    def atoms_of(self, position: int) -> np.ndarray:
        """Indices of the atoms of fragment ``position``, ordered as in the fragment."""
        idx = np.flatnonzero(self.residue == position)
        return idx[np.argsort(self.local[idx])]


def join(units: Sequence[Fragment], head_cap: Fragment, tail_cap: Fragment) -> Oligomer:
    """head_cap–units[0]–…–units[-1]–tail_cap; each link bonds a tail atom to the next head atom."""
    fragments = [head_cap, *units, tail_cap]
    rw = Chem.RWMol()
    offsets, residue, local = [], [], []
    for pos, frag in enumerate(fragments):
        offsets.append(rw.GetNumAtoms())
        for atom in frag.mol.GetAtoms():
            new = Chem.Atom(atom.GetAtomicNum())
            new.SetFormalCharge(atom.GetFormalCharge())
            new.SetNoImplicit(True)
            rw.AddAtom(new)
            residue.append(pos)
            local.append(atom.GetIdx())
        for b in frag.mol.GetBonds():
            rw.AddBond(offsets[-1] + b.GetBeginAtomIdx(), offsets[-1] + b.GetEndAtomIdx(), b.GetBondType())
    # Links: head cap's attachment atom -> first head; each tail -> next head; last tail -> tail cap.
    ends = [offsets[0] + head_cap.head]
    for pos, unit in enumerate(units, start=1):
        rw.AddBond(ends[-1], offsets[pos] + unit.head, Chem.BondType.SINGLE)
        ends.append(offsets[pos] + unit.tail)
    rw.AddBond(ends[-1], offsets[-1] + tail_cap.head, Chem.BondType.SINGLE)
    mol = rw.GetMol()
    Chem.SanitizeMol(mol)
    return Oligomer(mol=mol, fragments=fragments, residue=np.array(residue), local=np.array(local))


def embed(mol: Chem.Mol, seed: int = 7, n_conformers: int = 8) -> Chem.Mol:
    """ETKDG conformers minimised with MMFF94 (UFF where MMFF lacks parameters), lowest energy first."""
    mol = Chem.Mol(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    params.numThreads = 0
    ids = list(AllChem.EmbedMultipleConfs(mol, n_conformers, params))
    if not ids:
        params.useRandomCoords = True
        ids = list(AllChem.EmbedMultipleConfs(mol, n_conformers, params))
    if not ids:
        raise RuntimeError(f"RDKit could not embed {Chem.MolToSmiles(Chem.RemoveHs(mol))} in 3D")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        results = AllChem.MMFFOptimizeMoleculeConfs(mol, numThreads=0, maxIters=500)
    else:
        results = AllChem.UFFOptimizeMoleculeConfs(mol, numThreads=0, maxIters=500)
    order = sorted(range(len(ids)), key=lambda i: results[i][1])
    conformers = [Chem.Conformer(mol.GetConformer(ids[i])) for i in order]
    mol.RemoveAllConformers()
    for conf in conformers:
        mol.AddConformer(conf, assignId=True)
    return mol


def keep_conformer(mol: Chem.Mol, conf_id: int) -> Chem.Mol:
    """A copy of ``mol`` with only conformer ``conf_id``."""
    keep = Chem.Conformer(mol.GetConformer(conf_id))
    out = Chem.Mol(mol)
    out.RemoveAllConformers()
    out.AddConformer(keep, assignId=True)
    return out
