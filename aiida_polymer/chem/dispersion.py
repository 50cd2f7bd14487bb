"""The dispersion a truncated or switched Lennard-Jones potential leaves out, and what it does to the density.

Mean-field estimate: beyond the inner cutoff the pair distribution of a dense amorphous polymer is close to 1, so
the energy and pressure that a potential form misses relative to the full LJ sum are integrals over r with
g(r) = 1 (Allen & Tildesley, Computer Simulation of Liquids, 2nd ed., sec. 2.8), summed over the type pairs of the
cell with arithmetic mixing (σ_ij = (σ_i + σ_j)/2, ε_ij = √(ε_i ε_j)):

    ΔE = 2π V Σ_ij ρ_i ρ_j ∫ r² [u(r) − u_form(r)] dr,      ΔP = −(2π/3) Σ_ij ρ_i ρ_j ∫ r³ [u'(r) − u'_form(r)] dr

(ρ_i the number density of type i; ΔP < 0: the full potential's pressure is lower). Forms (``md.lj``):
``charmm`` — u·S(r) with the CHARMM switch between ``r_inner`` and ``r_cut``, zero beyond (RadonPy's); ``cut_tail``
— truncated at ``r_cut`` with LAMMPS' analytic tail, which is this same integral: nothing is missed. At fixed
temperature and pressure the missing ΔP shifts the density by Δρ/ρ ≈ β_T ΔP (first order in ΔP, β_T the
isothermal compressibility): the form's density is lower than the full potential's by |β_T ΔP|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .lammps_input import LJ_FORMS, NKTV2P
from .lammps_io import _sections, read_data


@dataclass(frozen=True)
class LJTypes:
    """Per-type LJ parameters (kcal/mol, Å), atom counts and the cell volume (Å³) of a data file."""

    epsilon: np.ndarray
    sigma: np.ndarray
    counts: np.ndarray
    volume: float


def lj_types(text: str) -> LJTypes:
    """The LJ types of a LAMMPS ``atom_style full`` data file with a ``Pair Coeffs`` section (``i ε σ``)."""
    sections = _sections(text.splitlines())
    if "Pair" not in sections:
        raise ValueError("the data file has no Pair Coeffs section")
    pairs = {int(row[0]): (float(row[1]), float(row[2])) for row in sections["Pair"]}
    types = sorted(pairs)
    counts = {t: 0 for t in types}
    for row in sections["Atoms"]:
        counts[int(row[2])] += 1
    return LJTypes(epsilon=np.array([pairs[t][0] for t in types]), sigma=np.array([pairs[t][1] for t in types]),
                   counts=np.array([counts[t] for t in types], dtype=float),
                   volume=float(np.prod(read_data(text).box)))


def _switch(r: np.ndarray, r_inner: float, r_cut: float) -> tuple[np.ndarray, np.ndarray]:
    """The CHARMM switch S(r) and dS/dr on [r_inner, r_cut]."""
    inner, cut, r2 = r_inner**2, r_cut**2, r * r
    denominator = (cut - inner) ** 3
    s = (cut - r2) ** 2 * (cut + 2.0 * r2 - 3.0 * inner) / denominator
    ds = 12.0 * r * (cut - r2) * (inner - r2) / denominator
    return s, ds


def _tail_integrals(epsilon: float, sigma: float, r: float) -> tuple[float, float]:
    """∫_r^∞ x² u dx and ∫_r^∞ x³ u' dx of the full LJ pair (closed forms)."""
    s6 = sigma**6
    energy = 4.0 * epsilon * (s6 * s6 / (9.0 * r**9) - s6 / (3.0 * r**3))
    virial = 4.0 * epsilon * (-12.0 * s6 * s6 / (9.0 * r**9) + 6.0 * s6 / (3.0 * r**3))
    return energy, virial


def _missing_integrals(epsilon: float, sigma: float, form: str, r_inner: float, r_cut: float,
                       points: int = 4001) -> tuple[float, float]:
    """∫ x² (u − u_form) dx and ∫ x³ (u' − u'_form) dx over (0, ∞) for one type pair."""
    if form == "cut_tail":
        return 0.0, 0.0
    r = np.linspace(r_inner, r_cut, points)
    s6 = (sigma / r) ** 6
    u = 4.0 * epsilon * (s6 * s6 - s6)
    du = 4.0 * epsilon * (-12.0 * s6 * s6 + 6.0 * s6) / r
    s, ds = _switch(r, r_inner, r_cut)
    energy = np.trapezoid(r**2 * u * (1.0 - s), r)
    virial = np.trapezoid(r**3 * (du - (du * s + u * ds)), r)
    tail_energy, tail_virial = _tail_integrals(epsilon, sigma, r_cut)
    return float(energy + tail_energy), float(virial + tail_virial)


def missing_dispersion(types: LJTypes, form: str, r_inner: float, r_cut: float) -> tuple[float, float]:
    """(ΔE in kcal/mol for the whole cell, ΔP in atm) that ``form`` misses relative to the full LJ sum."""
    if form not in LJ_FORMS:
        raise ValueError(f"form must be one of {', '.join(LJ_FORMS)}, not {form!r}")
    if not 0.0 < r_inner < r_cut:
        raise ValueError("need 0 < r_inner < r_cut")
    rho = types.counts / types.volume
    energy = pressure = 0.0
    n = len(types.epsilon)
    for i in range(n):
        for j in range(n):
            eps = math.sqrt(types.epsilon[i] * types.epsilon[j])
            sig = 0.5 * (types.sigma[i] + types.sigma[j])
            e, w = _missing_integrals(eps, sig, form, r_inner, r_cut)
            energy += 2.0 * math.pi * types.volume * rho[i] * rho[j] * e
            pressure += -2.0 * math.pi / 3.0 * rho[i] * rho[j] * w
    return energy, pressure * NKTV2P


def density_shift(pressure_missing_atm: float, compressibility_per_pa: float) -> float:
    """Δρ/ρ of a form relative to the full potential, to first order: β_T ΔP (negative for missing attraction)."""
    return compressibility_per_pa * pressure_missing_atm * 101325.0
