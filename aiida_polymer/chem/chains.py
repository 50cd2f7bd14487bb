"""Polymer chains: sequences (homopolymer, copolymers, tacticity) and self-avoiding random-walk growth.

A chain is grown residue by residue from rigid residue templates: each new residue is placed so that its head
bonds to the previous residue's tail with the template's link geometry, rotated by a random torsion about the
link bond, and rejected if any of its atoms comes closer than ``min_distance`` to an atom already placed.
Opposite configurations of a stereocentre come from the mirror image of the residue template.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from .residues import Residue

TACTICITIES = ("isotactic", "syndiotactic", "atactic")
COPOLYMER_KINDS = ("homopolymer", "alternating", "random", "block")


class ChainGrowthError(RuntimeError):
    """The random walk could not place a residue without overlaps."""


def degree_of_polymerization(unit_atoms: Sequence[int], fractions: Sequence[float], end_atoms: int,
                             target_atoms: int) -> int:
    """Number of repeat units so that a chain (with its end groups) has about ``target_atoms`` atoms."""
    mean_unit = float(np.dot(unit_atoms, fractions)) / float(np.sum(fractions))
    return max(1, round((target_atoms - end_atoms) / mean_unit))


def monomer_sequence(kind: str, n_units: int, fractions: Sequence[float], rng: np.random.Generator,
                     block_lengths: Sequence[int] | None = None) -> list[int]:
    """Monomer indices along one chain.

    ``random`` uses the exact composition (counts rounded from ``fractions``) in a random order, drawn anew for
    every chain; ``block`` repeats blocks of ``block_lengths`` (default: one block per monomer, sized by fraction).
    """
    k = len(fractions)
    if kind == "homopolymer" or k == 1:
        return [0] * n_units
    if kind == "alternating":
        return [i % k for i in range(n_units)]
    counts = _exact_counts(fractions, n_units)
    if kind == "random":
        seq = np.repeat(np.arange(k), counts)
        rng.shuffle(seq)
        return seq.tolist()
    if kind == "block":
        lengths = list(block_lengths) if block_lengths else counts
        pattern = [m for m, length in enumerate(lengths) for _ in range(length)]
        return [pattern[i % len(pattern)] for i in range(n_units)]
    raise ValueError(f"unknown copolymer kind {kind!r}; choose from {COPOLYMER_KINDS}")


def _exact_counts(fractions: Sequence[float], n: int) -> list[int]:
    """Largest-remainder rounding of n * fractions (sums to n exactly)."""
    f = np.asarray(fractions, float) / np.sum(fractions)
    raw = f * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(raw - counts)[::-1][: n - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def mirror_flags(tacticity: str, n_units: int, rng: np.random.Generator) -> list[bool]:
    """Which residues use the mirror-image template: none (isotactic), every other (syndiotactic) or random."""
    if tacticity == "isotactic":
        return [False] * n_units
    if tacticity == "syndiotactic":
        return [i % 2 == 1 for i in range(n_units)]
    if tacticity == "atactic":
        return (rng.random(n_units) < 0.5).tolist()
    raise ValueError(f"unknown tacticity {tacticity!r}; choose from {TACTICITIES}")


def _axis_rotation(axis: np.ndarray, theta: float) -> np.ndarray:
    """Rotation matrix by ``theta`` about the unit vector ``axis`` (Rodrigues)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * (k @ k)


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix turning direction a into direction b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(np.dot(a, b))
    if c < -1 + 1e-10:  # antiparallel: rotate by pi about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        return Rotation.from_rotvec(np.pi * axis / np.linalg.norm(axis)).as_matrix()
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


@dataclass
class _Placed:
    start: int
    residue: Residue
    coords: np.ndarray
    next_anchor: np.ndarray | None


def grow_chain(residues: Sequence[Residue], order: Sequence[int], mirrored: Sequence[bool],
               rng: np.random.Generator, min_distance: float = 1.7, trials: int = 40,
               max_backtracks: int = 500, box: float | None = None, obstacles: cKDTree | None = None
               ) -> np.ndarray:
    """Unwrapped coordinates (n_atoms, 3) of one chain: residues[order[0]] – … – residues[order[-1]].

    ``mirrored[i]`` selects the mirror-image template for residue i. With a cubic ``box`` the chain starts at a
    random point and overlaps are judged by the minimum image, also against ``obstacles`` (a periodic cKDTree of
    atoms already in the box). Backtracks a few residues when one cannot be placed in ``trials`` torsions.
    """
    templates = [_oriented(residues[r], m) for r, m in zip(order, mirrored, strict=True)]
    xyz = np.empty((sum(t[0].n_atoms for t in templates), 3))
    placed: list[_Placed] = []
    clash = _Clash(min_distance, box, obstacles)
    backtracks = 0
    while len(placed) < len(templates):
        k = len(placed)
        res, coords, prev_anchor, next_anchor = templates[k]
        start = placed[-1].start + placed[-1].residue.n_atoms if placed else 0
        if k == 0:
            centre = coords.mean(axis=0)
            for _ in range(trials):
                rot = Rotation.random(random_state=rng).as_matrix()
                origin = rng.uniform(0, box, 3) if box else np.zeros(3)
                new = (coords - centre) @ rot.T + origin
                if not clash(new, xyz[:0]):
                    break
            else:
                raise ChainGrowthError("no room for the first residue of the chain")
            xyz[: res.n_atoms] = new
            placed.append(_Placed(0, res, new, None if next_anchor is None else (next_anchor - centre) @ rot.T
                                  + origin))
            continue
        prev = placed[-1]
        link = prev.start + prev.residue.tail
        a, b = xyz[link], prev.next_anchor
        base = _align(coords[res.head] - prev_anchor, b - a)
        axis = (b - a) / np.linalg.norm(b - a)
        local = coords - prev_anchor
        existing = clash.near(np.delete(xyz[:start], link, axis=0), a, np.sqrt((local**2).sum(1).max()))
        for theta in rng.uniform(0, 2 * np.pi, trials):
            rot = _axis_rotation(axis, theta) @ base
            new = local @ rot.T + a
            if clash(new, existing):
                continue
            xyz[start : start + res.n_atoms] = new
            anchor = None if next_anchor is None else (next_anchor - prev_anchor) @ rot.T + a
            placed.append(_Placed(start, res, new, anchor))
            break
        else:
            backtracks += 1
            if backtracks > max_backtracks:
                raise ChainGrowthError(
                    f"could not grow the chain past residue {k} of {len(templates)} without overlaps "
                    f"(min_distance {min_distance} Å); try a smaller min_distance or shorter chains"
                )
            depth = 1 + backtracks // 25 + int(rng.integers(0, 3))  # back off further when stuck repeatedly
            del placed[max(1, k - depth) :]
    return xyz


class _Clash:
    """Whether new atoms come closer than ``min_distance`` to the chain so far or to the obstacles."""

    def __init__(self, min_distance: float, box: float | None, obstacles: cKDTree | None) -> None:
        self.d, self.d2, self.box, self.obstacles = min_distance, min_distance**2, box, obstacles

    def _minimum_image(self, diff: np.ndarray) -> np.ndarray:
        return diff - self.box * np.round(diff / self.box) if self.box else diff

    def near(self, atoms: np.ndarray, centre: np.ndarray, reach: float) -> np.ndarray:
        """The atoms that a residue reaching ``reach`` from ``centre`` could touch (checked once per residue)."""
        diff = self._minimum_image(atoms - centre)
        return atoms[np.einsum("ij,ij->i", diff, diff) < (reach + self.d) ** 2]

    def __call__(self, new: np.ndarray, existing: np.ndarray) -> bool:
        if existing.size:
            diff = self._minimum_image(new[:, None, :] - existing[None, :, :])
            if np.einsum("ijk,ijk->ij", diff, diff).min() < self.d2:
                return True
        if self.obstacles is not None:
            dist, _ = self.obstacles.query(new % self.box, distance_upper_bound=self.d)
            return bool(np.isfinite(dist).any())
        return False


def _oriented(res: Residue, mirrored: bool):
    """Template coordinates and anchors, mirrored through the yz plane if asked."""
    flip = np.array([-1.0, 1.0, 1.0]) if mirrored else np.ones(3)
    prev_anchor = None if res.prev_anchor is None else res.prev_anchor * flip
    next_anchor = None if res.next_anchor is None else res.next_anchor * flip
    return res, res.coords * flip, prev_anchor, next_anchor


def chirality_signs(residue: Residue, coords: np.ndarray) -> list[int]:
    """Sign of the triple product of the first three intra-residue neighbours of each stereocentre."""
    signs = []
    for centre in residue.stereocentres:
        nbrs = sorted({j for i, j in residue.bonds if i == centre} | {i for i, j in residue.bonds if j == centre})
        v = coords[nbrs[:3]] - coords[centre]
        signs.append(int(np.sign(np.linalg.det(v))))
    return signs


def meso_fraction(signs_per_unit: Sequence[Sequence[int]]) -> float | None:
    """Fraction of meso dyads (same configuration in consecutive units); None if no stereocentres."""
    pairs = [(a[0], b[0]) for a, b in itertools.pairwise(signs_per_unit) if a and b]
    if not pairs:
        return None
    return sum(x == y for x, y in pairs) / len(pairs)
