"""AMBER parameter files and LEaP's matching rules, on a hand-written file with known answers and on gaff2.dat."""

import pytest

from aiida_polymer.chem import amber
from aiida_polymer.chem import amber_params as ap

PARM = """toy parameter file
c3 12.01         0.878
hc 1.008         0.135
o  16.00         0.434
c  12.01         0.616

c  c3 hc o
c3-hc  330.6    1.097
c -c3  313.0    1.524

hc-c3-hc   39.4      107.58
c3-c -o    68.0      123.11

X -c3-c3-X    9    1.400         0.000           3.000
hc-c3-c3-hc   1    0.150         0.000           3.000
c3-c3-c -o    1    0.800         0.000          -1.000
c3-c3-c -o    1    0.080       180.000           3.000

X -X -c -o          10.5         180.          2.
o -c3-c -hc          1.1         180.          2.

  hw  ow  0000.     0000.                                4.  flag for fast water


MOD4      RE
  hc          1.4870  0.0157
  c3          1.9080  0.1094
END
"""

FRCMOD = """remark
BOND
c -c3  300.00   1.500       same as c3-c3

DIHE
hc-c3-c3-hc   1    0.250         0.000           3.000      penalty score=  5.0

NONB
  o           1.6612  0.2100
"""


@pytest.fixture
def toy():
    return ap.read_parm(PARM, "toy")


def test_sections(toy):
    assert toy.masses == {"c3": 12.01, "hc": 1.008, "o": 16.00, "c": 12.01}
    assert ap.bond(toy, "hc", "c3") == (330.6, 1.097)
    assert ap.angle(toy, "o", "c", "c3") == (68.0, 123.11)
    assert toy.lj["c3"] == (1.9080, 0.1094)


def test_dihedral_rules(toy):
    # IDIVF divides the barrier; specific beats generic; direction does not matter
    assert ap.dihedral(toy, "c3", "c3", "c3", "c3") == [ap.Torsion(1.4 / 9, 3, 0.0)]
    assert ap.dihedral(toy, "hc", "c3", "c3", "hc") == [ap.Torsion(0.15, 3, 0.0)]
    # negative periodicity chains terms of one quartet
    assert ap.dihedral(toy, "o", "c", "c3", "c3") == [ap.Torsion(0.8, 1, 0.0), ap.Torsion(0.08, 3, 180.0)]
    with pytest.raises(ap.MissingParameterError, match="o-c-c-o"):
        ap.dihedral(toy, "o", "c", "c", "o")


def test_improper_rules(toy):
    # the most specific entry wins, whatever order the outer atoms come in
    assert ap.improper(toy, ("hc", "o", "c3"), "c") == ap.Torsion(1.1, 2, 180.0)
    assert ap.improper(toy, ("c3", "c3", "o"), "c") == ap.Torsion(10.5, 2, 180.0)
    assert ap.improper(toy, ("c3", "c3", "c3"), "c") is None  # no match: LEaP adds no improper


def test_frcmod_overrides(toy):
    merged = toy.update(ap.read_frcmod(FRCMOD))
    assert ap.bond(merged, "c3", "c") == (300.0, 1.5)  # the reversed key is replaced too
    assert ap.dihedral(merged, "hc", "c3", "c3", "hc") == [ap.Torsion(0.25, 3, 0.0)]
    assert merged.lj["o"] == (1.6612, 0.21)
    assert len(amber.estimated_parameters(FRCMOD)) == 2


def test_lj_sigma():
    params = ap.ParameterSet(lj={"c3": (1.9080, 0.1094)})
    sigma, eps = ap.lj(params, "c3")
    assert sigma == pytest.approx(2 * 1.9080 / 2 ** (1 / 6)) and eps == 0.1094
    assert sigma == pytest.approx(3.3997, abs=1e-4)  # the familiar AMBER CT sigma


def test_gaff2_dat_reads_completely():
    gaff2 = ap.read_parm(amber.gaff2_dat().read_text(), "gaff2")
    assert gaff2.masses["c3"] == 12.01 and len(gaff2.masses) > 90
    assert len(gaff2.bonds) > 1000 and len(gaff2.angles) > 5000 and len(gaff2.dihedrals) > 1000
    assert all(t in gaff2.lj for t in ("c3", "hc", "ca", "ha", "o", "os", "n", "cl", "f", "s", "p5"))
    # a multi-term GAFF2 torsion is read as one entry with all its terms
    assert len(gaff2.dihedrals[("c3", "sx", "sy", "c3")]) == 3
