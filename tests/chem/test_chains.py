"""Sequences, degree of polymerisation, tacticity and self-avoiding growth."""

import itertools
from collections import Counter

import numpy as np
import pytest

from aiida_polymer.chem.chains import (
    ChainGrowthError,
    chirality_signs,
    degree_of_polymerization,
    grow_chain,
    meso_fraction,
    mirror_flags,
    monomer_sequence,
)
from aiida_polymer.chem.residues import Residue, template_sequence


def test_degree_of_polymerization():
    # PS: 16 atoms per unit, two CH3 ends (8 atoms): (1000 - 8) / 16 = 62
    assert degree_of_polymerization([16], [1.0], 8, 1000) == 62
    # alternating 6- and 10-atom units: mean 8 atoms -> (100 - 8) / 8 = 11.5 -> 12 (round half to even)
    assert degree_of_polymerization([6, 10], [0.5, 0.5], 8, 100) == 12


def test_alternating_and_block():
    rng = np.random.default_rng(0)
    assert monomer_sequence("alternating", 6, [0.5, 0.5], rng) == [0, 1, 0, 1, 0, 1]
    assert monomer_sequence("block", 8, [0.5, 0.5], rng) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert monomer_sequence("block", 6, [0.5, 0.5], rng, block_lengths=[2, 1]) == [0, 0, 1, 0, 0, 1]


def test_random_copolymer_has_exact_composition_and_differs_between_chains():
    rng = np.random.default_rng(1)
    chains = [monomer_sequence("random", 50, [0.3, 0.7], rng) for _ in range(5)]
    for seq in chains:
        assert Counter(seq) == {0: 15, 1: 35}
    assert len({tuple(s) for s in chains}) == 5


def test_mirror_flags():
    rng = np.random.default_rng(2)
    assert not any(mirror_flags("isotactic", 10, rng))
    assert mirror_flags("syndiotactic", 4, rng) == [False, True, False, True]
    flags = [mirror_flags("atactic", 40, rng) for _ in range(3)]
    assert len({tuple(f) for f in flags}) == 3 and 0.2 < np.mean(flags) < 0.8
    with pytest.raises(ValueError, match="tacticity"):
        mirror_flags("heterotactic", 3, rng)


def test_template_sequence_covers_triples_and_all_junctions():
    assert template_sequence(1) == [0, 0, 0]
    for k in (2, 3):
        seq = template_sequence(k)
        pairs = set(itertools.pairwise(seq))
        assert all((i, j) in pairs for i in range(k) for j in range(k))
        assert all([m, m, m] == seq[seq.index(m) : seq.index(m) + 3] for m in range(k))


def _tetrahedral_unit() -> Residue:
    """A CH(F) 'unit' with a stereocentre: C bonded to H, F and (head) a previous/next link along x."""
    coords = np.array([[0.0, 0.0, 0.0], [0.5, 0.9, 0.3], [0.4, -0.6, 1.1], [1.54, 0.0, 0.0]])
    return Residue(name="u", types=["c3", "hc", "f", "c3"], charges=np.zeros(4), coords=coords,
                   elements=["C", "H", "F", "C"], bonds=[(0, 1), (0, 2), (0, 3)], head=0, tail=3,
                   prev_anchor=np.array([-0.5, -1.4, -0.2]), next_anchor=np.array([2.1, 1.4, 0.1]),
                   stereocentres=[0])


def _grow(flags, rng, **kw):
    unit = _tetrahedral_unit()
    return unit, grow_chain([unit], [0] * len(flags), flags, rng, **kw)


def test_grown_chain_has_template_bonds_and_no_overlaps():
    rng = np.random.default_rng(3)
    unit, xyz = _grow([False] * 30, rng, min_distance=1.2)
    blocks = xyz.reshape(30, 4, 3)
    # rigid placement keeps every intra-unit distance, and each link has the template's bond length
    ref = np.linalg.norm(unit.coords[:, None] - unit.coords[None], axis=-1)
    for b in blocks:
        assert np.allclose(np.linalg.norm(b[:, None] - b[None], axis=-1), ref, atol=1e-9)
    links = np.linalg.norm(blocks[1:, unit.head] - blocks[:-1, unit.tail], axis=1)
    assert np.allclose(links, np.linalg.norm(unit.coords[unit.head] - unit.prev_anchor))
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    bonded = {(u * 4 + i, u * 4 + j) for u in range(30) for i, j in unit.bonds}
    bonded |= {(u * 4 + 3, (u + 1) * 4) for u in range(29)}
    far = [d[i, j] for i in range(len(xyz)) for j in range(i + 1, len(xyz)) if (i, j) not in bonded]
    assert min(far) >= 1.2 - 1e-9


@pytest.mark.parametrize(("tacticity", "meso"), [("isotactic", 1.0), ("syndiotactic", 0.0)])
def test_tacticity_measured_from_coordinates(tacticity, meso):
    rng = np.random.default_rng(4)
    flags = mirror_flags(tacticity, 12, rng)
    unit, xyz = _grow(flags, rng, min_distance=1.0)
    signs = [chirality_signs(unit, b) for b in xyz.reshape(12, 4, 3)]
    assert meso_fraction(signs) == meso


def test_impossible_growth_raises_clear_error():
    rng = np.random.default_rng(5)
    with pytest.raises(ChainGrowthError, match="could not grow"):
        _grow([False] * 5, rng, min_distance=50.0, trials=2, max_backtracks=3)
