"""A synthetic stand-in for MD over real repeat units: instant "properties" from RDKit descriptors, and a
deterministic combinatorial library of repeat-unit SMILES for benchmarking the design loop.

``synthetic_property`` is a smooth nonlinear function of descriptors of the repeat unit, loosely shaped like a
thermal conductivity (rises with aromatic, stiff backbones and with hydrogen bonding, falls with bulky flexible
side chains), with an interior optimum so that neither extreme of any descriptor wins. Its maximiser over the
library is known by brute force (``library`` is a few thousand units), which is what the benchmark needs. It uses
descriptors the surrogate does not see directly (Crippen logP, Labute ASA, Kier flexibility), so the surrogate has
to learn it. ``synthetic_property(smiles, 1)`` is a second, conflicting property (favours flexible, light,
aliphatic units) for two-objective (Pareto) runs. Neither is a physical model.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

from rdkit import Chem
from rdkit.Chem import Descriptors, rdMolDescriptors

from .features import _periodic, _rotatable_per_period, periodic_key

# Side groups R of vinyl-type units (*CC(*)R, *CC(*)(C)R, ...): alkyl, aryl, halogen, ester, amide, ether, nitrile...
SIDE_GROUPS = (
    "C", "CC", "CCC", "C(C)C", "CCCC", "CC(C)C", "C(C)(C)C", "CCCCC", "CCCCCC", "CCCCCCCC", "CCCCCCCCCCCC",
    "C1CCCCC1", "C1CCCC1", "CC1CCCCC1", "C12CC3CC(CC(C3)C1)C2",
    "c1ccccc1", "c1ccc(C)cc1", "c1ccc(CC)cc1", "c1ccc(C(C)(C)C)cc1", "c1ccc(F)cc1", "c1ccc(Cl)cc1", "c1ccc(Br)cc1",
    "c1ccc(O)cc1", "c1ccc(OC)cc1", "c1ccc(N)cc1", "c1ccc(C#N)cc1", "c1ccc([N+](=O)[O-])cc1", "c1ccc(C(F)(F)F)cc1",
    "c1cccc(C)c1", "c1ccccc1C", "c1cc(C)cc(C)c1", "c1c(F)c(F)c(F)c(F)c1F", "c1ccc2ccccc2c1", "c1cccc2ccccc12",
    "c1ccc(-c2ccccc2)cc1", "c1ccncc1", "c1ccccn1", "c1cccs1", "c1ccco1", "n1ccnc1", "N1CCCC1=O", "N1CCCCCC1=O",
    "n1c2ccccc2c2ccccc21", "N1C(=O)c2ccccc2C1=O",
    "F", "Cl", "Br", "C#N", "O", "OC", "OCC", "OCCCC", "OC(C)C", "OC(C)=O", "OC(=O)CC", "OC(=O)c1ccccc1",
    "C(=O)O", "C(=O)OC", "C(=O)OCC", "C(=O)OCCCC", "C(=O)OC(C)(C)C", "C(=O)OCC(CC)CCCC", "C(=O)OCCO",
    "C(=O)OC1CCCCC1", "C(=O)Oc1ccccc1", "C(=O)OCc1ccccc1", "C(=O)OCC(F)(F)F", "C(=O)OCCN(C)C", "C(=O)OCCOC",
    "C(=O)N", "C(=O)NC", "C(=O)N(C)C", "C(=O)NC(C)C", "C(=O)NC(C)(C)C", "C(=O)Nc1ccccc1", "C(=O)C", "C(=O)c1ccccc1",
    "NC(C)=O", "NC=O", "S(=O)(=O)O", "c1ccc(S(=O)(=O)O)cc1", "[Si](C)(C)C", "CO", "CCl", "CN", "CC#N", "SC",
    "Sc1ccccc1", "CC(F)(F)F", "C(F)(F)F", "OS(C)(=O)=O", "P(=O)(OC)OC",
)
VINYL_TEMPLATES = ("*CC(*){R}", "*CC(*)(C){R}", "*CC(*)(F){R}", "*C(F)(F)C(*)(F){R}", "*CC(*)(Cl){R}")
# Ester/amide/ether side groups built from an alcohol or amine residue R'.
RESIDUES = (
    "C", "CC", "CCC", "C(C)C", "CCCC", "CC(C)C", "C(C)(C)C", "CCCCCC", "CCCCCCCC", "CCCCCCCCCCCC",
    "CCCCCCCCCCCCCCCCCC", "CC(CC)CCCC", "C1CCCCC1", "C12CC3CC(CC(C3)C1)C2", "c1ccccc1", "Cc1ccccc1",
    "CCc1ccccc1", "c1ccc(C)cc1", "c1ccc(Cl)cc1", "c1ccc2ccccc2c1", "CC(F)(F)F", "CC(F)(F)C(F)(F)F",
    "CC(F)(F)C(F)(F)C(F)(F)C(F)(F)F", "CCO", "CCOC", "CCOCCOC", "CCN(C)C", "CC#N", "CCCl", "CC1CO1",
    "CCOC(=O)C", "CCCCS", "C1CCOC1", "CC=C", "CC#C", "C1CC2CCC1C2",
)
RESIDUE_TEMPLATES = (
    "*CC(*)C(=O)O{R}", "*CC(*)(C)C(=O)O{R}", "*CC(*)C(=O)N{R}", "*CC(*)(C)C(=O)N{R}", "*CC(*)O{R}",
    "*CC(*)OC(=O){R}", "*CC(*)c1ccc(cc1){R}", "*CC(*)c1ccc(cc1)O{R}", "*CC(*)C(=O)N(C){R}",
)
# Backbone cores with two open ends (written left to right: the first atom bonds left, the last atom right).
DIACIDS = (
    "", "C", "CC", "CCC", "CCCC", "CCCCC", "CCCCCC", "CCCCCCC", "CCCCCCCC", "CCCCCCCCCC", "CC(C)C", "CC(C)(C)C",
    "C=C", "c1ccc(cc1)", "c1cccc(c1)", "c1ccc2cc(ccc2c1)", "C1CCC(CC1)", "c1ccc(cc1)-c1ccc(cc1)",
    "c1ccc(cc1)Oc1ccc(cc1)", "c1ccc(o1)", "c1ccc(s1)", "c1ccc(cc1)C(=O)c1ccc(cc1)", "c1cc(C)c(cc1)",
    "c1cc(Cl)c(cc1)", "c1ccc(cn1)", "CC(=C)C", "CCOCC", "CCSCC", "c1ccc(cc1)S(=O)(=O)c1ccc(cc1)",
    "C(F)(F)C(F)(F)C(F)(F)", "CC1CCC(CC1)C",
)
DIOLS = (
    "CC", "CCC", "CCCC", "CCCCC", "CCCCCC", "CCCCCCCC", "CCCCCCCCCC", "CC(C)", "CC(C)(C)C", "CCOCC",
    "CCOCCOCC", "C1CCC(CC1)", "CC1CCC(CC1)C", "c1ccc(cc1)", "c1cccc(c1)", "c1ccc(cc1)C(C)(C)c1ccc(cc1)",
    "c1ccc(cc1)C(C(F)(F)F)(C(F)(F)F)c1ccc(cc1)", "c1ccc(cc1)S(=O)(=O)c1ccc(cc1)", "c1ccc(cc1)-c1ccc(cc1)",
    "c1ccc(cc1)Oc1ccc(cc1)", "Cc1ccc(cc1)C", "CC(F)(F)C(F)(F)C", "CC(C)(C)C(C)(C)C", "c1ccc(cc1)C1(CCCCC1)c1ccc(cc1)",
    "c1ccc(cc1)C(=O)c1ccc(cc1)", "c1cc(C)c(cc1)", "CC(CC)(CC)C", "CCSCC", "c1ccc2cc(ccc2c1)", "CC(O)C",
)
DIAMINES = (
    "CC", "CCC", "CCCC", "CCCCC", "CCCCCC", "CCCCCCCC", "CCCCCCCCCC", "CCCCCCCCCCCC", "CC(C)CC(C)(C)CC",
    "c1ccc(cc1)", "c1cccc(c1)", "c1ccc(cc1)Oc1ccc(cc1)", "c1ccc(cc1)Cc1ccc(cc1)", "C1CCC(CC1)",
    "C1CCC(CC1)CC1CCC(CC1)", "Cc1cccc(c1)C", "c1ccc(cc1)-c1ccc(cc1)", "c1ccc(cc1)S(=O)(=O)c1ccc(cc1)",
    "c1cc(C)c(cc1)", "CCOCCOCC", "c1ccc(cc1)C(C(F)(F)F)(C(F)(F)F)c1ccc(cc1)", "c1ccc2cc(ccc2c1)",
    "c1ccc(cc1)Oc1ccc(cc1)Oc1ccc(cc1)", "CC1CCC(CC1)C",
)
DIISOCYANATES = (
    "CCCCCC", "c1ccc(cc1)Cc1ccc(cc1)", "c1cc(C)c(cc1)", "C1CCC(CC1)CC1CCC(CC1)", "c1ccc(cc1)", "Cc1cccc(c1)C",
    "CC1(C)CC(CC(C)(C1))C", "c1ccc2c(cccc2c1)",
)
AB_CORES = ("C", "CC", "CCC", "CCCC", "CCCCC", "CCCCCCC", "CCCCCCCCCC", "CCCCCCCCCCC", "c1ccc(cc1)", "c1cccc(c1)",
            "C(C)", "CC(C)", "c1ccc(cc1)C", "C1CCC(CC1)", "c1ccc2cc(ccc2c1)")
DIANHYDRIDE_LINKS = ("-", "O", "C(=O)", "C(C(F)(F)F)(C(F)(F)F)", "S(=O)(=O)", "Oc1ccc(cc1)C(C)(C)c1ccc(cc1)O")
SILOXANE_GROUPS = ("C", "CC", "CCC", "c1ccccc1", "CCC(F)(F)F", "C=C", "CCCC", "[H]", "CCCC#N")
BACKBONE_TEMPLATES = (
    ("polyester", "*OC(=O){A}C(=O)O{D}*", ("A", "D")),
    ("polyamide", "*NC(=O){A}C(=O)N{N}*", ("A", "N")),
    ("polyurethane", "*OC(=O)N{I}NC(=O)O{D}*", ("I", "D")),
    ("polyurea", "*NC(=O)N{I}NC(=O)N{N}*", ("I", "N")),
    ("polycarbonate", "*OC(=O)O{D}*", ("D",)),
    ("polyether", "*O{D}*", ("D",)),
    ("polysulfide", "*S{D}*", ("D",)),
    ("polyanhydride", "*C(=O){A}C(=O)O*", ("A",)),
    ("polyketone", "*C(=O){A}*", ("A",)),
    ("nylon-AB", "*NC(=O){B}*", ("B",)),
    ("polyester-AB", "*OC(=O){B}*", ("B",)),
    ("polyimide", "*N1C(=O)c2ccc(cc2C1=O){L}c1ccc2c(c1)C(=O)N({N}*)C2=O", ("L", "N")),
    ("polyimide-PMDA", "*N1C(=O)c2cc3c(cc2C1=O)C(=O)N({N}*)C3=O", ("N",)),
    ("polysiloxane", "*[Si]({R})({S})O*", ("R", "S")),
)
_CORES = {"A": DIACIDS, "D": DIOLS, "N": DIAMINES, "I": DIISOCYANATES, "B": AB_CORES, "L": DIANHYDRIDE_LINKS,
          "R": SILOXANE_GROUPS, "S": SILOXANE_GROUPS}


def _shift_rings(core: str) -> str:
    """Renumber a core's ring-closure digits 1..4 to 5..8 so that they never clash with a template's open rings."""
    out, depth = [], 0
    for ch in core:
        depth += (ch == "[") - (ch == "]")
        out.append(str(int(ch) + 4) if depth == 0 and ch in "1234" else ch)
    return "".join(out)


def _combinations():
    for template in VINYL_TEMPLATES:
        for r in SIDE_GROUPS:
            yield template.format(R=_shift_rings(r))
    for template in RESIDUE_TEMPLATES:
        for r in RESIDUES:
            yield template.format(R=_shift_rings(r))
    for _, template, keys in BACKBONE_TEMPLATES:
        pools = [_CORES[k] for k in keys]
        if len(keys) == 1:
            for a in pools[0]:
                yield template.format(**{keys[0]: _shift_rings(a)})
        else:
            for a in pools[0]:
                for b in pools[1]:
                    yield template.format(**{keys[0]: _shift_rings(a), keys[1]: _shift_rings(b)})
    yield from ("*CC=CC*", "*CC(C)=CC*", "*CC(Cl)=CC*", "*C=C(*)c1ccccc1", "*CC*", "*CC(*)C", "*CC(*)CC",
                  "*CC(*)(C)C", "*CC(C)(C)C*", "*CCO*", "*C(F)(F)C(F)(F)*", "*CC(F)(F)*", "*CCCCO*", "*COC*")


@lru_cache(maxsize=1)
def _library() -> tuple[tuple[str, str], ...]:
    canonical: set[str] = set()
    for smi in _combinations():
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            raise ValueError(f"library template produced an invalid SMILES: {smi}")
        canonical.add(Chem.MolToSmiles(mol))
    polymers: dict[str, str] = {}  # one SMILES per polymer (the same chain written from another origin is dropped)
    for smi in sorted(canonical):
        polymers.setdefault(periodic_key(smi), smi)
    units = sorted(polymers.values())
    random.Random(20261203).shuffle(units)  # fixed order, diverse prefixes for library(n)
    return tuple((f"syn-{i:05d}", smi) for i, smi in enumerate(units))


def library(n: int | None = None) -> list[tuple[str, str]]:
    """The benchmark library: (id, canonical repeat-unit SMILES), deterministic; the first ``n`` if given."""
    units = _library()
    return list(units if n is None else units[:n])


def descriptors(smiles: str) -> dict[str, float]:
    """The descriptors the synthetic properties are made of, per heavy or backbone atom of one period of the chain
    (atomic contributions summed over the middle copy of a periodic oligomer, so that the values do not depend on
    where the SMILES puts the period's origin)."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES {smiles!r}")
    oligomer, middle, backbone = _periodic(mol)
    heavy = [a for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    nh = len(heavy)
    logp = [c[0] for c in rdMolDescriptors._CalcCrippenContribs(oligomer)]
    asa = rdMolDescriptors._CalcLabuteASAContribs(oligomer)[0]
    return {
        "aromatic": sum(a.GetIsAromatic() for a in heavy) / nh,
        "aromatic_backbone": sum(mol.GetAtomWithIdx(i).GetIsAromatic() for i in backbone) / len(backbone),
        "mass_per_backbone": Descriptors.MolWt(mol) / len(backbone),
        "logp_per_heavy": sum(logp[i] for i in middle) / nh,
        "asa_per_heavy": sum(asa[i] for i in middle) / nh,
        "rotatable": _rotatable_per_period(oligomer, middle) / nh,
        "hbd": rdMolDescriptors.CalcNumHBD(mol) / nh,
        "fsp3": rdMolDescriptors.CalcFractionCSP3(mol),
    }


@lru_cache(maxsize=65536)
def synthetic_property(smiles: str, which: int = 0) -> float:
    """Instant synthetic property of a repeat unit (``which`` 0: κ-like, to maximise; 1: a conflicting one)."""
    d = descriptors(smiles)
    if which == 0:
        stiff = math.exp(-(((d["aromatic_backbone"] - 0.55) / 0.3) ** 2))
        hbond = math.tanh(12.0 * d["hbd"])
        light = math.exp(-(((d["mass_per_backbone"] - 25.0) / 14.0) ** 2))
        polar = math.exp(-(((d["logp_per_heavy"] - 0.12) / 0.15) ** 2))
        bulky = max(d["asa_per_heavy"] - 7.0, 0.0)
        return float(1.5 * stiff * (0.6 + 0.4 * hbond) + 0.8 * light * polar - 0.5 * bulky + 0.3 * hbond * polar)
    if which == 1:
        soft = math.exp(-(((d["fsp3"] - 0.8) / 0.35) ** 2))
        return float(1.2 * soft + 0.6 * math.tanh(4.0 * d["rotatable"]) - 0.01 * (d["mass_per_backbone"] - 14.0)
                     - 0.5 * d["aromatic"])
    raise ValueError(f"which must be 0 or 1, not {which}")
