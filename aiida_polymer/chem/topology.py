"""Molecular topology of a whole system and its GAFF2 parameters in LAMMPS form.

Angles, proper dihedrals and impropers are enumerated from the bond graph as LEaP does: every path of three and
four bonded atoms, and one improper per trivalent atom that has an improper parameter, with the central atom third
and the other three in the order of the matched parameter entry (see :func:`improper_atoms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import amber_params as ap

PHASE_TOLERANCE = 1e-3  # degrees; prmtop files store pi as 3.141594


@dataclass
class Topology:
    """Atoms and bonds (0-based indices) of a system of molecules."""

    types: list[str]
    charges: np.ndarray
    molecule: np.ndarray  # 1-based molecule (chain) id of each atom
    bonds: np.ndarray  # (n_bonds, 2)
    elements: list[str] = field(default_factory=list)

    @property
    def n_atoms(self) -> int:
        return len(self.types)

    def neighbours(self) -> list[list[int]]:
        nbrs: list[list[int]] = [[] for _ in range(self.n_atoms)]
        for i, j in self.bonds:
            nbrs[i].append(int(j))
            nbrs[j].append(int(i))
        return nbrs


def angles(nbrs: Sequence[Sequence[int]]) -> list[tuple[int, int, int]]:
    return [(i, j, k) for j, nj in enumerate(nbrs) for a, i in enumerate(nj) for k in nj[a + 1 :]]


def dihedrals(nbrs: Sequence[Sequence[int]], bonds: np.ndarray) -> list[tuple[int, int, int, int]]:
    out = []
    for j, k in bonds:
        for i in nbrs[j]:
            if i == k:
                continue
            for m in nbrs[k]:
                if m != j and m != i:
                    out.append((int(i), int(j), int(k), int(m)))
    return out


@dataclass
class ForceField:
    """Coefficient tables keyed by canonical type tuples, and the terms that use them.

    ``*_terms`` are (coefficient index, atom indices) pairs; coefficient lists keep first-seen order.
    """

    masses: dict[str, float]
    pair: dict[str, tuple[float, float]]  # type -> (epsilon, sigma)
    bond_coeffs: dict[tuple[str, ...], tuple[float, float]] = field(default_factory=dict)
    angle_coeffs: dict[tuple[str, ...], tuple[float, float]] = field(default_factory=dict)
    dihedral_coeffs: dict[tuple[str, ...], list[ap.Torsion]] = field(default_factory=dict)
    improper_coeffs: dict[tuple[str, ...], tuple[float, int, int]] = field(default_factory=dict)  # K, d, n
    bond_terms: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    angle_terms: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    dihedral_terms: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    improper_terms: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)


def _canonical(key: tuple[str, ...]) -> tuple[str, ...]:
    return min(key, key[::-1])


def cvff_improper(term: ap.Torsion) -> tuple[float, int, int]:
    """AMBER k[1+cos(nφ-phase)] with phase 0/180 as cvff K[1+d cos(nφ)]."""
    if abs(term.phase) < PHASE_TOLERANCE:
        return term.k, 1, term.n
    if abs(abs(term.phase) - 180.0) < PHASE_TOLERANCE:
        return term.k, -1, term.n
    raise ValueError(f"improper phase {term.phase} cannot be written as cvff (only 0 or 180 degrees)")


class _Table:
    """Insertion-ordered coefficient table with O(1) index lookup."""

    def __init__(self, store: dict) -> None:
        self.store = store
        self.index: dict = {}

    def get(self, key, make) -> int:
        if key not in self.index:
            self.store[key] = make()
            self.index[key] = len(self.index)
        return self.index[key]


def assign(top: Topology, params: ap.ParameterSet) -> ForceField:
    """Look up every bonded term and atom type in ``params``; raises MissingParameterError naming the types."""
    t = top.types
    used = sorted(set(t), key=t.index)
    ff = ForceField(
        masses={a: params.masses[a] for a in used},
        pair={a: (ap.lj(params, a)[1], ap.lj(params, a)[0]) for a in used},
    )
    nbrs = top.neighbours()
    bonds, angs, dihs, imps = (_Table(ff.bond_coeffs), _Table(ff.angle_coeffs), _Table(ff.dihedral_coeffs),
                               _Table(ff.improper_coeffs))
    for i, j in top.bonds:
        key = _canonical((t[i], t[j]))
        ff.bond_terms.append((bonds.get(key, lambda k=key: ap.bond(params, *k)), (int(i), int(j))))
    for atoms in angles(nbrs):
        key = _canonical(tuple(t[a] for a in atoms))
        if key != tuple(t[a] for a in atoms):
            atoms = atoms[::-1]
        ff.angle_terms.append((angs.get(key, lambda k=key: ap.angle(params, *k)), atoms))
    for atoms in dihedrals(nbrs, top.bonds):
        key = tuple(t[a] for a in atoms)
        if _canonical(key) != key:
            key, atoms = key[::-1], atoms[::-1]
        ff.dihedral_terms.append((dihs.get(key, lambda k=key: ap.dihedral(params, *k)), atoms))
    used: set[tuple[str, ...]] = set()  # improper entries LEaP has already copied into the unit's own parmset
    matches: dict[tuple, tuple | None] = {}
    for centre, nc in enumerate(nbrs):
        if len(nc) != 3:
            continue
        signature = (tuple(sorted(t[a] for a in nc)), t[centre])
        if signature not in matches:
            matches[signature] = ap.improper_match(params, signature[0], signature[1])
        match = matches[signature]
        if match is None:
            continue
        entry = match[0]
        order = _leap_sorted(entry) if entry in used else entry
        used.add(entry)
        outer = sorted(nc, key=lambda a: (t[a], a))
        key = (t[outer[0]], t[outer[1]], t[centre], t[outer[2]])
        ff.improper_terms.append(
            (imps.get(key, lambda term=match[1]: cvff_improper(term)), improper_atoms(order, nc, centre, t))
        )
    return ff


def _leap_sorted(key: tuple[str, ...]) -> tuple[str, ...]:
    """An improper key as LEaP stores it: outer types wildcards first, then alphabetical; centre third."""
    a, b, d = sorted((key[0], key[1], key[3]), key=lambda x: (x != ap.WILDCARD, x))
    return a, b, key[2], d


def improper_atoms(key: tuple[str, ...], outer: Sequence[int], centre: int, t: Sequence[str]
                   ) -> tuple[int, int, int, int]:
    """The atom order LEaP writes for an improper matched to parameter ``key``: each outer atom in the slot of its
    type in ``key``, atoms on wildcard slots in index order, and then atoms of equal type in index order.

    The improper energy depends on this order once the centre is not exactly planar. LEaP orders the first improper
    that uses a parameter entry by the entry as written in the file, and copies the entry, with its outer types
    sorted, into the unit's own parameter set, which every later improper then matches first: so all later uses
    follow the sorted key (``assign`` reproduces this, visiting the centres in atom order as LEaP does)."""
    slots = (0, 1, 3)
    atoms: dict[int, int] = {}
    rest = sorted(outer)
    for s in slots:
        if key[s] != ap.WILDCARD:
            atoms[s] = next(a for a in rest if t[a] == key[s])
            rest.remove(atoms[s])
    for s in slots:
        if key[s] == ap.WILDCARD:
            atoms[s] = rest.pop(0)
    for typ in {t[a] for a in outer}:
        same = [s for s in slots if t[atoms[s]] == typ]
        for s, a in zip(same, sorted(atoms[s] for s in same), strict=True):
            atoms[s] = a
    return atoms[0], atoms[1], centre, atoms[3]
