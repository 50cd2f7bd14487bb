"""Feature vectors of polymer repeat units (SMILES with two ``*`` connection points) for the design surrogates.

Choice (``FEATURES``): a Morgan *count* fingerprint of radius 2 folded to 2048 bits, computed on the periodic chain,
followed by a few size-independent RDKit descriptors scaled by fixed constants to roughly [0, 1].

* Periodic environments. A repeat unit is one period of an infinite chain, so the environment of an atom next to a
  ``*`` is the environment it has in the chain, not the one of a chain end. The unit is therefore copied into an
  oligomer (head of copy j+1 bonded to tail of copy j, the inner ``*`` removed) long enough that every atom of the
  middle copy lies at least radius + 1 bonds from the outer ``*``; only environments centred on the middle copy's
  atoms are counted. The counts are thus those of one period of the polymer: ``*CC*`` and ``*CCCC*`` (both
  polyethylene) give the same vector up to a factor 2, ``*CC(*)C`` and ``*C(C)C*`` (both polypropylene) the same.
  The connection points matter as bonds along the backbone, which is what distinguishes e.g. para from meta linkage.
* Counts rather than bits, because homologous polymers (nylon-6 vs nylon-12) differ only by how many CH2 groups a
  period has; the surrogate's MinMax kernel (Tanimoto on counts) uses them directly.
* Descriptors of the period, normalised per heavy or backbone atom so that they do not just measure size: mass per
  backbone atom (linear density of the chain, a main factor of density and stiffness), fractions of aromatic, sp3
  carbon, ring, hetero and halogen atoms, aromatic fraction of the backbone, H-bond donors/acceptors, TPSA and
  rotatable bonds per heavy atom (of the chain, links included), backbone fraction and side-chain atoms per
  backbone atom. The scaling constants are fixed (not fitted to a
  library), so a unit's features never depend on the other candidates.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors, rdFingerprintGenerator, rdMolDescriptors
from rdkit.Chem.Lipinski import RotatableBondSmarts

FEATURES = "morgan-count-r2-2048-periodic+desc13/v1"
RADIUS = 2
N_FINGERPRINT = 2048
DESCRIPTORS = (
    "mass_per_backbone_atom/100",
    "backbone_fraction",
    "aromatic_fraction",
    "fraction_csp3",
    "ring_fraction",
    "hetero_fraction",
    "halogen_fraction",
    "aromatic_backbone_fraction",
    "hbd_per_heavy",
    "hba_per_heavy",
    "tpsa_per_heavy/20",
    "rotatable_per_heavy",
    "side_atoms_per_backbone_atom/4",
)
N_FEATURES = N_FINGERPRINT + len(DESCRIPTORS)

_GENERATOR = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=N_FINGERPRINT)
_HALOGENS = {9, 17, 35, 53}



def _connections(mol: Chem.Mol) -> tuple[int, int, int, int, Chem.BondType]:
    """(dummy1, atom1, dummy2, atom2, bond type) of a repeat unit; ValueError unless exactly two ``*`` with one
    non-dummy neighbour each."""
    dummies = [a for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    if len(dummies) != 2:
        raise ValueError(f"a repeat unit needs exactly two '*' connection points, found {len(dummies)}")
    ends = []
    for d in dummies:
        nbrs = d.GetNeighbors()
        if len(nbrs) != 1 or nbrs[0].GetAtomicNum() == 0:
            raise ValueError("each '*' must be bonded to exactly one real atom")
        ends.append((d.GetIdx(), nbrs[0].GetIdx()))
    bond = mol.GetBondBetweenAtoms(*ends[0]).GetBondType()
    return ends[0][0], ends[0][1], ends[1][0], ends[1][1], bond


def _periodic(mol: Chem.Mol) -> tuple[Chem.Mol, list[int], list[int]]:
    """Oligomer of the unit long enough for periodic radius-2 environments: (oligomer, middle copy's atoms,
    backbone atoms of the unit)."""
    d1, a1, d2, a2, bond = _connections(mol)
    backbone = list(Chem.GetShortestPath(mol, a1, a2)) if a1 != a2 else [a1]
    period = len(backbone)  # bonds per repeat along the backbone (path bonds + the link bond)
    side = math.ceil((RADIUS + 1) / period)
    copies = 2 * side + 1
    n = mol.GetNumAtoms()
    combined = mol
    for _ in range(copies - 1):
        combined = Chem.CombineMols(combined, mol)
    rw = Chem.RWMol(combined)
    removed = []
    for j in range(copies - 1):
        rw.AddBond(j * n + a2, (j + 1) * n + a1, bond)
        removed += [j * n + d2, (j + 1) * n + d1]
    for idx in sorted(removed, reverse=True):
        rw.RemoveAtom(idx)
    removed.sort()
    middle_old = [side * n + i for i in range(n) if i not in (d1, d2)]
    middle = [i - bisect.bisect_left(removed, i) for i in middle_old]
    oligomer = rw.GetMol()
    Chem.SanitizeMol(oligomer)
    return oligomer, middle, backbone


def _rotatable_per_period(oligomer: Chem.Mol, middle: list[int]) -> float:
    """Rotatable bonds (Lipinski's SMARTS) of one period of the chain: bonds inside the middle copy count 1, the
    two links to the neighbouring copies 1/2 each."""
    inside = set(middle)
    total = 0.0
    for i, j in oligomer.GetSubstructMatches(RotatableBondSmarts):
        total += 0.5 * ((i in inside) + (j in inside))
    return total


def periodic_key(smiles: str) -> str:
    """Canonical SMILES of the unit closed into a ring of copies (at least 8 backbone atoms): the same for every
    choice of the period's origin (``*CC(*)C`` and ``*C(C)C*``), so it identifies the polymer, not the SMILES."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES {smiles!r}")
    d1, a1, d2, a2, bond = _connections(mol)
    period = len(Chem.GetShortestPath(mol, a1, a2)) if a1 != a2 else 1
    copies = max(2, math.ceil(8 / period))
    n = mol.GetNumAtoms()
    combined = mol
    for _ in range(copies - 1):
        combined = Chem.CombineMols(combined, mol)
    rw = Chem.RWMol(combined)
    for j in range(copies):
        rw.AddBond(j * n + a2, ((j + 1) % copies) * n + a1, bond)
    for idx in sorted([j * n + d for j in range(copies) for d in (d1, d2)], reverse=True):
        rw.RemoveAtom(idx)
    ring = rw.GetMol()
    Chem.SanitizeMol(ring)
    return Chem.MolToSmiles(ring)


def _descriptors(mol: Chem.Mol, backbone: list[int], rotatable: float) -> list[float]:
    """The scaled descriptors of ``DESCRIPTORS`` for one unit (``mol`` keeps its ``*``; dummies weigh nothing)."""
    heavy = [a for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    nh = len(heavy)
    aromatic = sum(a.GetIsAromatic() for a in heavy)
    ring = sum(a.IsInRing() for a in heavy)
    hetero = sum(a.GetAtomicNum() != 6 for a in heavy)
    halogen = sum(a.GetAtomicNum() in _HALOGENS for a in heavy)
    arom_backbone = sum(mol.GetAtomWithIdx(i).GetIsAromatic() for i in backbone)
    return [
        Descriptors.MolWt(mol) / len(backbone) / 100.0,
        len(backbone) / nh,
        aromatic / nh,
        rdMolDescriptors.CalcFractionCSP3(mol),
        ring / nh,
        hetero / nh,
        halogen / nh,
        arom_backbone / len(backbone),
        rdMolDescriptors.CalcNumHBD(mol) / nh,
        rdMolDescriptors.CalcNumHBA(mol) / nh,
        rdMolDescriptors.CalcTPSA(mol) / nh / 20.0,
        rotatable / nh,
        (nh - len(backbone)) / len(backbone) / 4.0,
    ]


def featurise_one(smiles: str) -> np.ndarray:
    """Feature vector (float32, ``N_FEATURES``) of one repeat unit; ValueError (with the reason) if invalid."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError("RDKit cannot parse it")
    oligomer, middle, backbone = _periodic(mol)
    out = np.empty(N_FEATURES, dtype=np.float32)
    out[:N_FINGERPRINT] = _GENERATOR.GetCountFingerprintAsNumPy(oligomer, fromAtoms=middle)
    out[N_FINGERPRINT:] = _descriptors(mol, backbone, _rotatable_per_period(oligomer, middle))
    return out


def featurise(smiles: Sequence[str]) -> np.ndarray:
    """Features of many repeat units: float32 array (len(smiles), ``N_FEATURES``); fingerprint counts first, then
    ``DESCRIPTORS``. ValueError naming the index and SMILES of the first invalid unit."""
    out = np.empty((len(smiles), N_FEATURES), dtype=np.float32)
    RDLogger.DisableLog("rdApp.*")  # the reason goes into the ValueError instead
    try:
        for i, smi in enumerate(smiles):
            try:
                out[i] = featurise_one(smi)
            except Exception as exc:  # RDKit raises several types (sanitisation, kekulisation)
                raise ValueError(f"candidate {i} ({smi!r}) is not a valid repeat unit: {exc}") from exc
    finally:
        RDLogger.EnableLog("rdApp.*")
    return out
