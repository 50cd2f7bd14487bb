"""Equilibrium-property formulas, block statistics and the convergence check on series with known answers."""

import numpy as np
import pytest
from scipy.signal import lfilter

from aiida_polymer.chem import analysis as an

NA, KB = 6.02214076e23, 1.380649e-23
J_PER_KCAL_MOL = 4184.0 / NA  # one kcal/mol of systems, in J per system


def _pattern(n: int, kind: str) -> np.ndarray:
    """Zero-mean, unit-variance, mutually orthogonal ±1 patterns of length n (a multiple of 4)."""
    base = {"s": [1, -1, 1, -1], "r": [1, 1, -1, -1]}[kind]
    return np.tile(np.array(base, dtype=float), n // 4)


# --- unit conversions against hand-computed numbers -------------------------------------------------------------

def test_constants():
    kb_kcal, atm_a3 = an.KB_KCAL, an.ATM_A3_TO_KCAL_MOL
    assert kb_kcal == pytest.approx(0.0019872043, abs=1e-10)
    assert atm_a3 == pytest.approx(1.4583972574e-5, rel=1e-9)  # 101325e-30 J × N_A / 4184


def test_enthalpy_adds_pv_in_kcal_per_mol():
    h = an.enthalpy(np.array([-100.0]), np.array([1e5]), 1.0)
    assert h[0] == pytest.approx(-100.0 + 1.4583972574, rel=1e-9)


def test_density_from_mass_and_volume():
    # 602.214076 g/mol is 1e-21 g per system; 1000 Å³ is 1e-21 cm³
    assert an.density(602.214076, 1000.0) == pytest.approx(1.0, rel=1e-12)


# --- fluctuation formulas on series with exact sample moments ---------------------------------------------------

def test_heat_capacity_from_exact_variance():
    h = -5000.0 + 10.0 * _pattern(400, "s")  # Var(H) = 100 (kcal/mol)² exactly
    assert an.heat_capacity_p(h, 300.0, 10000.0) == pytest.approx(233.94116979, rel=1e-8)


def test_isothermal_compressibility_from_exact_variance():
    v = 1e5 + 100.0 * _pattern(400, "s")  # Var(V) = 1e4 Å⁶, <V> = 1e5 Å³
    assert an.isothermal_compressibility(v, 300.0) == pytest.approx(2.41432350534e-11, rel=1e-9)


def test_thermal_expansion_from_exact_covariance():
    v = 1e5 + 100.0 * _pattern(400, "s")
    h = -5000.0 + 10.0 * _pattern(400, "s") + 7.0 * _pattern(400, "r")  # Cov(V, H) = 1000 Å³ kcal/mol
    assert an.thermal_expansion(v, h, 300.0) == pytest.approx(5.5913281499e-5, rel=1e-9)
    assert an.thermal_expansion(v, -h, 300.0) == pytest.approx(-5.5913281499e-5, rel=1e-9)


def test_derived_fluctuation_properties_by_hand():
    n, temp, mass = 400, 300.0, 10000.0
    v = 1e5 + 100.0 * _pattern(n, "s")
    h = -5000.0 + 10.0 * _pattern(n, "s") + 7.0 * _pattern(n, "r")
    var_h, var_v, cov = (10.0**2 + 7.0**2) * J_PER_KCAL_MOL**2, 100.0**2 * 1e-60, 1000.0 * 1e-30 * J_PER_KCAL_MOL
    m, v_mean = mass / NA / 1000.0, 1e5 * 1e-30
    cp = var_h / (m * KB * temp**2)
    beta_t = var_v / (v_mean * KB * temp)
    alpha = cov / (v_mean * KB * temp**2)
    cv = cp - v_mean * temp * alpha**2 / (beta_t * m)
    beta_s = beta_t * cv / cp  # the same as β_T − <V> T α²/(m Cp)
    got = an.fluctuation_properties(v, h, temp, mass)
    expected = {"heat_capacity_cp": cp, "heat_capacity_cv": cv, "isothermal_compressibility": beta_t,
                "isentropic_compressibility": beta_s, "isothermal_bulk_modulus": 1 / beta_t,
                "isentropic_bulk_modulus": 1 / beta_s, "volumetric_thermal_expansion": alpha,
                "linear_thermal_expansion": alpha / 3}
    assert got == pytest.approx(expected, rel=1e-10)


def test_ideal_gas_npt_fluctuations():
    """Monatomic ideal gas in NPT: β_T = 1/P, α_V = 1/T, Cp = (5N/2 + 1) kB/m, Cv = (3N/2) kB/m exactly.

    The volume is Gamma(N+1, kT/P) distributed and the kinetic energy Gamma(3N/2, kT), independently.
    """
    rng = np.random.default_rng(1)
    n_atoms, temp, press_atm, samples = 50, 300.0, 1.0, 2_000_000
    kt_kcal = an.KB_KCAL * temp
    vol = rng.gamma(n_atoms + 1, KB * temp / (press_atm * 101325.0) * 1e30, samples)  # Å³
    ke = rng.gamma(1.5 * n_atoms, kt_kcal, samples)  # kcal/mol
    h = an.enthalpy(ke, vol, press_atm)
    mass = n_atoms * 39.948
    m = mass / NA / 1000.0
    got = an.fluctuation_properties(vol, h, temp, mass)
    assert got["isothermal_compressibility"] == pytest.approx(1 / 101325.0, rel=0.01)
    assert got["volumetric_thermal_expansion"] == pytest.approx(1 / temp, rel=0.01)
    assert got["heat_capacity_cp"] == pytest.approx((2.5 * n_atoms + 1) * KB / m, rel=0.01)
    assert got["heat_capacity_cv"] == pytest.approx(1.5 * n_atoms * KB / m, rel=0.02)
    assert got["isentropic_compressibility"] == pytest.approx(1.5 * n_atoms / (2.5 * n_atoms + 1) / 101325.0,
                                                              rel=0.02)


# --- block statistics -------------------------------------------------------------------------------------------

def test_block_slices_drop_the_oldest_remainder():
    slices = an.block_slices(103, 5)
    assert slices[0] == slice(3, 23) and slices[-1] == slice(83, 103)
    with pytest.raises(ValueError):
        an.block_slices(3, 5)


def test_block_average_by_hand():
    x = np.array([1.0, 3.0, 2.0, 4.0, 6.0, 8.0])  # 3 blocks: means 2, 3, 7
    mean, se = an.block_average(x, 3)
    assert mean == pytest.approx(4.0)
    assert se == pytest.approx(np.std([2.0, 3.0, 7.0]) / np.sqrt(2))
    assert an.block_estimate(np.mean, x, nblocks=3) == pytest.approx((mean, se))


def test_block_stderr_of_white_noise():
    rng = np.random.default_rng(2)
    sigma, n = 2.0, 10_000
    se2 = [an.block_average(rng.normal(5.0, sigma, n))[1] ** 2 for _ in range(400)]
    # mean of 400 SE² estimates with 4 degrees of freedom each: ±3.5 % (1σ)
    assert np.mean(se2) == pytest.approx(sigma**2 / n, rel=0.12)


def _ar1(rng: np.random.Generator, phi: float, n: int, reps: int) -> np.ndarray:
    noise = rng.normal(0.0, 1.0, (reps, n))
    noise[:, 0] /= np.sqrt(1 - phi**2)  # start in the stationary distribution
    return lfilter([1.0], [1.0, -phi], noise, axis=1)


def test_block_stderr_of_correlated_ar1_series():
    phi, n, reps = 0.9, 20_000, 200
    x = _ar1(np.random.default_rng(3), phi, n, reps)
    sigma = 1.0 / np.sqrt(1 - phi**2)
    analytic = sigma * np.sqrt((1 + phi) / (1 - phi)) / np.sqrt(n)
    se = np.array([an.block_average(row)[1] for row in x])
    assert np.sqrt(np.mean(se**2)) == pytest.approx(analytic, rel=0.12)
    assert np.std(x.mean(axis=1)) == pytest.approx(analytic, rel=0.15)  # the generator itself
    naive = x.std(axis=1).mean() / np.sqrt(n)
    assert np.mean(se) > 3.0 * naive  # √19 ≈ 4.4 × the naive SE


def test_reblocking_plateau():
    phi, n = 0.9, 2**17
    x = _ar1(np.random.default_rng(4), phi, n, 1)[0]
    se, size, plateau = an.reblocking_stderr(x)
    analytic = np.sqrt((1 + phi) / (1 - phi) / (1 - phi**2)) / np.sqrt(n)
    assert plateau and size > 10
    assert se == pytest.approx(analytic, rel=0.2)
    assert an.block_average(x, None)[1] == se
    white = np.random.default_rng(5).normal(0.0, 1.0, n)
    assert an.reblocking_stderr(white)[0] == pytest.approx(1 / np.sqrt(n), rel=0.1)


def test_block_estimates_of_a_derived_property():
    rng = np.random.default_rng(6)
    v = 1e5 + 100.0 * rng.normal(size=5000)
    h = -5000.0 + 10.0 * rng.normal(size=5000)
    out = an.block_estimates(lambda a, b: an.fluctuation_properties(a, b, 300.0, 1e4), v, h, nblocks=5)
    value, se = out["isothermal_compressibility"]
    assert value == an.isothermal_compressibility(v, 300.0)
    per_block = [an.isothermal_compressibility(v[s], 300.0) for s in an.block_slices(5000, 5)]
    assert se == pytest.approx(np.std(per_block) / 2.0)


# --- diffusion: multiple-origin chain-COM MSD, D, the MSD exponent ----------------------------------------------

D_TRUE, DT = 1e-4, 1000.0  # Å²/fs (= 1e-9 m²/s), fs between frames


def _walk(rng: np.random.Generator, frames: int, chains: int) -> np.ndarray:
    """Gaussian random walk of chain COMs, (frames, chains, 3) Å: <Δx²> = 2 D dt per step and axis."""
    return np.cumsum(rng.normal(0.0, np.sqrt(2 * D_TRUE * DT), (frames, chains, 3)), axis=0)


def _fbm(rng: np.random.Generator, frames: int, chains: int, hurst: float) -> np.ndarray:
    """Fractional Brownian motion, MSD ∝ t^(2H) exactly, by circulant embedding of fractional Gaussian noise
    (Davies & Harte, Biometrika 74, 95 (1987)): autocovariance γ(k) = (|k+1|^2H − 2|k|^2H + |k−1|^2H)/2."""
    k = np.arange(frames + 1.0)
    gamma = 0.5 * ((k + 1) ** (2 * hurst) - 2 * k ** (2 * hurst) + np.abs(k - 1) ** (2 * hurst))
    eigenvalues = np.fft.fft(np.concatenate([gamma, gamma[-2:0:-1]])).real
    m = len(eigenvalues)
    z = rng.normal(size=(m, chains * 3)) + 1j * rng.normal(size=(m, chains * 3))
    noise = np.fft.fft(np.sqrt(np.maximum(eigenvalues, 0.0) / m)[:, None] * z, axis=0)[:frames].real
    return np.cumsum(noise, axis=0).reshape(frames, chains, 3)


def _direct_msd(r: np.ndarray, stride: int) -> np.ndarray:
    """The definition, lag by lag: mean over origins 0, stride, ... and chains of |r(t0 + τ) − r(t0)|²."""
    n = len(r)
    return np.array([np.mean([np.sum((r[k + m] - r[k]) ** 2, axis=-1).mean() for k in range(0, n - m, stride)])
                     for m in range(n)])


def test_msd_by_fft_equals_the_direct_sum_over_origins():
    rng = np.random.default_rng(20)
    r = 50.0 + _walk(rng, 120, 6)
    t = 500.0 + np.arange(120) * 2.0
    centred = r - r.mean(axis=1, keepdims=True)
    lag, msd = an.msd_multiple_origins(t, r)
    assert lag[0] == 0.0 and lag[-1] == pytest.approx(238.0)
    assert msd == pytest.approx(_direct_msd(centred, 1), rel=1e-10, abs=1e-12)
    assert an.msd_multiple_origins(t, r, origin_stride=7)[1] == pytest.approx(_direct_msd(centred, 7), rel=1e-12)
    single = an.msd_multiple_origins(t, r, origin_stride=1000, per_chain=True)[1]
    assert single == pytest.approx(np.sum((centred - centred[0]) ** 2, axis=2), rel=1e-12, abs=1e-12)
    raw = an.msd_multiple_origins(t, r, remove_drift=False)[1]
    assert raw == pytest.approx(_direct_msd(r, 1), rel=1e-10, abs=1e-12)
    with pytest.raises(ValueError):
        an.msd_multiple_origins(np.r_[t[:-1], t[-1] + 1.0], r)  # uneven sampling
    with pytest.raises(ValueError):
        an.msd_multiple_origins(t, r[:, :1])  # one chain cannot move relative to the system


def test_msd_drift_removal_is_exact_and_mass_weighted():
    rng = np.random.default_rng(21)
    t = np.arange(400) * DT
    r = _walk(rng, 400, 10)
    drift = np.c_[3e-3 * t, 20.0 * np.sin(t / 4e4), -1e-8 * t**2][:, None, :]  # barostat / momentum drift
    _, msd = an.msd_multiple_origins(t, r)
    assert an.msd_multiple_origins(t, r + drift)[1] == pytest.approx(msd, rel=1e-9, abs=1e-9)
    assert an.msd_multiple_origins(t, r + drift, remove_drift=False)[1][-1] > 10 * msd[-1]
    masses = rng.uniform(1e3, 5e3, 10)
    com = np.einsum("fcd,c->fd", r, masses / masses.sum())[:, None, :]
    expected = an.msd_multiple_origins(t, r - com, remove_drift=False)[1]
    assert an.msd_multiple_origins(t, r + drift, masses=masses)[1] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_self_diffusion_of_random_walkers():
    """10⁴ frames × 50 chains, D = 1e-9 m²/s. Removing the system's COM scales the MSD of independent walkers by
    exactly 1 − 1/50; a common drift changes nothing."""
    rng = np.random.default_rng(22)
    t = np.arange(10_000) * DT
    r = _walk(rng, 10_000, 50)
    d = an.self_diffusion(t, r)
    assert d["unit"] == "m^2/s" and d["window"] == pytest.approx((0.1 * t[-1], 0.5 * t[-1]))
    assert abs(d["value"] - 1e-9 * (1 - 1 / 50)) < 3 * d["stderr"]
    assert 0.02 < d["stderr"] / 1e-9 < 0.2
    assert abs(d["exponent"] - 1.0) < max(3 * d["exponent_stderr"], 0.05) and d["exponent_stderr"] < 0.1
    assert d["flags"] == []
    raw = an.self_diffusion(t, r, remove_drift=False)
    assert abs(raw["value"] - 1e-9) < 3 * raw["stderr"]
    drifted = an.self_diffusion(t, r + np.c_[5e-3 * t, 0 * t, 30.0 * np.sin(t / 1e6)][:, None, :])
    assert drifted["value"] == pytest.approx(d["value"], rel=1e-9)
    assert drifted["stderr"] == pytest.approx(d["stderr"], rel=1e-6)


def test_self_diffusion_stderr_matches_scatter_and_multiple_origins_beat_one():
    """30 independent runs (2000 frames × 50 chains): the chain-group SE matches the run-to-run scatter of D,
    and averaging over time origins gives a smaller scatter and a smaller SE than the single-origin MSD."""
    rng = np.random.default_rng(23)
    t = np.arange(2000) * DT
    runs = [_walk(rng, 2000, 50) for _ in range(30)]
    multi = [an.self_diffusion(t, r) for r in runs]
    single = [an.self_diffusion(t, r, origin_stride=len(t)) for r in runs]

    def spread_and_rms_se(fits: list[dict]) -> tuple[float, float]:
        return np.std([f["value"] for f in fits]), np.sqrt(np.mean([f["stderr"] ** 2 for f in fits]))

    (spread, rms_se), (spread_1, rms_se_1) = spread_and_rms_se(multi), spread_and_rms_se(single)
    assert 0.5 < rms_se / spread < 2.0
    assert np.mean([f["value"] for f in multi]) == pytest.approx(1e-9 * (1 - 1 / 50), abs=3 * spread / np.sqrt(30))
    assert spread < 0.85 * spread_1 and rms_se < 0.85 * rms_se_1
    betas = [f["exponent"] for f in multi]
    assert np.mean(betas) == pytest.approx(1.0, abs=0.03)
    assert 0.5 < np.sqrt(np.mean([f["exponent_stderr"] ** 2 for f in multi])) / np.std(betas) < 2.0
    assert not any("subdiffusive" in f["flags"] for f in multi)


def test_fractional_brownian_motion_is_subdiffusive():
    """fBm with H = 0.25: MSD ∝ t^0.5; the exponent is recovered and the motion flagged."""
    rng = np.random.default_rng(24)
    t = np.arange(4096) * DT
    d = an.self_diffusion(t, _fbm(rng, 4096, 50, 0.25))
    assert abs(d["exponent"] - 0.5) < max(3 * d["exponent_stderr"], 0.03) and d["exponent_stderr"] < 0.05
    assert "subdiffusive" in d["flags"] and "non_positive_msd_slope" not in d["flags"]
    normal = an.self_diffusion(t, _fbm(rng, 4096, 50, 0.5))  # H = 1/2 is Brownian motion
    assert abs(normal["exponent"] - 1.0) < 0.1 and normal["flags"] == []


def test_chains_in_a_harmonic_well_are_subdiffusive():
    """Ornstein–Uhlenbeck chains (relaxation time 20 frames): the MSD plateaus at 2<x²> per axis, β ≈ 0."""
    rng = np.random.default_rng(25)
    x = _ar1(rng, np.exp(-1 / 20), 4000, 40 * 3).T.reshape(4000, 40, 3)
    _, msd = an.msd_multiple_origins(np.arange(4000) * DT, x)
    assert msd[2000] == pytest.approx(3 * 2 * (1 - 1 / 40) / (1 - np.exp(-2 / 20)), rel=0.1)
    d = an.self_diffusion(np.arange(4000) * DT, x)
    assert abs(d["exponent"]) < 0.05 and "subdiffusive" in d["flags"]


def test_ballistic_motion_has_exponent_two():
    """x = v t: MSD(τ) = <|v − <v>|²> τ² exactly, so β = 2 and the line through τ² on an even grid has slope
    2 × (mean lag in the window)."""
    rng = np.random.default_rng(26)
    t = np.arange(1000) * DT
    v = rng.normal(0.0, 1e-3, (30, 3))
    d = an.self_diffusion(t, t[:, None, None] * v)
    lags = t[(t >= 0.1 * t[-1]) & (t <= 0.5 * t[-1])]
    v2 = np.mean(np.sum((v - v.mean(axis=0)) ** 2, axis=1))
    assert d["exponent"] == pytest.approx(2.0, abs=1e-9) and d["exponent_stderr"] < 1e-9
    assert d["value"] == pytest.approx(v2 * 2 * lags.mean() / 6 * 1e-5, rel=1e-9)
    assert d["flags"] == []


def test_self_diffusion_without_motion_or_with_a_falling_msd():
    t = np.arange(500) * DT
    frozen = an.self_diffusion(t, np.tile(np.random.default_rng(27).normal(size=(1, 5, 3)), (500, 1, 1)))
    assert frozen["value"] == 0.0 and frozen["exponent"] is None and frozen["flags"] == ["non_positive_msd_slope"]
    phase = np.linspace(0, 2 * np.pi, 8, endpoint=False)[:, None]
    oscillating = 5.0 * np.sin(2 * np.pi * t[:, None, None] / (0.5 * t[-1]) + phase[None]) * np.ones(3)
    d = an.self_diffusion(t, oscillating, start=0.3, end=0.45)  # MSD falls from its peak at half the period
    assert d["value"] < 0 and d["flags"] == ["non_positive_msd_slope", "subdiffusive"]
    with pytest.raises(ValueError):
        an.self_diffusion(t, oscillating, start=0.5, end=0.4)



# --- Rg, dielectric, nematic, refractive index ---------------------------------------------------------------

def test_radius_of_gyration_and_statistics():
    coords = np.array([[0.0, 0, 0], [2.0, 0, 0], [10.0, 0, 0], [10.0, 6.0, 0]])
    rg = an.radius_of_gyration(coords, np.ones(4), np.array([0, 0, 1, 1]))
    assert rg == pytest.approx([1.0, 3.0])
    series = np.c_[10.0 + 0.1 * _pattern(100, "s"), 12.0 + 0.3 * _pattern(100, "r")]
    stats = an.rg_statistics(series)
    assert stats["value"] == pytest.approx(11.0)
    assert stats["rel_sd_max"] == pytest.approx(0.3 / 11.0)
    assert stats["chain_rel_sd"] == pytest.approx(1.0 / 11.0)


def test_dielectric_from_exact_dipole_fluctuation():
    m = np.zeros((400, 3))
    m[:, 0] = 10.0 * _pattern(400, "s")  # <M²> − <M>² = 100 (e Å)²
    m[:, 1] = 3.0  # a constant moment does not count
    assert an.dielectric_orientational(m, 1e5, 300.0) == pytest.approx(3.33316936526, rel=1e-9)
    assert an.dielectric_constant(3.0, 1.5) == pytest.approx(4.25)


def test_nematic_order():
    rng = np.random.default_rng(8)
    axis = np.array([1.0, 2.0, 2.0])
    aligned = axis * rng.uniform(0.5, 2.0, (50, 1)) * rng.choice([-1.0, 1.0], (50, 1))  # head-tail symmetric
    assert an.nematic_order(aligned) == pytest.approx(1.0)
    angles = 2 * np.pi * np.arange(12) / 12
    planar = np.c_[np.cos(angles), np.sin(angles), np.zeros(12)]  # <ux²> = <uy²> = 1/2 -> S = 1/4
    assert an.nematic_order(planar) == pytest.approx(0.25)
    small = np.mean([an.nematic_order(rng.normal(size=(100, 3))) for _ in range(20)])
    large = an.nematic_order(rng.normal(size=(100_000, 3)))
    assert 0 < large < 0.01 < small < 0.2
    with pytest.raises(ValueError):
        an.nematic_order(np.zeros((2, 3)))


def test_lorentz_lorenz_hand_value():
    # (n²−1)/(n²+2) = 1/4 gives n = √2; ρ = 1 g/cm³, M = 100 g/mol: N/V = 6.02214076e-3 Å⁻³,
    # α = 0.25 / (4π/3 · 6.02214076e-3) = 9.9106125277 Å³
    assert an.refractive_index(9.9106125277, 1.0, 100.0) == pytest.approx(np.sqrt(2.0), rel=1e-9)
    assert an.bohr3_to_angstrom3(1.0) == pytest.approx(0.148184711, rel=1e-8)
    assert an.refractive_index(an.bohr3_to_angstrom3(9.9106125277 / 0.14818471147), 1.0, 100.0) == pytest.approx(
        np.sqrt(2.0), rel=1e-9)
    with pytest.raises(ValueError):
        an.refractive_index(100.0, 1.0, 100.0)


def test_lorentz_lorenz_copolymer_is_composition_weighted():
    n = an.refractive_index([8.0, 14.0], 1.1, [80.0, 150.0], [0.25, 0.75])
    assert n == pytest.approx(an.refractive_index(0.25 * 8 + 0.75 * 14, 1.1, 0.25 * 80 + 0.75 * 150), rel=1e-12)


# --- convergence check ------------------------------------------------------------------------------------------

def _flat_series(rng: np.random.Generator, n: int = 20_000) -> dict[str, np.ndarray]:
    means = {"etotal": -5000.0, "ke": 3000.0, "ebond": 800.0, "eangle": 1500.0, "edihed": 900.0, "elong": -2000.0,
             "evdwl": -1200.0, "density": 1.05}
    return {k: m + abs(m) * 0.004 * rng.normal(size=n) for k, m in means.items()}


def test_moving_average_sd_of_a_ramp():
    length = 100
    x = 0.5 * np.arange(1000.0)
    # the moving average of a ramp is a ramp of the same slope: SD over L points = slope·√((L²−1)/12)
    assert an.moving_average_sd(x, length) == pytest.approx(0.5 * np.sqrt((length**2 - 1) / 12))


def test_convergence_passes_on_flat_noisy_series():
    rng = np.random.default_rng(9)
    rg = 15.0 + 0.05 * rng.normal(size=(500, 10))
    out = an.check_convergence(_flat_series(rng), rg)
    assert out["converged"]
    assert set(out["checks"]) == {"etotal", "ke", "ebond", "eangle", "edihed", "elong", "evdwl", "density", "rg"}
    assert out["checks"]["etotal"]["threshold"] == 5e-4 and out["checks"]["evdwl"]["relative"] is False


def test_convergence_fails_on_drift():
    rng = np.random.default_rng(10)
    series = _flat_series(rng)
    series["etotal"] = series["etotal"] * (1 + 0.02 * np.linspace(0, 1, len(series["etotal"])))  # 2 % drift
    out = an.check_convergence(series)
    assert not out["converged"]
    failed = {k for k, c in out["checks"].items() if not c["pass"]}
    assert failed == {"etotal"}
    assert an.check_convergence(series, thresholds={"etotal": 0.1})["converged"]
    assert "etotal" not in an.check_convergence(series, thresholds={"etotal": None})["checks"]


def test_convergence_absolute_vdw_and_rg_criteria():
    rng = np.random.default_rng(11)
    series = _flat_series(rng)
    series["evdwl"] = series["evdwl"] + np.linspace(0.0, 200.0, len(series["evdwl"]))  # ±29 kcal/mol SMA spread
    assert not an.check_convergence(series)["checks"]["evdwl"]["pass"]
    relaxed = an.check_convergence(series, thresholds={"evdwl": {"limit": 100.0}})["checks"]["evdwl"]
    assert relaxed["pass"] and relaxed["relative"] is False and relaxed["value"] == pytest.approx(28.9, rel=0.02)
    rg = 15.0 + 0.05 * rng.normal(size=(500, 10))
    rg[:, 3] = np.linspace(10.0, 14.0, 500)  # one chain still swelling
    check = an.check_convergence(_flat_series(rng), rg)
    assert not check["converged"] and not check["checks"]["rg"]["pass"]
    with pytest.raises(ValueError):
        an.check_convergence(series, window=0.8)


# --- the assembled properties -----------------------------------------------------------------------------------

def _thermo(n: int = 1000, anti: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(12)
    s, r = rng.normal(size=n), rng.normal(size=n)
    vol = 1e5 + 300.0 * s
    etotal = -5000.0 + 40.0 * (-s if anti else s) + 30.0 * r
    return {"step": np.arange(n) * 1000.0, "time": np.arange(n) * 1000.0, "temp": 300.0 + rng.normal(size=n),
            "press": 1.0 + 300.0 * rng.normal(size=n), "vol": vol, "etotal": etotal,
            "density": an.density(60000.0, vol)}


def test_properties_assembles_thermo_results():
    thermo = _thermo()
    out = an.properties(thermo, 60000.0, temp=300.0, press=1.0, flags=["not_converged"])
    h = an.enthalpy(thermo["etotal"], thermo["vol"], 1.0)
    expected = an.fluctuation_properties(an.detrended(thermo["vol"], thermo["time"]),
                                         an.detrended(h, thermo["time"]), 300.0, 60000.0)
    for name, value in expected.items():
        assert out[name]["value"] == pytest.approx(value, rel=1e-12)
        assert out[name]["stderr"] > 0
        assert out[name]["flags"] == ["not_converged"]
    assert out["density"]["value"] == pytest.approx(np.mean(thermo["density"]))
    assert out["isothermal_bulk_modulus"]["unit"] == "Pa" and out["heat_capacity_cp"]["unit"] == "J/(kg K)"
    assert out["volumetric_thermal_expansion"]["value"] > 0


def test_properties_flags():
    out = an.properties(_thermo(anti=True), 60000.0, temp=300.0, press=1.0)
    assert "negative_thermal_expansion" in out["volumetric_thermal_expansion"]["flags"]
    assert "negative_thermal_expansion" in out["linear_thermal_expansion"]["flags"]
    assert "too_few_samples" in an.properties(_thermo(50), 60000.0)["density"]["flags"]
    thermo = _thermo()
    thermo["enthalpy"] = an.enthalpy(thermo.pop("etotal"), thermo["vol"], thermo["press"])
    cp = an.properties(thermo, 60000.0)["heat_capacity_cp"]
    assert "enthalpy_from_instantaneous_pressure" in cp["flags"]


def test_properties_optional_inputs():
    rng = np.random.default_rng(13)
    thermo = _thermo()
    t = thermo["time"]
    dipole = rng.normal(0.0, 20.0, (1000, 3))
    vectors = rng.normal(size=(20, 200, 3))
    rg = 12.0 + 0.1 * rng.normal(size=(1000, 8))
    com = _walk(rng, 1000, 8)
    out = an.properties(thermo, 60000.0, temp=300.0, press=1.0, rg=rg, com=(t, com), dipole=dipole,
                        nematic_vectors=vectors, polarizability=10.0, repeat_mass=104.15, flags=["not_converged"])
    eps = an.dielectric_orientational(dipole, float(np.mean(thermo["vol"])), 300.0)
    n = an.refractive_index(10.0, out["density"]["value"], 104.15)
    d = an.self_diffusion(t, com)
    assert out["self_diffusion"] == {"value": d["value"], "unit": "m^2/s", "stderr": d["stderr"],
                                     "flags": ["not_converged", *d["flags"]], "exponent": d["exponent"],
                                     "exponent_stderr": d["exponent_stderr"]}
    assert out["rg"]["value"] == pytest.approx(rg.mean())
    assert out["dielectric_orientational"]["value"] == pytest.approx(eps)
    assert out["refractive_index"]["value"] == pytest.approx(n)
    assert out["dielectric_constant"]["value"] == pytest.approx(eps - 1 + n**2)
    assert out["nematic_order"]["value"] == pytest.approx(np.mean([an.nematic_order(f) for f in vectors]))
    assert {v["unit"] for v in out.values()} >= {"m^2/s", "Angstrom", "1"}


def test_nematic_error_from_sets_of_chains():
    rng = np.random.default_rng(8)
    aligned = np.tile([0.0, 0.0, 1.0], (400, 1)) + rng.normal(0, 0.05, (400, 3))
    chains = np.repeat(np.arange(10), 40)
    entry = an.properties({}, 1.0, nematic_vectors=aligned, nematic_groups=chains)["nematic_order"]
    assert entry["value"] > 0.98 and 0 < entry["stderr"] < 0.01
    isotropic = rng.normal(size=(4000, 3))
    entry = an.properties({}, 1.0, nematic_vectors=isotropic, nematic_groups=np.repeat(np.arange(10), 400)
                                )["nematic_order"]
    assert entry["value"] < 0.05 and entry["stderr"] > 0


def test_diffusion_flags_reach_the_property_table():
    t = np.arange(500) * DT
    frozen = np.tile(np.random.default_rng(29).normal(size=(1, 4, 3)), (500, 1, 1))
    entry = an.properties({}, 1.0, com=(t, frozen))["self_diffusion"]
    assert entry["value"] == 0 and entry["flags"] == ["non_positive_msd_slope"] and entry["exponent"] is None
    fbm = _fbm(np.random.default_rng(30), 2048, 20, 0.25)
    entry = an.properties({}, 1.0, com=(t[:1] + np.arange(2048) * DT, fbm), flags=["x"])["self_diffusion"]
    assert entry["flags"] == ["subdiffusive", "x"] and entry["exponent"] == pytest.approx(0.5, abs=0.1)


# --- fluctuations of a cell still relaxing ------------------------------------------------------------------------

def test_a_linear_relaxation_is_not_counted_as_fluctuation():
    """Correlated V and H of known variances and covariance, on a linear relaxation as large as 4 SD: the
    properties are those of the fluctuations alone (exact moments), the raw moments are 2.3 times too large."""
    rng = np.random.default_rng(21)
    n, temp, mass = 200_000, 300.0, 60000.0
    z1, z2 = _ar1(rng, 0.5, n, 2) * np.sqrt(1 - 0.5**2)  # unit variance, lag-one correlation 0.5
    sd_v, c, d = 300.0, 40.0, 30.0  # V = V0 + sd_v z1 (Å³), H = H0 + c z1 + d z2 (kcal/mol)
    time = np.arange(n) * 200.0
    ramp = np.linspace(-0.5, 0.5, n)
    vol = 1e5 + sd_v * z1 - 4.0 * sd_v * ramp  # shrinking while it relaxes, releasing heat
    etotal = -5000.0 + c * z1 + d * z2 - 4.0 * np.hypot(c, d) * ramp
    thermo = {"time": time, "vol": vol, "etotal": etotal, "temp": np.full(n, temp)}
    out = an.properties(thermo, mass, temp=temp, press=0.0)
    m = mass / an.AVOGADRO / 1000.0
    exact = {"heat_capacity_cp": (c**2 + d**2) * an.KCAL_MOL_TO_J**2 / (m * an.KB * temp**2),
             "isothermal_compressibility": sd_v**2 * 1e-30 / (1e5 * an.KB * temp),
             "volumetric_thermal_expansion": sd_v * c * an.KCAL_MOL_TO_J / (1e5 * an.KB * temp**2)}
    raw = an.fluctuation_properties(vol, etotal, temp, mass)
    for name, value in exact.items():
        assert out[name]["value"] == pytest.approx(value, rel=0.03), name  # sampling error about 0.6 %
        assert out[name]["stderr"] < 0.03 * value
        assert "drift_removed" in out[name]["flags"]
        assert raw[name] > 1.5 * value  # what the trend adds: (4 SD)²/12 to each variance
    steady = an.properties({**thermo, "vol": 1e5 + sd_v * z1, "etotal": -5000.0 + c * z1 + d * z2}, mass,
                           temp=temp, press=0.0)
    assert all("drift_removed" not in steady[name]["flags"] for name in exact)
    assert steady["heat_capacity_cp"]["value"] == pytest.approx(exact["heat_capacity_cp"], rel=0.03)


def test_detrended_keeps_the_mean_and_removes_a_line_exactly():
    t = np.linspace(0.0, 10.0, 101)
    wiggle = np.sin(2 * np.pi * t)
    wiggle -= t * np.polyfit(t, wiggle, 1)[0]  # a series with no linear trend of its own
    got = an.detrended(3.0 + 0.7 * t + wiggle, t)
    assert got.mean() == pytest.approx(3.0 + 0.7 * t.mean() + wiggle.mean())
    assert got - got.mean() == pytest.approx(wiggle - wiggle.mean(), abs=1e-12)
