"""Merz–Singh–Kollman (Connolly-style) points at which the electrostatic potential is sampled for charge fitting.

Each atom carries spheres of radius ``s * R`` for the scale factors ``s`` (1.4, 1.6, 1.8, 2.0 by default) and its
van der Waals radius ``R``. A sphere of area ``A`` gets ``round(density * A)`` points spread uniformly by a golden
(Fibonacci) spiral; a point is dropped when it lies inside the same-scale sphere of any other atom. Coordinates are
in Å, ``density`` in points/Å² (1.0 as in Besler, Merz, Kollman, J. Comput. Chem. 11, 431 (1990)).

Radii (Å): H, C, N, O are the Merz–Kollman values (Singh & Kollman, J. Comput. Chem. 5, 129 (1984)); F, P, S, Cl
complete the same table as used by GAMESS and the Psi4 RESP plugin (Alenaizan, Burns, Sherrill, Int. J. Quantum
Chem. 120, e26035 (2020)); Br and I, absent there, are Bondi's (J. Phys. Chem. 68, 441 (1964)).
The output is deterministic and tied to the frame of ``coords``: rotating the molecule does not rotate the points.

Psi4 evaluates the potential at such points with ``oeprop(wfn, 'GRID_ESP')`` from a ``grid.dat`` in the molecule's
units (see :mod:`aiida_polymer.chem.psi4_io`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

MSK_RADII: dict[str, float] = {
    "H": 1.20,
    "C": 1.50,
    "N": 1.50,
    "O": 1.40,
    "F": 1.35,
    "P": 1.80,
    "S": 1.75,
    "Cl": 1.70,
    "Br": 1.85,
    "I": 1.98,
}
MSK_SCALES: tuple[float, ...] = (1.4, 1.6, 1.8, 2.0)
GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


def sphere_point_count(radius: float, density: float) -> int:
    """Number of points put on a full sphere of ``radius`` (Å) at ``density`` (points/Å²), at least one."""
    return max(1, round(density * 4.0 * np.pi * radius**2))


def fibonacci_sphere(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors (golden spiral, equal-area bands in z), shape (n, 3)."""
    k = np.arange(n, dtype=float)
    z = 1.0 - (2.0 * k + 1.0) / n
    rho = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    phi = k * GOLDEN_ANGLE
    return np.column_stack((rho * np.cos(phi), rho * np.sin(phi), z))


def atom_radii(elements: Sequence[str], radii: Mapping[str, float] | None = None) -> np.ndarray:
    """Van der Waals radii (Å) of ``elements`` from ``radii`` (default :data:`MSK_RADII`)."""
    table = MSK_RADII if radii is None else radii
    missing = sorted({e for e in elements if e not in table})
    if missing:
        raise KeyError(f"no ESP-fitting radius for element(s) {missing}")
    return np.array([table[e] for e in elements], dtype=float)


def shell_points(coords: np.ndarray, radii: np.ndarray, density: float) -> np.ndarray:
    """Points on the spheres ``radii[i]`` around ``coords[i]`` lying outside every other atom's sphere, (M, 3)."""
    kept = []
    for i, (centre, radius) in enumerate(zip(coords, radii, strict=True)):
        pts = centre + radius * fibonacci_sphere(sphere_point_count(radius, density))
        dist = np.linalg.norm(pts[:, None, :] - coords[None, :, :], axis=2)
        others = np.ones(len(coords), dtype=bool)
        others[i] = False
        outside = np.all(dist[:, others] >= radii[others], axis=1)
        kept.append(pts[outside])
    return np.concatenate(kept) if kept else np.empty((0, 3))


def orientation_matrices(n: int) -> np.ndarray:
    """``n`` fixed, well-spread rotations (the identity first), shape (n, 3, 3).

    Rotation ``k`` turns by ``k`` golden angles about the ``k``-th axis of a golden spiral (Rodrigues' formula).
    """
    axes = fibonacci_sphere(max(n, 1))
    mats = np.empty((n, 3, 3))
    for k in range(n):
        angle = (k * GOLDEN_ANGLE) % (2.0 * np.pi)
        x, y, z = axes[k]
        cross = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
        mats[k] = np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * cross @ cross
    return mats


def msk_points(
    elements: Sequence[str],
    coords: np.ndarray,
    scales: Sequence[float] = MSK_SCALES,
    density: float = 1.0,
    radii: Mapping[str, float] | None = None,
    orientations: int = 1,
) -> np.ndarray:
    """MSK fitting points (Å), shape (M, 3): shells of ``scales`` × vdW radius, ``density`` points/Å².

    With ``orientations > 1`` the result is the union of the grids built around the molecule turned by
    :func:`orientation_matrices` (about its centroid) and turned back, which averages out the dependence of the
    fit on where the points fall; fit such points with ``n_grids=orientations`` in :mod:`aiida_polymer.chem.resp`.
    """
    xyz = np.asarray(coords, dtype=float).reshape(-1, 3)
    if len(xyz) != len(elements):
        raise ValueError(f"{len(elements)} elements but {len(xyz)} coordinates")
    if density <= 0 or orientations < 1:
        raise ValueError("density and orientations must be positive")
    r_vdw = atom_radii(elements, radii)
    centre = xyz.mean(axis=0)
    grids = []
    for rot in orientation_matrices(orientations):
        turned = (xyz - centre) @ rot.T
        grids.extend(shell_points(turned, s * r_vdw, density) @ rot + centre for s in scales)
    return np.concatenate(grids) if grids else np.empty((0, 3))
