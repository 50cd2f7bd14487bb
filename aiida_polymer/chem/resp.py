"""Restrained electrostatic potential (RESP) atomic charges: Bayly, Cieplak, Cornell, Kollman, J. Phys. Chem. 97,
10269 (1993).

Charges ``q`` minimise ``sum_i (V_i - sum_j q_j / r_ij)^2`` over the fitting points ``i`` plus a hyperbolic restraint
``a (sqrt(q_j^2 + b^2) - b)`` on the heavy atoms (hydrogens are unrestrained), subject to an exact total charge
(Lagrange multiplier), equivalence constraints (atoms of a group share one charge) and frozen charges. As in the
AMBER ``resp`` program, the restraint enters the normal equations as ``a / sqrt(q_j^2 + b^2)`` on the diagonal
(i.e. the penalty is counted twice relative to the squared residuals); the nonlinear problem is solved by iterative
reweighting from the unrestrained fit until no charge changes by more than ``tol`` (1e-6 e). The restraint is not
normalised by the number of points, so poorly determined (buried) charges depend on the point density: methanol's
methyl carbon is ~0.06 e more positive at 1 point/Å² than at 0.5 point/Å².

Units: the potential ``V`` is in Hartree/e (atomic units, as Psi4 writes it), coordinates of atoms and points are in
Å and converted to bohr (1 bohr = 0.52917721067 Å, CODATA 2014), so charges come out in e.

Two-stage RESP: stage 1 fits all charges with ``a = 0.0005``, ``b = 0.1``, equivalencing symmetry-equivalent atoms
except those of methyl/methylene groups; stage 2 refits only the methyl/methylene carbons (sp3 carbons with >= 2 H)
and their hydrogens with ``a = 0.001``, the hydrogens of each group (and symmetry-equivalent groups) constrained
equal, all other charges frozen at their stage-1 values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

BOHR_ANGSTROM = 0.52917721067
STAGE1_A = 0.0005
STAGE2_A = 0.001
RESP_B = 0.1


@dataclass(frozen=True)
class RespInfo:
    """Diagnostics of one fit: reweighting iterations, RMS error (Hartree/e) and relative RMS of the potential."""

    iterations: int
    rms: float
    rrms: float


@dataclass(frozen=True)
class RespResult:
    """Two-stage RESP: final charges (e), the stage-1 charges and both fits' diagnostics (no stage 2: ``None``)."""

    charges: np.ndarray
    stage1_charges: np.ndarray
    stage1: RespInfo
    stage2: RespInfo | None


def inverse_distances(coords_angstrom: np.ndarray, points_angstrom: np.ndarray) -> np.ndarray:
    """``1 / r_ij`` in 1/bohr between points ``i`` and atoms ``j``, shape (M, N)."""
    atoms = np.asarray(coords_angstrom, dtype=float).reshape(-1, 3) / BOHR_ANGSTROM
    pts = np.asarray(points_angstrom, dtype=float).reshape(-1, 3) / BOHR_ANGSTROM
    return 1.0 / np.linalg.norm(pts[:, None, :] - atoms[None, :, :], axis=2)


def potential(charges: np.ndarray, coords_angstrom: np.ndarray, points_angstrom: np.ndarray) -> np.ndarray:
    """Potential (Hartree/e) of point charges (e) on the atoms at the points."""
    return inverse_distances(coords_angstrom, points_angstrom) @ np.asarray(charges, dtype=float)


def _merge_groups(n_atoms: int, groups: Iterable[Iterable[int]]) -> np.ndarray:
    """Label of each atom's equivalence class (union of overlapping groups), shape (n_atoms,)."""
    parent = list(range(n_atoms))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for group in groups:
        members = [int(i) for i in group]
        for i in members:
            if not 0 <= i < n_atoms:
                raise IndexError(f"atom index {i} out of range for {n_atoms} atoms")
        for i in members[1:]:
            parent[root(i)] = root(members[0])
    return np.array([root(i) for i in range(n_atoms)])


def _parametrise(
    n_atoms: int, equivalences: Iterable[Iterable[int]], frozen: Mapping[int, float]
) -> tuple[np.ndarray, np.ndarray]:
    """``q = T @ p + f``: map ``T`` (N, P) from free parameters to atoms and the frozen charges ``f`` (N,)."""
    labels = _merge_groups(n_atoms, equivalences)
    fixed = np.zeros(n_atoms)
    is_frozen = np.zeros(n_atoms, dtype=bool)
    for i, value in frozen.items():
        fixed[i], is_frozen[i] = value, True
    for label in np.unique(labels):
        members = labels == label
        if is_frozen[members].any() and not is_frozen[members].all():
            raise ValueError(f"equivalence group {np.flatnonzero(members).tolist()} mixes frozen and free atoms")
    free_labels = np.unique(labels[~is_frozen])
    t = (labels[:, None] == free_labels[None, :]) & ~is_frozen[:, None]
    return t.astype(float), fixed


def _solve(gram: np.ndarray, rhs: np.ndarray, t: np.ndarray, restraint: np.ndarray, target: float) -> np.ndarray:
    """Parameters minimising the (reweighted) quadratic form with ``sum(T @ p) == target`` (Lagrange multiplier)."""
    counts = t.sum(axis=0)
    n = len(counts)
    kkt = np.zeros((n + 1, n + 1))
    kkt[:n, :n] = gram + np.diag(t.T @ restraint)
    kkt[:n, n] = kkt[n, :n] = counts
    sol = np.linalg.solve(kkt, np.append(rhs, target))
    return sol[:n]


def fit_resp(
    elements: Sequence[str],
    coords_angstrom: np.ndarray,
    points_angstrom: np.ndarray,
    esp_hartree: np.ndarray,
    total_charge: float = 0.0,
    *,
    a: float = STAGE1_A,
    b: float = RESP_B,
    equivalences: Iterable[Iterable[int]] = (),
    frozen: Mapping[int, float] | None = None,
    n_grids: int = 1,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> tuple[np.ndarray, RespInfo]:
    """One restrained fit of atomic charges (e) to the potential (Hartree/e) at points (Å); see the module doc.

    ``a = 0`` gives the unrestrained (Merz–Kollman) ESP fit. Frozen atoms keep their given charge and are not
    restrained; the total charge (frozen atoms included) equals ``total_charge`` to machine precision. When the
    points are the union of ``n_grids`` grids (several orientations), the restraint is multiplied by ``n_grids``.
    """
    frozen = dict(frozen or {})
    n_atoms = len(elements)
    design = inverse_distances(coords_angstrom, points_angstrom)
    if design.shape[1] != n_atoms:
        raise ValueError(f"{n_atoms} elements but {design.shape[1]} coordinates")
    esp = np.asarray(esp_hartree, dtype=float)
    if esp.shape != (design.shape[0],):
        raise ValueError(f"{design.shape[0]} points but potential of shape {esp.shape}")
    t, fixed = _parametrise(n_atoms, equivalences, frozen)
    dt = design @ t
    gram, rhs = dt.T @ dt, dt.T @ (esp - design @ fixed)
    target = total_charge - fixed.sum()
    weight = np.array([0.0 if e == "H" else a * n_grids for e in elements]) * t.any(axis=1)
    q = t @ _solve(gram, rhs, t, np.zeros(n_atoms), target) + fixed
    iterations = 0
    while weight.any():
        iterations += 1
        q_new = t @ _solve(gram, rhs, t, weight / np.sqrt(q**2 + b**2), target) + fixed
        change, q = np.abs(q_new - q).max(), q_new
        if change < tol:
            break
        if iterations >= max_iter:
            raise RuntimeError(f"RESP restraint iterations did not converge (last change {change:.2e} e)")
    resid = esp - design @ q
    info = RespInfo(iterations, float(np.sqrt(np.mean(resid**2))), float(np.sqrt(resid @ resid / (esp @ esp))))
    return q, info


def _restrict(groups: Iterable[Iterable[int]], atoms: set[int], inside: bool) -> list[list[int]]:
    """Each group cut to the atoms inside (or outside) ``atoms``, keeping those with at least two members."""
    cut = ([i for i in g if (i in atoms) == inside] for g in groups)
    return [g for g in cut if len(g) > 1]


def resp_two_stage(
    elements: Sequence[str],
    coords_angstrom: np.ndarray,
    points_angstrom: np.ndarray,
    esp_hartree: np.ndarray,
    total_charge: float = 0.0,
    *,
    equivalences: Iterable[Iterable[int]] = (),
    methyl_groups: Iterable[tuple[int, Sequence[int]]] = (),
    a1: float = STAGE1_A,
    a2: float = STAGE2_A,
    b: float = RESP_B,
    n_grids: int = 1,
) -> RespResult:
    """Two-stage RESP charges (e) and diagnostics; without CH3/CH2 groups the stage-1 charges are final.

    ``methyl_groups`` lists ``(carbon, hydrogens)`` of the CH3/CH2 groups refitted in stage 2; ``equivalences``
    (e.g. :func:`equivalent_atoms`) hold in stage 1 outside those groups and in stage 2 inside them.
    """
    groups = [(int(c), [int(h) for h in hs]) for c, hs in methyl_groups]
    equivalences = [list(g) for g in equivalences]
    stage2 = {c for c, _ in groups} | {h for _, hs in groups for h in hs}
    data = (elements, coords_angstrom, points_angstrom, esp_hartree, total_charge)
    q1, info1 = fit_resp(*data, a=a1, b=b, n_grids=n_grids, equivalences=_restrict(equivalences, stage2, inside=False))
    if not stage2:
        return RespResult(q1, q1, info1, None)
    frozen = {i: q1[i] for i in range(len(elements)) if i not in stage2}
    equal = _restrict(equivalences, stage2, inside=True) + [hs for _, hs in groups]
    q2, info2 = fit_resp(*data, a=a2, b=b, n_grids=n_grids, equivalences=equal, frozen=frozen)
    return RespResult(q2, q1, info1, info2)


def equivalent_atoms(mol: Chem.Mol) -> list[list[int]]:
    """Groups (two or more atoms) of topologically equivalent atoms: equal canonical ranks without tie-breaking.

    Ranks see one Lewis structure, so resonance-equivalent atoms (the O of a carboxylate) are not grouped.
    """
    ranks = list(Chem.CanonicalRankAtoms(mol, breakTies=False))
    by_rank: dict[int, list[int]] = {}
    for idx, rank in enumerate(ranks):
        by_rank.setdefault(rank, []).append(idx)
    return sorted(g for g in by_rank.values() if len(g) > 1)


def methyl_groups(mol: Chem.Mol) -> list[tuple[int, list[int]]]:
    """``(carbon, hydrogens)`` of each sp3 carbon (four explicit neighbours) bearing at least two hydrogens."""
    groups = []
    for atom in mol.GetAtoms():
        if atom.GetSymbol() != "C" or atom.GetDegree() != 4:
            continue
        hs = sorted(n.GetIdx() for n in atom.GetNeighbors() if n.GetAtomicNum() == 1)
        if len(hs) >= 2:
            groups.append((atom.GetIdx(), hs))
    return groups


def resp_charges(
    mol: Chem.Mol,
    points_angstrom: np.ndarray,
    esp_hartree: np.ndarray,
    total_charge: float | None = None,
    conf_id: int = -1,
    n_grids: int = 1,
    extra_equivalences: Iterable[Iterable[int]] = (),
) -> RespResult:
    """Two-stage RESP for an RDKit molecule with explicit hydrogens and a conformer (Å).

    Symmetry equivalences come from :func:`equivalent_atoms` plus ``extra_equivalences`` (e.g. resonance), stage-2
    groups from :func:`methyl_groups`; the total charge defaults to the molecule's formal charge.
    """
    if any(atom.GetNumImplicitHs() for atom in mol.GetAtoms()):
        raise ValueError("RESP needs a molecule with explicit hydrogens (Chem.AddHs)")
    elements = [atom.GetSymbol() for atom in mol.GetAtoms()]
    coords = mol.GetConformer(conf_id).GetPositions()
    charge = Chem.GetFormalCharge(mol) if total_charge is None else total_charge
    return resp_two_stage(
        elements,
        coords,
        points_angstrom,
        esp_hartree,
        charge,
        equivalences=equivalent_atoms(mol) + [list(g) for g in extra_equivalences],
        methyl_groups=methyl_groups(mol),
        n_grids=n_grids,
    )
