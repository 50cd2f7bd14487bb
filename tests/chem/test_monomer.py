"""Repeat-unit and end-group parsing: counts, head/tail, caps, and every kind of bad input."""

import pytest
from rdkit import Chem

from aiida_polymer.chem.monomer import MonomerError, parse_end_group, parse_repeat_unit


def test_polystyrene_unit():
    unit = parse_repeat_unit("*CC(*)c1ccccc1")
    assert unit.n_atoms == 16  # C8H8
    assert unit.mol.GetAtomWithIdx(unit.head).GetSymbol() == "C"
    assert unit.mol.GetAtomWithIdx(unit.head).GetTotalNumHs(includeNeighbors=True) == 2  # CH2 carries the head
    assert unit.mol.GetAtomWithIdx(unit.tail).GetTotalNumHs(includeNeighbors=True) == 1  # CH(Ph) the tail
    assert unit.mass == pytest.approx(104.15, abs=0.01)


def test_canonical_form_is_a_cache_key():
    assert parse_repeat_unit("*CC(*)c1ccccc1").canonical == parse_repeat_unit("*C(c1ccccc1)C*").canonical


def test_capped_unit_is_the_hydrogen_terminated_molecule():
    mol, caps = parse_repeat_unit("*CC(*)c1ccccc1").capped()
    assert Chem.MolToSmiles(Chem.RemoveHs(mol)) == Chem.MolToSmiles(Chem.MolFromSmiles("CCc1ccccc1"))
    assert sorted(caps.values()) == [0, 1]


def test_end_group():
    methyl = parse_end_group("*C")
    assert methyl.n_atoms == 4 and methyl.tail is None


@pytest.mark.parametrize(
    ("smiles", "message"),
    [
        ("", "empty"),
        ("*CC(*", "cannot parse"),
        ("CC", "0 connection point"),
        ("*CC", "1 connection point"),
        ("*CC(*)C*", "3 connection point"),
        ("*=CC*", "multiply-bonded"),
        ("**", "bonded to each other"),
        ("*C[Si](C)(C)*", "element Si"),
        ("*CC([Na])*", "element Na"),
        ("*C[N+](C)(C)*", "net charge"),
        ("*C[CH]C*", "radical"),
        ("*C[13CH2]*", "isotope"),
        ("*CC*.O", "2 disconnected fragments"),
        ("*C(C)(C)(C)(C)*", "not a valid molecule: Explicit valence"),
        ("*c1cccc1*", "not a valid molecule"),
    ],
)
def test_bad_repeat_units_are_rejected_with_a_reason(smiles, message):
    with pytest.raises(MonomerError, match=message):
        parse_repeat_unit(smiles)


@pytest.mark.parametrize("smiles", ["C", "*C*", "*=C"])
def test_bad_end_groups(smiles):
    with pytest.raises(MonomerError):
        parse_end_group(smiles)
