"""The system builder end to end with the real antechamber/parmchk2 (no AiiDA)."""

from collections import Counter

import numpy as np
import pytest

from aiida_polymer.chem import equilibration
from aiida_polymer.chem.builder import CellSpec, box_length_for_cutoff, build_cell
from aiida_polymer.chem.cell import PACKING_COEFFICIENT, box_length
from aiida_polymer.chem.monomer import MonomerError


@pytest.fixture(scope="module")
def ps_cell():
    return build_cell(CellSpec(smiles=["*CC(*)c1ccccc1"], n_chains=3, atoms_per_chain=100, seed=11))


def test_counts_and_degree_of_polymerization(ps_cell):
    s = ps_cell.summary
    assert s["degree_of_polymerization"] == 6  # (100 - 8) / 16 = 5.75
    assert s["n_atoms"] == 3 * (6 * 16 + 8)
    assert Counter(ps_cell.topology.molecule.tolist()) == {1: 104, 2: 104, 3: 104}
    # acyclic backbone + one ring per unit
    assert s["counts"]["bonds"] == 3 * (104 - 1 + 6)


def test_gaff2_types_of_polystyrene(ps_cell, data_regression):
    unit, head, tail, first, last = ps_cell.residues
    assert first.types == last.types == unit.types  # sp3 link atoms: the chain ends type like the middle
    assert Counter(unit.types) == {"ca": 6, "ha": 5, "c3": 2, "hc": 3}
    assert head.types == tail.types == ["c3", "hc", "hc", "hc"]
    roles = ["unit", "head_group", "tail_group", "first_unit", "last_unit"]
    data_regression.check({role: {"types": r.types, "charges": np.round(r.charges, 4).tolist()}
                           for role, r in zip(roles, ps_cell.residues, strict=True)})


def test_every_residue_and_chain_is_neutral(ps_cell):
    for r in ps_cell.residues:
        assert abs(r.charges.sum()) < 1e-12
    q, mol = ps_cell.topology.charges, ps_cell.topology.molecule
    for chain in range(1, 4):
        assert abs(q[mol == chain].sum()) < 1e-10


def test_density_box_and_distances(ps_cell):
    s = ps_cell.summary
    assert s["density_g_cm3"] == pytest.approx(0.05, rel=1e-12)
    assert s["box_length_angstrom"] == pytest.approx(ps_cell.box)
    assert np.all((ps_cell.coords >= 0) & (ps_cell.coords < ps_cell.box))
    assert s["min_distance_angstrom"] > 1.0
    assert s["min_nonbonded_distance_angstrom"] >= CellSpec(smiles=["*CC*"]).min_distance - 1e-9


def test_data_file_header_matches_topology(ps_cell):
    text = ps_cell.data_file()
    assert "# pair_style lj/charmm/coul/long 8.0 12.0" in text and "# special_bonds amber" in text
    for name, n in ps_cell.summary["counts"].items():
        if name != "atom_types":
            assert f"\n{n} {name}\n" in text
    assert "Dihedral Coeffs # fourier" in text and "Improper Coeffs # cvff" in text
    assert f"\n{ps_cell.topology.n_atoms} atoms\n" in text


@pytest.mark.parametrize(("tacticity", "meso"), [("isotactic", 1.0), ("syndiotactic", 0.0)])
def test_tacticity_achieved(tacticity, meso):
    cell = build_cell(CellSpec(smiles=["*CC(*)c1ccccc1"], n_chains=2, degree_of_polymerization=8,
                               tacticity=tacticity, seed=3))
    assert cell.summary["meso_dyad_fraction"] == meso


def test_atactic_is_mixed_and_polyethylene_has_no_tacticity():
    atactic = build_cell(CellSpec(smiles=["*CC(*)c1ccccc1"], n_chains=4, degree_of_polymerization=20, seed=5))
    assert 0.25 < atactic.summary["meso_dyad_fraction"] < 0.75
    pe = build_cell(CellSpec(smiles=["*CC*"], n_chains=2, atoms_per_chain=50, seed=5))
    assert pe.summary["meso_dyad_fraction"] is None


def test_random_copolymer_with_custom_end_groups():
    spec = CellSpec(smiles=["*CC(*)c1ccccc1", "*CC(*)(C)C(=O)OC"], fractions=[0.5, 0.5], copolymer="random",
                    head_group="*[H]", tail_group="*C(C)(C)C", n_chains=3, degree_of_polymerization=10, seed=2)
    cell = build_cell(spec)
    seqs = cell.summary["monomer_sequences"]
    assert all(Counter(s) == {"0": 5, "1": 5} for s in seqs)
    assert len({tuple(s) for s in seqs}) > 1
    assert cell.residues[2].types == ["hc"] and abs(cell.topology.charges.sum()) < 1e-9


def test_bad_unit_rejected_before_any_work():
    with pytest.raises(MonomerError, match="connection point"):
        build_cell(CellSpec(smiles=["*CC"]))
    with pytest.raises(ValueError, match="copolymer"):
        CellSpec(smiles=["*CC*", "*CC(*)C"])


# Composition: measured on the chains built, and inputs that contradict the sequence rejected.


@pytest.mark.parametrize(("options", "message"), [
    ({"copolymer": "alternating", "fractions": [0.7, 0.3]}, "alternating"),
    ({"copolymer": "block", "block_lengths": [10, 2], "fractions": [0.5, 0.5]}, r"block_lengths \[10, 2\]"),
    ({"copolymer": "random", "block_lengths": [10, 2]}, "copolymer = block only"),
    ({"copolymer": "block", "block_lengths": [10, 2, 3]}, "one length per repeat unit"),
    ({"copolymer": "block", "block_lengths": [10, 0]}, "positive integers"),
    ({"copolymer": "block", "block_lengths": [10, 2.5]}, "positive integers"),
])
def test_contradictory_composition_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        CellSpec(smiles=["*CC*", "*CC(*)C"], **options)


def test_consistent_fractions_are_accepted_and_omitted_ones_follow_the_sequence():
    assert CellSpec(smiles=["*CC*", "*CC(*)C"], copolymer="alternating", fractions=[1, 1]).fractions == [1, 1]
    assert CellSpec(smiles=["*CC*", "*CC(*)C"], copolymer="block", block_lengths=[10, 2]).fractions == \
        pytest.approx([10 / 12, 2 / 12])
    spec = CellSpec(smiles=["*CC*", "*CC(*)C"], copolymer="block", block_lengths=[10, 2], fractions=[0.8333, 0.1667])
    assert CellSpec(**spec.to_dict()) == spec  # a stored spec validates again


def _build(smiles, **options):
    return build_cell(CellSpec(smiles=smiles, n_chains=2, seed=4, **options)).summary


def test_block_lengths_set_the_measured_composition():
    s = _build(["*CC*", "*CC(*)C"], copolymer="block", block_lengths=[10, 2], degree_of_polymerization=24)
    assert s["unit_counts"] == [40, 8]
    assert s["composition"] == pytest.approx([10 / 12, 2 / 12])
    assert all(Counter(seq) == {"0": 20, "1": 4} for seq in s["monomer_sequences"])


def test_random_composition_is_the_exact_counts_not_the_fractions():
    s = _build(["*CC*", "*CC(*)C"], copolymer="random", fractions=[0.7, 0.3], degree_of_polymerization=9)
    assert s["unit_counts"] == [12, 6]  # 9 * (0.7, 0.3) = (6.3, 2.7) -> (6, 3) per chain
    assert s["composition"] == pytest.approx([2 / 3, 1 / 3])


def test_homopolymer_composition(ps_cell):
    assert ps_cell.summary["composition"] == [1.0] and ps_cell.summary["unit_counts"] == [3 * 6]


# Box size: enough chains that the box at the estimated final density exceeds twice the MD cut-off.


def test_fast_polyethylene_cell_is_larger_than_twice_the_cutoff():
    settings = equilibration.protocol("fast")
    cutoff = settings["md"]["cutoff"]
    spec = CellSpec(smiles=["*CC*"], **{**settings["cell"], "min_box_length": box_length_for_cutoff(cutoff)})
    s = build_cell(spec).summary
    assert s["n_chains_requested"] == settings["cell"]["n_chains"] < s["n_chains"]
    assert s["n_atoms"] == s["n_chains"] * s["atoms_per_chain"]
    assert s["estimated_final_box_length_angstrom"] >= spec.min_box_length > 2 * cutoff
    assert box_length(s["total_mass_g_mol"], s["estimated_density_g_cm3"]) == pytest.approx(
        s["estimated_final_box_length_angstrom"])
    assert box_length(s["total_mass_g_mol"], 0.85) > 2 * cutoff  # at the real density of amorphous PE too
    # and no chain more than needed
    per_chain = s["van_der_waals_volume_angstrom3"]["cell"] / s["n_chains"]
    assert ((s["n_chains"] - 1) * per_chain / PACKING_COEFFICIENT) ** (1 / 3) < spec.min_box_length


def test_without_min_box_length_the_chain_count_is_kept(ps_cell):
    s = ps_cell.summary
    assert s["n_chains"] == s["n_chains_requested"] == 3 and s["min_box_length_angstrom"] is None
    assert s["estimated_density_g_cm3"] == pytest.approx(1.05, rel=0.15)  # polystyrene, short chains


@pytest.mark.parametrize("length", [0, -5.0])
def test_min_box_length_must_be_positive(length):
    with pytest.raises(ValueError, match="min_box_length"):
        CellSpec(smiles=["*CC*"], min_box_length=length)
