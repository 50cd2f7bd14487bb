"""Residue templates: geometry, GAFF2 types and charges of every repeat unit and end group.

Types come from antechamber run on one capped *template oligomer* in which each monomer appears three times in a
row (so its middle copy sees a chain environment) and every ordered pair of monomers is adjacent once (so the
cross-junction parameters exist). Each repeat unit takes the types and geometry of its middle copy; end groups take
those of the template's end residues.
"""

from __future__ import annotations

import dataclasses
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


def template_sequence(n_monomers: int, dp: int = 3) -> list[int]:
    """Monomer order in the template: a block of three of each, then any ordered pair not yet adjacent.

    A homopolymer shorter than three units is typed as itself (the units bond to the caps on both sides).
    """
    if n_monomers == 1 and dp < 3:
        return [0] * dp
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
    """Template position (1-based: position 0 is the head cap) of each monomer's middle copy (its only copy in a
    one-unit template)."""
    positions = {}
    for m in sorted(set(sequence)):
        first = sequence.index(m)
        positions[m] = 1 + (first + 1 if first + 1 < len(sequence) and sequence[first + 1] == m else first)
    return positions


def build_template(units: Sequence[Fragment], head_cap: Fragment, tail_cap: Fragment, dp: int = 3, seed: int = 7
                   ) -> tuple[Oligomer, list[int]]:
    """The template oligomer with several embedded conformers (lowest MMFF energy first)."""
    sequence = template_sequence(len(units), dp)
    oligomer = join([units[m] for m in sequence], head_cap, tail_cap)
    oligomer.mol = embed(oligomer.mol, seed=seed)
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
                           charges: Sequence[np.ndarray], conformer: int = -1) -> list[Residue]:
    """Residue templates, in this order: each monomer (its middle copy), the head cap, the tail cap, then the
    template's first and last repeat units (the chain-end variants of monomers ``sequence[0]`` and
    ``sequence[-1]``, whose types can differ where they bond to the caps).

    ``charges`` holds one array per fragment: the monomers, then the head cap, then the tail cap.
    """
    coords = oligomer.mol.GetConformer(conformer).GetPositions()
    n_monomers = len(charges) - 2
    last = len(sequence) + 1
    positions = [*(middle_positions(sequence)[m] for m in range(n_monomers)), 0, last, 1, last - 1]
    fragment_charges = [*charges, charges[sequence[0]], charges[sequence[-1]]]
    chiral = {idx for idx, _ in Chem.FindMolChiralCenters(oligomer.mol, includeUnassigned=True,
                                                          useLegacyImplementation=False)}
    residues = [_residue(oligomer, pos, coords, types, q, chiral) for pos, q in zip(positions, fragment_charges,
                                                                                      strict=True)]
    # The chain-end variants differ only in types: they keep the middle copy's geometry, so that every unit of a
    # monomer has the same configuration at its stereocentres (the template's copies are embedded independently).
    for variant, monomer in ((n_monomers + 2, sequence[0]), (n_monomers + 3, sequence[-1])):
        middle = residues[monomer]
        residues[variant] = dataclasses.replace(middle, types=residues[variant].types)
    return residues


def _residue(oligomer: Oligomer, pos: int, coords: np.ndarray, types: Sequence[str], charges: np.ndarray,
             chiral: set[int]) -> Residue:
    frag = oligomer.fragments[pos]
    atoms = oligomer.atoms_of(pos)
    is_head_cap, is_tail_cap = pos == 0, pos == len(oligomer.fragments) - 1
    prev_anchor = next_anchor = None
    if not is_head_cap:  # our head bonds to the previous residue's tail (the head cap's attachment atom)
        prev_frag = oligomer.fragments[pos - 1]
        prev_site = prev_frag.head if pos - 1 == 0 else prev_frag.tail
        prev_anchor = coords[oligomer.atoms_of(pos - 1)[prev_site]]
    if not is_tail_cap:
        next_anchor = coords[oligomer.atoms_of(pos + 1)[oligomer.fragments[pos + 1].head]]
    return Residue(
        name=frag.canonical,
        types=[types[i] for i in atoms],
        charges=np.asarray(charges, dtype=float),
        coords=coords[atoms],
        elements=[a.GetSymbol() for a in frag.mol.GetAtoms()],
        bonds=[(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in frag.mol.GetBonds()],
        head=None if is_head_cap else frag.head,
        tail=frag.head if is_head_cap else (None if is_tail_cap else frag.tail),
        prev_anchor=prev_anchor,
        next_anchor=next_anchor,
        stereocentres=[] if is_head_cap or is_tail_cap else [int(i) for i, a in enumerate(atoms) if a in chiral],
    )
