"""Equilibrium properties from MD time series (LAMMPS ``units real``), with block-averaged standard errors.

Inputs are LAMMPS ``units real`` quantities: T in K, P in atm, V in Å³, energies in kcal/mol (the total of the
system, i.e. per mole of systems), time in fs, mass in g/mol, dipole moments in e·Å, lengths in Å. Results are
SI-friendly: density g/cm³, heat capacities J/(kg K), compressibilities 1/Pa, bulk moduli Pa, thermal expansion 1/K,
self-diffusion m²/s, Rg Å, dielectric constants, refractive index and nematic order dimensionless.

NPT fluctuation formulas (Allen & Tildesley, *Computer Simulation of Liquids*, 2nd ed., §2.5; as used by RadonPy,
Hayashi et al., npj Comput. Mater. 8, 222 (2022)), with H = E_total + P·V and m the total mass:

    Cp  = Var(H) / (m kB T²)             β_T = Var(V) / (<V> kB T)          α_V = Cov(V, H) / (<V> kB T²)
    Cv  = Cp − <V> T α_V² / (β_T m)      β_S = β_T − <V> T α_V² / (m Cp)    K_T = 1/β_T, K_S = 1/β_S, α_L = α_V/3

Variances and covariances are population moments (1/N). P in H is the *imposed* (barostat) pressure: the
instantaneous virial pressure fluctuates by hundreds of atm, and its P·V term would swamp the fluctuations of H (for
this reason a LAMMPS ``enthalpy`` column, which uses the instantaneous pressure, is only a fallback).

The formulas hold for fluctuations about a stationary mean. A cell that is still relaxing adds its trend to the
variances: a PE cell whose density rose by 3 % over a 200 ps production gave Cp 27 % and β_T 70 % high. So V and H
are taken less their least-squares linear trend in time (:func:`detrended`, the mean kept) before the fluctuation
properties are computed; on a stationary run this changes nothing beyond noise, and the entries are flagged
``drift_removed`` where the trend carried more than :data:`DRIFT_SHARE` of the variance of V or H.

Standard errors: a series is cut into ``nblocks`` contiguous equal blocks (the oldest N mod nblocks samples are
dropped). For a mean, SE = SD(block means)/√(nblocks − 1) with the population SD. For a derived (fluctuation)
property the value is computed from the whole series, and SE = SD(the property computed in each block)/√(nblocks − 1).
The self-diffusion coefficient is the exception: its blocks are groups of chains (see :func:`self_diffusion`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

# CODATA 2018 exact / recommended constants
KB = 1.380649e-23  # J/K
AVOGADRO = 6.02214076e23  # 1/mol
KCAL = 4184.0  # J/kcal
ATM = 101325.0  # Pa
EPS0 = 8.8541878128e-12  # F/m
E_CHARGE = 1.602176634e-19  # C
BOHR = 0.529177210903  # Å
KB_KCAL = KB * AVOGADRO / KCAL  # kcal/(mol K), 0.0019872043
KCAL_MOL_TO_J = KCAL / AVOGADRO  # one kcal/mol of systems, in J per system
ATM_A3_TO_KCAL_MOL = ATM * 1e-30 / KCAL_MOL_TO_J  # atm·Å³ -> kcal/mol, 1.4583e-5

# Production-run convergence criteria, after RadonPy's defaults (Hayashi et al. 2022; RadonPy 0.2
# ``Equilibration_analyze``): the standard deviation of the simple moving average over the last part of the run must
# not exceed ``limit`` × |mean| (relative) or ``limit`` (absolute, kcal/mol). RadonPy states the vdW limit as
# 30 kJ/mol; here 30/4.184 kcal/mol. Rg: the largest per-chain standard deviation in time ≤ 1 % of the mean Rg.
# The "precise" protocol uses these; a protocol may override any entry or disable it with None.
CONVERGENCE_THRESHOLDS: dict[str, dict[str, Any]] = {
    "etotal": {"limit": 5e-4, "relative": True},
    "ke": {"limit": 5e-4, "relative": True},
    "ebond": {"limit": 1e-3, "relative": True},
    "eangle": {"limit": 1e-3, "relative": True},
    "edihed": {"limit": 2e-3, "relative": True},
    "elong": {"limit": 1e-3, "relative": True},
    "density": {"limit": 1e-3, "relative": True},
    "evdwl": {"limit": 30.0 / 4.184, "relative": False},
    "rg": {"limit": 0.01, "relative": True},
}


# ---------------------------------------------------------------------------------------------------------------
# Block statistics
# ---------------------------------------------------------------------------------------------------------------

def block_slices(n: int, nblocks: int) -> list[slice]:
    """``nblocks`` contiguous equal slices of a length-``n`` series; the first ``n mod nblocks`` samples are dropped."""
    if nblocks < 2 or n < nblocks:
        raise ValueError(f"need at least 2 blocks and one sample per block (n={n}, nblocks={nblocks})")
    size = n // nblocks
    start = n - size * nblocks
    return [slice(start + i * size, start + (i + 1) * size) for i in range(nblocks)]


def block_average(x: np.ndarray, nblocks: int | None = 5) -> tuple[float, float]:
    """Mean of ``x`` and its standard error, SD(block means)/√(nblocks − 1).

    ``nblocks=None`` picks the block size by Flyvbjerg–Petersen reblocking (see :func:`reblocking_stderr`).
    """
    x = np.asarray(x, dtype=float)
    if nblocks is None:
        return float(x.mean()), reblocking_stderr(x)[0]
    means = np.array([x[s].mean() for s in block_slices(len(x), nblocks)])
    return float(means.mean()), float(means.std() / np.sqrt(nblocks - 1))


def block_estimate(func: Callable[..., float], *series: np.ndarray, nblocks: int = 5) -> tuple[float, float]:
    """``func(*series)`` on the whole series and its SE from the spread of ``func`` over the blocks."""
    arrays = [np.asarray(s, dtype=float) for s in series]
    values = np.array([func(*(a[s] for a in arrays)) for s in block_slices(len(arrays[0]), nblocks)])
    return float(func(*arrays)), float(values.std() / np.sqrt(nblocks - 1))


def block_estimates(func: Callable[..., dict[str, float]], *series: np.ndarray, nblocks: int = 5
                    ) -> dict[str, tuple[float, float]]:
    """:func:`block_estimate` for a ``func`` that returns several named values."""
    arrays = [np.asarray(s, dtype=float) for s in series]
    whole = func(*arrays)
    per_block = [func(*(a[s] for a in arrays)) for s in block_slices(len(arrays[0]), nblocks)]
    return {k: (float(v), float(np.std([b[k] for b in per_block]) / np.sqrt(nblocks - 1))) for k, v in whole.items()}


def reblocking(x: np.ndarray) -> list[tuple[int, float]]:
    """Flyvbjerg–Petersen reblocking (J. Chem. Phys. 91, 461 (1989)): (block size, SE estimate) per level.

    Level k averages pairs of level k−1; SE_k = √(Var_k/(n_k − 1)). Levels stop at 4 blocks.
    """
    x = np.asarray(x, dtype=float)
    levels = []
    size = 1
    while len(x) >= 4:
        levels.append((size, float(np.sqrt(x.var() / (len(x) - 1)))))
        half = len(x) // 2
        x = 0.5 * (x[0:2 * half:2] + x[1:2 * half:2])
        size *= 2
    return levels


def reblocking_stderr(x: np.ndarray) -> tuple[float, int, bool]:
    """SE of the mean at the plateau of the reblocking curve: (SE, block size, plateau found).

    The plateau is the smallest block size B with B³ > 2 N (SE_B/SE_1)⁴ (Lee et al., Phys. Rev. E 83, 066706
    (2011)); without one (series too short for its correlation time) the largest SE estimate is returned.
    """
    levels = reblocking(x)
    if not levels:
        raise ValueError("reblocking needs at least 4 samples")
    n, se0 = len(x), levels[0][1]
    for size, se in levels:
        if se0 == 0.0 or size**3 > 2 * n * (se / se0) ** 4:
            return se, size, True
    size, se = max(levels, key=lambda level: level[1])
    return se, size, False


# ---------------------------------------------------------------------------------------------------------------
# NPT fluctuation properties
# ---------------------------------------------------------------------------------------------------------------

def enthalpy(etotal: np.ndarray, vol: np.ndarray, press: float | np.ndarray) -> np.ndarray:
    """H = E_total + P·V in kcal/mol from E_total (kcal/mol), V (Å³) and P (atm)."""
    return np.asarray(etotal, dtype=float) + np.asarray(press, dtype=float) * np.asarray(vol) * ATM_A3_TO_KCAL_MOL


def density(mass: float, vol: np.ndarray | float) -> np.ndarray | float:
    """Density (g/cm³) of ``mass`` (g/mol) in volume ``vol`` (Å³)."""
    return mass / AVOGADRO / (np.asarray(vol, dtype=float) * 1e-24)


def _mass_kg(mass: float) -> float:
    return mass / AVOGADRO / 1000.0


def _cov(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - a.mean()) * (b - b.mean())))


def heat_capacity_p(enthalpy: np.ndarray, temp: float, mass: float) -> float:
    """Isobaric specific heat Cp = Var(H)/(m kB T²) in J/(kg K); H in kcal/mol, T in K, mass in g/mol."""
    h = np.asarray(enthalpy, dtype=float) * KCAL_MOL_TO_J
    return float(h.var() / (_mass_kg(mass) * KB * temp**2))


def isothermal_compressibility(vol: np.ndarray, temp: float) -> float:
    """β_T = Var(V)/(<V> kB T) in 1/Pa; V in Å³."""
    v = np.asarray(vol, dtype=float) * 1e-30
    return float(v.var() / (v.mean() * KB * temp))


def thermal_expansion(vol: np.ndarray, enthalpy: np.ndarray, temp: float) -> float:
    """Volumetric α_V = Cov(V, H)/(<V> kB T²) in 1/K; V in Å³, H in kcal/mol."""
    v = np.asarray(vol, dtype=float) * 1e-30
    h = np.asarray(enthalpy, dtype=float) * KCAL_MOL_TO_J
    return float(_cov(v, h) / (v.mean() * KB * temp**2))


def fluctuation_properties(vol: np.ndarray, enthalpy: np.ndarray, temp: float, mass: float) -> dict[str, float]:
    """All NPT fluctuation properties (see the module docstring) from V (Å³) and H (kcal/mol) series."""
    cp = heat_capacity_p(enthalpy, temp, mass)
    beta_t = isothermal_compressibility(vol, temp)
    alpha = thermal_expansion(vol, enthalpy, temp)
    v_mean, m = float(np.mean(vol)) * 1e-30, _mass_kg(mass)
    cv = cp - v_mean * temp * alpha**2 / (beta_t * m) if beta_t > 0 else float("nan")
    beta_s = beta_t - v_mean * temp * alpha**2 / (m * cp) if cp > 0 else float("nan")
    return {
        "heat_capacity_cp": cp,
        "heat_capacity_cv": cv,
        "isothermal_compressibility": beta_t,
        "isentropic_compressibility": beta_s,
        "isothermal_bulk_modulus": _inverse(beta_t),
        "isentropic_bulk_modulus": _inverse(beta_s),
        "volumetric_thermal_expansion": alpha,
        "linear_thermal_expansion": alpha / 3.0,
    }


DRIFT_SHARE = 0.05  # the trend's share of Var(V) or Var(H) above which the entries say it was removed


def detrended(x: np.ndarray, time: np.ndarray | None = None) -> np.ndarray:
    """``x`` less its least-squares linear trend in ``time`` (default the sample index); its mean is kept."""
    x = np.asarray(x, dtype=float)
    t = np.arange(len(x), dtype=float) if time is None else np.asarray(time, dtype=float)
    t = t - t.mean()
    return x - t * (t @ (x - x.mean())) / (t @ t) if t @ t > 0 else x


def _inverse(x: float) -> float:
    return 1.0 / x if x != 0 else float("inf")


# ---------------------------------------------------------------------------------------------------------------
# Transport, structure, dielectric and optical properties
# ---------------------------------------------------------------------------------------------------------------

def _uniform_step(time: np.ndarray, frames: int) -> float:
    t = np.asarray(time, dtype=float)
    if t.ndim != 1 or len(t) != frames or frames < 4:
        raise ValueError(f"need a 1-D time axis of the {frames} frames (at least 4)")
    steps = np.diff(t)
    dt = float(steps.mean())
    if not dt > 0 or np.max(np.abs(steps - dt)) > 1e-6 * dt:
        raise ValueError("the time axis must be increasing and evenly spaced")
    return dt


def _drift_removed(positions: np.ndarray, masses: np.ndarray | None) -> np.ndarray:
    """Positions relative to the (mass-weighted) mean chain COM of each frame, i.e. the system's COM."""
    if positions.shape[1] < 2:
        raise ValueError("drift removal needs at least 2 chains (one chain relative to itself does not move)")
    w = np.ones(positions.shape[1]) if masses is None else np.asarray(masses, dtype=float)
    if w.shape != (positions.shape[1],) or not np.all(w > 0):
        raise ValueError("masses: one positive mass per chain")
    return positions - np.einsum("fcd,c->fd", positions, w / w.sum())[:, None, :]


def _msd_fft(x: np.ndarray) -> np.ndarray:
    """Every-origin MSD of the columns of ``x`` (frames, columns): (1/(N−m)) Σ_k (x_{k+m} − x_k)² for m = 0..N−1.

    Σ_k (x_{k+m} − x_k)² = Σ_k (x_k² + x_{k+m}²) − 2 Σ_k x_k x_{k+m}: the first sum from cumulative sums of x², the
    second (the autocorrelation) by FFT with zero padding to ≥ 2N (Wiener–Khinchin; the MSD-by-FFT scheme of
    Kneller et al., Comput. Phys. Commun. 91, 191 (1995); Calandrini et al., JDN 12, 201 (2011)). O(N log N).
    """
    n = len(x)
    x = x - x[0]  # the MSD is translation invariant; this limits round-off (and keeps a still column at 0)
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(x, nfft, axis=0)
    acf = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, nfft, axis=0)[:n]
    cum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x**2, axis=0)])  # cum[j] = Σ_{k<j} x_k²
    lags = np.arange(n)
    squares = cum[n - lags] + (cum[n] - cum[lags])  # Σ_{k=0}^{N−1−m} x_k² + Σ_{k=m}^{N−1} x_k²
    msd = np.maximum(squares - 2.0 * acf, 0.0) / (n - lags)[:, None]
    msd[0] = 0.0  # exactly, not round-off
    return msd


def _msd_strided(x: np.ndarray, stride: int) -> np.ndarray:
    """MSD of the columns of ``x`` with time origins 0, stride, 2·stride, ... (direct sum, vectorised per origin)."""
    n = len(x)
    total = np.zeros_like(x)
    count = np.zeros(n)
    for k in range(0, n, stride):
        total[: n - k] += (x[k:] - x[k]) ** 2
        count[: n - k] += 1
    return total / count[:, None]


def msd_multiple_origins(time: np.ndarray, positions: np.ndarray, *, origin_stride: int = 1,
                         remove_drift: bool = True, masses: np.ndarray | None = None, per_chain: bool = False
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Chain centre-of-mass MSD averaged over time origins (and chains), as a function of the lag time.

    MSD(τ_m) = <|r_i(t_k + τ_m) − r_i(t_k)|²> over chains i and origins t_k (Allen & Tildesley, 2nd ed., §8.7).
    ``time``: (frames,) evenly spaced, fs; ``positions``: unwrapped chain COMs (frames, chains, 3), Å.
    ``origin_stride``: frames between origins; 1 = every frame (by FFT, O(N log N)), ≥ frames = a single origin.
    ``remove_drift``: first subtract the system's COM, the mean of the chain COMs (weighted by ``masses``, one per
    chain, when given), so that a barostat or momentum drift does not count as diffusion. With momentum
    conserved this changes nothing; for independent walkers it lowers the MSD by the factor 1 − 1/N_chains
    (equal masses), a finite-size effect of the same kind as the zero-total-momentum constraint of MD.
    Returns (lag in fs, MSD in Å²): MSD of shape (lags,), or (lags, chains) with ``per_chain``.
    """
    r = np.asarray(positions, dtype=float)
    if r.ndim != 3 or r.shape[2] != 3:
        raise ValueError(f"positions must be (frames, chains, 3), got shape {r.shape}")
    frames, chains = r.shape[:2]
    dt = _uniform_step(time, frames)
    if origin_stride < 1:
        raise ValueError(f"origin_stride must be >= 1, got {origin_stride}")
    if remove_drift:
        r = _drift_removed(r, masses)
    columns = r.reshape(frames, chains * 3)
    if origin_stride == 1:
        chunk = max(1, int(4e6 // (frames * 3)) * 3)  # bound the FFT work arrays to a few ×10 MB
        msd = np.concatenate([_msd_fft(columns[:, i:i + chunk]) for i in range(0, columns.shape[1], chunk)], axis=1)
    else:
        msd = _msd_strided(columns, origin_stride)
    msd = msd.reshape(frames, chains, 3).sum(axis=2)
    return np.arange(frames) * dt, (msd if per_chain else msd.mean(axis=1))


# MSD ∝ t^β with β below this bound (by more than 2 SE) is not Fickian diffusion: see :func:`self_diffusion`.
SUBDIFFUSIVE_EXPONENT = 0.9


def self_diffusion(time: np.ndarray, positions: np.ndarray, start: float = 0.1, end: float = 0.5, nblocks: int = 5,
                   *, origin_stride: int = 1, remove_drift: bool = True, masses: np.ndarray | None = None
                   ) -> dict[str, Any]:
    """Self-diffusion coefficient of the chains from the multiple-origin COM MSD (:func:`msd_multiple_origins`).

    Over the lag window [``start``, ``end``] × the longest lag (lag 0 excluded): D = slope/6 of a least-squares line
    MSD = 6 D τ + c (Einstein relation; the intercept absorbs the short-time regime), and the exponent β of
    MSD ∝ τ^β, the slope of log MSD against log τ. The default window ends at half the run: beyond it fewer than
    half the origins contribute and the MSD is poorly averaged.

    Standard errors of D and β: the chains are cut into ``nblocks`` groups (at most one chain each), D and β are
    fitted to each group's MSD over the same window, SE = SD(group values)/√(groups − 1). Chains, not time blocks,
    are the independent samples: a time block is shorter than the lag window, so it would fit other lags — and,
    unless the motion is Fickian, another D.

    Flags: ``non_positive_msd_slope`` (D ≤ 0: no diffusion seen); ``subdiffusive`` when β + 2 SE(β) < 0.9 (β < 0.9
    without an SE): the MSD is then clearly sublinear (caged, glassy or Rouse-like motion, Metzler & Klafter,
    Phys. Rep. 339, 1 (2000)) and D an apparent, window-dependent number — with β = 0.9 the local slope already
    falls by 5^−0.1 ≈ 15 % across a 0.1–0.5 window. Returns value and stderr (m²/s), unit, window (fs),
    exponent, exponent_stderr (None when undefined) and flags.
    """
    if not 0.0 <= start < end <= 1.0:
        raise ValueError(f"need 0 <= start < end <= 1, got start={start}, end={end}")
    lag, msd = msd_multiple_origins(time, positions, origin_stride=origin_stride, remove_drift=remove_drift,
                                    masses=masses, per_chain=True)
    t0, t1 = start * lag[-1], end * lag[-1]
    sel = (lag >= t0) & (lag <= t1) & (lag > 0)
    if sel.sum() < 3:
        raise ValueError("fewer than 3 MSD points in the fit window")
    tau, per_chain = lag[sel], msd[sel]
    groups = np.array_split(np.arange(per_chain.shape[1]), min(nblocks, per_chain.shape[1]))
    fits = [_msd_fit(tau, per_chain[:, g].mean(axis=1)) for g in groups]
    slope, beta = _msd_fit(tau, per_chain.mean(axis=1))
    slope_se = _spread([f[0] for f in fits])
    beta_se = _spread([f[1] for f in fits]) if beta is not None and all(f[1] is not None for f in fits) else None
    flags = ["non_positive_msd_slope"] if not slope > 0 else []
    if beta is not None and beta + 2.0 * (beta_se or 0.0) < SUBDIFFUSIVE_EXPONENT:
        flags.append("subdiffusive")
    to_si = 1e-20 / 1e-15 / 6.0  # Å²/fs -> m²/s, and the 1/6
    return {"value": slope * to_si, "stderr": None if slope_se is None else slope_se * to_si, "unit": "m^2/s",
            "window": (float(t0), float(t1)), "exponent": beta, "exponent_stderr": beta_se, "flags": flags}


def _msd_fit(tau: np.ndarray, msd: np.ndarray) -> tuple[float, float | None]:
    """Slope of the line through (τ, MSD) and the log–log slope β (None unless every MSD > 0)."""
    slope = float(np.polyfit(tau, msd, 1)[0])
    beta = float(np.polyfit(np.log(tau), np.log(msd), 1)[0]) if np.all(msd > 0) else None
    return slope, beta


def _spread(values: Sequence[float]) -> float | None:
    return float(np.std(values) / np.sqrt(len(values) - 1)) if len(values) >= 2 else None


def radius_of_gyration(coords: np.ndarray, masses: np.ndarray, chains: np.ndarray) -> np.ndarray:
    """Mass-weighted radius of gyration (Å) of each chain from unwrapped coordinates; ``chains`` labels atoms."""
    coords, masses, chains = np.asarray(coords, float), np.asarray(masses, float), np.asarray(chains)
    out = []
    for label in np.unique(chains):
        sel = chains == label
        x, w = coords[sel], masses[sel]
        centre = w @ x / w.sum()
        out.append(np.sqrt(w @ np.sum((x - centre) ** 2, axis=1) / w.sum()))
    return np.array(out)


def rg_statistics(rg: np.ndarray, nblocks: int = 5) -> dict[str, float]:
    """Rg from a (frames, chains) series: mean over frames and chains with its block SE (over frames).

    ``rel_sd_max``: the largest per-chain standard deviation in time divided by the mean (RadonPy's convergence
    measure); ``chain_rel_sd``: the spread of the time-averaged Rg between chains divided by the mean.
    """
    rg = np.asarray(rg, dtype=float)
    rg = rg[:, None] if rg.ndim == 1 else rg
    mean, se = block_average(rg.mean(axis=1), nblocks)
    return {"value": mean, "stderr": se, "rel_sd_max": float(rg.std(axis=0).max() / mean),
            "chain_rel_sd": float(rg.mean(axis=0).std() / mean)}


def dielectric_orientational(dipole: np.ndarray, vol: float, temp: float) -> float:
    """ε = 1 + (<M²> − <M>²)/(3 ε0 V kB T) for conducting (tin-foil) boundaries, as with Ewald sums.

    ``dipole``: (frames, 3) total dipole moment of the box in e·Å; ``vol`` the mean volume in Å³; T in K.
    """
    m = np.asarray(dipole, dtype=float) * E_CHARGE * 1e-10
    fluct = float(np.sum(m.var(axis=0)))  # <M·M> − <M>·<M>
    return 1.0 + fluct / (3.0 * EPS0 * vol * 1e-30 * KB * temp)


def nematic_order(vectors: np.ndarray) -> float:
    """Largest eigenvalue of Q = <3/2 u u − 1/2 I> over the unit vectors u of ``vectors`` (N, 3).

    1 for perfect alignment; for N isotropic random vectors it is positive and of order 1/√N.
    """
    v = np.asarray(vectors, dtype=float)
    norms = np.linalg.norm(v, axis=1)
    if np.any(norms == 0):
        raise ValueError("zero-length vector")
    u = v / norms[:, None]
    q = 1.5 * (u.T @ u) / len(u) - 0.5 * np.eye(3)
    return float(np.linalg.eigvalsh(q)[-1])


def bohr3_to_angstrom3(alpha: float | np.ndarray) -> float | np.ndarray:
    """Polarizability from atomic units (bohr³) to Å³."""
    return np.multiply(alpha, BOHR**3)


def refractive_index(polarizability: float | Sequence[float], density: float, repeat_mass: float | Sequence[float],
                     fractions: Sequence[float] | None = None) -> float:
    """Lorentz–Lorenz: (n² − 1)/(n² + 2) = (4π/3) (N/V) α, N/V the number density of repeat units.

    ``polarizability``: isotropic polarizability of a repeat unit (Å³; see :func:`bohr3_to_angstrom3`), ``density``
    in g/cm³, ``repeat_mass`` the molar mass of the repeat unit without end caps (g/mol). For a copolymer give one
    α_i and M_i per repeat unit and their mole fractions x_i: (N/V) α = ρ N_A Σ x_i α_i / Σ x_i M_i.
    """
    alpha = np.atleast_1d(np.asarray(polarizability, dtype=float))
    mass = np.atleast_1d(np.asarray(repeat_mass, dtype=float))
    x = np.full(len(alpha), 1.0 / len(alpha)) if fractions is None else np.asarray(fractions, dtype=float)
    x = x / x.sum()
    phi = 4.0 * np.pi / 3.0 * density * AVOGADRO * 1e-24 * float(x @ alpha) / float(x @ mass)
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"Lorentz–Lorenz factor {phi:.3f} outside [0, 1): polarizability or density wrong")
    return float(np.sqrt((1.0 + 2.0 * phi) / (1.0 - phi)))


def dielectric_constant(eps_orientational: float, n: float) -> float:
    """Static dielectric constant ε = ε_orientational − 1 + n² (electronic part from the refractive index)."""
    return eps_orientational - 1.0 + n**2


# ---------------------------------------------------------------------------------------------------------------
# Convergence check
# ---------------------------------------------------------------------------------------------------------------

def moving_average_sd(x: np.ndarray, length: int) -> float:
    """SD of the ``length``-sample simple moving average over its last ``length`` positions (last 2·length samples)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2 * length:
        raise ValueError(f"need {2 * length} samples, have {len(x)}")
    sma = np.convolve(x[-2 * length + 1:], np.ones(length) / length, mode="valid")
    return float(sma.std())


def _merged_thresholds(overrides: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    merged = {k: dict(v) for k, v in CONVERGENCE_THRESHOLDS.items()}
    for key, value in (overrides or {}).items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping):
            merged[key] = {"relative": True, **merged.get(key, {}), **value}
        else:
            merged[key] = {"relative": True, **merged.get(key, {}), "limit": float(value)}
    return merged


def _relative(sd: float, mean: float) -> float:
    if mean != 0:
        return sd / abs(mean)
    return 0.0 if sd == 0 else float("inf")


def _check(value: float, limit: float, relative: bool) -> dict[str, Any]:
    return {"value": value, "threshold": limit, "relative": relative, "pass": bool(value <= limit)}


def check_convergence(series: Mapping[str, np.ndarray], rg_per_chain: np.ndarray | None = None,
                      window: float = 0.5, thresholds: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Is the production run converged? RadonPy-style criteria on the last ``window`` fraction of each series.

    For every quantity in both ``series`` (thermo keys: etotal, ke, ebond, eangle, edihed, elong, density, evdwl) and
    the thresholds (:data:`CONVERGENCE_THRESHOLDS`, updated by ``thresholds``: a number replaces a limit, a dict
    updates an entry, None disables it), with L = window·N samples: value = SD of the L-sample moving average over
    its last L positions, divided by |mean of the last L samples| when relative. Rg (``rg_per_chain`` of shape
    (frames, chains)): value = max over chains of the SD in time over the last window, divided by the mean Rg.
    Returns {"converged", "window", "checks": {name: {"value", "threshold", "relative", "pass"}}}.
    """
    if not 0.0 < window <= 0.5:
        raise ValueError(f"window must be in (0, 0.5], got {window}")
    limits = _merged_thresholds(thresholds)
    checks = {}
    for name, spec in limits.items():
        if name == "rg" or name not in series:
            continue
        x = np.asarray(series[name], dtype=float)
        length = int(window * len(x))
        if length < 2:
            raise ValueError(f"series {name!r} too short for window {window}")
        sd = moving_average_sd(x, length)
        value = _relative(sd, float(x[-length:].mean())) if spec["relative"] else sd
        checks[name] = _check(value, spec["limit"], spec["relative"])
    if rg_per_chain is not None and "rg" in limits:
        rg = np.asarray(rg_per_chain, dtype=float)
        rg = rg[-max(int(window * len(rg)), 2):]
        checks["rg"] = _check(_relative(float(rg.std(axis=0).max()), float(rg.mean())), limits["rg"]["limit"], True)
    return {"converged": all(c["pass"] for c in checks.values()), "window": window, "checks": checks}


# ---------------------------------------------------------------------------------------------------------------
# Everything at once
# ---------------------------------------------------------------------------------------------------------------

UNITS = {
    "density": "g/cm^3", "heat_capacity_cp": "J/(kg K)", "heat_capacity_cv": "J/(kg K)",
    "heat_capacity_cp_quantum": "J/(kg K)", "heat_capacity_cv_quantum": "J/(kg K)",
    "isothermal_compressibility": "1/Pa", "isentropic_compressibility": "1/Pa", "isothermal_bulk_modulus": "Pa",
    "isentropic_bulk_modulus": "Pa", "volumetric_thermal_expansion": "1/K", "linear_thermal_expansion": "1/K",
    "self_diffusion": "m^2/s", "rg": "Angstrom", "dielectric_orientational": "1", "refractive_index": "1",
    "dielectric_constant": "1", "nematic_order": "1",
}


def _entry(name: str, value: float, stderr: float | None, flags: Iterable[str]) -> dict[str, Any]:
    return {"value": float(value), "unit": UNITS[name], "stderr": None if stderr is None else float(stderr),
            "flags": sorted(set(flags))}


def _enthalpy_series(thermo: Mapping[str, np.ndarray], press: float | None) -> np.ndarray | None:
    if "etotal" in thermo and "vol" in thermo:
        p = press if press is not None else float(np.mean(thermo["press"])) if "press" in thermo else 0.0
        return enthalpy(thermo["etotal"], thermo["vol"], p)
    return np.asarray(thermo["enthalpy"], dtype=float) if "enthalpy" in thermo else None


def _physics_flags(name: str, value: float) -> list[str]:
    if name in ("volumetric_thermal_expansion", "linear_thermal_expansion") and value < 0:
        return ["negative_thermal_expansion"]
    if name in ("heat_capacity_cv", "isentropic_compressibility", "isentropic_bulk_modulus") and not value > 0:
        return ["unphysical"]
    return []


def _thermo_properties(thermo: Mapping[str, np.ndarray], mass: float, t: float | None, press: float | None,
                       nblocks: int, flags: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    vol = np.asarray(thermo["vol"], dtype=float) if "vol" in thermo else None
    if "density" in thermo or vol is not None:
        rho = np.asarray(thermo["density"], dtype=float) if "density" in thermo else density(mass, vol)
        out["density"] = _entry("density", *block_average(rho, nblocks), flags)
    h = _enthalpy_series(thermo, press)
    if vol is None or h is None or t is None:
        return out
    if "etotal" not in thermo:  # LAMMPS enthalpy column: instantaneous virial pressure, inflated fluctuations
        flags = [*flags, "enthalpy_from_instantaneous_pressure"]
    time = thermo.get("time")
    steady_v, steady_h = detrended(vol, time), detrended(h, time)
    if any(x.var() > 0 and 1.0 - y.var() / x.var() > DRIFT_SHARE for x, y in ((vol, steady_v), (h, steady_h))):
        flags = [*flags, "drift_removed"]
    for name, (value, se) in block_estimates(lambda v, e: fluctuation_properties(v, e, t, mass), steady_v, steady_h,
                                             nblocks=nblocks).items():
        out[name] = _entry(name, value, se, flags + _physics_flags(name, value))
    return out


def properties(thermo: Mapping[str, np.ndarray], mass: float, *, temp: float | None = None,
               press: float | None = None, nblocks: int = 5, rg: np.ndarray | None = None,
               com: tuple[np.ndarray, np.ndarray] | None = None, chain_masses: np.ndarray | None = None,
               dipole: np.ndarray | None = None,
               nematic_vectors: np.ndarray | None = None, nematic_groups: np.ndarray | None = None,
               polarizability: float | Sequence[float] | None = None,
               repeat_mass: float | Sequence[float] | None = None, fractions: Sequence[float] | None = None,
               flags: Iterable[str] = (), min_samples: int = 100,
               quantum_correction: tuple[float, float] | None = None) -> dict[str, dict[str, Any]]:
    """Every property the inputs allow, as {name: {"value", "unit", "stderr", "flags"}}.

    ``thermo``: LAMMPS thermo columns (step, time, temp, press, vol, density, etotal, ke, pe, ..., enthalpy);
    ``mass``: total mass (g/mol); ``temp``/``press``: the imposed T (K) and P (atm), default the series means.
    Optional: ``rg`` (frames, chains) in Å; ``com`` = (time fs (frames,), unwrapped chain centres of mass Å
    (frames, chains, 3)) for the self-diffusion (:func:`self_diffusion`; its entry also has "exponent" and
    "exponent_stderr"), with ``chain_masses`` (g/mol, per chain) to weight the drift removal; ``dipole``
    (frames, 3) in e·Å; ``nematic_vectors`` (N, 3) or (frames, N, 3), with ``nematic_groups`` (N,) the chain of each
    vector for the error of a single configuration; ``polarizability``/``repeat_mass``/
    ``fractions`` for the Lorentz–Lorenz refractive index. ``flags`` (e.g. "not_converged") are attached to every
    property; "too_few_samples" is added to thermo properties for fewer than ``min_samples`` samples.
    ``quantum_correction``: (ΔC/m, its stderr) in J/(kg K) from the vibrational density of states
    (:func:`aiida_polymer.chem.vdos.specific_correction`): Cp and Cv are then also given corrected
    (``heat_capacity_cp_quantum``, ``heat_capacity_cv_quantum``), beside the classical values.
    """
    common = list(flags)
    n = len(next(iter(thermo.values()))) if thermo else 0
    thermo_flags = common + (["too_few_samples"] if n < min_samples else [])
    t = temp if temp is not None else float(np.mean(thermo["temp"])) if "temp" in thermo else None
    out = _thermo_properties(thermo, mass, t, press, nblocks, thermo_flags) if n >= nblocks else {}
    if com is not None:
        d = self_diffusion(*com, nblocks=nblocks, masses=chain_masses)
        out["self_diffusion"] = {**_entry("self_diffusion", d["value"], d["stderr"], common + d["flags"]),
                                 "exponent": d["exponent"], "exponent_stderr": d["exponent_stderr"]}
    if rg is not None:
        r = rg_statistics(rg, nblocks)
        out["rg"] = _entry("rg", r["value"], r["stderr"], common)
    if nematic_vectors is not None:
        out["nematic_order"] = _nematic_entry(nematic_vectors, nblocks, common, nematic_groups)
    out.update(_dielectric_entries(thermo, out, t, dipole, polarizability, repeat_mass, fractions, nblocks, common))
    if quantum_correction is not None:
        out.update(_quantum_entries(out, *quantum_correction))
    return out


def _quantum_entries(done: Mapping[str, dict[str, Any]], correction: float, stderr: float
                     ) -> dict[str, dict[str, Any]]:
    """Cp and Cv with the harmonic quantum correction added; the errors of the two combined in quadrature."""
    out = {}
    for name in ("heat_capacity_cp", "heat_capacity_cv"):
        entry = done.get(name)
        if entry is None or entry["value"] is None or not np.isfinite(entry["value"]):
            continue
        se = None if entry["stderr"] is None else float(np.hypot(entry["stderr"], stderr))
        out[f"{name}_quantum"] = {**_entry(name, entry["value"] + correction, se,
                                           [*entry["flags"], "harmonic_quantum_correction"]),
                                  "correction": float(correction), "correction_stderr": float(stderr)}
    return out


def _nematic_entry(vectors: np.ndarray, nblocks: int, flags: list[str], groups: np.ndarray | None = None
                   ) -> dict[str, Any]:
    """One configuration: S of all vectors; with ``groups`` (e.g. the chain of each vector) the standard error
    comes from S of up to ``nblocks`` disjoint sets of whole groups (chains are the independent units)."""
    v = np.asarray(vectors, dtype=float)
    if v.ndim == 2:
        value = nematic_order(v)
        labels = np.unique(groups) if groups is not None else np.empty(0)
        if len(labels) < 2:
            return _entry("nematic_order", value, None, flags)
        sets = np.array_split(labels, min(nblocks, len(labels)))
        per_set = np.array([nematic_order(v[np.isin(groups, members)]) for members in sets])
        return _entry("nematic_order", value, float(per_set.std() / np.sqrt(len(per_set) - 1)), flags)
    per_frame = np.array([nematic_order(frame) for frame in v])
    if len(per_frame) < nblocks:
        return _entry("nematic_order", per_frame.mean(), None, flags)
    return _entry("nematic_order", *block_average(per_frame, nblocks), flags)


def _dielectric_entries(thermo: Mapping[str, np.ndarray], done: Mapping[str, dict[str, Any]], temp: float | None,
                        dipole: np.ndarray | None, polarizability: float | Sequence[float] | None,
                        repeat_mass: float | Sequence[float] | None, fractions: Sequence[float] | None,
                        nblocks: int, flags: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    if dipole is not None and "vol" in thermo and temp is not None:
        v = float(np.mean(thermo["vol"]))
        eps, se = block_estimate(lambda mx, my, mz: dielectric_orientational(np.c_[mx, my, mz], v, temp),
                                 *np.asarray(dipole, dtype=float).T, nblocks=nblocks)
        out["dielectric_orientational"] = _entry("dielectric_orientational", eps, se, flags)
    if polarizability is not None and repeat_mass is not None and "density" in done:
        n = refractive_index(polarizability, done["density"]["value"], repeat_mass, fractions)
        out["refractive_index"] = _entry("refractive_index", n, None, flags)
        if "dielectric_orientational" in out:
            eps = out["dielectric_orientational"]
            out["dielectric_constant"] = _entry("dielectric_constant", dielectric_constant(eps["value"], n),
                                                eps["stderr"], flags)
    return out
