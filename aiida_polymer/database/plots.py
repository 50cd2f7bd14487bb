"""Plots of one run and of a campaign, as matplotlib figures over plain arrays and table rows (no AiiDA here).

Every function returns a :class:`matplotlib.figure.Figure` made without pyplot (no global backend, no open
windows): a GUI embeds it in its own canvas, :func:`save_figure` writes PNG or SVG (Agg). The data come from
:mod:`aiida_polymer.database.plot_data` (a run, a campaign) or from anywhere else in the same shape.

One run:

- :func:`production_figure`: the thermo traces of the NPT production segments, the convergence window (the last
  ``window`` fraction of the last segment), the moving average whose spread the check measures, pass or fail;
- :func:`nemd_profile_figure`: the NEMD slab temperature profile, the two linear fits and the excluded slabs
  (the reservoirs and their neighbours);
- :func:`msd_figure`: the chains' centre-of-mass MSD with the fitted lag window (D = slope/6) and its exponent;
- :func:`compression_figure`: density, temperature and pressure along packing and the 21-step compression.

A campaign (rows of :func:`aiida_polymer.database.campaign_table`: ``<name>``, ``<name>_stderr``, ``<name>_unit``,
``<name>_flags``): :func:`distribution_figure`, :func:`scatter_figure` (one property against the others, the Pareto
front of two marked) and :func:`parity_figure` (against reference values, with MAE, bias and r). A value whose
flags include a gate (:mod:`aiida_polymer.chem.flags`: not a result) is drawn hollow and grey and left out of the
histograms' bars, the Pareto front and the parity statistics.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from PIL import Image

from ..chem.flags import FLAGS
from ..chem.nemd import half_slabs, linear_fit

FORMATS = ("png", "svg")
DPI = 90
FRONT = "#d62728"
SHOWN = "#1f77b4"
GATED = "#9a9a9a"
LABELS = {  # axis labels of thermo columns and properties
    "density": "density (g/cm³)", "temp": "T (K)", "press": "P (atm)", "etotal": "E total (kcal/mol)",
    "ke": "E kinetic (kcal/mol)", "pe": "E potential (kcal/mol)", "ebond": "E bond (kcal/mol)",
    "eangle": "E angle (kcal/mol)", "edihed": "E dihedral (kcal/mol)", "evdwl": "E vdW (kcal/mol)",
    "elong": "E kspace (kcal/mol)", "rg": "Rg (Å)",
}
THERMO_PANELS = ("density", "temp", "press", "etotal", "ke", "ebond", "eangle", "edihed", "evdwl", "elong")
SHORT_NAMES = {
    "thermal_conductivity": "κ", "density": "ρ", "heat_capacity_cp": "Cp", "heat_capacity_cv": "Cv",
    "refractive_index": "n", "dielectric_constant": "ε", "self_diffusion": "D", "rg": "Rg",
}


class PlotError(ValueError):
    """Data that cannot be plotted (an unknown property, nothing to compare); the message says why."""


# ---------------------------------------------------------------------------------------------------------------
# Pure statistics
# ---------------------------------------------------------------------------------------------------------------


def pareto_front(x: Sequence[float], y: Sequence[float], maximize: tuple[bool, bool] = (True, True)) -> np.ndarray:
    """Mask of the non-dominated points of (x, y): no other point is at least as good in both and better in one.

    ``maximize``: for each coordinate whether larger is better. Points with a NaN coordinate are never on the front;
    identical points are all on it (neither dominates the other).
    """
    a = np.asarray(x, dtype=float) * (1.0 if maximize[0] else -1.0)
    b = np.asarray(y, dtype=float) * (1.0 if maximize[1] else -1.0)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("x and y must be 1-D and of the same length")
    finite = np.isfinite(a) & np.isfinite(b)
    front = np.zeros(len(a), dtype=bool)
    for i in np.flatnonzero(finite):
        others = finite.copy()
        others[i] = False
        dominated = others & (a >= a[i]) & (b >= b[i]) & ((a > a[i]) | (b > b[i]))
        front[i] = not dominated.any()
    return front


def parity_statistics(computed: Sequence[float], reference: Sequence[float]) -> dict[str, Any]:
    """n, MAE = mean |c − r|, bias = mean (c − r), Pearson r (None for fewer than 2 pairs or no spread) of the pairs
    where both are finite."""
    c, r = np.asarray(computed, dtype=float), np.asarray(reference, dtype=float)
    if c.shape != r.shape:
        raise ValueError("computed and reference must have the same length")
    both = np.isfinite(c) & np.isfinite(r)
    c, r = c[both], r[both]
    n = len(c)
    if n == 0:
        return {"n": 0, "mae": None, "bias": None, "r": None}
    diff = c - r
    pearson = None
    if n >= 2 and c.std() > 0 and r.std() > 0:
        pearson = float(np.mean((c - c.mean()) * (r - r.mean())) / (c.std() * r.std()))
    return {"n": n, "mae": float(np.abs(diff).mean()), "bias": float(diff.mean()), "r": pearson}


def moving_average(x: Sequence[float], length: int) -> np.ndarray:
    """The ``length``-sample simple moving average over the last ``length`` positions (what the convergence check
    takes the SD of; :func:`aiida_polymer.chem.analysis.moving_average_sd`)."""
    x = np.asarray(x, dtype=float)
    return np.convolve(x[-2 * length + 1:], np.ones(length) / length, mode="valid")


def is_gated(flags: str | Sequence[str] | None) -> bool:
    """Whether the flags (a ``;``-joined string as in the table, or a list) include a gate flag."""
    items = [f for f in flags.split(";") if f] if isinstance(flags, str) else list(flags or [])
    return any(FLAGS.get(flag, (False,))[0] for flag in items)


# ---------------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------------


def save_figure(figure: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write ``figure`` to ``path`` as PNG or SVG (by its suffix); the metadata that would change every time (date,
    software) are left out, so the same data give the same file."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise PlotError(f"unknown image format {fmt!r}: use {' or '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "svg":
        with rc_context({"svg.hashsalt": "aiida-polymer"}):  # the element ids: fixed, not random
            figure.savefig(path, format=fmt, dpi=dpi, metadata={"Date": None})
        return path
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as image:  # a 256-colour palette: the same picture in a third of the bytes
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, format="PNG", optimize=True)
    return path


def _figure(panels: int, columns: int, width: float = 3.3, height: float = 2.4) -> tuple[Figure, list]:
    rows = max(1, math.ceil(panels / columns))
    columns = min(columns, max(panels, 1))
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[panels:]:
        extra.set_visible(False)
    return figure, axes[:panels]


def _label(name: str, unit: str | None) -> str:
    unit = {"1": "", "g/cm3": "g/cm³"}.get(unit or "", unit or "").replace("^2", "²").replace("^3", "³")
    return f"{name} ({unit})" if unit else name


# ---------------------------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------------------------


def _concatenated(segments: Sequence[Mapping[str, np.ndarray]]) -> tuple[list[np.ndarray], list[float]]:
    """Each segment's time (ps) laid end to end (every segment's own time starts at 0), and the boundaries."""
    times, offset, bounds = [], 0.0, []
    for segment in segments:
        t = np.asarray(segment["time"], dtype=float) / 1000.0
        t = t - (t[0] if len(t) else 0.0) + offset
        times.append(t)
        if len(t):
            offset = float(t[-1]) + (float(t[1] - t[0]) if len(t) > 1 else 0.0)
        bounds.append(offset)
    return times, bounds[:-1]


def production_figure(segments: Sequence[Mapping[str, np.ndarray]], convergence: Mapping[str, Any] | None = None,
                      rg: Sequence[np.ndarray] | None = None, title: str = "") -> Figure:
    """Thermo traces of the production segments (``segments``: one mapping per segment, ``time`` in fs and the
    thermo columns), with the convergence window of ``convergence`` (``window`` fraction and ``checks``
    {name: {value, threshold, pass}}, as :func:`aiida_polymer.chem.analysis.check_convergence` returns) on the
    last segment: the window is shaded and the moving average whose SD is checked drawn in it. ``rg``: per segment
    (frames, chains) Rg in Å, drawn as the chains' mean."""
    if not segments:
        raise PlotError("no production segment to plot")
    names = [name for name in THERMO_PANELS if all(name in s for s in segments)]
    rg = list(rg) if rg is not None and len(rg) == len(segments) else None
    panels = names + (["rg"] if rg is not None else [])
    times, bounds = _concatenated(segments)
    window = float((convergence or {}).get("window", 0.0) or 0.0)
    checks = (convergence or {}).get("checks", {})
    figure, axes = _figure(len(panels), 3, 3.3, 2.1)
    for ax, name in zip(axes, panels, strict=True):
        if name == "rg":
            series = [np.asarray(r, dtype=float).mean(axis=1) for r in rg]
            rg_times = [t[0] + np.linspace(0, t[-1] - t[0], len(s)) for t, s in zip(times, series, strict=True)]
            ts = rg_times
        else:
            series = [np.asarray(s[name], dtype=float) for s in segments]
            ts = times
        for t, s in zip(ts, series, strict=True):
            ax.plot(t, s, lw=0.7, color=SHOWN)
        for b in bounds:
            ax.axvline(b, color="0.6", lw=0.6, ls=":")
        last_t, last = ts[-1], series[-1]
        length = int(window * len(last))
        if window and length >= 2 and len(last) >= 2 * length:
            ax.axvspan(last_t[-length], last_t[-1], color="#ffd54f", alpha=0.35, lw=0)
            check = checks.get(name)
            if name == "rg":
                ax.plot(last_t[-length:], last[-length:], lw=0.9, color="#ff8f00")
            else:
                ax.plot(last_t[-length:], moving_average(last, length), lw=1.4, color="#ff8f00")
        else:
            check = checks.get(name)
        ax.set_ylabel(LABELS.get(name, name), fontsize=8)
        ax.tick_params(labelsize=7)
        if check is not None:
            mark = "≤ {:.2g}: pass" if check.get("pass") else "> {:.2g}: FAIL"
            ax.set_title(f"{name}: {check['value']:.2g} " + mark.format(check["threshold"]), fontsize=8,
                         color="black" if check.get("pass") else FRONT)
    for ax in axes[-3:]:
        ax.set_xlabel("production time (ps)", fontsize=8)
    verdict = ""
    if convergence is not None:
        verdict = (" — converged" if convergence.get("converged") else " — not converged") + \
            f"\nconvergence window: the last {window:.0%} of the last segment (shaded), its moving average in orange"
    figure.suptitle((title + ": " if title else "") + f"NPT production, {len(segments)} segment(s){verdict}",
                    fontsize=9)
    return figure


def nemd_profile_figure(profile: Sequence[float], length: float, exclude_neighbours: int = 1,
                        frames: np.ndarray | None = None, kappa: Mapping[str, Any] | None = None,
                        flags: Sequence[str] = (), title: str = "") -> Figure:
    """The time-averaged slab temperatures (``profile``, n slabs along a box of ``length`` Å) with the linear fit of
    each half (the slabs between the reservoirs 0 and n/2, without ``exclude_neighbours`` slabs next to each, as
    :func:`aiida_polymer.chem.nemd.profile_gradient` fits them); the excluded slabs hollow and shaded. ``frames``
    (F, n): the profiles averaged, drawn thin; ``kappa``: {value, stderr, unit} for the title."""
    temp = np.asarray(profile, dtype=float)
    n = len(temp)
    x = (np.arange(n) + 0.5) * length / n
    halves = half_slabs(n, exclude_neighbours)
    fitted = np.zeros(n, dtype=bool)
    for idx in halves:
        fitted[idx] = True
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = figure.subplots()
    if frames is not None and len(frames):
        for frame in np.asarray(frames, dtype=float):
            ax.plot(x, frame, lw=0.5, color="0.8", zorder=1)
    width = length / n
    for i in np.flatnonzero(~fitted):
        ax.axvspan(x[i] - width / 2, x[i] + width / 2, color="0.92", lw=0, zorder=0)
    ax.plot(x[fitted], temp[fitted], "o", color=SHOWN, ms=5, zorder=3, label="fitted slabs")
    ax.plot(x[~fitted], temp[~fitted], "o", mfc="white", mec=GATED, ms=5, zorder=3,
            label=f"excluded: reservoirs and {exclude_neighbours} neighbour(s)")
    for name, idx, colour in zip(("A", "B"), halves, ("#2ca02c", FRONT), strict=True):
        slope, intercept, r2 = linear_fit(x[idx], temp[idx])
        span = np.array([x[idx[0]] - width / 2, x[idx[-1]] + width / 2])
        ax.plot(span, slope * span + intercept, color=colour, lw=1.6, zorder=2,
                label=f"half {name}: {slope * 1e10:+.3g} K/m, r² {r2:.3f}")
    for reservoir, text in ((0, "cold"), (n // 2, "hot")):
        ax.annotate(text, (x[reservoir], temp[reservoir]), textcoords="offset points", xytext=(0, -12),
                    ha="center", fontsize=7, color="0.4")
    ax.set_xlabel("position along the heat flow (Å)", fontsize=8)
    ax.set_ylabel("slab temperature (K)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="lower center", ncols=2, framealpha=0.8)
    head = "NEMD temperature profile"
    if kappa and kappa.get("value") is not None:
        error = f" ± {kappa['stderr']:.2g}" if kappa.get("stderr") is not None else ""
        head += f": κ = {kappa['value']:.3g}{error} {kappa.get('unit', '')}"
    if flags:
        head += f"\nflags: {', '.join(flags)}"
    ax.set_title((title + "\n" if title else "") + head, fontsize=8)
    return figure


def msd_figure(lag: Sequence[float], msd: Sequence[float], window: tuple[float, float],
               per_chain: np.ndarray | None = None, title: str = "") -> Figure:
    """The chains' centre-of-mass MSD (Å²) against the lag (fs), the fitted lag ``window`` (fs) shaded, the line
    MSD = 6 D τ + c fitted in it (D in m²/s) and, on log–log axes, the exponent β of MSD ∝ τ^β over the window.
    ``per_chain`` (lags, chains): each chain's MSD, drawn thin."""
    lag, msd = np.asarray(lag, dtype=float), np.asarray(msd, dtype=float)
    sel = (lag >= window[0]) & (lag <= window[1]) & (lag > 0)
    if sel.sum() < 3:
        raise PlotError("fewer than 3 MSD points in the fit window")
    slope, intercept = np.polyfit(lag[sel], msd[sel], 1)
    positive = sel & (msd > 0)
    beta = float(np.polyfit(np.log(lag[positive]), np.log(msd[positive]), 1)[0]) if positive.sum() >= 3 else None
    d = slope * 1e-20 / 1e-15 / 6.0
    figure = Figure(figsize=(7.6, 3.2), layout="constrained")
    linear, logarithmic = figure.subplots(1, 2)
    ps = lag / 1000.0
    for ax in (linear, logarithmic):
        if per_chain is not None:
            for column in np.asarray(per_chain, dtype=float).T:
                ax.plot(ps[1:], column[1:], lw=0.4, color="0.8")
        ax.plot(ps[1:], msd[1:], color=SHOWN, lw=1.2, label="mean over chains")
        ax.axvspan(window[0] / 1000.0, window[1] / 1000.0, color="#ffd54f", alpha=0.35, lw=0, label="fit window")
        ax.set_xlabel("lag τ (ps)", fontsize=8)
        ax.set_ylabel("COM MSD (Å²)", fontsize=8)
        ax.tick_params(labelsize=7)
    tau = lag[sel]
    linear.plot(tau / 1000.0, slope * tau + intercept, color=FRONT, lw=1.4, label=f"6Dτ + c: D = {d:.3g} m²/s")
    linear.legend(fontsize=7, loc="upper left")
    logarithmic.set_xscale("log")
    logarithmic.set_yscale("log")
    if beta is not None:
        t0 = tau[tau > 0]
        ref = msd[sel][0] * (t0 / t0[0]) ** beta
        logarithmic.plot(t0 / 1000.0, ref, color=FRONT, lw=1.4, ls="--", label=f"∝ τ^β, β = {beta:.2f}")
    logarithmic.legend(fontsize=7, loc="upper left")
    figure.suptitle((title + ": " if title else "") + "chain centre-of-mass MSD (last production segment)",
                    fontsize=9)
    return figure


def compression_figure(stages: Sequence[tuple[str, Mapping[str, np.ndarray]]], title: str = "") -> Figure:
    """Density, temperature and pressure along the equilibration stages (``stages``: (name, thermo columns with
    ``time`` in fs) in order: packing, compression_01 ... compression_21), stage boundaries dotted and numbered."""
    if not stages:
        raise PlotError("no equilibration stage to plot")
    series = [s for _, s in stages]
    times, bounds = _concatenated(series)
    columns = [c for c in ("density", "temp", "press") if all(c in s for s in series)]
    figure = Figure(figsize=(7.6, 1.9 * len(columns) + 0.6), layout="constrained")
    axes = figure.subplots(len(columns), 1, sharex=True, squeeze=False).ravel()
    for ax, column in zip(axes, columns, strict=True):
        for (name, s), t in zip(stages, times, strict=True):
            colour = GATED if name == "packing" else SHOWN
            ax.plot(t, np.asarray(s[column], dtype=float), lw=0.8, color=colour)
        for b in bounds:
            ax.axvline(b, color="0.75", lw=0.5, ls=":")
        ax.set_ylabel(LABELS.get(column, column), fontsize=8)
        ax.tick_params(labelsize=7)
    if "press" in columns:
        axes[columns.index("press")].set_yscale("symlog", linthresh=100.0)
    top = axes[0]
    for (name, _), t in zip(stages, times, strict=True):
        if len(t):
            label = "pack" if name == "packing" else name.rsplit("_", 1)[-1].lstrip("0")
            top.annotate(label, (0.5 * (t[0] + t[-1]), 1.0), xycoords=("data", "axes fraction"), ha="center",
                         va="bottom", fontsize=6, color="0.35")
    axes[-1].set_xlabel("time (ps)", fontsize=8)
    compressions = sum(name.startswith("compression") for name, _ in stages)
    head = f"packing and the {compressions}-step compression"
    if "density" in columns:
        head += f" (final density {float(series[-1]['density'][-1]):.3f} g/cm³)"
    figure.suptitle((title + ": " if title else "") + head, fontsize=9)
    return figure


# ---------------------------------------------------------------------------------------------------------------
# A campaign
# ---------------------------------------------------------------------------------------------------------------


def _float(value: Any) -> float:
    if value is None or isinstance(value, str | bool):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def column(rows: Sequence[Mapping[str, Any]], name: str) -> dict[str, np.ndarray]:
    """One property of the table's rows: value and stderr (NaN where missing), shown (a value without a gate
    flag), and the unit (the first one given)."""
    value = np.array([_float(row.get(name)) for row in rows])
    stderr = np.array([_float(row.get(f"{name}_stderr")) for row in rows])
    gated = np.array([is_gated(row.get(f"{name}_flags")) for row in rows], dtype=bool)
    units = [row.get(f"{name}_unit") for row in rows if row.get(f"{name}_unit")]
    return {"value": value, "stderr": stderr, "shown": np.isfinite(value) & ~gated,
            "gated": np.isfinite(value) & gated, "unit": units[0] if units else ""}


def _exponent(*arrays: np.ndarray) -> int:
    """The power of ten to show values in (0 unless they are below 1e-3 or from 1e4 on): axes read 1.2 (1e-10 1/Pa)
    instead of carrying an offset text that collides with the titles."""
    values = np.concatenate([np.abs(np.asarray(a, dtype=float)).ravel() for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return 0
    e = math.floor(math.log10(values.max()))
    return e if e < -2 or e > 3 else 0


def scaled(data: Mapping[str, Any], exponent: int | None = None) -> dict[str, Any]:
    """A :func:`column` with value and stderr in units of 10^exponent (default :func:`_exponent`), the unit text
    saying so."""
    e = _exponent(data["value"]) if exponent is None else exponent
    unit = data["unit"] if not e else f"1e{e} {data['unit'] if data['unit'] not in ('', '1') else ''}".strip()
    return {**data, "value": data["value"] / 10.0**e, "stderr": data["stderr"] / 10.0**e, "unit": unit,
            "exponent": e}


def row_labels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A short label per row: its library id, else its repeat unit."""
    return [str(row.get("library_id") or row.get("smiles") or i).split(";")[0] for i, row in enumerate(rows)]


def properties_with_values(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """The names among ``names`` with at least one numeric value in the rows."""
    return [name for name in names if np.isfinite(column(rows, name)["value"]).any()]


def distribution_figure(rows: Sequence[Mapping[str, Any]], names: Sequence[str], title: str = "") -> Figure:
    """A histogram per property of the values that are results; values that failed a gate as grey ticks below."""
    names = properties_with_values(rows, names)
    if not names:
        raise PlotError("no property has a value to plot")
    figure, axes = _figure(len(names), 4, 2.6, 2.0)
    for ax, name in zip(axes, names, strict=True):
        data = scaled(column(rows, name))
        shown, gated = data["value"][data["shown"]], data["value"][data["gated"]]
        if len(shown):
            ax.hist(shown, bins=min(10, max(3, len(shown))), color=SHOWN, alpha=0.6)
            ax.plot(shown, np.zeros(len(shown)), "|", color=SHOWN, ms=12, mew=1.5, clip_on=False)
        if len(gated):
            ax.plot(gated, np.zeros(len(gated)), "|", color=GATED, ms=12, mew=1.5, clip_on=False)
        if not len(shown):
            ax.set_ylim(0.0, 1.0)
            ax.set_yticks([])
        ax.set_xlabel(_label(name, data["unit"]), fontsize=7)
        ax.set_title(f"{len(shown)} results" + (f", {len(gated)} gated" if len(gated) else ""), fontsize=7)
        ax.set_ylabel("polymers", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.xaxis.get_offset_text().set_fontsize(6)
    figure.suptitle((title + ": " if title else "") + "distribution of each property (ticks: the values; "
                    "grey: values that failed their own check)", fontsize=9)
    return figure


def parse_pareto(spec: str) -> tuple[tuple[str, str], tuple[bool, bool]]:
    """``"thermal_conductivity,-density"`` -> ((names), (maximize?)): a leading ``-`` means smaller is better."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if len(parts) != 2:
        raise PlotError(f"--pareto takes two properties separated by a comma, not {spec!r}")
    names = tuple(p.lstrip("+-") for p in parts)
    return (names[0], names[1]), (not parts[0].startswith("-"), not parts[1].startswith("-"))


def scatter_figure(rows: Sequence[Mapping[str, Any]], y: str, others: Sequence[str],
                   pareto: tuple[str, str] | None = None, maximize: tuple[bool, bool] = (True, True),
                   title: str = "", include_gated: bool = False) -> tuple[Figure, list[str]]:
    """``y`` against each of ``others`` (one panel each), error bars from the standard errors; the polymers on the
    Pareto front of the ``pareto`` pair (:func:`pareto_front`; of the results only, unless ``include_gated``: then
    of every value, as a look at values that are not results, e.g. of the ``fast`` protocol) are red and labelled
    in every panel, and the front is drawn as a line in the panel of that pair. Returns the figure and the front's
    labels."""
    others = [name for name in properties_with_values(rows, others) if name != y]
    if not others:
        raise PlotError(f"no property with values to plot {y} against")
    labels = row_labels(rows)
    front = np.zeros(len(rows), dtype=bool)
    if pareto is not None:
        a, b = column(rows, pareto[0]), column(rows, pareto[1])
        usable = (a["shown"] | a["gated"]) & (b["shown"] | b["gated"]) if include_gated else a["shown"] & b["shown"]
        front = pareto_front(np.where(usable, a["value"], np.nan), np.where(usable, b["value"], np.nan), maximize)
    ydata = scaled(column(rows, y))
    figure, axes = _figure(len(others), 4, 2.7, 2.3)
    for ax, name in zip(axes, others, strict=True):
        xdata = scaled(column(rows, name))
        both = np.isfinite(xdata["value"]) & np.isfinite(ydata["value"])
        result = both & xdata["shown"] & ydata["shown"]
        for mask, style in ((both & ~result, {"mfc": "white", "mec": GATED, "ecolor": GATED}),
                            (result & ~front, {"color": SHOWN, "ecolor": "#9ecae1"}),
                            (result & front, {"color": FRONT, "ecolor": "#f4a582"}),
                            (both & ~result & front, {"mfc": "white", "mec": FRONT, "ecolor": "#f4a582"})):
            if mask.any():
                ax.errorbar(xdata["value"][mask], ydata["value"][mask], xerr=np.nan_to_num(xdata["stderr"][mask]),
                            yerr=np.nan_to_num(ydata["stderr"][mask]), fmt="o", ms=4, lw=0.6, capsize=0, **style)
        marked = (both if include_gated else result) & front
        for i in np.flatnonzero(marked):
            ax.annotate(labels[i], (xdata["value"][i], ydata["value"][i]), textcoords="offset points",
                        xytext=(3, 3), fontsize=6, color=FRONT)
        if pareto is not None and set(pareto) == {y, name}:
            idx = np.flatnonzero(front)
            order = idx[np.argsort(xdata["value"][idx])]
            ax.plot(xdata["value"][order], ydata["value"][order], color=FRONT, lw=1.0, ls="--")
            ax.set_title("Pareto front (" + ", ".join(("max " if m else "min ") + SHORT_NAMES.get(p, p) for p, m in
                                                      zip(pareto, maximize, strict=True)) + ")", fontsize=7,
                         color=FRONT)
        ax.set_xlabel(_label(name, xdata["unit"]), fontsize=7)
        ax.set_ylabel(_label(y, ydata["unit"]), fontsize=7)
        ax.tick_params(labelsize=6)
        ax.xaxis.get_offset_text().set_fontsize(6)
        ax.yaxis.get_offset_text().set_fontsize(6)
    marked = f"; red: the Pareto front of {pareto[0]} and {pareto[1]}" if pareto else ""
    if pareto and include_gated:
        marked += ", gated values included"
    figure.suptitle((title + ": " if title else "") + f"{y} against the other properties\n(hollow: gated{marked})",
                    fontsize=9)
    return figure, [labels[i] for i in np.flatnonzero(front)]


def parity_pairs(rows: Sequence[Mapping[str, Any]], reference: Mapping[tuple[str, str], Mapping[str, Any]],
                 names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per property, the campaign's results that have a reference value (matched by the canonical repeat unit,
    the rows' ``smiles``): computed, stderr, reference, spread, labels; and the units. A reference in another unit
    than the campaign's is an error."""
    labels = row_labels(rows)
    out = {}
    for name in names:
        data = column(rows, name)
        pairs: dict[str, list] = {"computed": [], "stderr": [], "reference": [], "spread": [], "labels": []}
        units = set()
        for i, row in enumerate(rows):
            ref = reference.get((str(row.get("smiles") or ""), name))
            if ref is None or not data["shown"][i]:
                continue
            units.add(ref.get("unit") or "")
            pairs["computed"].append(data["value"][i])
            pairs["stderr"].append(data["stderr"][i])
            pairs["reference"].append(float(ref["value"]))
            pairs["spread"].append(float(ref.get("spread") or 0.0))
            pairs["labels"].append(labels[i])
        if not pairs["computed"]:
            continue
        unit = data["unit"]
        if any(_normal_unit(u) != _normal_unit(unit) for u in units if u):
            raise PlotError(f"{name}: the reference is in {', '.join(sorted(units))}, the campaign in {unit}")
        out[name] = {**{k: np.asarray(v) if k != "labels" else v for k, v in pairs.items()}, "unit": unit}
    return out


def _normal_unit(unit: str) -> str:
    return {"g/cm3": "g/cm^3", "-": "1", "": "1"}.get(unit, unit)


def parity_figure(pairs: Mapping[str, Mapping[str, Any]], reference_title: str = "reference",
                  title: str = "") -> tuple[Figure, dict[str, dict[str, Any]]]:
    """One parity panel per property of ``pairs`` (:func:`parity_pairs`): computed against reference with their
    error bars, the line y = x, and MAE, bias (computed − reference) and Pearson r. Returns the figure and the
    statistics per property."""
    if not pairs:
        raise PlotError(f"no result of the campaign has a value in the {reference_title} reference")
    figure, axes = _figure(len(pairs), 3 if len(pairs) <= 9 else 4, 2.9, 2.7)
    statistics = {}
    for ax, (name, p) in zip(axes, pairs.items(), strict=True):
        statistics[name] = {**parity_statistics(p["computed"], p["reference"]), "unit": p["unit"]}
        e = _exponent(p["computed"], p["reference"])
        factor = 10.0**e
        unit = scaled({"value": np.zeros(0), "stderr": np.zeros(0), "unit": p["unit"]}, e)["unit"]
        p = {**p, **{k: np.asarray(p[k], dtype=float) / factor for k in ("computed", "stderr", "reference", "spread")}}
        stats = parity_statistics(p["computed"], p["reference"])
        ax.errorbar(p["reference"], p["computed"], xerr=p["spread"], yerr=np.nan_to_num(p["stderr"]), fmt="o",
                    ms=4, lw=0.6, color=SHOWN, ecolor="#9ecae1")
        for x, y, label in zip(p["reference"], p["computed"], p["labels"], strict=True):
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=6, color="0.3")
        low = float(min(np.min(p["reference"] - p["spread"]), np.min(p["computed"])))
        high = float(max(np.max(p["reference"] + p["spread"]), np.max(p["computed"])))
        pad = 0.08 * (high - low) if high > low else 0.05 * abs(high) or 1.0
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="0.5", lw=0.8, ls="--")
        ax.set_xlim(low - pad, high + pad)
        ax.set_ylim(low - pad, high + pad)
        r = "—" if stats["r"] is None else f"{stats['r']:.2f}"
        ax.set_title(f"n={stats['n']}  MAE={stats['mae']:.2g}  bias={stats['bias']:+.2g}  r={r}", fontsize=7)
        ax.set_xlabel(_label(f"{name}, {reference_title}", unit), fontsize=7)
        ax.set_ylabel(_label(f"{name}, computed", unit), fontsize=7)
        ax.tick_params(labelsize=6)
    figure.suptitle((title + ": " if title else "") + f"parity against {reference_title} "
                    "(results only; error bars: standard error, reference spread)", fontsize=9)
    return figure, statistics
