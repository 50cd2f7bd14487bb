"""The mean-field dispersion a potential form misses (aiida_polymer.chem.dispersion), against known cases.

- ``cut_tail`` misses nothing (LAMMPS adds the uniform-fluid tail); ``charmm`` with the switch shrunk to nothing
  misses the tail energy N(8/3)πρεσ³[(σ/r_c)⁹/3 − (σ/r_c)³] and the tail pressure (16/3)πρ²εσ³[(2/3)(σ/r_c)⁹ −
  (σ/r_c)³] less the impulsive term (2π/3)ρ²r_c³u(r_c) of the step the vanishing switch makes (Allen &
  Tildesley, sec. 2.8);
- uniformly random points have g(r) = 1 exactly, so the pair sum over them of u − u_form and r·(F − F_form) in the
  switching shell (two LJ types, arithmetic mixing) is the integral the module computes, within its sampling
  error; beyond r_c the closed-form tail is added to both.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aiida_polymer.chem.dispersion import LJTypes, density_shift, lj_types, missing_dispersion
from aiida_polymer.chem.lammps_input import NKTV2P

EPS, SIG = np.array([0.1094, 0.0157]), np.array([3.40, 2.65])  # GAFF2-like c3 and hc


def data_text(types: np.ndarray, length: float) -> str:
    atoms = "".join(f"{i + 1} 1 {t} 0.0 0.0 0.0 0.0\n" for i, t in enumerate(types))
    return (f"test\n\n{len(types)} atoms\n2 atom types\n\n0 {length} xlo xhi\n0 {length} ylo yhi\n0 {length} zlo zhi\n"
            f"\nMasses\n\n1 12.011\n2 1.008\n\nPair Coeffs # lj/charmm/coul/long\n\n1 {EPS[0]} {SIG[0]} {EPS[0]} "
            f"{SIG[0]}\n2 {EPS[1]} {SIG[1]} {EPS[1]} {SIG[1]}\n\nAtoms # full\n\n{atoms}")


def test_reads_the_types_of_a_data_file():
    types = lj_types(data_text(np.array([1, 2, 2, 1, 2]), 20.0))
    assert types.counts.tolist() == [2.0, 3.0]
    assert types.epsilon.tolist() == EPS.tolist() and types.sigma.tolist() == SIG.tolist()
    assert types.volume == pytest.approx(8000.0)
    with pytest.raises(ValueError, match="no Pair Coeffs"):
        lj_types("x\n\n1 atoms\n\nAtoms\n\n1 1 1 0 0 0 0\n")


def test_tail_form_misses_nothing_and_a_vanishing_switch_misses_the_tail():
    one = LJTypes(epsilon=np.array([0.2]), sigma=np.array([3.5]), counts=np.array([1000.0]), volume=1.0e4)
    assert missing_dispersion(one, "cut_tail", 8.0, 12.0) == (0.0, 0.0)
    energy, pressure = missing_dispersion(one, "charmm", 12.0 - 1e-4, 12.0)
    rho, x = 0.1, 3.5 / 12.0
    p_tail = 16.0 / 3.0 * math.pi * rho**2 * 0.2 * 3.5**3 * (2.0 / 3.0 * x**9 - x**3)
    impulsive = 2.0 / 3.0 * math.pi * rho**2 * 12.0**3 * 4.0 * 0.2 * (x**12 - x**6)
    e_tail = 1000.0 * 8.0 / 3.0 * math.pi * rho * 0.2 * 3.5**3 * (x**9 / 3.0 - x**3)
    assert pressure == pytest.approx((p_tail - impulsive) * NKTV2P, rel=1e-4)
    assert energy == pytest.approx(e_tail, rel=1e-4)
    with pytest.raises(ValueError, match="form must be"):
        missing_dispersion(one, "shifted", 8.0, 12.0)


def test_switch_shell_against_a_pair_sum_over_uniform_points():
    rng = np.random.default_rng(3)
    n, length, r_in, r_c = 2500, 40.0, 8.0, 12.0
    kinds = rng.integers(0, 2, n)
    xyz = rng.uniform(0.0, length, (n, 3))
    i, j = np.triu_indices(n, k=1)
    d = xyz[i] - xyz[j]
    d -= length * np.round(d / length)
    r = np.sqrt((d * d).sum(axis=1))
    shell = (r > r_in) & (r < r_c)
    r, a, b = r[shell], kinds[i][shell], kinds[j][shell]
    eps, sig = np.sqrt(EPS[a] * EPS[b]), 0.5 * (SIG[a] + SIG[b])
    s6 = (sig / r) ** 6
    u = 4.0 * eps * (s6 * s6 - s6)
    du = 4.0 * eps * (-12.0 * s6 * s6 + 6.0 * s6) / r
    inner, cut = r_in**2, r_c**2
    s = (cut - r * r) ** 2 * (cut + 2.0 * r * r - 3.0 * inner) / (cut - inner) ** 3
    ds = 12.0 * r * (cut - r * r) * (inner - r * r) / (cut - inner) ** 3
    shell_energy = float((u * (1.0 - s)).sum())  # E_full − E_charmm in the shell
    shell_virial = float((-r * (du - (du * s + u * ds))).sum())  # Σ r·(F − F_form)
    counts, volume = np.bincount(kinds, minlength=2).astype(float), length**3
    tail_energy = tail_pressure = 0.0  # the closed-form tails beyond r_c, every ordered type pair
    for p in range(2):
        for q in range(2):
            e, sg, rho2 = math.sqrt(EPS[p] * EPS[q]), 0.5 * (SIG[p] + SIG[q]), counts[p] * counts[q] / volume**2
            x = sg / r_c
            tail_energy += 2.0 * math.pi * volume * rho2 * 4.0 * e * sg**3 * (x**9 / 9.0 - x**3 / 3.0)
            tail_pressure += 16.0 / 3.0 * math.pi * rho2 * e * sg**3 * (2.0 / 3.0 * x**9 - x**3) * NKTV2P
    energy, pressure = missing_dispersion(LJTypes(EPS, SIG, counts, volume), "charmm", r_in, r_c)
    assert energy - tail_energy == pytest.approx(shell_energy, rel=0.03)
    assert pressure - tail_pressure == pytest.approx(shell_virial / (3.0 * volume) * NKTV2P, rel=0.03)
    assert energy < tail_energy < 0.0  # the switch also takes attraction away inside r_c
    assert tail_pressure < pressure < 0.0  # but its force there is steeper than LJ's: the pressure misses less


def test_density_shift_is_first_order_in_the_pressure():
    assert density_shift(-200.0, 5e-10) == pytest.approx(-200.0 * 101325.0 * 5e-10)
