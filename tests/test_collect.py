"""Calcfunctions that gather sub-results: charges in the builder's order, copolymer optics, merged tables."""

import pytest
from aiida import orm

from aiida_polymer.calcfunctions.collect import assemble_charges, merge_properties


def _charges(smiles, q):
    return orm.Dict({"smiles": smiles, "charges": q})


def _alpha(smiles, alpha, mass):
    return orm.Dict({"smiles": smiles, "polarizability_angstrom3": alpha, "fragment_mass": mass})


def test_assemble_charges_for_a_copolymer(aiida_profile):
    parameters = orm.Dict({"smiles": ["*CC*", "*CC(*)C"], "fractions": [0.25, 0.75], "copolymer": "random",
                           "head_group": "*C", "tail_group": "*CC"})
    fragments = {"charges_0": _charges("*CC*", [0.0] * 6), "charges_1": _charges("*CC(*)C", [0.1] * 9),
                 "charges_2": _charges("*C", [0.2] * 4), "charges_3": _charges("*CC", [0.3] * 7),
                 "polarizability_0": _alpha("*CC*", 4.0, 28.054), "polarizability_1": _alpha("*CC(*)C", 6.0, 42.081)}
    out = assemble_charges(parameters, **fragments)
    assert [q[0] for q in out["charges"]["charges"]] == [0.0, 0.1, 0.2, 0.3]  # units, head, tail
    assert out["charges"]["fragments"] == ["*CC*", "*CC(*)C", "*C", "*CC"]
    # no fractions: the equilibration takes the composition the builder measured on the chains it built
    optical = out["optical"].get_dict()
    assert optical["polarizability"] == pytest.approx([4.0, 6.0], rel=1e-4)
    assert optical["repeat_mass"] == pytest.approx([28.054, 42.081], rel=1e-4)
    assert optical["polarizability_fragments"] == ["*CC*", "*CC(*)C"]
    no_optics = assemble_charges(parameters, **{k: v for k, v in fragments.items() if k != "polarizability_1"})
    assert "optical" not in no_optics


def test_a_one_atom_unit_takes_its_dimers_polarizability_per_mass(aiida_profile):
    parameters = orm.Dict({"smiles": ["*C*"], "head_group": "*C", "tail_group": "*C"})
    fragments = {"charges_0": _charges("*C*", [0.0] * 3), "charges_1": _charges("*C", [0.0] * 4),
                 "charges_2": _charges("*CC*", [0.0] * 6), "polarizability_0": _alpha("*CC*", 4.0, 28.054)}
    optical = assemble_charges(parameters, **fragments)["optical"].get_dict()
    # CH2 is half of the capped-ethane fragment C2H4: α and mass both halve, α/M (and so n) is the dimer's
    assert optical["polarizability"] == pytest.approx([2.0], rel=1e-4)
    assert optical["repeat_mass"] == pytest.approx([14.027], rel=1e-4)


def test_merge_carries_not_converged_to_later_tables(aiida_profile):
    equilibrium = orm.Dict({"density": {"value": 1.0, "unit": "g/cm^3", "stderr": 0.01, "flags": ["not_converged"]}})
    nemd = orm.Dict({"thermal_conductivity": {"value": 0.2, "unit": "W/(m K)", "stderr": 0.02, "flags": []}})
    merged = merge_properties(a_equilibrium=equilibrium, b_nemd=nemd).get_dict()
    assert merged["thermal_conductivity"]["flags"] == ["not_converged"]
    assert merged["density"] == equilibrium.get_dict()["density"]
    clean = merge_properties(a=orm.Dict({"x": {"value": 1, "flags": []}}), b=nemd).get_dict()
    assert clean["thermal_conductivity"]["flags"] == [] and clean["x"]["value"] == pytest.approx(1)
