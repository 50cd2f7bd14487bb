"""The canonical repeat unit of a polymer, and the fragment its polarizability is computed on (no AiiDA here).

The same polymer is written many ways: ``*CCO*``, ``*OCC*`` and ``*COC*`` are poly(ethylene oxide) (another frame
of the same chain), ``*CCCC*`` is polyethylene written as a dimer, and RDKit's canonical SMILES of the unit tells
none of them apart. :func:`canonical_repeat_unit` closes the unit into its periodic (cyclic) graph, reduces a
k-fold repeat to its smallest period, cuts the cycle at every backbone bond outside a ring and keeps the
lexicographically smallest canonical SMILES of the cut units: one string per polymer. Units with stereo marks are
kept in their own frame (cutting and re-bonding would reorder the neighbours that the marks refer to).

:func:`polarizability_unit` is the fragment whose capped polarizability stands for the polymer in the
Lorentz–Lorenz equation: the canonical unit, repeated until its backbone has two atoms or more, so that ``*C*``,
``*CC*`` and ``*CCCC*`` all give the capped ethane value per 28 g/mol (a one-atom backbone capped with hydrogens is
methane, whose polarizability per mass is not that of a CH2 in a chain).
"""

from __future__ import annotations

import itertools
import math

from rdkit import Chem

from .monomer import parse_end_group, parse_repeat_unit

MIN_OPTICAL_BACKBONE = 2  # backbone atoms of the fragment whose polarizability is computed


def _smiles(mol: Chem.Mol) -> str:
    return Chem.MolToSmiles(mol, canonical=True)


def _ends(mol: Chem.Mol) -> tuple[list[int], list[int]]:
    """The stars' indices and the indices of the atoms they are bonded to (head first)."""
    stars = [atom.GetIdx() for atom in mol.GetAtoms() if atom.GetAtomicNum() == 0]
    return stars, [mol.GetAtomWithIdx(star).GetNeighbors()[0].GetIdx() for star in stars]


def _pieces(cycle: Chem.Mol, ring: list[int], bonds: list[int], positions: range) -> tuple[list[str], str]:
    """Cut ``cycle`` at the ring positions: the pieces with their stars labelled by direction ([1*] where the
    piece starts, [2*] where it ends, so that a piece and its reverse differ), and one piece without labels."""
    labels = []
    for i in positions:
        bond = cycle.GetBondWithIdx(bonds[i])
        labels.append((2, 1) if bond.GetBeginAtomIdx() == ring[i] else (1, 2))
    cut = Chem.FragmentOnBonds(cycle, [bonds[i] for i in positions], addDummies=True, dummyLabels=labels)
    pieces = Chem.GetMolFrags(cut, asMols=True)
    labelled = [_smiles(piece) for piece in pieces]
    for atom in pieces[0].GetAtoms():
        atom.SetIsotope(0)
    return labelled, _smiles(pieces[0])


def canonical_repeat_unit(smiles: str, reduce: bool = True) -> str:
    """One SMILES (with two `*`) per polymer, the same for every frame, direction and (``reduce``) multiple of its
    repeat unit. A copolymer's units are not reduced: their fractions and sequence are counted in the units given.

    Raises :class:`~aiida_polymer.chem.monomer.MonomerError` for a SMILES that is not a repeat unit."""
    parse_repeat_unit(smiles)  # the same checks and messages as everywhere else
    mol = Chem.MolFromSmiles(smiles)
    if any(atom.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for atom in mol.GetAtoms()) or any(
            bond.GetStereo() != Chem.BondStereo.STEREONONE for bond in mol.GetBonds()):
        return _smiles(mol)
    stars, ends = _ends(mol)
    core = Chem.RWMol(mol)
    for star in sorted(stars, reverse=True):
        core.RemoveAtom(star)
    index = {old: new for new, old in enumerate(a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() != 0)}
    head, tail = index[ends[0]], index[ends[1]]
    backbone = list(Chem.GetShortestPath(core, head, tail)) if head != tail else [head]
    # The backbone bonds that may be cut: single and on no ring of the unit (the bond between units always may).
    cuttable = [core.GetBondBetweenAtoms(a, b).GetBondType() == Chem.BondType.SINGLE
                and not core.GetBondBetweenAtoms(a, b).IsInRing() for a, b in itertools.pairwise(backbone)]
    cuttable.append(True)
    # The periodic graph as a cyclic trimer (a ring of three atoms or more, even for *C*), copies bonded tail to
    # head; position i of the ring is the bond from its i-th backbone atom to the next.
    size, copies = core.GetNumAtoms(), 3
    cycle = Chem.RWMol(Chem.CombineMols(Chem.CombineMols(core, core), core))
    for copy in range(copies):
        cycle.AddBond(copy * size + tail, (copy + 1) % copies * size + head, Chem.BondType.SINGLE)
    # No symmetrized ring set: the trimer's backbone is one macrocycle, and with k rings on it there are 2^k
    # macrocycles of the same size, which RDKit would enumerate (100 s and 10 GB for 7 rings on a unit's backbone).
    Chem.SanitizeMol(cycle, Chem.SanitizeFlags.SANITIZE_ALL ^ Chem.SanitizeFlags.SANITIZE_SYMMRINGS)
    ring = [copy * size + atom for copy in range(copies) for atom in backbone]
    bonds = [cycle.GetBondBetweenAtoms(a, b).GetIdx() for a, b in zip(ring, ring[1:] + ring[:1], strict=False)]
    cuttable *= copies
    length = len(ring)
    for period in range(1, length + 1) if reduce else [len(backbone)]:  # the smallest period that cuts the
        if length % period:  # ring into identical pieces
            continue
        frames = []
        for offset in range(period):
            positions = range(offset, length, period)
            if all(cuttable[i] for i in positions):
                labelled, piece = _pieces(cycle, ring, bonds, positions)
                if len(set(labelled)) == 1:
                    frames.append(piece)
        if frames:
            return min(frames)
    raise AssertionError("a unit is always a period of its own trimer")


def canonical_end_group(smiles: str) -> str:
    parse_end_group(smiles)
    return _smiles(Chem.MolFromSmiles(smiles))


def repeated(smiles: str, copies: int) -> str:
    """The unit written ``copies`` times: the tail atom of each copy bonded to the head atom of the next (the head
    is the atom at the first ``*``)."""
    parse_repeat_unit(smiles)
    mol = Chem.MolFromSmiles(smiles)
    stars, (head, tail) = _ends(mol)
    size = mol.GetNumAtoms()
    chain = Chem.RWMol(mol)
    for _ in range(copies - 1):
        chain.InsertMol(mol)
    for copy in range(copies - 1):
        chain.AddBond(copy * size + tail, (copy + 1) * size + head, Chem.BondType.SINGLE)
    drop = [copy * size + stars[1] for copy in range(copies - 1)]
    drop += [(copy + 1) * size + stars[0] for copy in range(copies - 1)]
    for atom in sorted(drop, reverse=True):
        chain.RemoveAtom(atom)
    Chem.SanitizeMol(chain)
    return _smiles(chain)


def polarizability_unit(smiles: str) -> str:
    """The fragment whose polarizability (capped, per its own mass) is that of the polymer: the canonical unit,
    repeated until its backbone has :data:`MIN_OPTICAL_BACKBONE` atoms."""
    unit = canonical_repeat_unit(smiles)
    mol = Chem.MolFromSmiles(unit)
    _, (head, tail) = _ends(mol)
    backbone = len(Chem.GetShortestPath(mol, head, tail)) if head != tail else 1
    copies = math.ceil(MIN_OPTICAL_BACKBONE / backbone)
    return unit if copies == 1 else canonical_repeat_unit(repeated(unit, copies), reduce=False)
