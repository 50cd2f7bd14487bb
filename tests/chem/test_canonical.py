"""The fragment a polymer's polarizability is computed on: never a one-atom backbone, the same for every way the
polymer is written."""

import pytest
from rdkit import Chem
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

from aiida_polymer.chem.canonical import canonical_repeat_unit, polarizability_unit, repeated
from aiida_polymer.chem.monomer import parse_repeat_unit


def _same(a: str, b: str) -> bool:
    return Chem.CanonSmiles(a) == Chem.CanonSmiles(b)


@pytest.mark.parametrize("unit, copies, expected", [
    ("*C*", 2, "*CC*"), ("*C*", 3, "*CCC*"), ("*CC(C)*", 2, "*CC(C)CC(C)*"), ("*CCO*", 2, "*CCOCCO*"),
    ("*c1ccc(*)cc1", 2, "*c1ccc(-c2ccc(*)cc2)cc1"), ("*CC(*)Cl", 1, "*CC(*)Cl"),
])
def test_repeated_bonds_tail_to_head(unit, copies, expected):
    assert _same(repeated(unit, copies), expected)
    assert parse_repeat_unit(repeated(unit, copies)).mass == pytest.approx(copies * parse_repeat_unit(unit).mass)


@pytest.mark.parametrize("forms, fragment", [
    (["*C*", "*CC*", "*CCCC*", "*CCCCCC*"], "*CC*"),  # polyethylene: capped ethane, never methane
    (["*C(F)(F)*", "*C(F)(F)C(F)(F)*"], "*C(F)(F)C(*)(F)F"),  # PTFE
    (["*CCO*", "*OCC*", "*COC*"], "*CCO*"),  # PEO: its own unit, whichever frame
    (["*CC(C)*", "*CC(C)CC(C)*", "*C(C)C*"], "*CC(*)C"),  # PP: already two backbone atoms
    (["*c1ccc(*)cc1"], "*c1ccc(*)cc1"),  # a four-atom backbone through the ring
])
def test_polarizability_unit_is_one_per_polymer(forms, fragment):
    got = {polarizability_unit(form) for form in forms}
    assert len(got) == 1 and _same(got.pop(), fragment)


def test_one_atom_unit_is_doubled_with_the_formula_of_a_dimer():
    fragment = polarizability_unit("*C(Cl)*")
    capped = Chem.AddHs(Chem.MolFromSmiles(fragment.replace("*", "[H]")))
    assert CalcMolFormula(capped) == "C2H4Cl2"  # CHCl-CHCl capped: two units, not CH3Cl
    assert canonical_repeat_unit(fragment) == canonical_repeat_unit("*C(Cl)*")
