"""Merz–Singh–Kollman ESP fitting points: counts, exclusion of points inside other atoms, determinism."""

import numpy as np
import pytest

from aiida_polymer.chem import esp_grid
from aiida_polymer.chem.esp_grid import MSK_RADII, MSK_SCALES, msk_points

# methanol, HF/6-31G*-optimised (psi4 1.3.2), Å
ELEMENTS = ["C", "O", "H", "H", "H", "H"]
COORDS = np.array(
    [
        [-0.026013590647, 0.717385609927, 0.0],
        [-0.026210357622, -0.682436233039, 0.0],
        [-1.058834131065, 1.036827387450, 0.0],
        [0.459331682359, 1.125068712708, 0.883575627304],
        [0.459331682359, 1.125068712708, -0.883575627304],
        [0.865887529358, -0.997994120669, 0.0],
    ]
)


def distances(points, coords):
    return np.linalg.norm(points[:, None, :] - coords[None, :, :], axis=2)


def test_radii_table():
    """Merz–Kollman radii (Singh & Kollman 1984) for H C N O; Bondi for Br, I."""
    assert {e: MSK_RADII[e] for e in "HCNO"} == {"H": 1.20, "C": 1.50, "N": 1.50, "O": 1.40}
    assert MSK_SCALES == (1.4, 1.6, 1.8, 2.0)
    assert set(MSK_RADII) == {"H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I"}


@pytest.mark.parametrize("element", ["H", "C", "O", "Cl"])
@pytest.mark.parametrize("density", [1.0, 2.5])
def test_single_atom_analytic_count(element, density):
    points = msk_points([element], np.zeros((1, 3)), density=density)
    expected = sum(round(density * 4 * np.pi * (s * MSK_RADII[element]) ** 2) for s in MSK_SCALES)
    assert len(points) == expected
    if element == "C" and density == 1.0:
        # 4π·1.5²·(1.96, 2.56, 3.24, 4.00) Å² = 55.4, 72.4, 91.6, 113.1 points
        assert len(points) == 55 + 72 + 92 + 113
    radii = np.sort(np.linalg.norm(points, axis=1))
    shells = np.unique(np.round(radii, 9))
    assert np.allclose(shells, [s * MSK_RADII[element] for s in MSK_SCALES])


def test_fibonacci_sphere_is_uniform():
    n = 2000
    pts = esp_grid.fibonacci_sphere(n)
    assert pts.shape == (n, 3)
    assert np.allclose(np.linalg.norm(pts, axis=1), 1.0)
    assert np.abs(pts.mean(axis=0)).max() < 2e-3
    # equal-area property: each of 10 z-bands (equal areas on a sphere) holds a tenth of the points
    counts = np.histogram(pts[:, 2], bins=np.linspace(-1, 1, 11))[0]
    assert np.all(np.abs(counts - n / 10) <= 1)


def test_count_scales_with_exposed_area_times_density():
    """Two overlapping spheres: count ≈ density × (exposed area), the exposed area from the spherical caps."""
    coords = np.array([[0.0, 0.0, 0.0], [1.4, 0.0, 0.0]])
    scale, d = 1.4, 1.4
    r1, r2 = scale * MSK_RADII["C"], scale * MSK_RADII["O"]
    x1 = (d**2 + r1**2 - r2**2) / (2 * d)  # centre 1 to the plane of the intersection circle
    x2 = d - x1
    exposed = 4 * np.pi * (r1**2 + r2**2) - 2 * np.pi * (r1 * (r1 - x1) + r2 * (r2 - x2))
    for density in (1.0, 5.0, 20.0):
        n = len(msk_points(["C", "O"], coords, scales=(scale,), density=density))
        assert abs(n - density * exposed) < 0.02 * density * exposed + 2, (density, n, density * exposed)
    counts = [len(msk_points(ELEMENTS, COORDS, density=rho)) for rho in (1.0, 2.0, 4.0)]
    assert counts[1] / counts[0] == pytest.approx(2.0, rel=0.03)
    assert counts[2] / counts[0] == pytest.approx(4.0, rel=0.03)


@pytest.mark.parametrize("scale", MSK_SCALES)
def test_no_point_inside_any_scaled_sphere(scale):
    points = msk_points(ELEMENTS, COORDS, scales=(scale,))
    radii = scale * esp_grid.atom_radii(ELEMENTS)
    gap = distances(points, COORDS) - radii[None, :]
    assert gap.min() >= -1e-9
    # every point lies on the sphere of the atom it was generated for
    assert np.all(np.abs(gap).min(axis=1) < 1e-9)
    # the exclusion actually removed points: fewer than the isolated atoms would have
    isolated = sum(esp_grid.sphere_point_count(r, 1.0) for r in radii)
    assert 0 < len(points) < 0.8 * isolated


def test_grid_is_union_of_shells_deterministic_and_translation_covariant():
    points = msk_points(ELEMENTS, COORDS)
    shells = [msk_points(ELEMENTS, COORDS, scales=(s,)) for s in MSK_SCALES]
    assert np.array_equal(points, np.concatenate(shells))
    assert np.array_equal(points, msk_points(ELEMENTS, COORDS.copy()))
    shift = np.array([3.0, -1.0, 7.5])
    assert np.allclose(msk_points(ELEMENTS, COORDS + shift), points + shift, atol=1e-12)
    assert len(points) == 467  # methanol at 1 point/Å²; a regression guard for the fixture in test_resp.py


def test_orientations():
    mats = esp_grid.orientation_matrices(6)
    assert np.allclose(mats[0], np.eye(3))
    for rot in mats:
        assert np.allclose(rot @ rot.T, np.eye(3))
        assert np.linalg.det(rot) == pytest.approx(1.0)
    one = msk_points(ELEMENTS, COORDS)
    assert np.allclose(msk_points(ELEMENTS, COORDS, orientations=1), one)
    many = msk_points(ELEMENTS, COORDS, orientations=4)
    assert np.allclose(many[: len(one)], one)
    assert 3.5 * len(one) < len(many) < 4.5 * len(one)
    # the turned grids still respect every atom's scaled sphere, shell by shell
    for s in MSK_SCALES:
        shell = msk_points(ELEMENTS, COORDS, scales=(s,), orientations=4)
        gap = distances(shell, COORDS) - s * esp_grid.atom_radii(ELEMENTS)[None, :]
        assert gap.min() >= -1e-9
        assert np.all(np.abs(gap).min(axis=1) < 1e-9)


def test_bad_input():
    with pytest.raises(KeyError, match="Xe"):
        msk_points(["C", "Xe"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 elements but 1"):
        msk_points(["C", "H"], np.zeros((1, 3)))
    with pytest.raises(ValueError):
        msk_points(["C"], np.zeros((1, 3)), density=0.0)
    custom = msk_points(["Xe"], np.zeros((1, 3)), radii={"Xe": 2.16}, scales=(1.0,))
    assert np.allclose(np.linalg.norm(custom, axis=1), 2.16)
