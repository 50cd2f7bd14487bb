"""Two-stage RESP: exact recovery of point charges, constraints, restraint optimality, and real HF/6-31G* potentials
from Psi4 compared with published RESP charges.

The Psi4 potentials are fixtures in ``data/esp`` (regenerate them with ``python tests/chem/test_resp.py``, which
needs ``psi4`` on PATH); ``test_methanol_live_psi4`` reruns Psi4 itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import rdDetermineBonds

from aiida_polymer.chem import resp
from aiida_polymer.chem.esp_grid import msk_points

DATA = Path(__file__).parent / "data" / "esp"
BOHR = 0.52917721067  # Å (CODATA 2014), independent of the module's constant

# Methanol optimised at HF/6-31G* with psi4 1.3.2 (optimize('scf'), scf_type pk; Cs, E = -115.0354 Eh), Å.
METHANOL_XYZ = """6
methanol HF/6-31G* (psi4 1.3.2)
C  -0.026013590647   0.717385609927   0.000000000000
O  -0.026210357622  -0.682436233039   0.000000000000
H  -1.058834131065   1.036827387450   0.000000000000
H   0.459331682359   1.125068712708   0.883575627304
H   0.459331682359   1.125068712708  -0.883575627304
H   0.865887529358  -0.997994120669   0.000000000000
"""
# AMBER methanol model (residue MOH of AmberTools dat/leap/prep/meoh.in, also MEOHBOX in lib/solvents.lib): the
# HF/6-31G* two-stage RESP charges of the Cornell et al. force field (J. Am. Chem. Soc. 117, 5179 (1995)).
METHANOL_REF = np.array([0.1166, -0.6497, 0.0372, 0.0372, 0.0372, 0.4215])  # C, O, HC x3, HO
# The reference is reproduced with 0.5 points/Å² averaged over 30 orientations; at the nominal 1 point/Å² the poorly
# determined methyl carbon comes out ~0.06 e higher (the restraint is not normalised by the number of points, so
# fewer points mean a relatively stronger restraint; the point set of the original fit is not known).
METHANOL_GRID = {"density": 0.5, "orientations": 30}

# Acetic acid geometry and RESP charges computed with R.E.D.-III.5 (Dupradeau et al., Phys. Chem. Chem. Phys. 12,
# 7821 (2010)) and GAMESS at HF/6-31G*, MK grid 1.4-2.0 x vdW at 1 point/Å², a = 0.0005 then 0.001, as tabulated in
# the test suite of the Psi4 RESP plugin (Alenaizan, Burns, Sherrill, Int. J. Quantum Chem. 120, e26035 (2020)).
ACETIC_XYZ = """8
acetic acid (R.E.D.-III.5 reference geometry)
C   1.45051389  -0.06628932   0.00000000
H   1.75521613  -0.62865986  -0.87500146
H   1.75521613  -0.62865986   0.87500146
H   1.92173244   0.90485897   0.00000000
C  -0.04233122   0.09849378   0.00000000
O  -0.67064817  -1.07620915   0.00000000
H  -1.60837259  -0.91016601   0.00000000
O  -0.62675864   1.13160510   0.00000000
"""
ACETIC_REF_STAGE1 = np.array([-0.294974, 0.107114, 0.107114, 0.084795, 0.803999, -0.661279, 0.453270, -0.600039])
ACETIC_REF_STAGE2 = np.array([-0.290893, 0.098314, 0.098314, 0.098314, 0.803999, -0.661279, 0.453270, -0.600039])
ACETIC_GRID = {"density": 1.0, "orientations": 1}

# psi4 1.3.2 input for the potential at the points of grid.dat (Å, the molecule's units), written to grid_esp.dat
PSI4_INPUT = """memory 1 gb
molecule mol {{
0 1
{atoms}
symmetry c1
no_com
no_reorient
}}
set basis 6-31G*
set scf_type pk
E, wfn = energy('scf', return_wfn=True)
oeprop(wfn, 'GRID_ESP')
"""


def mol_from_xyz(xyz: str) -> Chem.Mol:
    mol = Chem.MolFromXYZBlock(xyz)
    rdDetermineBonds.DetermineBonds(mol, charge=0)
    return mol


def elements_coords(mol: Chem.Mol) -> tuple[list[str], np.ndarray]:
    return [a.GetSymbol() for a in mol.GetAtoms()], mol.GetConformer().GetPositions()


def coulomb(charges, coords, points):
    """Potential (Hartree/e) of point charges (e), written out independently of the module."""
    r_bohr = np.linalg.norm(points[:, None, :] - coords[None, :, :], axis=2) / BOHR
    return (charges[None, :] / r_bohr).sum(axis=1)


def run_psi4_esp(elements, coords, points, workdir: Path) -> np.ndarray:
    """HF/6-31G* potential at ``points`` from the psi4 executable (PYTHONPATH unset, 2 threads)."""
    atoms = "\n".join(f"{e} {x:.10f} {y:.10f} {z:.10f}" for e, (x, y, z) in zip(elements, coords, strict=True))
    (workdir / "input.dat").write_text(PSI4_INPUT.format(atoms=atoms))
    np.savetxt(workdir / "grid.dat", points, fmt="%.10f")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(["psi4", "-n", "2", "input.dat", "output.dat"], cwd=workdir, env=env, check=True)
    return np.loadtxt(workdir / "grid_esp.dat")


def fixture_points(mol: Chem.Mol, grid: dict) -> np.ndarray:
    return msk_points(*elements_coords(mol), **grid)


def load_esp(name: str, points: np.ndarray) -> np.ndarray:
    """Potential of a fixture, after checking that it was computed on exactly these points."""
    lines = (DATA / f"{name}.esp").read_text().splitlines()
    header = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# ") and ": " in line)
    assert int(header["points"]) == len(points), "grid changed: regenerate with python tests/chem/test_resp.py"
    assert np.allclose([float(x) for x in header["checksum"].split()], checksum(points), atol=1e-6)
    return np.array([float(line) for line in lines if not line.startswith("#")])


def checksum(points: np.ndarray) -> list[float]:
    return [float(points.sum()), float((points**2).sum()), float((points * np.arange(len(points))[:, None]).sum())]


def write_fixture(name: str, mol: Chem.Mol, grid: dict, workdir: Path) -> None:
    points = fixture_points(mol, grid)
    esp = run_psi4_esp(*elements_coords(mol), points, workdir)
    head = [
        f"# HF/6-31G* potential (Hartree/e) from psi4 1.3.2 at msk_points(..., {grid}); see test_resp.py",
        f"# points: {len(points)}",
        "# checksum: " + " ".join(f"{x:.6f}" for x in checksum(points)),
    ]
    (DATA / f"{name}.esp").write_text("\n".join(head + [f"{v:.10f}" for v in esp]) + "\n")


# ---------------------------------------------------------------- synthetic potentials


@pytest.fixture
def methanol():
    mol = mol_from_xyz(METHANOL_XYZ)
    elements, coords = elements_coords(mol)
    return mol, elements, coords, msk_points(elements, coords)


TRUE_Q = np.array([0.18, -0.66, 0.05, -0.01, 0.02, 0.42])  # sums to 0, methyl H deliberately unequal


def test_coulomb_units():
    """One electron charge at 1 Å: 1/1.8897 bohr = 0.5291772 Hartree/e."""
    v = resp.potential(np.array([1.0]), np.zeros((1, 3)), np.array([[1.0, 0.0, 0.0]]))
    assert v[0] == pytest.approx(0.52917721067, abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_unrestrained_fit_recovers_point_charges(methanol, shift):
    _, elements, coords, points = methanol
    q_true = TRUE_Q + shift / 6  # also a cation (total +1)
    esp = coulomb(q_true, coords, points)
    q, info = resp.fit_resp(elements, coords, points, esp, total_charge=shift, a=0.0)
    assert len(points) > 400
    assert np.abs(q - q_true).max() < 1e-3
    assert info.iterations == 0 and info.rrms < 1e-6


def test_restraint_shrinks_heavy_atoms_and_keeps_total(methanol):
    _, elements, coords, points = methanol
    esp = coulomb(TRUE_Q, coords, points)
    heavy = np.array([0, 1])
    previous = np.abs(TRUE_Q[heavy])
    for a in (0.0005, 0.001, 0.01):
        q, info = resp.fit_resp(elements, coords, points, esp, total_charge=0.0, a=a)
        assert abs(q.sum()) < 1e-10
        assert 0 < info.iterations < 50 and info.rrms > 1e-3
        assert np.all(np.abs(q[heavy]) < previous)  # pulled toward 0, more so for a larger a
        previous = np.abs(q[heavy])
        if a == 0.0005:  # RESP's stage-1 weight: a little (buried carbon most, exposed O-H hardly)
            assert 0.01 < TRUE_Q[0] - q[0] < 0.1 and np.abs(q - TRUE_Q)[[1, 5]].max() < 0.02
    q, _ = resp.fit_resp(elements, coords, points, coulomb(TRUE_Q + 1 / 6, coords, points), total_charge=1.0)
    assert abs(q.sum() - 1.0) < 1e-10


def test_restrained_solution_is_stationary(methanol):
    """KKT: (A q - B)_j + a q_j / sqrt(q_j² + b²) (heavy atoms) is the same Lagrange multiplier for every atom."""
    _, elements, coords, points = methanol
    esp = coulomb(TRUE_Q, coords, points) + 0.002 * np.sin(points[:, 0] * 3)  # not exactly representable
    a, b = 0.002, 0.1
    q, _ = resp.fit_resp(elements, coords, points, esp, a=a, b=b, tol=1e-12)
    inv_r = BOHR / np.linalg.norm(points[:, None, :] - coords[None, :, :], axis=2)
    grad = inv_r.T @ (inv_r @ q - esp)
    heavy = np.array([e != "H" for e in elements])
    grad += np.where(heavy, a * q / np.sqrt(q**2 + b**2), 0.0)
    assert np.ptp(grad) < 1e-9
    # hydrogens carry no restraint: an all-"H" molecule gives the unrestrained fit
    q_free, _ = resp.fit_resp(elements, coords, points, esp, a=0.0)
    q_h, info = resp.fit_resp(["H"] * 6, coords, points, esp, a=a)
    assert np.allclose(q_h, q_free, atol=1e-12) and info.iterations == 0
    assert np.abs(q - q_free).max() > 1e-3


def test_equivalences_and_frozen_charges_hold_exactly(methanol):
    _, elements, coords, points = methanol
    esp = coulomb(TRUE_Q, coords, points)
    q, _ = resp.fit_resp(elements, coords, points, esp, equivalences=[[2, 3], [3, 4]])  # overlapping: merged
    assert q[2] == q[3] == q[4]
    assert abs(q.sum()) < 1e-10
    frozen = {1: -0.7, 5: 0.45}
    q, _ = resp.fit_resp(elements, coords, points, esp, frozen=frozen, equivalences=[[2, 3, 4]])
    assert q[1] == -0.7 and q[5] == 0.45 and q[2] == q[3] == q[4]
    assert abs(q.sum()) < 1e-10
    with pytest.raises(ValueError, match="mixes frozen and free"):
        resp.fit_resp(elements, coords, points, esp, frozen={2: 0.0}, equivalences=[[2, 3]])


def test_stage2_refits_only_methyl_and_methylene_groups():
    """Ethanol with synthetic charges: stage 2 leaves O, HO and nothing else but the CH3/CH2 atoms unchanged."""
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    from rdkit.Chem import AllChem

    AllChem.EmbedMolecule(mol, randomSeed=11)
    elements, coords = elements_coords(mol)
    points = msk_points(elements, coords)
    q_true = np.array([-0.2, 0.25, -0.65, 0.06, 0.07, 0.05, 0.0, 0.02, 0.40])
    esp = coulomb(q_true, coords, points)
    assert resp.methyl_groups(mol) == [(0, [3, 4, 5]), (1, [6, 7])]
    res = resp.resp_charges(mol, points, esp)
    stage2 = [0, 1, 3, 4, 5, 6, 7]
    others = [2, 8]
    assert np.array_equal(res.charges[others], res.stage1_charges[others])
    assert np.abs(res.charges[stage2] - res.stage1_charges[stage2]).max() > 1e-3
    assert res.charges[3] == res.charges[4] == res.charges[5] and res.charges[6] == res.charges[7]
    assert len(set(res.stage1_charges[[3, 4, 5]])) == 3  # stage 1 leaves the methyl hydrogens free
    assert abs(res.charges.sum()) < 1e-10 and res.stage2 is not None
    # the hydrogens of a CH3/CH2 group are made equal in stage 2 even without symmetry equivalences
    arrays = resp.resp_two_stage(elements, coords, points, esp, methyl_groups=resp.methyl_groups(mol))
    assert arrays.charges[3] == arrays.charges[4] == arrays.charges[5] and arrays.charges[6] == arrays.charges[7]


def test_symmetric_groups_are_equivalenced():
    """Propane: the two methyl groups end up identical; molecules without CH3/CH2 skip stage 2."""
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles("CCC"))
    AllChem.EmbedMolecule(mol, randomSeed=3)
    elements, coords = elements_coords(mol)
    points = msk_points(elements, coords)
    rng = np.random.default_rng(0)
    q_true = rng.normal(0, 0.1, len(elements))
    q_true -= q_true.mean()
    res = resp.resp_charges(mol, points, coulomb(q_true, coords, points))
    assert [0, 2] in resp.equivalent_atoms(mol)
    assert res.charges[0] == res.charges[2]
    assert len(set(res.charges[[3, 4, 5, 8, 9, 10]])) == 1 and res.charges[6] == res.charges[7]

    benzene = Chem.AddHs(Chem.MolFromSmiles("c1ccccc1"))
    AllChem.EmbedMolecule(benzene, randomSeed=3)
    el, xyz = elements_coords(benzene)
    pts = msk_points(el, xyz)
    res = resp.resp_charges(benzene, pts, coulomb(np.r_[[-0.1] * 6, [0.1] * 6], xyz, pts))
    assert res.stage2 is None and np.array_equal(res.charges, res.stage1_charges)
    assert np.ptp(res.charges[:6]) == 0 and np.ptp(res.charges[6:]) == 0


def test_resonance_equivalence_and_anion_total():
    """Acetate: canonical ranks miss the resonance-equivalent O; ``extra_equivalences`` adds it; total -1 exact."""
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)[O-]"))
    AllChem.EmbedMolecule(mol, randomSeed=5)
    elements, coords = elements_coords(mol)
    points = msk_points(elements, coords)
    esp = coulomb(np.array([-0.25, 0.85, -0.8, -0.9, 0.03, 0.04, 0.03]), coords, points)
    plain = resp.resp_charges(mol, points, esp)
    assert plain.charges[2] != plain.charges[3]
    res = resp.resp_charges(mol, points, esp, extra_equivalences=[[2, 3]])
    assert res.charges[2] == res.charges[3]
    assert abs(res.charges.sum() + 1.0) < 1e-10 and abs(plain.charges.sum() + 1.0) < 1e-10


def test_helpers_on_rdkit_molecules():
    def groups(smiles):
        return resp.methyl_groups(Chem.AddHs(Chem.MolFromSmiles(smiles)))

    assert groups("C") == [(0, [1, 2, 3, 4])]
    assert groups("CC(C)(C)C") == [(0, [5, 6, 7]), (2, [8, 9, 10]), (3, [11, 12, 13]), (4, [14, 15, 16])]
    assert groups("OCCO") == [(1, [5, 6]), (2, [7, 8])]
    assert groups("C=C") == [] and groups("CC=O") == [(0, [3, 4, 5])]
    assert resp.equivalent_atoms(Chem.AddHs(Chem.MolFromSmiles("OCCO"))) == [[0, 3], [1, 2], [4, 9], [5, 6, 7, 8]]
    with pytest.raises(ValueError, match="explicit hydrogens"):
        resp.resp_charges(Chem.MolFromSmiles("CO"), np.zeros((1, 3)), np.zeros(1))


# ---------------------------------------------------------------- real HF/6-31G* potentials (psi4 1.3.2)


def test_methanol_matches_amber_resp_charges():
    mol = mol_from_xyz(METHANOL_XYZ)
    points = fixture_points(mol, METHANOL_GRID)
    esp = load_esp("methanol", points)
    res = resp.resp_charges(mol, points, esp, n_grids=METHANOL_GRID["orientations"])
    assert abs(res.charges.sum()) < 1e-10
    assert np.abs(res.charges - METHANOL_REF).max() < 0.02, res.charges
    assert res.charges[2] == res.charges[3] == res.charges[4]
    assert 0.1 < res.stage1.rrms < 0.15 and 0.15 < res.stage2.rrms < 0.25


def test_acetic_acid_matches_red_resp_charges():
    mol = mol_from_xyz(ACETIC_XYZ)
    points = fixture_points(mol, ACETIC_GRID)
    esp = load_esp("acetic_acid", points)
    res = resp.resp_charges(mol, points, esp)
    assert np.abs(res.stage1_charges - ACETIC_REF_STAGE1).max() < 0.02, res.stage1_charges
    assert np.abs(res.charges - ACETIC_REF_STAGE2).max() < 0.02, res.charges
    assert abs(res.charges.sum()) < 1e-10


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("psi4") is None, reason="psi4 executable not on PATH")
def test_methanol_live_psi4(tmp_path):
    """Run psi4 1.3.2 HF/6-31G* on the fixture's points: same potential, RESP charges within 0.02 e of AMBER's."""
    mol = mol_from_xyz(METHANOL_XYZ)
    points = fixture_points(mol, METHANOL_GRID)
    esp = run_psi4_esp(*elements_coords(mol), points, tmp_path)
    assert np.abs(esp - load_esp("methanol", points)).max() < 1e-6
    res = resp.resp_charges(mol, points, esp, n_grids=METHANOL_GRID["orientations"])
    assert np.abs(res.charges - METHANOL_REF).max() < 0.02


if __name__ == "__main__":  # regenerate the fixtures (needs psi4)
    import tempfile

    DATA.mkdir(parents=True, exist_ok=True)
    for name, xyz, grid in (("methanol", METHANOL_XYZ, METHANOL_GRID), ("acetic_acid", ACETIC_XYZ, ACETIC_GRID)):
        with tempfile.TemporaryDirectory() as tmp:
            write_fixture(name, mol_from_xyz(xyz), grid, Path(tmp))
        print(f"wrote {DATA / name}.esp", file=sys.stderr)
