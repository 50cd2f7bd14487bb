"""Amorphous cell: chains grown one by one from random starting points inside a periodic cubic box, and the
density the cell is expected to reach, estimated from the van der Waals volume of its chains."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit.Chem import AllChem
from scipy.spatial import cKDTree

from .chains import ChainGrowthError
from .monomer import Fragment, parse_end_group
from .oligomer import embed, join

AVOGADRO = 6.02214076e23
# Packing coefficient k = van der Waals volume / molar volume, averaged over amorphous glassy polymers at room
# temperature (Slonimskii, Askadskii & Kitaigorodskii, Polym. Sci. USSR 12, 556 (1970)). k is about 0.667 at the
# glass transition and lower above it, so for rubbery polymers (PE, PP at 300 K) the estimate errs dense; with RDKit's
# radii it is 0.3-11 % above the amorphous densities of PE, PS, PMMA and PVC: a box sized with it comes out larger.
PACKING_COEFFICIENT = 0.681


class PackingError(RuntimeError):
    """A chain could not be inserted without overlaps."""


def box_length(total_mass: float, density: float) -> float:
    """Cubic box edge (Å) holding ``total_mass`` (g/mol) at ``density`` (g/cm³)."""
    return (total_mass / AVOGADRO / density * 1e24) ** (1.0 / 3.0)


def van_der_waals_volume(units: Sequence[Fragment], head: Fragment, tail: Fragment, seed: int = 7
                         ) -> tuple[list[float], float]:
    """Van der Waals volumes (Å³) of each repeat unit inside a chain and of the two end groups together.

    Volumes of the union of the atoms' van der Waals spheres (RDKit radii, Bondi's for C and H) of embedded
    molecules, on a 0.2 Å grid: a unit's is half the difference between its H-capped trimer and monomer (the caps
    cancel); the end groups' is that of ``head``–first unit–``tail`` less the unit's.
    """
    hydrogen = parse_end_group("*[H]")

    def volume(fragments: Sequence[Fragment], head_cap: Fragment, tail_cap: Fragment) -> float:
        mol = embed(join(fragments, head_cap, tail_cap).mol, seed=seed, n_conformers=1)
        return float(AllChem.ComputeMolVolume(mol, confId=mol.GetConformer().GetId(), gridSpacing=0.2,
                                              boxMargin=2.0))

    per_unit = [(volume([u] * 3, hydrogen, hydrogen) - volume([u], hydrogen, hydrogen)) / 2 for u in units]
    ends = volume([units[0]], head, tail) - per_unit[0]
    return per_unit, ends


def estimated_density(mass: float, vdw_volume: float, packing: float = PACKING_COEFFICIENT) -> float:
    """Density (g/cm³) of ``mass`` (g/mol) whose van der Waals volume is ``vdw_volume`` (Å³): ρ = k M / (N_A V_w)."""
    return packing * mass / AVOGADRO / (vdw_volume * 1e-24)


@dataclass
class Packed:
    coords: np.ndarray  # unwrapped (n, 3), chains kept whole
    box: float

    def wrapped(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates folded into [0, box) and the image flags that unfold them."""
        images = np.floor(self.coords / self.box).astype(int)
        return self.coords - images * self.box, images


def grow_in_box(grow: Callable[[int, cKDTree | None], np.ndarray], n_chains: int, box: float,
                attempts: int = 10) -> Packed:
    """Grow ``n_chains`` chains one after another inside the periodic box.

    ``grow(n, obstacles)`` returns chain n's unwrapped coordinates grown around ``obstacles`` (a periodic cKDTree
    of the atoms placed so far, None for the first chain); a chain that gets stuck is restarted elsewhere.
    """
    placed: list[np.ndarray] = []
    for n in range(n_chains):
        tree = cKDTree(np.concatenate(placed) % box, boxsize=box) if placed else None
        for _ in range(attempts):
            try:
                placed.append(grow(n, tree))
                break
            except ChainGrowthError:
                continue
        else:
            raise PackingError(
                f"could not grow chain {n + 1} of {n_chains} in a {box:.1f} Å box without overlaps after "
                f"{attempts} starts; lower the initial density"
            )
    return Packed(coords=np.concatenate(placed), box=box)


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
