"""Vibrational density of states from velocities, and the quantum correction of the classical heat capacity.

Classical MD gives every vibrational degree of freedom k_B of heat capacity; a mode of frequency ν contributes
k_B W(u), u = hν/(k_B T), with the Einstein function W(u) = u² eᵘ/(eᵘ − 1)² (→ 1 for slow modes, → 0 for C–H
stretches at 300 K). In the harmonic approximation the correction is the classical spectrum weighted by W − 1
(Berens, Mackay, White, Wilson, J. Chem. Phys. 79, 2375 (1983)):

    ΔC = k_B ∫ S(ν) [W(hν/k_BT) − 1] dν,   S(ν) = (4 / k_BT) ∫₀^∞ Σ_j m_j ⟨v_j(0)·v_j(t)⟩ cos(2πνt) dt,

where S, the density of states from the mass-weighted velocity autocorrelation, integrates to the number of
degrees of freedom (Σ m⟨v²⟩/k_BT). The same ΔC corrects C_p and C_v (the harmonic correction does not depend on
volume). Units: velocities in Å/fs, masses in g/mol, time in fs, frequencies in THz.
"""

from __future__ import annotations

import numpy as np

H = 6.62607015e-34  # J s
KB = 1.380649e-23  # J/K
AVOGADRO = 6.02214076e23  # 1/mol
THZ_TO_CM1 = 1e12 / 2.99792458e10  # 1 THz in cm^-1 (33.356)
# m v² of one g/mol atom at 1 Å/fs, in J: 1e-3 kg/mol / N_A × (1e5 m/s)²
MV2_TO_J = 1e-3 / AVOGADRO * 1e10


def einstein(u: np.ndarray | float) -> np.ndarray | float:
    """W(u) = u² eᵘ/(eᵘ − 1)², the heat capacity of a quantum harmonic oscillator in units of k_B (1 at u = 0)."""
    u = np.asarray(u, dtype=float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        half = u / 2.0
        value = (half / np.sinh(half)) ** 2  # the same function, without overflow
    return np.where(u < 1e-8, 1.0, np.nan_to_num(value, nan=0.0))


def velocity_autocorrelation(velocities: np.ndarray, masses: np.ndarray, lags: int) -> np.ndarray:
    """Σ_j m_j ⟨v_j(0)·v_j(t)⟩ over all time origins for t = 0 … lags−1 frames, in J (from Å/fs and g/mol).

    ``velocities``: (frames, atoms, 3). Computed with zero-padded FFTs, atom by atom in chunks.
    """
    v = np.asarray(velocities, dtype=float)
    frames = len(v)
    if v.ndim != 3 or v.shape[2] != 3 or v.shape[1] != len(masses):
        raise ValueError(f"velocities of shape {v.shape} for {len(masses)} atoms: expected (frames, atoms, 3)")
    if not 1 <= lags <= frames:
        raise ValueError(f"lags {lags}: expected 1 … {frames} (the number of frames)")
    size = 1 << int(np.ceil(np.log2(2 * frames)))
    total = np.zeros(lags)
    for start in range(0, v.shape[1], 256):
        block = v[:, start:start + 256, :] * np.sqrt(np.asarray(masses[start:start + 256], dtype=float))[None, :, None]
        spectrum = np.fft.rfft(block, n=size, axis=0)
        corr = np.fft.irfft(spectrum * spectrum.conj(), n=size, axis=0)[:lags]
        total += corr.sum(axis=(1, 2))
    return total / (frames - np.arange(lags)) * MV2_TO_J


def density_of_states(dt_fs: float, velocities: np.ndarray, masses: np.ndarray, temperature: float,
                      lags: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (THz) and S(ν) (degrees of freedom per THz) from velocities sampled every ``dt_fs``.

    The autocorrelation is taken over ``lags`` frames (default a quarter of the run) and tapered by a Hann window
    to its end; S integrates to Σ m⟨v²⟩/(k_B T).
    """
    lags = lags or max(2, len(velocities) // 4)
    taper = np.cos(0.5 * np.pi * np.arange(lags) / lags) ** 2  # Hann half-window: 1 at t = 0, → 0 at the end
    corr = velocity_autocorrelation(velocities, masses, lags) * taper
    weights = np.full(lags, 2.0)
    weights[0] = 1.0
    # one-sided cosine transform on the grid ν_k = k / (2 lags dt): S_k = (4/kT) dt [C_0/2 + Σ_n C_n cos(π k n/lags)]
    n = np.arange(lags)
    freq = np.arange(lags + 1) / (2.0 * lags * dt_fs * 1e-15)  # Hz
    cosines = np.cos(np.pi * np.outer(np.arange(lags + 1), n) / lags)
    s_hz = 2.0 / (KB * temperature) * dt_fs * 1e-15 * cosines @ (weights * corr)
    return freq / 1e12, s_hz * 1e12


def quantum_correction(freq_thz: np.ndarray, dos: np.ndarray, temperature: float) -> float:
    """ΔC = k_B ∫ S(ν)[W(hν/k_BT) − 1] dν in J/K (per the system the velocities came from); negative."""
    u = H * np.asarray(freq_thz) * 1e12 / (KB * temperature)
    return float(KB * np.trapezoid(np.asarray(dos) * (einstein(u) - 1.0), freq_thz))


def degrees_of_freedom(freq_thz: np.ndarray, dos: np.ndarray) -> float:
    """∫ S(ν) dν: the degrees of freedom the spectrum holds."""
    return float(np.trapezoid(dos, freq_thz))


def specific_correction(dt_fs: float, velocities: np.ndarray, masses: np.ndarray, temperature: float,
                        lags: int | None = None) -> dict[str, float | np.ndarray]:
    """The quantum correction of the specific heat, ΔC/m in J/(kg K), from the velocities of a set of atoms
    (``masses`` in g/mol) sampled every ``dt_fs``: what is added to the classical Cp (and Cv) of the material.

    ``stderr`` is half the difference of the corrections of the first and the second half of the atoms (by index:
    whole chains, where the atoms are numbered chain by chain), the standard error of their mean. Returns also the
    spectrum (``frequency`` THz, ``dos``), the degrees of freedom it holds, the atoms and frames used."""
    v, m = np.asarray(velocities, dtype=float), np.asarray(masses, dtype=float)
    half = len(m) // 2
    if half < 1 or len(v) < 8:
        raise ValueError(f"{len(m)} atoms and {len(v)} frames: need at least 2 atoms and 8 frames")

    def per_mass(part: slice) -> tuple[float, np.ndarray, np.ndarray]:
        freq, dos = density_of_states(dt_fs, v[:, part], m[part], temperature, lags)
        kg = float(m[part].sum()) * 1e-3 / AVOGADRO
        return quantum_correction(freq, dos, temperature) / kg, freq, dos

    value, freq, dos = per_mass(slice(None))
    first, second = per_mass(slice(0, half))[0], per_mass(slice(half, None))[0]
    return {"value": value, "stderr": abs(first - second) / 2.0, "frequency": freq, "dos": dos,
            "degrees_of_freedom": degrees_of_freedom(freq, dos), "atoms": len(m), "frames": len(v)}
