"""Glass transition temperature by stepwise cooling (pure numpy/scipy and LAMMPS input text; no AiiDA).

**Schedule** (RadonPy's method, see the README of this module's stage): the equilibrated cell is heated at constant
pressure to ``t_start`` (an NPT ramp at ``heat_rate``), held there for ``start_hold``, then cooled in steps of
``step`` K down to ``t_end``: each step an NPT ramp at ``rate`` K/ns (``step/rate`` long) and an NPT hold of
``hold`` ps at the new temperature. The density of each hold is its mean over the hold (after the first ``discard``
fraction) from the thermo output; the hold at ``t_start`` is the first point. With ``hold_file`` each hold also
appends ``T  <ρ>  n`` to ``tg_density.dat`` (``fix ave/time`` over the same samples, ``fix print``).

**Fit** (:func:`two_line_fit`): the specific volume v = 1/ρ against T is fitted by two straight lines joined at the
break T_b (a continuous "hinge": v = a + b_g (T − T_b) below, a + b_m (T − T_b) above; for each candidate T_b
ordinary least squares in a, b_g, b_m), T_b scanned on a fine grid between the ``min_side``-th lowest and highest
temperatures; Tg is the T_b of least residual sum of squares (RSS). Specific volume, not density, because the volume
is what a dilatometer measures, the two-line construction of Tg is defined on V(T), and the expansion coefficient is
α = (1/v) dv/dT on each side (the density fit, ``quantity="density"``, is RadonPy's; the two differ at second order
in αΔT). The fit is unweighted: the noise variance s² = RSS/(n − 4) is estimated from the residuals, so any
curvature the two lines miss (the transition is gradual) widens the errors instead of being hidden.

**Uncertainty of Tg**: the profile of the RSS over T_b, inverted by the F test of one parameter: the 68.27 %
interval is the set of T_b with RSS(T_b) ≤ RSS_min (1 + F₁,ₙ₋₄(0.6827)/(n − 4)); stderr is its half-width
(the interval itself is also returned; it can be asymmetric). :func:`glass_transition` adds in quadrature the
SD of Tg over the fits with up to ``drop`` (2) of the coldest and of the hottest holds left out
(:func:`range_sensitivity`): curved branches make the break depend on the cooled range, which the profile of one
fit does not show (seen on a 200-bead bead-spring melt: one seed's break moved from 0.59 to 0.49 when the four
hottest of 23 holds were left out); flag ``range_dependent`` (shown, not a gate) when that SD exceeds the profile
SE. Even so, on that small melt the seed-to-seed spread of Tg (SD 0.067 over 4 seeds) exceeded the stated SE
(0.02–0.04): the SE is that of the two-line model, and a gradual transition in a noisy small cell is not two lines.
Checked for coverage on synthetic data (tests/chem/test_glass_transition.py). Slopes and α: their least-squares
standard errors at T_b = Tg.

**Distinct lines**: the likelihood ratio of the hinge against a single straight line,
F = ((RSS_line − RSS_min)/2) / (RSS_min/(n − 4)), has no F distribution under the one-line null (T_b is chosen to
make it large, a Davies problem); its p value is taken from a seeded parametric bootstrap of the fitted straight
line with Gaussian noise of its residual SD on the same temperatures. Flags (gates): ``lines_not_distinct`` when
p > ``alpha`` (0.05); ``break_at_edge`` when the best break, or its 68 % interval, reaches the end of the scanned
range (the transition is at or beyond the edge of the data); ``too_few_points`` below ``min_points`` holds
(RadonPy reports no Tg below 20); ``inverted_expansion`` when the melt expands less than the glass (not a glass
transition).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy import stats

from .analysis import block_average
from .lammps_input import PHASE, THERMO_COLUMNS, Stage, render_phase
from .lammps_log import parse_log, split_stages

HOLD_FILE = "tg_density.dat"
PROTOCOL_FILE = "glass_transition.yaml"
CONFIDENCE = 0.6827  # one standard deviation of a normal distribution
GATE_FLAGS = ("lines_not_distinct", "break_at_edge", "too_few_points", "inverted_expansion")
NAMES = ("glass_transition_temperature", "thermal_expansion_above_tg", "thermal_expansion_below_tg")


class GlassTransitionError(ValueError):
    """Input that cannot be fitted or scheduled; the message says why."""


# ---------------------------------------------------------------------------------------------------------------
# The two-line fit
# ---------------------------------------------------------------------------------------------------------------


def _hinge_rss(t: np.ndarray, y: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RSS of the continuous two-line least-squares fit for each break (G,) and each data row of ``y`` (B, n):
    returns rss (G, B) and the coefficients (G, B, 3) = (value at the break, slope below, slope above)."""
    mean = y.mean(axis=1, keepdims=True)
    y = y - mean  # centred: the RSS below is a difference of sums of squares
    d = t[None, :] - breaks[:, None]  # (G, n)
    x = np.stack([np.ones_like(d), np.minimum(d, 0.0), np.maximum(d, 0.0)], axis=2)  # (G, n, 3)
    inverse = np.linalg.inv(np.einsum("gni,gnj->gij", x, x))
    xty = np.einsum("gni,bn->gbi", x, y)
    coef = np.einsum("gij,gbj->gbi", inverse, xty)
    rss = (y**2).sum(axis=1)[None, :] - np.einsum("gbi,gbi->gb", coef, xty)  # yᵀy − βᵀXᵀy at the optimum
    coef[..., 0] += mean[None, :, 0]
    return np.maximum(rss, 0.0), coef


def _line_rss(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """RSS of one straight line for each row of ``y`` (B, n)."""
    x = np.stack([np.ones_like(t), t - t.mean()], axis=1)
    coef, *_ = np.linalg.lstsq(x, y.T, rcond=None)
    return ((y.T - x @ coef) ** 2).sum(axis=0)


def _interval(breaks: np.ndarray, rss: np.ndarray, best: int, threshold: float) -> tuple[float, float, bool, bool]:
    """The contiguous range of breaks around ``best`` with rss ≤ threshold (crossings interpolated), and whether
    it reaches the lower/upper end of the scan."""
    lo = best
    while lo > 0 and rss[lo - 1] <= threshold:
        lo -= 1
    hi = best
    while hi < len(breaks) - 1 and rss[hi + 1] <= threshold:
        hi += 1

    def cross(i: int, j: int) -> float:  # between grid points i (inside) and j (outside)
        f = (threshold - rss[i]) / (rss[j] - rss[i])
        return float(breaks[i] + f * (breaks[j] - breaks[i]))

    low = float(breaks[0]) if lo == 0 else cross(lo, lo - 1)
    high = float(breaks[-1]) if hi == len(breaks) - 1 else cross(hi, hi + 1)
    return low, high, lo == 0, hi == len(breaks) - 1


def two_line_fit(temperatures: Sequence[float], values: Sequence[float], *, min_side: int = 3, grid: int = 1001,
                 confidence: float = CONFIDENCE, alpha: float = 0.05, bootstrap: int = 400,
                 seed: int = 20260,
                 ) -> dict[str, Any]:
    """The continuous two-segment least-squares fit of ``values`` against ``temperatures`` with the break scanned.

    Returns: break (Tg), break_stderr (half-width of the ``confidence`` profile interval), break_interval,
    value_at_break, slope_below/above with stderr, slope_difference_z, residuals (in the input order), rss,
    rms, n, dof, f_statistic and p_line (the bootstrap p value of the one-line null), the RSS profile
    (breaks, rss) and flags (``lines_not_distinct``, ``break_at_edge``)."""
    t = np.asarray(temperatures, dtype=float)
    y = np.asarray(values, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise GlassTransitionError("temperatures and values must be 1-D arrays of the same length")
    if not (np.isfinite(t).all() and np.isfinite(y).all()):
        raise GlassTransitionError("temperatures and values must be finite")
    n = len(t)
    ordered = np.sort(t)
    if n < 2 * min_side or n < 5 or ordered[min_side - 1] >= ordered[n - min_side]:
        raise GlassTransitionError(f"{n} points: a two-line fit needs at least {max(5, 2 * min_side)} distinct "
                                   f"temperatures ({min_side} on each side of the break)")
    breaks = np.linspace(ordered[min_side - 1], ordered[n - min_side], grid)
    rss, coef = _hinge_rss(t, y[None, :], breaks)
    rss, coef = rss[:, 0], coef[:, 0, :]
    best = int(np.argmin(rss))
    dof = n - 4
    rss_min = float(rss[best])
    s2 = rss_min / dof
    f_crit = float(stats.f.ppf(confidence, 1, dof))
    threshold = rss_min + s2 * f_crit
    low, high, open_low, open_high = _interval(breaks, rss, best, threshold)
    tb = float(breaks[best])

    d = t - tb
    x = np.stack([np.ones_like(d), np.minimum(d, 0.0), np.maximum(d, 0.0)], axis=1)
    cov = s2 * np.linalg.inv(x.T @ x)
    a, b_below, b_above = (float(c) for c in coef[best])
    residuals = y - x @ coef[best]
    diff_se = math.sqrt(max(cov[1, 1] + cov[2, 2] - 2 * cov[1, 2], 0.0))

    # the one-line null: the likelihood-ratio statistic against its parametric bootstrap
    rss_line = float(_line_rss(t, y[None, :])[0])
    f_stat = ((rss_line - rss_min) / 2.0) / s2 if s2 > 0 else math.inf
    line = np.polyfit(t, y, 1)
    sd_line = math.sqrt(rss_line / (n - 2))
    p_line = math.nan
    if bootstrap:
        rng = np.random.default_rng(seed)
        sims = np.polyval(line, t)[None, :] + rng.normal(0.0, sd_line, size=(bootstrap, n))
        sim_hinge = _hinge_rss(t, sims, breaks[:: max(1, grid // 200)])[0].min(axis=0)
        sim_line = _line_rss(t, sims)
        sim_f = ((sim_line - sim_hinge) / 2.0) / (sim_hinge / dof)
        p_line = float((1 + np.count_nonzero(sim_f >= f_stat)) / (bootstrap + 1))

    spacing = float(np.median(np.diff(np.unique(ordered))))
    flags = []
    if p_line > alpha:  # NaN (no bootstrap): not tested
        flags.append("lines_not_distinct")
    if open_low or open_high or tb - breaks[0] < spacing or breaks[-1] - tb < spacing:
        flags.append("break_at_edge")
    return {
        "break": tb, "break_stderr": 0.5 * (high - low), "break_interval": [low, high], "confidence": confidence,
        "value_at_break": a, "slope_below": b_below, "slope_below_stderr": math.sqrt(cov[1, 1]),
        "slope_above": b_above, "slope_above_stderr": math.sqrt(cov[2, 2]),
        "slope_difference_z": abs(b_above - b_below) / diff_se if diff_se > 0 else math.inf,
        "residuals": residuals.tolist(), "rss": rss_min, "rms": math.sqrt(rss_min / n), "n": n, "dof": dof,
        "f_statistic": f_stat, "p_line": p_line, "alpha": alpha, "scan": [float(breaks[0]), float(breaks[-1])],
        "profile": {"breaks": breaks[:: max(1, grid // 200)].tolist(), "rss": rss[:: max(1, grid // 200)].tolist()},
        "flags": flags,
    }


def range_sensitivity(temperatures: Sequence[float], values: Sequence[float], *, drop: int = 2, min_side: int = 3,
                      grid: int = 1001) -> dict[str, Any]:
    """Tg refitted with the ``0 … drop`` coldest and ``0 … drop`` hottest holds left out ((drop + 1)² fits): the SD
    of those breaks measures how much Tg depends on the cooled range. Two straight lines that describe the data
    give the same break on any sub-range; curved branches (a melt whose expansion grows with T, a transition
    spread over many holds) do not, and the profile interval of one fit does not see that."""
    t = np.asarray(temperatures, dtype=float)
    y = np.asarray(values, dtype=float)
    order = np.argsort(t)
    t, y = t[order], y[order]
    breaks = []
    for low in range(drop + 1):
        for high in range(drop + 1):
            keep = slice(low, len(t) - high)
            if len(t[keep]) >= max(5, 2 * min_side + 1):
                breaks.append(two_line_fit(t[keep], y[keep], min_side=min_side, grid=grid, bootstrap=0)["break"])
    values_ = np.array(breaks)
    return {"drop": drop, "breaks": values_.tolist(), "sd": float(values_.std()) if len(values_) > 1 else 0.0}


def _entry(value: float | None, unit: str, stderr: float | None, flags: Sequence[str]) -> dict[str, Any]:
    ok = value is not None and math.isfinite(value)
    return {"value": float(value) if ok else None, "unit": unit,
            "stderr": float(stderr) if ok and stderr is not None and math.isfinite(stderr) else None,
            "flags": sorted(set(flags))}


def glass_transition(temperatures: Sequence[float], densities: Sequence[float], *, quantity: str = "specific_volume",
                     min_points: int = 10, min_side: int = 3, drop: int = 2, unit: str = "K",
                     flags: Sequence[str] = (), **fit_options: Any) -> dict[str, Any]:
    """Tg and the expansion coefficients above and below it from hold densities ρ(T).

    ``quantity``: fit the specific volume 1/ρ (default) or ρ itself. Returns ``properties`` —
    {glass_transition_temperature, thermal_expansion_above_tg, thermal_expansion_below_tg:
    {value, unit, stderr, flags}} — and ``fit`` (:func:`two_line_fit`'s result with the points fitted).
    α = (1/v) dv/dT = −(1/ρ) dρ/dT on each side, at Tg."""
    if quantity not in ("specific_volume", "density"):
        raise GlassTransitionError(f"quantity must be specific_volume or density, not {quantity!r}")
    t = np.asarray(temperatures, dtype=float)
    rho = np.asarray(densities, dtype=float)
    if t.shape != rho.shape or not (rho > 0).all():
        raise GlassTransitionError("densities must be positive, one per temperature")
    y = 1.0 / rho if quantity == "specific_volume" else rho
    extra = list(flags)
    if len(t) < min_points:
        extra.append("too_few_points")
    try:
        fit = two_line_fit(t, y, min_side=min_side, **fit_options)
    except GlassTransitionError as exc:
        reason = ["too_few_points", *extra]
        return {"properties": {name: {**_entry(None, u, None, reason), "reason": str(exc)}
                               for name, u in zip(NAMES, (unit, f"1/{unit}", f"1/{unit}"), strict=True)},
                "fit": {"error": str(exc), "temperatures": t.tolist(), "densities": rho.tolist()}}
    fit["range"] = range_sensitivity(t, y, drop=drop, min_side=min_side, grid=fit_options.get("grid", 1001))
    fit["profile_stderr"] = fit["break_stderr"]
    fit["break_stderr"] = math.hypot(fit["profile_stderr"], fit["range"]["sd"])
    if fit["range"]["sd"] > fit["profile_stderr"]:
        fit["flags"].append("range_dependent")
    sign = 1.0 if quantity == "specific_volume" else -1.0
    scale = sign / fit["value_at_break"]  # α = (1/v) dv/dT = −(1/ρ) dρ/dT
    a_above, a_below = fit["slope_above"] * scale, fit["slope_below"] * scale
    if a_above <= a_below:
        fit["flags"].append("inverted_expansion")
    all_flags = [*fit["flags"], *extra]
    properties = {
        "glass_transition_temperature": _entry(fit["break"], unit, fit["break_stderr"], all_flags),
        "thermal_expansion_above_tg": _entry(a_above, f"1/{unit}", fit["slope_above_stderr"] * abs(scale), all_flags),
        "thermal_expansion_below_tg": _entry(a_below, f"1/{unit}", fit["slope_below_stderr"] * abs(scale), all_flags),
    }
    fit.update(quantity=quantity, temperatures=t.tolist(), densities=rho.tolist(), values=y.tolist())
    return {"properties": properties, "fit": fit}


# ---------------------------------------------------------------------------------------------------------------
# The cooling schedule and its LAMMPS input
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class CoolingSchedule:
    """Temperatures K, rates K/ns, durations ps, timestep fs, pressure atm; ``thermo_every`` steps (0: about 100
    samples per hold)."""

    t_start: float = 600.0
    t_end: float = 100.0
    step: float = 10.0
    rate: float = 10.0  # K/ns of each cooling ramp: a ramp lasts step/rate
    hold: float = 1000.0
    timestep: float = 1.0
    t_initial: float | None = None  # the equilibrated cell's temperature (None: t_start, no heating ramp)
    heat_rate: float = 100.0  # K/ns to t_start
    start_hold: float = 500.0
    pressure: float = 1.0
    discard: float = 0.0  # fraction of each hold left out of its mean
    thermo_every: int = 0
    hold_file: bool = False  # append each hold's mean density to tg_density.dat (not for interrupted runs)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> CoolingSchedule:
        known = {f.name for f in fields(cls)}
        unknown = set(spec) - known
        if unknown:
            raise GlassTransitionError(f"unknown cooling setting(s): {', '.join(sorted(unknown))}")
        schedule = cls(**spec)
        schedule.validate()
        return schedule

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if not self.t_start > self.t_end > 0:
            raise GlassTransitionError("the cooling needs t_start > t_end > 0")
        if min(self.step, self.rate, self.hold, self.timestep, self.heat_rate, self.pressure) <= 0:
            raise GlassTransitionError("step, rate, hold, timestep, heat_rate and pressure must be positive")
        if self.start_hold < 0 or not 0 <= self.discard < 1:
            raise GlassTransitionError("start_hold must be >= 0 and discard in [0, 1)")

    @property
    def temperatures(self) -> list[float]:
        """The hold temperatures, t_start down to the last one ≥ t_end."""
        count = math.floor((self.t_start - self.t_end) / self.step + 1e-9) + 1
        return [self.t_start - i * self.step for i in range(count)]

    def steps(self, duration_ps: float) -> int:
        return max(1, round(duration_ps * 1000.0 / self.timestep))

    @property
    def sample_every(self) -> int:
        """Thermo (and hold-file) sampling interval in steps."""
        return int(self.thermo_every) or max(1, self.steps(self.hold) // 100)

    def hold_steps(self, duration_ps: float) -> int:
        """A hold's steps, a multiple of the sampling interval."""
        every = self.sample_every
        return max(every, round(self.steps(duration_ps) / every) * every)

    @property
    def ramp_steps(self) -> int:
        return self.steps(self.step / self.rate * 1000.0)

    @property
    def heat_steps(self) -> int:
        if self.t_initial is None or self.t_initial == self.t_start:
            return 0
        return self.steps(abs(self.t_start - self.t_initial) / self.heat_rate * 1000.0)

    @property
    def total_steps(self) -> int:
        holds = self.hold_steps(self.start_hold or self.hold) + (len(self.temperatures) - 1) * self.hold_steps(
            self.hold)
        return self.heat_steps + holds + (len(self.temperatures) - 1) * self.ramp_steps


def hold_name(index: int) -> str:
    return f"tg_hold_{index:03d}"


def cost_atom_steps(schedule: CoolingSchedule, atoms: int) -> int:
    """Atom-steps of the whole cooling: atoms × (heating + holds + ramps)."""
    return int(atoms) * schedule.total_steps


def _hold_extra(schedule: CoolingSchedule, steps: int, temperature: float) -> list[str]:
    """Commands that append the hold's mean density (the samples of its thermo after the discard) to the hold file."""
    every = schedule.sample_every
    first = math.floor(schedule.discard * steps / every) * every  # samples at steps first+every … steps
    repeat = (steps - first) // every
    return ["variable tg_density equal density",
            f"fix tg_hold all ave/time {every} {repeat} {steps} v_tg_density",
            f'fix tg_print all print {steps} "{temperature:.6g} $(f_tg_hold:%.10g) {repeat}" append {HOLD_FILE} '
            "screen no"]


def cooling_stages(schedule: CoolingSchedule, md: Mapping[str, Any] | None = None) -> list[Stage]:
    """The stages of the cooling: ``tg_heat`` (NPT ramp t_initial → t_start, when they differ), ``tg_hold_000``
    at t_start, then ``tg_ramp_<i>`` (NPT ramp) and ``tg_hold_<i>`` per step. ``md``: the other Stage fields
    shared by all (potential, cut-offs, kspace_accuracy, shake, tdamp, pdamp, neighbor_skin, ...)."""
    common = {"timestep": schedule.timestep, "pressure": schedule.pressure, "thermo_every": schedule.sample_every,
              **dict(md or {})}
    temps = schedule.temperatures
    stages = []
    if schedule.heat_steps:
        stages.append(Stage(name="tg_heat", ensemble="npt", steps=schedule.heat_steps,
                            temperature=[float(schedule.t_initial), temps[0]], **common))
    for i, temperature in enumerate(temps):
        if i:
            stages.append(Stage(name=f"tg_ramp_{i:03d}", ensemble="npt", steps=schedule.ramp_steps,
                                temperature=[temps[i - 1], temperature], **common))
        steps = schedule.hold_steps(schedule.start_hold if i == 0 and schedule.start_hold else schedule.hold)
        extra = [*common.get("extra", []), *(_hold_extra(schedule, steps, temperature) if schedule.hold_file else [])]
        stages.append(Stage(name=hold_name(i), ensemble="npt", steps=steps, temperature=temperature,
                            **{**common, "extra": extra}))
    for stage in stages:
        stage.validate()
    return stages


def cooling_phase(schedule: CoolingSchedule, md: Mapping[str, Any] | None = None, name: str = "tg_cooling"
                  ) -> dict[str, Any]:
    """The cooling as one phase specification (one LAMMPS job; see :func:`aiida_polymer.chem.lammps_input.
    render_phase`)."""
    return {"name": name, PHASE: [s.to_dict() for s in cooling_stages(schedule, md)]}


def cooling_input(schedule: CoolingSchedule, source: str, md: Mapping[str, Any] | None = None) -> str:
    """The LAMMPS input text of the whole cooling of the cell in data file ``source``."""
    return render_phase(cooling_stages(schedule, md), source)


# ---------------------------------------------------------------------------------------------------------------
# Hold densities
# ---------------------------------------------------------------------------------------------------------------


def thermo_by_stage(log_text: str) -> dict[str, dict[str, np.ndarray]]:
    """Each stage's thermo from the log of a phase run, by the project's column names."""
    out = {}
    for part in split_stages(log_text):
        thermo = parse_log(part.text).thermo(concatenate=False)
        if len(thermo) == len(THERMO_COLUMNS):
            thermo = dict(zip(THERMO_COLUMNS, thermo.values(), strict=True))
        if thermo:
            out[part.name] = thermo
    return out


def hold_densities(thermo: Mapping[str, Mapping[str, np.ndarray]], schedule: CoolingSchedule,
                   nblocks: int = 5) -> dict[str, np.ndarray]:
    """Temperature (set point), mean thermo temperature, mean density, its block SE and sample count of each hold
    that ran to its end (holds missing from ``thermo`` or cut short are left out). The mean is over the samples
    after the first ``discard`` fraction of the hold (step 0, the state the ramp left, never counts)."""
    rows = []
    for i, temperature in enumerate(schedule.temperatures):
        series = thermo.get(hold_name(i))
        if series is None or not len(series.get("step", ())):
            continue
        target = schedule.hold_steps(schedule.start_hold if i == 0 and schedule.start_hold else schedule.hold)
        step = np.asarray(series["step"], dtype=float)
        if step.max() < target:
            continue
        first = math.floor(schedule.discard * target / schedule.sample_every) * schedule.sample_every
        keep = (step > first) & (step <= target)
        rho = np.asarray(series["density"], dtype=float)[keep]
        mean = float(rho.mean())  # of every sample (block_average would drop the first n mod nblocks)
        se = block_average(rho, nblocks)[1] if len(rho) >= nblocks else math.nan
        rows.append((temperature, float(np.mean(np.asarray(series["temp"], dtype=float)[keep])), mean, se, len(rho)))
    table = np.array(rows, dtype=float).reshape(-1, 5)
    return {"set_temperature": table[:, 0], "temperature": table[:, 1], "density": table[:, 2],
            "density_stderr": table[:, 3], "samples": table[:, 4].astype(int)}


def read_hold_file(text: str) -> np.ndarray:
    """The rows (T, ⟨ρ⟩, samples) of ``tg_density.dat``; a repeated temperature keeps its last row."""
    rows: dict[float, list[float]] = {}
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) == 3:
            rows[float(tokens[0])] = [float(x) for x in tokens]
    return np.array(list(rows.values()), dtype=float).reshape(-1, 3)


def join_hold_pieces(pieces: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One hold's thermo from the pieces of runs that ran it, in run order: each piece replaces the rows of the
    ones before from its own first step on (a continuation from a restart file goes on at its step; a stage
    started again from its beginning replaces everything)."""
    joined: dict[str, np.ndarray] = {}
    for piece in pieces:
        step = np.asarray(piece["step"])
        if not len(step):
            continue
        if joined:
            keep = np.asarray(joined["step"]) < step[0]
            joined = {k: np.concatenate([np.asarray(joined[k])[keep], np.asarray(piece[k])])
                      for k in joined if k in piece}
        else:
            joined = {k: np.asarray(v) for k, v in piece.items()}
    return joined


# ---------------------------------------------------------------------------------------------------------------
# Protocols
# ---------------------------------------------------------------------------------------------------------------

STAGE_MD_KEYS = ("kspace_accuracy", "cutoff_inner", "cutoff", "lj", "shake", "tdamp", "pdamp")
ANALYSIS_KEYS = ("quantity", "min_points", "min_side", "drop", "alpha")


def protocol(name: str | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One protocol's validated settings (``aiida_polymer/protocols/glass_transition.yaml``) with ``overrides``
    merged in recursively."""
    from . import protocols

    return protocols.settings(PROTOCOL_FILE, name, overrides)


def schedule_of(settings: Mapping[str, Any]) -> CoolingSchedule:
    """The cooling schedule of protocol settings (its ``cooling`` section and ``md.timestep``)."""
    return CoolingSchedule.from_dict({**settings["cooling"], "timestep": settings["md"]["timestep"]})


def phase_of(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The whole cooling as one phase specification (one LAMMPS job)."""
    md = {k: v for k, v in settings["md"].items() if k in STAGE_MD_KEYS}
    return cooling_phase(schedule_of(settings), md)


def analysis_parameters(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`glass_transition` set by a protocol (its ``analysis`` section)."""
    return {k: v for k, v in (settings.get("analysis") or {}).items() if k in ANALYSIS_KEYS}
