"""Campaign input without AiiDA: the polymer identity (canonical repeat unit, key) and the library reader."""

from __future__ import annotations

import pytest

from aiida_polymer.campaign.identity import canonical_repeat_unit, polymer_key
from aiida_polymer.campaign.library import LibraryError, read_library
from aiida_polymer.chem.monomer import MonomerError

SAME = [
    ("polyethylene: any multiple", ["*CC*", "*CCCC*", "*C*", "*CCCCCC*"]),
    ("PEO: every frame, both directions, a dimer", ["*CCO*", "*OCC*", "*COC*", "*CCOCCO*", "*OCCOCC*"]),
    ("polypropylene: both directions", ["*CC(C)*", "*C(C)C*", "*CC(C)CC(C)*"]),
    ("polystyrene", ["*CC(c1ccccc1)*", "*C(c1ccccc1)C*"]),
    ("PVC head-to-tail, from another frame", ["*CC(Cl)*", "*C(Cl)CC(Cl)C*"]),
    ("poly(p-phenylene): ring atoms written in another order, a dimer", ["*c1ccc(*)cc1", "*c1ccc(cc1)*",
                                                                          "*c1ccc(-c2ccc(*)cc2)cc1"]),
    ("PPO: other frame", ["*c1ccc(O*)cc1", "*Oc1ccc(*)cc1"]),
    ("PMMA", ["*CC(C)(C(=O)OC)*", "*C(C)(C(=O)OC)C*"]),
    ("nylon-6,6: amide and acid frames", ["*NCCCCCCNC(=O)CCCCC(=O)*", "*C(=O)NCCCCCCNC(=O)CCCC*",
                                          "*CCCCC(=O)NCCCCCCNC(=O)*"]),
    # 7 rings on the backbone: its trimer's macrocycle has 2^21 equivalent forms that a symmetrized ring set
    # enumerates (100 s and 10 GB per key before); two frames of it
    ("a polyurea with seven backbone rings", [
        "*NC(=O)Nc1ccc(Cc2ccc(NC(=O)NCC3CCC(Cc4ccc(C(c5ccc(NC(=O)Nc6ccc(Cc7ccc(NC(=O)N*)cc7)cc6)cc5)(C(F)(F)F)"
        "C(F)(F)F)cc4)CC3)cc2)cc1",
        "*CC1CCC(CNC(=O)Nc2ccc(Cc3ccc(NC(=O)NNC(=O)Nc4ccc(Cc5ccc(NC(=O)Nc6ccc(C(c7ccc(*)cc7)(C(F)(F)F)C(F)(F)F)cc6)"
        "cc5)cc4)cc3)cc2)CC1"]),
]
DIFFERENT = [
    ("head-to-head PVC is not PVC", "*CC(Cl)C(Cl)C*", "*CC(Cl)*"),
    ("polypropylene is not polyethylene", "*CC(C)*", "*CC*"),
    ("poly(m-phenylene) is not poly(p-phenylene)", "*c1cccc(*)c1", "*c1ccc(*)cc1"),
    ("nylon-6 is not nylon-6,6", "*NCCCCCC(=O)*", "*NCCCCCCNC(=O)CCCCC(=O)*"),
    ("cis is not trans polybutadiene", "*C/C=C\\C*", "*C/C=C/C*"),
]


@pytest.mark.parametrize(("what", "forms"), SAME, ids=[what for what, _ in SAME])
def test_one_polymer_one_canonical_unit(what, forms):
    assert len({canonical_repeat_unit(form) for form in forms}) == 1, what


@pytest.mark.parametrize(("what", "a", "b"), DIFFERENT, ids=[what for what, _, _ in DIFFERENT])
def test_different_polymers_stay_different(what, a, b):
    assert canonical_repeat_unit(a) != canonical_repeat_unit(b), what


def _composition(smiles: str) -> dict[str, float]:
    """Element counts (with H, without *) per heavy atom."""
    from collections import Counter

    from rdkit import Chem

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    counts = Counter(atom.GetSymbol() for atom in mol.GetAtoms() if atom.GetAtomicNum() != 0)
    heavy = sum(n for element, n in counts.items() if element != "H")
    return {element: round(n / heavy, 6) for element, n in counts.items()}


@pytest.mark.parametrize(("what", "forms"), SAME, ids=[what for what, _ in SAME])
def test_canonical_unit_is_a_repeat_unit_of_the_same_polymer(what, forms):
    unit = canonical_repeat_unit(forms[-1])
    assert unit.count("*") == 2 and canonical_repeat_unit(unit) == unit  # a fixed point
    assert _composition(unit) == _composition(forms[0]), what


def test_bad_unit_is_refused_with_the_monomer_message():
    with pytest.raises(MonomerError, match="connection point"):
        canonical_repeat_unit("*CC")


def test_key_holds_protocol_state_point_and_what_changes_the_numbers():
    base = polymer_key(["*CC*"], "fast")
    assert base == f"{canonical_repeat_unit('*CC*')}|fast|300K|1atm"
    assert polymer_key(["*CCCC*"], "fast", 300, 1) == base
    assert polymer_key(["*CC*"], "fast", 300, 1, tacticity="atactic", head_group="*C", tail_group="*C") == base
    others = {polymer_key(["*CC*"], "moderate"), polymer_key(["*CC*"], "fast", 350),
              polymer_key(["*CC*"], "fast", 300, 2),
              polymer_key(["*CC*"], "fast", head_group="*O"), polymer_key(["*CC(C)*"], "fast", tacticity="isotactic"),
              polymer_key(["*CC*"], "fast", overrides={"equilibrate": {"production": {"duration": 50}}})}
    assert base not in others and len(others) == 6


def test_copolymer_key_ignores_order_but_not_fractions_or_unit_size():
    ab = polymer_key(["*CC*", "*CC(C)*"], "fast", copolymer="random", fractions=[0.3, 0.7])
    assert polymer_key(["*C(C)C*", "*CC*"], "fast", copolymer="random", fractions=[0.7, 0.3]) == ab
    assert polymer_key(["*CC*", "*CC(C)*"], "fast", copolymer="random", fractions=[0.7, 0.3]) != ab
    # in a copolymer *CCCC* is not *CC*: mole fractions and sequence count the units as given
    assert polymer_key(["*CCCC*", "*CC(C)*"], "fast", copolymer="random", fractions=[0.3, 0.7]) != ab
    assert polymer_key(["*CC*", "*CC(C)*"], "fast", copolymer="alternating") != ab


LIBRARY = """id,smiles,copolymer,fractions,tacticity,name,Tg_exp
PE,*CC*,,,,polyethylene,195
PP,*CC(C)*,,,isotactic,polypropylene,
bad-stars,*CC,,,,broken,
PEO,*CCO*,,,,poly(ethylene oxide),206
PE,*CCCC*,,,,the same id again,
PE-dimer,*CCCC*,,,,polyethylene as a dimer,
,*CC*,,,,no id,
co,*CC*.*CC(C)*,random,0.5;0.5,,EP rubber,
co-no-kind,*CC*.*CC(C)*,,,,,
co-fractions,*CC*.*CC(C)*,random,0.2;0.5,,,
silicon,*C[Si](C)(C)*,,,,,
tacticity,*CC(C)*,,,isotaktic,,
"""


def test_csv_library_rows_are_checked_with_line_numbers(tmp_path):
    path = tmp_path / "library.csv"
    path.write_text(LIBRARY)
    entries, rejected = read_library(path)
    assert [(e.id, e.line) for e in entries] == [("PE", 2), ("PP", 3), ("PEO", 5), ("PE-dimer", 7), ("co", 9)]
    assert entries[0].metadata == {"name": "polyethylene", "tg_exp": "195"}
    assert entries[1].tacticity == "isotactic" and entries[4].units == ("*CC*", "*CC(C)*")
    assert entries[4].fractions == (0.5, 0.5) and entries[4].copolymer == "random"
    assert entries[0].key("fast") == entries[3].key("fast")  # the same polymer: linked, not computed twice
    reasons = {r.line: (r.id, r.reason) for r in rejected}
    assert set(reasons) == {4, 6, 8, 10, 11, 12, 13}
    assert "connection point" in reasons[4][1] and reasons[4][0] == "bad-stars"
    assert "used by an earlier row" in reasons[6][1]
    assert "empty id" in reasons[8][1]
    assert "no copolymer column" in reasons[10][1]
    assert "sum to 1" in reasons[11][1]
    assert "element Si" in reasons[12][1]
    assert "isotaktic" in reasons[13][1] and "isotactic" in reasons[13][1]


def test_a_row_may_set_its_own_protocol(tmp_path):
    path = tmp_path / "library.csv"
    path.write_text("id,smiles,protocol\nPE,*CC*,moderate\nPP,*CC(C)*,\nPS,*CC(c1ccccc1)*,precis\n")
    entries, rejected = read_library(path)
    assert [entry.key("fast").split("|")[1] for entry in entries] == ["moderate", "fast"]
    assert rejected[0].line == 4 and "precis" in rejected[0].reason and "precise" in rejected[0].reason


def test_smiles_file_library(tmp_path):
    path = tmp_path / "units.smi"
    path.write_text("# a comment\n*CC*  polyethylene\n\n*CC(C)*\n*C(*\n")
    entries, rejected = read_library(path)
    assert [(e.id, e.line, e.units) for e in entries] == [("polyethylene", 2, ("*CC*",)),
                                                          ("units-4", 4, ("*CC(C)*",))]
    assert [(r.line, r.id) for r in rejected] == [(5, "units-5")] and "SMILES" in rejected[0].reason


def test_csv_without_smiles_column_is_a_library_error(tmp_path):
    path = tmp_path / "library.csv"
    path.write_text("name,structure\nPE,*CC*\n")
    with pytest.raises(LibraryError, match="no 'id' and no 'smiles' column"):
        read_library(path)
