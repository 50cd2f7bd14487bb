"""Amorphous cell: independently grown chains placed with random rotations and positions in a periodic cubic box."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

AVOGADRO = 6.02214076e23


class PackingError(RuntimeError):
    """A chain could not be inserted without overlaps."""


def box_length(total_mass: float, density: float) -> float:
    """Cubic box edge (Å) holding ``total_mass`` (g/mol) at ``density`` (g/cm³)."""
    return (total_mass / AVOGADRO / density * 1e24) ** (1.0 / 3.0)


@dataclass
class Packed:
    coords: np.ndarray  # unwrapped (n, 3), chains kept whole
    box: float

    def wrapped(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates folded into [0, box) and the image flags that unfold them."""
        images = np.floor(self.coords / self.box).astype(int)
        return self.coords - images * self.box, images


def pack(chains: Sequence[np.ndarray], box: float, rng: np.random.Generator, min_distance: float = 1.7,
         attempts: int = 200) -> Packed:
    """Insert each chain at a random orientation and position, rejecting overlaps (periodic images included)."""
    placed: list[np.ndarray] = []
    for n, chain in enumerate(chains):
        centred = chain - chain.mean(axis=0)
        tree = cKDTree(np.concatenate(placed) % box, boxsize=box) if placed else None
        for _ in range(attempts):
            trial = centred @ Rotation.random(random_state=rng).as_matrix().T + rng.uniform(0, box, 3)
            if tree is not None:
                d, _ = tree.query(trial % box, distance_upper_bound=min_distance)
                if np.isfinite(d).any():
                    continue
            if _self_overlap(trial, box, min_distance):
                continue
            placed.append(trial)
            break
        else:
            raise PackingError(
                f"could not insert chain {n + 1} of {len(chains)} into a {box:.1f} Å box without overlaps "
                f"after {attempts} attempts; lower the initial density"
            )
    return Packed(coords=np.concatenate(placed), box=box)


def _self_overlap(chain: np.ndarray, box: float, min_distance: float) -> bool:
    """Whether a chain touches its own periodic image (only possible when it spans the box)."""
    if np.ptp(chain, axis=0).max() < box - min_distance:
        return False
    periodic = cKDTree(chain % box, boxsize=box).query_pairs(min_distance)
    direct = cKDTree(chain).query_pairs(min_distance)
    return bool(periodic - direct)


def min_distances(coords: np.ndarray, box: float, bonds: np.ndarray, cutoff: float = 3.0
                  ) -> tuple[float, float]:
    """(closest pair of any atoms, closest pair not 1-2 or 1-3 bonded) under periodic boundaries."""
    tree = cKDTree(coords % box, boxsize=box)
    pairs = tree.query_pairs(cutoff, output_type="ndarray")
    if len(pairs) == 0:
        return cutoff, cutoff
    delta = coords[pairs[:, 0]] - coords[pairs[:, 1]]
    delta -= box * np.round(delta / box)
    dist = np.linalg.norm(delta, axis=1)
    excluded = _bonded_pairs(bonds, len(coords))
    key = pairs[:, 0].astype(np.int64) * len(coords) + pairs[:, 1]
    nonbonded = ~np.isin(key, excluded)
    return float(dist.min()), float(dist[nonbonded].min()) if nonbonded.any() else cutoff


def _bonded_pairs(bonds: np.ndarray, n: int) -> np.ndarray:
    """Keys i*n+j (i<j) of 1-2 and 1-3 pairs."""
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for i, j in bonds:
        nbrs[i].append(j)
        nbrs[j].append(i)
    keys = [min(i, j) * n + max(i, j) for i, j in bonds]
    for nb in nbrs:
        keys += [min(a, b) * n + max(a, b) for x, a in enumerate(nb) for b in nb[x + 1 :]]
    return np.array(keys, dtype=np.int64)
