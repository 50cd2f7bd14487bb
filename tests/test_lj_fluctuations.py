"""Physical check of the NPT fluctuation formulas with real LAMMPS runs of a Lennard-Jones (argon) liquid.

500 argon atoms (ε/kB = 119.8 K, σ = 3.405 Å, cut at 2.5σ with tail corrections) in ``units real`` at T = 119.8 K
(T* = 1.0) and P = 414 atm (P* ≈ 1.0), a dense liquid (ρ* ≈ 0.81). Nosé–Hoover ``fix npt`` (MTK barostat, samples
the isothermal-isobaric ensemble). The compressibility and Cp (and α_V) from the fluctuations of one long run must
agree within 3 combined standard errors with finite differences over runs at neighbouring pressures (±100 atm) and
temperatures (±10 K); each side's error bar must also be below 3 %, so that an error of 15 % fails (3 combined SE
stay below 13 %). Measured at these lengths (2 ns centre run, 0.5 ns neighbours, 10 fs steps): fluctuation SE 1.7 %
(β_T), 1.8 % (Cp), 2.3 % (α_V), finite differences 1.9, 0.9, 1.1 %; differences +2.1 %, +5.3 %, +4.8 % (0.8, 2.5,
1.8 combined SE). The runs are seeded and single-threaded, so the outcome is reproducible on one LAMMPS build.
"""

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from aiida_polymer.chem import analysis as an

LMP = Path(sys.executable).with_name("lmp") if Path(sys.executable).with_name("lmp").exists() else shutil.which("lmp")
N_ATOMS, MASS = 500, 39.948
T0, P0, DT, DP = 119.8, 414.0, 10.0, 100.0
NBLOCKS = 10
MAX_SE = 0.03  # relative standard error of each side

INPUT = """units real
atom_style atomic
lattice fcc 5.8
region box block 0 5 0 5 0 5
create_box 1 box
create_atoms 1 box
mass 1 {mass}
pair_style lj/cut 8.5125
pair_coeff 1 1 0.2381 3.405
pair_modify tail yes
neighbor 2.0 bin
neigh_modify every 1 delay 0 check yes
timestep 10.0
thermo_style custom step temp press vol etotal
thermo 1000
velocity all create 300.0 {seed} mom yes rot yes dist gaussian
fix melt all nvt temp 300.0 {temp} 500.0
run 2000
unfix melt
fix md all npt temp {temp} {temp} 500.0 iso {press} {press} 2000.0
run 5000
thermo 10
run {steps}
"""


def _run(workdir: Path, temp: float, press: float, steps: int, seed: int) -> dict[str, np.ndarray]:
    workdir.mkdir()
    (workdir / "in.lj").write_text(INPUT.format(mass=MASS, seed=seed, temp=temp, press=press, steps=steps))
    subprocess.run([str(LMP), "-in", "in.lj", "-log", "log.lammps", "-screen", "none", "-nocite"], cwd=workdir,
                   check=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return _last_thermo(workdir / "log.lammps")


def _last_thermo(log: Path) -> dict[str, np.ndarray]:
    """The thermo table of the last run in a LAMMPS log, keyed like the analysis module expects."""
    lines = log.read_text().splitlines()
    start = max(i for i, line in enumerate(lines) if line.split()[:1] == ["Step"])
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("Loop time"):
            break
        rows.append([float(x) for x in line.split()])
    data = np.array(rows)
    return dict(zip(("step", "temp", "press", "vol", "etotal"), data.T, strict=True))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    if LMP is None:
        pytest.skip("LAMMPS executable lmp not found")
    root = tmp_path_factory.mktemp("lj")
    jobs = {"centre": (T0, P0, 200_000), "p_minus": (T0, P0 - DP, 50_000), "p_plus": (T0, P0 + DP, 50_000),
            "t_minus": (T0 - DT, P0, 50_000), "t_plus": (T0 + DT, P0, 50_000)}
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_run, root / name, *args, seed=4928 + i)
                   for i, (name, args) in enumerate(jobs.items())}
        out = {name: f.result() for name, f in futures.items()}
    print(f"\nLAMMPS runs: {time.perf_counter() - start:.0f} s wall")
    return out


def _mean(series: np.ndarray) -> tuple[float, float]:
    return an.block_average(series, NBLOCKS)


def _agree(name: str, fluct: tuple[float, float], fd: tuple[float, float]) -> None:
    (a, se_a), (b, se_b) = fluct, fd
    combined = np.hypot(se_a, se_b)
    print(f"{name}: fluctuation {a:.4g} ± {se_a:.2g}, finite difference {b:.4g} ± {se_b:.2g}, "
          f"difference {abs(a - b) / combined:.2f} combined SE ({100 * (a - b) / b:+.1f} %)")
    assert se_a < MAX_SE * abs(a) and se_b < MAX_SE * abs(b)
    assert 3 * combined < 0.15 * abs(b)  # the comparison resolves a 15 % error
    assert abs(a - b) <= 3 * combined


@pytest.mark.slow
def test_lj_fluctuations_match_finite_differences(runs):
    centre = runs["centre"]
    props = an.properties(centre, N_ATOMS * MASS, temp=T0, press=P0, nblocks=NBLOCKS)
    v0 = float(np.mean(centre["vol"]))
    print(f"density {props['density']['value']:.4f} g/cm^3, T {np.mean(centre['temp']):.1f} K, "
          f"{len(centre['vol'])} samples")

    (v_lo, se_lo), (v_hi, se_hi) = _mean(runs["p_minus"]["vol"]), _mean(runs["p_plus"]["vol"])
    scale = 1.0 / (2 * DP * an.ATM * v0)
    beta_fd = (-(v_hi - v_lo) * scale, np.hypot(se_lo, se_hi) * scale)
    beta = props["isothermal_compressibility"]
    _agree("beta_T [1/Pa]", (beta["value"], beta["stderr"]), beta_fd)

    h_lo, hse_lo = _mean(an.enthalpy(runs["t_minus"]["etotal"], runs["t_minus"]["vol"], P0))
    h_hi, hse_hi = _mean(an.enthalpy(runs["t_plus"]["etotal"], runs["t_plus"]["vol"], P0))
    scale = an.KCAL_MOL_TO_J / (2 * DT * N_ATOMS * MASS / an.AVOGADRO / 1000.0)
    cp_fd = ((h_hi - h_lo) * scale, np.hypot(hse_lo, hse_hi) * scale)
    cp = props["heat_capacity_cp"]
    _agree("Cp [J/(kg K)]", (cp["value"], cp["stderr"]), cp_fd)

    (v_cold, vse_cold), (v_hot, vse_hot) = _mean(runs["t_minus"]["vol"]), _mean(runs["t_plus"]["vol"])
    scale = 1.0 / (2 * DT * v0)
    alpha_fd = ((v_hot - v_cold) * scale, np.hypot(vse_cold, vse_hot) * scale)
    alpha = props["volumetric_thermal_expansion"]
    _agree("alpha_V [1/K]", (alpha["value"], alpha["stderr"]), alpha_fd)
