"""Residue templates: geometry, GAFF2 types and charges of every repeat unit and end group.

Types come from antechamber run on one capped *template oligomer* in which each monomer appears three times in a
row (so its middle copy sees a chain environment) and every ordered pair of monomers is adjacent once (so the
cross-junction parameters exist). Each repeat unit takes the types and geometry of its middle copy; end groups take
those of the template's end residues.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdPartialCharges

from .monomer import Fragment
from .oligomer import Oligomer, embed, join


@dataclass
class Residue:
    """Everything the chain builder needs about one fragment kind.

    ``prev_anchor``/``next_anchor`` are where the neighbouring residues' link atoms sit in this residue's frame
    (None at a chain end). ``stereocentres`` are local indices of atoms whose configuration sets tacticity.
    """

    name: str
    types: list[str]
    charges: np.ndarray
    coords: np.ndarray
    elements: list[str]
    bonds: list[tuple[int, int]]
    head: int | None
    tail: int | None
    prev_anchor: np.ndarray | None
    next_anchor: np.ndarray | None
    stereocentres: list[int]

    @property
    def n_atoms(self) -> int:
        return len(self.types)


def template_sequence(n_monomers: int) -> list[int]:
    """Monomer order in the template: a block of three of each, then any ordered pair not yet adjacent."""
    seq = [m for m in range(n_monomers) for _ in range(3)]
    pairs = set(itertools.pairwise(seq))
    for i in range(n_monomers):
        for j in range(n_monomers):
            if i != j and (i, j) not in pairs:
                if seq[-1] != i:
                    pairs.add((seq[-1], i))
                    seq.append(i)
                seq.append(j)
                pairs.add((i, j))
    return seq


def middle_positions(sequence: Sequence[int]) -> dict[int, int]:
    """Template position (1-based: position 0 is the head cap) of each monomer's middle copy."""
    return {m: 1 + sequence.index(m) + 1 for m in sorted(set(sequence))}


def build_template(units: Sequence[Fragment], head_cap: Fragment, tail_cap: Fragment, seed: int = 7
                   ) -> tuple[Oligomer, list[int]]:
    sequence = template_sequence(len(units))
    oligomer = join([units[m] for m in sequence], head_cap, tail_cap)
    ends = oligomer.atoms_of(0)[head_cap.head], oligomer.atoms_of(len(sequence) + 1)[tail_cap.head]
    oligomer.mol = embed(oligomer.mol, seed=seed, span=(int(ends[0]), int(ends[1])))
    return oligomer, sequence


def gasteiger_charges(fragment: Fragment) -> np.ndarray:
    """Gasteiger charges of the H-capped fragment, each cap's charge folded onto the atom it was bonded to."""
    mol, caps = fragment.capped()
    rdPartialCharges.ComputeGasteigerCharges(mol)
    q = np.array([a.GetDoubleProp("_GasteigerCharge") for a in mol.GetAtoms()])
    if not np.all(np.isfinite(q)):
        raise ValueError(f"Gasteiger charges undefined for {fragment.smiles}")
    return fold_caps(q, caps, fragment.n_atoms)


def fold_caps(charges: np.ndarray, caps: dict[int, int], n_atoms: int) -> np.ndarray:
    """Move cap-atom charges onto their bonded atoms and remove any rounding residue, so the fragment is neutral."""
    q = np.array(charges[:n_atoms], dtype=float)
    for cap, site in caps.items():
        q[site] += charges[cap]
    return q - q.sum() / n_atoms


def residues_from_template(oligomer: Oligomer, sequence: Sequence[int], types: Sequence[str],
                           charges: Sequence[np.ndarray]) -> list[Residue]:
    """Residue templates for each monomer (in input order) followed by the head and tail caps.

    ``charges`` holds one array per fragment in the same order (monomers, head cap, tail cap).
    """
    coords = oligomer.mol.GetConformer().GetPositions()
    positions = [*(middle_positions(sequence)[m] for m in range(len(charges) - 2)), 0, len(sequence) + 1]
    chiral = {idx for idx, _ in Chem.FindMolChiralCenters(oligomer.mol, includeUnassigned=True,
                                                          useLegacyImplementation=False)}
    residues = []
    for pos, q in zip(positions, charges, strict=True):
        frag = oligomer.fragments[pos]
        atoms = oligomer.atoms_of(pos)
        prev_atoms = oligomer.atoms_of(pos - 1) if pos > 0 else None
        next_atoms = oligomer.atoms_of(pos + 1) if pos < len(oligomer.fragments) - 1 else None
        prev_anchor = next_anchor = None
        is_head_cap, is_tail_cap = pos == 0, pos == len(oligomer.fragments) - 1
        if not is_head_cap:  # bonded at our head to the previous residue's tail (or the head cap's site)
            prev_frag = oligomer.fragments[pos - 1]
            prev_site = prev_frag.head if pos - 1 == 0 else prev_frag.tail
            prev_anchor = coords[prev_atoms[prev_site]]
        if not is_tail_cap:
            next_anchor = coords[next_atoms[oligomer.fragments[pos + 1].head]]
        residues.append(Residue(
            name=frag.canonical,
            types=[types[i] for i in atoms],
            charges=np.asarray(q, dtype=float),
            coords=coords[atoms],
            elements=[a.GetSymbol() for a in frag.mol.GetAtoms()],
            bonds=[(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in frag.mol.GetBonds()],
            head=None if is_head_cap else frag.head,
            tail=frag.head if is_head_cap else (None if is_tail_cap else frag.tail),
            prev_anchor=prev_anchor,
            next_anchor=next_anchor,
            stereocentres=[] if is_head_cap or is_tail_cap
            else [int(i) for i, a in enumerate(atoms) if a in chiral],
        ))
    return residues
