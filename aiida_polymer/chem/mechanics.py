"""Young's modulus and Poisson's ratio from uniaxial-deformation MD of an equilibrated cell (pure numpy; no AiiDA).

Method: from the same equilibrated cell, the box is stretched along x, y and z in turn (one run each) at a constant
engineering strain rate, L_a(t) = L_a0 (1 + r t) (``fix deform ... erate``), while the two lateral directions are
barostatted independently at the target pressure (``fix npt`` with only the lateral couplings, ``couple none``), so
the lateral stresses stay at −P and the load is uniaxial stress. Each run samples the engineering strains
ε_b = (L_b − L_b0)/L_b0 of the three box lengths and the diagonal of the pressure tensor
(:func:`aiida_polymer.chem.lammps_input._uniaxial`, file ``deform_<axis>.dat``).

Analysis of one direction a (lateral b, c), over the rows whose axial strain lies in the small-strain ``window``
[ε_lo, ε_hi] (default 0–2 %):

    σ_a = −P_aa (tension positive; atm → GPa)     E_a = dσ_a/dε_a        ν_a = −d((ε_b + ε_c)/2)/dε_a

each the slope of a least-squares line with a free intercept (the intercept takes the stress at zero strain, i.e.
the imposed pressure and the cell's residual stress). ν_a is the mean of the two lateral ratios −dε_b/dε_a and
−dε_c/dε_a (the slope of the mean lateral strain equals the mean of the two slopes). For a cubic crystal along
[100] this gives E[100] = 1/S11 = (C11 − C12)(C11 + 2 C12)/(C11 + C12) and ν[100] = −S12/S11 = C12/(C11 + C12).
The bulk modulus of an isotropic solid follows: K = E/(3(1 − 2ν)).

Standard errors. Per direction: the least-squares SE of the slope, inflated for the time correlation of the samples
(thermal and barostat oscillations): SE = SE_OLS √g, g the statistical inefficiency of the fit residuals (their
Flyvbjerg–Petersen reblocking SE over the naive SE, squared; :func:`aiida_polymer.chem.analysis.reblocking_stderr`).
Averaged over directions: the value is the mean of the directions, and its SE is the larger of (i) the fit SEs
propagated, √(Σ SE_a²)/n, and (ii) the spread of the directions, SD/√n (n − 1 in the SD). (ii) contains the
anisotropy of a finite amorphous cell, a real uncertainty of the isotropic value; with three directions it is itself
uncertain by ~50 %, so (i) is kept as a floor. Both are stored (``stderr_fit``, ``stderr_directions``). K's SE is
propagated from those of E and ν, treating them as independent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import protocols
from .analysis import ATM, reblocking_stderr
from .lammps_input import FINAL_DATA, FINAL_RESTART, UNIAXIAL_COLUMNS, UNIAXIAL_FILES, Stage, render

PROTOCOL_FILE = "mechanics.yaml"
AXES = ("x", "y", "z")
# pressure units of a LAMMPS unit style to the reported stress unit
PRESSURE_FACTOR = {"real": ATM * 1e-9, "metal": 1e5 * 1e-9, "lj": 1.0}  # atm → GPa, bar → GPa, reduced
MODULUS_UNIT = {"real": "GPa", "metal": "GPa", "lj": "epsilon/sigma^3"}
FILES = UNIAXIAL_FILES  # the file of each axis: deform_<axis>.dat
GATE_FLAGS = ("few_strain_points", "unphysical")


class MechanicsError(ValueError):
    """Deformation output that cannot be analysed; the message says why."""


# ---------------------------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------------------------


def deformation_steps(max_strain: float, strain_rate: float, timestep: float) -> int:
    """Steps to reach the engineering strain ``max_strain`` at ``strain_rate`` (1/fs) with ``timestep`` (fs)."""
    return max(1, math.ceil(max_strain / (strain_rate * timestep) - 1e-9))


def deformation_stage(axis: str, settings: Mapping[str, Any], reference: Sequence[float] | None = None) -> Stage:
    """The stage stretching the cell along ``axis`` (a protocol's settings, see ``protocols/mechanics.yaml``).

    ``reference``: the box lengths (lx, ly, lz) of the undeformed cell, from which the strains are measured (default:
    the box the stage reads; a continued stage needs them)."""
    md, d = settings["md"], settings["deformation"]
    rate = float(d["strain_rate"]) * 1e-15  # 1/s → 1/fs
    timestep = float(md["timestep"])
    steps = deformation_steps(float(d["max_strain"]), rate, timestep)
    uniaxial = {"axis": axis, "strain_rate": rate, "sample_every": int(d.get("sample_every", 10)),
                "average": int(d.get("average", 10))}
    if reference is not None:
        uniaxial["reference"] = [float(x) for x in reference]
    keys = ("kspace_accuracy", "cutoff_inner", "cutoff", "lj", "shake", "potential", "lj_cutoff")
    options = {k: md[k] for k in keys if k in md}
    stage = Stage(name=f"deform_{axis}", ensemble="npt", steps=steps, timestep=timestep,
                  temperature=float(settings["temperature"]), pressure=float(settings["pressure"]),
                  tdamp=d.get("tdamp"), pdamp=d.get("pdamp"), uniaxial=uniaxial,
                  thermo_every=max(1, steps // 20), restart_every=int(d.get("restart_every", 0)), **options)
    stage.validate()
    return stage


def stages(settings: Mapping[str, Any], reference: Sequence[float] | None = None) -> list[Stage]:
    """One deformation stage per axis of ``deformation.axes`` (default x, y, z), each from the same cell."""
    return [deformation_stage(axis, settings, reference) for axis in settings["deformation"].get("axes", AXES)]


def deformation_input(source: str, settings: Mapping[str, Any], reference: Sequence[float] | None = None) -> str:
    """One LAMMPS input deforming the cell of the data file ``source`` along each axis in turn, every direction from
    the same starting cell (``clear`` between them): the pipeline's force-field set-up and integrator
    (:func:`aiida_polymer.chem.lammps_input.render`), strains and pressure tensor to ``deform_<axis>.dat``; the last
    writes ``final.restart``/``final.data``."""
    parts = []
    todo = stages(settings, reference)
    for i, stage in enumerate(todo):
        last = i == len(todo) - 1
        files = (FINAL_RESTART, FINAL_DATA) if last else (f"{stage.name}.restart", f"{stage.name}.data")
        parts.append(render(stage, source, files=files))
    return "clear\n".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------------


def read_deformation(text: str) -> dict[str, np.ndarray]:
    """A ``deform_<axis>.dat`` file: step (F,), strain (F, 3), pressure (F, 3: Pxx, Pyy, Pzz), temp (F,); a last
    line cut short by a killed job is dropped."""
    n = 1 + len(UNIAXIAL_COLUMNS)
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    table = np.array([row for row in rows if len(row) == n], dtype=float).reshape(-1, n)
    return {"step": table[:, 0].astype(int), "strain": table[:, 1:4], "pressure": table[:, 4:7], "temp": table[:, 7]}


# ---------------------------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------------------------


def slope_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least-squares line y = s x + c: slope, intercept, r², the OLS SE of the slope, the statistical inefficiency
    g ≥ 1 of the residuals (time-ordered samples) and the slope's SE inflated by √g."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 3:
        raise MechanicsError(f"{n} points cannot be fitted with an error (need 3)")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - slope * x - intercept
    sxx = float(np.sum((x - x.mean()) ** 2))
    if sxx == 0:
        raise MechanicsError("the strain does not vary over the fitted points")
    se_ols = math.sqrt(float(np.sum(residual**2)) / (n - 2) / sxx)
    g = 1.0
    if n >= 16 and residual.std() > 0:
        naive = float(residual.std() / math.sqrt(n - 1))
        g = max(1.0, (reblocking_stderr(residual)[0] / naive) ** 2)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / ss_tot if ss_tot > 0 else 0.0
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2, "stderr_ols": se_ols,
            "inefficiency": g, "stderr": se_ols * math.sqrt(g)}


def direction_moduli(strain: np.ndarray, pressure: np.ndarray, axis: str, *, window: Sequence[float] = (0.0, 0.02),
                     units: str = "real", min_points: int = 10) -> dict[str, Any]:
    """E and ν of the run stretched along ``axis``: ``strain`` (F, 3) engineering strains of the box lengths,
    ``pressure`` (F, 3) the diagonal of the pressure tensor in the unit style's pressure unit.

    Returns {"youngs_modulus", "poisson_ratio", "lateral_ratios" (−dε_b/dε_a for both lateral b), "stress_fit",
    "lateral_fit", "points", "strain_range" (axial strains fitted), "flags"}."""
    if axis not in AXES:
        raise MechanicsError(f"axis must be x, y or z, not {axis!r}")
    if units not in PRESSURE_FACTOR:
        raise MechanicsError(f"units must be one of {', '.join(PRESSURE_FACTOR)}, not {units!r}")
    strain, pressure = np.asarray(strain, dtype=float), np.asarray(pressure, dtype=float)
    if strain.ndim != 2 or strain.shape[1] != 3 or pressure.shape != strain.shape:
        raise MechanicsError("strain and pressure must both be (frames, 3)")
    lo, hi = float(window[0]), float(window[1])
    if not hi > lo:
        raise MechanicsError(f"the strain window must be [low, high] with high > low, got {list(window)}")
    a = AXES.index(axis)
    lateral = [i for i in range(3) if i != a]
    axial = strain[:, a]
    sel = (axial >= lo) & (axial <= hi)
    flags = []
    if int(sel.sum()) < 3:
        raise MechanicsError(f"{int(sel.sum())} samples with axial strain in [{lo:g}, {hi:g}] (max reached "
                             f"{axial.max() if len(axial) else float('nan'):.4g}): run longer or sample more often")
    if int(sel.sum()) < min_points:
        flags.append("few_strain_points")
    if axial.max() < lo + 0.9 * (hi - lo):
        flags.append("strain_window_not_reached")
    stress = -pressure[sel, a] * PRESSURE_FACTOR[units]
    stress_fit = slope_fit(axial[sel], stress)
    lateral_fit = slope_fit(axial[sel], strain[sel][:, lateral].mean(axis=1))
    ratios = [-np.polyfit(axial[sel], strain[sel, b], 1)[0] for b in lateral]
    e, nu = stress_fit["slope"], -lateral_fit["slope"]
    if not e > 0 or not -1.0 < nu < 0.5:
        flags.append("unphysical")
    return {"youngs_modulus": {"value": e, "stderr": stress_fit["stderr"], "unit": MODULUS_UNIT[units]},
            "poisson_ratio": {"value": nu, "stderr": lateral_fit["stderr"], "unit": "1"},
            "lateral_ratios": {AXES[b]: float(r) for b, r in zip(lateral, ratios, strict=True)},
            "stress_fit": stress_fit, "lateral_fit": lateral_fit, "points": int(sel.sum()),
            "strain_range": [float(axial[sel].min()), float(axial[sel].max())], "flags": flags}


def combine(values: Sequence[float], stderrs: Sequence[float]) -> dict[str, float]:
    """Mean of per-direction values with the SE of the module docstring: max(fit SEs propagated, spread SE)."""
    v, s = np.asarray(values, dtype=float), np.asarray(stderrs, dtype=float)
    n = len(v)
    fit = float(math.sqrt(np.sum(s**2)) / n)
    spread = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    stderr = max(fit, spread) if n > 1 else fit
    return {"value": float(v.mean()), "stderr": stderr, "stderr_fit": fit, "stderr_directions": spread}


def bulk_modulus(e: float, e_se: float, nu: float, nu_se: float) -> tuple[float, float]:
    """K = E/(3(1 − 2ν)) of an isotropic solid and its SE propagated from those of E and ν (independent)."""
    d = 3.0 * (1.0 - 2.0 * nu)
    if d == 0:
        return float("inf"), float("inf")
    k = e / d
    return float(k), float(math.hypot(e_se / d, 6.0 * e / d**2 * nu_se))


def mechanical_properties(runs: Mapping[str, Mapping[str, np.ndarray]], *, window: Sequence[float] = (0.0, 0.02),
                          units: str = "real", min_points: int = 10, flags: Sequence[str] = ()
                          ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The property table of the deformation runs ``runs`` = {axis: {"strain": (F, 3), "pressure": (F, 3)}}.

    Returns (properties, details). properties: {name: {"value", "unit", "stderr", "flags"}} with youngs_modulus,
    poisson_ratio and bulk_modulus_uniaxial (K = E/(3(1 − 2ν)), isotropic) averaged over the directions (extra keys
    stderr_fit, stderr_directions, directions), and youngs_modulus_<axis>, poisson_ratio_<axis> per direction.
    details: each direction's :func:`direction_moduli`, the window and units. ``flags`` go on every entry."""
    if not runs:
        raise MechanicsError("no deformation run to analyse")
    common = list(flags)
    per = {axis: direction_moduli(run["strain"], run["pressure"], axis, window=window, units=units,
                                  min_points=min_points) for axis, run in sorted(runs.items())}
    unit = MODULUS_UNIT[units]
    out: dict[str, dict[str, Any]] = {}
    for axis, d in per.items():
        f = common + d["flags"]
        for name in ("youngs_modulus", "poisson_ratio"):
            out[f"{name}_{axis}"] = _entry(d[name]["value"], d[name]["unit"], d[name]["stderr"], f)
    every_flag = common + [f for d in per.values() for f in d["flags"]]
    averages = {}
    for name in ("youngs_modulus", "poisson_ratio"):
        c = combine([d[name]["value"] for d in per.values()], [d[name]["stderr"] for d in per.values()])
        averages[name] = c
        out[name] = {**_entry(c["value"], unit if name == "youngs_modulus" else "1", c["stderr"], every_flag),
                     "stderr_fit": c["stderr_fit"], "stderr_directions": _finite(c["stderr_directions"]),
                     "directions": list(per)}
    e, nu = averages["youngs_modulus"], averages["poisson_ratio"]
    k, k_se = bulk_modulus(e["value"], e["stderr"], nu["value"], nu["stderr"])
    k_flags = every_flag + ([] if math.isfinite(k) and k > 0 and nu["value"] < 0.5 else ["unphysical"])
    out["bulk_modulus_uniaxial"] = {**_entry(k, unit, k_se, k_flags), "directions": list(per)}
    details = {"directions": per, "window": [float(window[0]), float(window[1])], "units": units,
               "passed": not any(f in GATE_FLAGS for f in every_flag)}
    return out, details


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _entry(value: float, unit: str, stderr: float | None, flags: Sequence[str]) -> dict[str, Any]:
    return {"value": _finite(value), "unit": unit, "stderr": None if stderr is None else _finite(stderr),
            "flags": sorted(set(flags))}


# ---------------------------------------------------------------------------------------------------------------
# Protocols and cost
# ---------------------------------------------------------------------------------------------------------------


def protocol(name: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """One protocol's validated settings (``aiida_polymer/protocols/mechanics.yaml``) with ``overrides`` merged in
    recursively (:func:`aiida_polymer.chem.protocols.settings`)."""
    return protocols.settings(PROTOCOL_FILE, name, overrides)


def analysis_parameters(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`mechanical_properties` set by a protocol (its ``analysis`` section)."""
    a = dict(settings.get("analysis") or {})
    if "window" in a:
        a["window"] = [float(x) for x in a["window"]]
    return a


def atom_steps(settings: Mapping[str, Any], n_atoms: int) -> int:
    """The cost of the stage: atoms × MD steps summed over the deformation directions."""
    return n_atoms * sum(stage.steps for stage in stages(settings))
