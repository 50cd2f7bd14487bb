"""Box size, packing without overlaps, periodic wrapping and minimum distances."""

import numpy as np
import pytest

from aiida_polymer.chem.cell import (
    AVOGADRO,
    PackingError,
    box_length,
    estimated_density,
    grow_in_box,
    min_distances,
    van_der_waals_volume,
)
from aiida_polymer.chem.chains import grow_chain
from aiida_polymer.chem.monomer import parse_end_group, parse_repeat_unit
from aiida_polymer.chem.residues import Residue


def test_box_length_from_density():
    # 1 mol of water-like mass 18.015 g at 1 g/cm3 per molecule volume 29.9 Å^3
    assert box_length(18.015, 1.0) ** 3 == pytest.approx(18.015 / AVOGADRO * 1e24, rel=1e-12)
    assert box_length(1000.0, 0.05) == pytest.approx((1000.0 / AVOGADRO / 0.05 * 1e24) ** (1 / 3))


def _zigzag_unit() -> Residue:
    """Two carbons with tetrahedral link geometry: a bare polyethylene-like backbone unit."""
    zig = 1.54 * np.array([-np.cos(np.radians(70.53)), np.sin(np.radians(70.53)), 0.0])  # 109.47° angles
    return Residue(name="cc", types=["c3", "c3"], charges=np.zeros(2), coords=np.array([[0, 0, 0], [1.54, 0, 0]]),
                   elements=["C", "C"], bonds=[(0, 1)], head=0, tail=1, prev_anchor=zig,
                   next_anchor=np.array([1.54 - zig[0], zig[1], 0.0]), stereocentres=[])


def _grower(n_units, box, min_distance, rng):
    unit = _zigzag_unit()

    def grow(_n, obstacles):
        return grow_chain([unit], [0] * n_units, [False] * n_units, rng, min_distance=min_distance, box=box,
                          obstacles=obstacles, max_backtracks=20)

    return grow


def test_chains_grown_in_the_box_are_whole_and_apart():
    rng = np.random.default_rng(0)
    box, n, units = 25.0, 8, 30
    packed = grow_in_box(_grower(units, box, 1.6, rng), n, box)
    wrapped, images = packed.wrapped()
    assert np.all((wrapped >= 0) & (wrapped < box))
    assert np.allclose(wrapped + images * box, packed.coords)
    bonds = np.array([(c * 2 * units + i, c * 2 * units + i + 1) for c in range(n) for i in range(2 * units - 1)])
    lengths = np.linalg.norm(packed.coords[bonds[:, 0]] - packed.coords[bonds[:, 1]], axis=1)
    assert np.allclose(lengths, 1.54, atol=1e-9)  # chains stay whole (unwrapped)
    dmin, dmin_nonbonded = min_distances(packed.coords, box, bonds)
    assert dmin == pytest.approx(1.54)
    assert dmin_nonbonded >= 1.6 - 1e-9  # periodic images of other chains and of itself included


def test_min_distances_uses_periodic_images():
    coords = np.array([[0.2, 5.0, 5.0], [9.9, 5.0, 5.0]])
    assert min_distances(coords, 10.0, np.empty((0, 2), int))[1] == pytest.approx(0.3)


def test_overfull_box_raises():
    rng = np.random.default_rng(1)
    with pytest.raises(PackingError, match="lower the initial density"):
        grow_in_box(_grower(40, 8.0, 1.6, rng), 20, 8.0, attempts=3)


# Amorphous densities at room temperature (g/cm³; van Krevelen & te Nijenhuis, Properties of Polymers, 4th ed., ch. 4).
KNOWN_DENSITIES = {"*CC*": 0.85, "*CC(*)c1ccccc1": 1.05, "*CC(*)(C)C(=O)OC": 1.18, "*CC(*)Cl": 1.39}


@pytest.mark.parametrize(("smiles", "known"), KNOWN_DENSITIES.items())
def test_density_estimated_from_the_van_der_waals_volume(smiles, known):
    unit, methyl = parse_repeat_unit(smiles), parse_end_group("*C")
    (volume,), _ = van_der_waals_volume([unit], methyl, methyl)
    rho = estimated_density(unit.mass, volume)
    assert rho == pytest.approx(known, rel=0.15)
    assert rho > 0.98 * known  # errs dense, so that a box sized with it is not too small


def test_van_der_waals_volumes_of_units_and_end_groups():
    """Bondi's group increments (J. Phys. Chem. 68, 441 (1964)), cm³/mol: CH2 10.23, CH3 13.67 (× 1.6605 for Å³)."""
    methyl = parse_end_group("*C")
    (ch2_ch2,), ends = van_der_waals_volume([parse_repeat_unit("*CC*")], methyl, methyl)
    assert ch2_ch2 == pytest.approx(2 * 10.23 * 1.6605, rel=0.03)
    assert ends == pytest.approx(2 * 13.67 * 1.6605, rel=0.03)
