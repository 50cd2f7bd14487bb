"""Thermal conductivity by Müller-Plathe reverse non-equilibrium MD (pure numpy; no AiiDA).

Method (F. Müller-Plathe, J. Chem. Phys. 106, 6082 (1997)): the box is cut into ``n_slabs`` slabs along ``axis``;
every ``swap_every`` steps the kinetic energy of the hottest atom of slab 0 (at the lower box edge) is exchanged
with that of the coldest atom of slab n/2 (the middle), so heat flows from slab n/2 to slab 0 both ways round the
periodic box. In the steady state the cumulative exchanged energy E(t) grows linearly, and the heat flux through
each of the two halves is J = (dE/dt) / (2 A), A the cross-section normal to the axis. The time-averaged slab
temperatures fall linearly on both halves; each half is fitted separately (without the two reservoir slabs and,
by default, their neighbours, where the profile bends), and ∇T is the mean of the two |slopes|. κ = J / ∇T.

Units: LAMMPS ``real`` (T K, x Å, E kcal/mol, t fs) and ``metal`` (eV, ps) give κ in W/(m K); ``lj`` gives the
reduced κ* in units of k_B/(σ τ), τ = σ √(m/ε) (see :func:`reduced_kappa` to convert an SI value).

Error and gates: the steady-state frames (after dropping the first ``discard`` fraction) are cut into ``nblocks``
contiguous blocks; κ is evaluated in each block (its mean profile and the energy exchanged in its time span), and
SE = SD(block κ)/√(nblocks − 1). The result passes only if (1) both halves of the mean profile are linear,
r² ≥ ``r2_min`` (0.98), (2) both halves are linear in every block, r² ≥ ``block_r2_min`` (0.9), and (3) the two
halves slope in opposite directions (heat flows away from the hot reservoir on both sides). Failing profiles are
returned with ``passed = False`` and flags, never silently.

Thermal diffusivity a = κ / (ρ Cp).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import protocols
from .analysis import AVOGADRO, KCAL, block_slices
from .lammps_input import Stage
from .lammps_io import read_vector_frames

PROTOCOL_FILE = "nemd.yaml"
AXES = {"x": 0, "y": 1, "z": 2}
# energy (J), length (m), time (s) of one LAMMPS unit; None: report in the style's own (reduced) units
UNIT_STYLES: dict[str, dict[str, Any]] = {
    "real": {
        "energy": KCAL / AVOGADRO,
        "length": 1e-10,
        "time": 1e-15,
        "kappa": "W/(m K)",
        "gradient": "K/m",
        "flux": "W/m^2",
    },
    "metal": {
        "energy": 1.602176634e-19,
        "length": 1e-10,
        "time": 1e-12,
        "kappa": "W/(m K)",
        "gradient": "K/m",
        "flux": "W/m^2",
    },
    "lj": {
        "energy": 1.0,
        "length": 1.0,
        "time": 1.0,
        "kappa": "k_B/(sigma tau)",
        "gradient": "epsilon/(k_B sigma)",
        "flux": "epsilon/(sigma^2 tau)",
    },
}
GATE_FLAGS = ("nonlinear_profile", "nonlinear_profile_blocks", "no_gradient")
NEMATIC_MAX = 0.1


class NemdError(ValueError):
    """NEMD output that cannot be analysed (too short, malformed); the message says why."""


# ---------------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------------


def read_profile(text: str) -> dict[str, np.ndarray]:
    """A ``fix ave/chunk ... temp`` file: step (F,), coord, count and temp (F, n_slabs); incomplete frames dropped."""
    steps, frames, rows, expected = [], [], [], 0
    for line in text.splitlines():
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if expected == 0:  # frame header: step, number of chunks, total count
            steps.append(int(tokens[0]))
            expected, rows = int(tokens[1]), []
            continue
        if len(tokens) < 4:  # a line cut short by a killed job: the frame is incomplete
            break
        rows.append([float(x) for x in tokens[1:4]])
        if len(rows) == expected:
            frames.append(rows)
            expected = 0
    if not frames:
        return {
            "step": np.zeros(0, dtype=int),
            "coord": np.zeros((0, 0)),
            "count": np.zeros((0, 0)),
            "temp": np.zeros((0, 0)),
        }
    data = np.array(frames, dtype=float)
    return {
        "step": np.array(steps[: len(frames)], dtype=int),
        "coord": data[:, :, 0],
        "count": data[:, :, 1],
        "temp": data[:, :, 2],
    }


def read_flux(text: str) -> dict[str, np.ndarray]:
    """A ``fix ave/time ... f_nemd`` file: step and the cumulative exchanged energy."""
    rows = [line.split()[:2] for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rows = [row for row in rows if len(row) == 2]  # a last line cut short by a killed job
    table = np.array(rows, dtype=float).reshape(-1, 2)
    return {"step": table[:, 0].astype(int), "energy": table[:, 1]}


def read_heat_flux(text: str, terms: Sequence[str]) -> dict[str, np.ndarray]:
    """The ``nemd_heat_flux.dat`` file of a decomposing NEMD stage: step (F,) and one (F, n_slabs) array per term
    (the columns, in the order of :func:`aiida_polymer.chem.lammps_input.heat_flux_terms`)."""
    steps, frames = read_vector_frames(text)
    if len(steps) and frames.shape[2] != len(terms):
        raise NemdError(f"the heat-flux file has {frames.shape[2]} columns for {len(terms)} terms")
    return {"step": steps, **{term: frames[:, :, i] if len(steps) else np.zeros((0, 0)) for i, term in
                              enumerate(terms)}}


# ---------------------------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------------------------


def half_slabs(n_slabs: int, exclude_neighbours: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Slab indices of the two halves between the reservoirs 0 and n/2, without the reservoirs and
    ``exclude_neighbours`` slabs next to each of them."""
    half, e = n_slabs // 2, int(exclude_neighbours)
    a, b = np.arange(1 + e, half - e), np.arange(half + 1 + e, n_slabs - e)
    if len(a) < 3:
        raise NemdError(f"{n_slabs} slabs leave {len(a)} points per half to fit (need 3): use more slabs")
    return a, b


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares slope, intercept and r²."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - slope * x - intercept) ** 2))
    return float(slope), float(intercept), 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0


def profile_gradient(temp: np.ndarray, length: float, exclude_neighbours: int = 1) -> dict[str, Any]:
    """Fit both halves of one slab-temperature profile (n_slabs,) of a box of ``length`` along the axis.

    Returns the slopes (T per length unit) of half A (slabs between 0 and n/2) and half B (between n/2 and n),
    their r², ∇T = mean |slope| and whether the halves slope in opposite directions.
    """
    temp = np.asarray(temp, dtype=float)
    n = len(temp)
    x = (np.arange(n) + 0.5) * length / n
    fits = [linear_fit(x[idx], temp[idx]) for idx in half_slabs(n, exclude_neighbours)]
    slopes = [f[0] for f in fits]
    return {
        "slopes": slopes,
        "r2": [f[2] for f in fits],
        "gradient": 0.5 * (abs(slopes[0]) + abs(slopes[1])),
        "opposite": bool(slopes[0] * slopes[1] < 0),
    }


def exchange_rate(steps: np.ndarray, energy: np.ndarray, timestep: float) -> float:
    """dE/dt (energy per time unit) of the cumulative exchanged energy, by a least-squares line."""
    steps, energy = np.asarray(steps, dtype=float), np.asarray(energy, dtype=float)
    if len(steps) < 2:
        raise NemdError("fewer than 2 exchanged-energy samples in the window")
    return float(np.polyfit(steps * timestep, energy, 1)[0])


def _conversions(units: str) -> tuple[float, float, float]:
    """Factors from LAMMPS units to the reported ones: gradient, flux, κ."""
    if units not in UNIT_STYLES:
        raise NemdError(f"units must be one of {', '.join(UNIT_STYLES)}, not {units!r}")
    u = UNIT_STYLES[units]
    flux = u["energy"] / (u["time"] * u["length"] ** 2)
    gradient = 1.0 / u["length"]
    return gradient, flux, flux / gradient


def thermal_conductivity(
    profile_steps: np.ndarray,
    temp: np.ndarray,
    flux_steps: np.ndarray,
    energy: np.ndarray,
    box: Sequence[float],
    timestep: float,
    *,
    axis: str = "x",
    units: str = "real",
    discard: float = 0.2,
    nblocks: int = 5,
    exclude_neighbours: int = 1,
    r2_min: float = 0.98,
    block_r2_min: float = 0.9,
    asymmetry_max: float = 0.3,
    heat_flux: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """κ from the slab temperature frames ``temp`` (F, n_slabs) at ``profile_steps`` and the cumulative exchanged
    energy ``energy`` at ``flux_steps``; ``box`` = (lx, ly, lz) in length units, ``timestep`` in time units.

    Returns {"kappa", "gradient", "flux": {"value", "stderr", "unit"}, "r2": [A, B] of the mean profile,
    "block_r2": per block [A, B], "block_kappa", "slopes", "profile" (mean), "mean_temperature",
    "temperature_difference" (hot − cold reservoir), "window" (steps), "nblocks", "flags", "passed"}.
    See the module docstring for the method, the error and the gates.

    ``heat_flux`` (optional): the per-slab heat-flux sums by term of a decomposing stage (:func:`read_heat_flux`);
    adds "decomposition" (:func:`decomposition`, or {"error": why} when the frames do not allow it).
    """
    temp = np.asarray(temp, dtype=float)
    profile_steps, flux_steps = np.asarray(profile_steps), np.asarray(flux_steps)
    energy = np.asarray(energy, dtype=float)
    if temp.ndim != 2 or len(temp) != len(profile_steps):
        raise NemdError("temp must be (frames, slabs) with one step per frame")
    if not 0.0 <= discard < 1.0:
        raise NemdError(f"discard must be in [0, 1), got {discard}")
    if axis not in AXES:
        raise NemdError(f"axis must be x, y or z, not {axis!r}")
    g_factor, j_factor, k_factor = _conversions(units)
    box = [float(b) for b in box]
    length = box[AXES[axis]]
    area = math.prod(b for i, b in enumerate(box) if i != AXES[axis])

    first = math.ceil(discard * len(temp))
    kept, kept_steps = temp[first:], profile_steps[first:]
    if len(kept) < 2:
        raise NemdError(f"{len(kept)} profile frame(s) after discarding {discard:.0%} of {len(temp)}: run longer")
    interval = int(np.median(np.diff(profile_steps))) if len(profile_steps) > 1 else 0
    flags: list[str] = []
    if len(kept) < nblocks:
        nblocks, flags = len(kept), ["few_blocks"]

    def window(frames: slice) -> tuple[int, int]:
        return kept_steps[frames][0] - interval, kept_steps[frames][-1]

    def window_kappa(frames: slice) -> tuple[dict[str, Any], float, float]:
        start, stop = window(frames)
        sel = (flux_steps >= start) & (flux_steps <= stop)
        fit = profile_gradient(kept[frames].mean(axis=0), length, exclude_neighbours)
        flux = exchange_rate(flux_steps[sel], energy[sel], timestep) / (2.0 * area)
        return fit, flux, flux / fit["gradient"] if fit["gradient"] > 0 else float("nan")

    whole, flux, kappa = window_kappa(slice(None))
    block_frames = block_slices(len(kept), nblocks)
    blocks = [window_kappa(s) for s in block_frames]
    block_kappa = np.array([b[2] for b in blocks])
    block_gradient = np.array([b[0]["gradient"] for b in blocks])
    block_flux = np.array([b[1] for b in blocks])

    def se(values: np.ndarray) -> float:
        return float(values.std() / math.sqrt(nblocks - 1)) if nblocks > 1 else float("nan")

    if min(whole["r2"]) < r2_min:
        flags.append("nonlinear_profile")
    if any(min(b[0]["r2"]) < block_r2_min for b in blocks):
        flags.append("nonlinear_profile_blocks")
    if not whole["opposite"] or not whole["gradient"] > 0 or not flux > 0:
        flags.append("no_gradient")
    slopes = np.abs(whole["slopes"])
    if abs(slopes[0] - slopes[1]) > asymmetry_max * slopes.mean():
        flags.append("asymmetric_profile")
    if not np.all(np.isfinite(block_kappa)):
        flags.append("non_finite_blocks")
    mean_profile = kept.mean(axis=0)
    n = temp.shape[1]
    u = UNIT_STYLES[units]
    extra = {}
    if heat_flux is not None:
        windows = [window(slice(None)), *(window(b) for b in block_frames)]
        gradients = [whole["gradient"], *block_gradient]
        try:  # κ stands without its decomposition
            extra["decomposition"] = decomposition(heat_flux, windows, gradients, flux, length * area / n,
                                                   exclude_neighbours, units)
        except (NemdError, ValueError, IndexError) as exc:
            extra["decomposition"] = {"error": str(exc)}
    return {
        "kappa": {"value": kappa * k_factor, "stderr": se(block_kappa) * k_factor, "unit": u["kappa"]},
        "gradient": {
            "value": whole["gradient"] * g_factor,
            "stderr": se(block_gradient) * g_factor,
            "unit": u["gradient"],
        },
        "flux": {"value": flux * j_factor, "stderr": se(block_flux) * j_factor, "unit": u["flux"]},
        "slopes": [s * g_factor for s in whole["slopes"]],
        "r2": whole["r2"],
        "block_r2": [b[0]["r2"] for b in blocks],
        "block_kappa": (block_kappa * k_factor).tolist(),
        "profile": mean_profile.tolist(),
        "mean_temperature": float(mean_profile.mean()),
        "temperature_difference": float(mean_profile[n // 2] - mean_profile[0]),
        "window": [int(kept_steps[0] - interval), int(kept_steps[-1])],
        "frames": len(kept),
        "nblocks": nblocks,
        "area": area,
        "length": length,
        "flags": sorted(set(flags)),
        "passed": not any(f in GATE_FLAGS for f in flags),
        **extra,
    }


def decomposition(
    heat_flux: Mapping[str, np.ndarray],
    windows: Sequence[tuple[int, int]],
    gradients: Sequence[float],
    swap_flux: float,
    slab_volume: float,
    exclude_neighbours: int = 1,
    units: str = "real",
) -> dict[str, Any]:
    """κ by heat-flux term: the microscopic heat flux of each term, J_t = ⟨Σ_slab q_t⟩ / V_slab averaged over the
    fitted slabs of both halves (heat flows towards −axis in half A, +axis in half B, so J_t = (B − A)/2), over ∇T.

    ``windows``: (start, stop] steps of the whole steady state then of each block, with their ``gradients`` (T per
    length unit); ``swap_flux``: J imposed by the swaps over the whole window. Returns {"terms": {term: {"kappa",
    "stderr", "fraction"}}, "kappa": their sum, "closure": Σ J_t / J_swap (1 when the microscopic flux carries all
    the imposed heat), "unit"}; stderr from the blocks, as for κ.
    """
    steps = np.asarray(heat_flux["step"])
    terms = [k for k in heat_flux if k not in ("step", "time")]
    half_a, half_b = half_slabs(np.asarray(heat_flux[terms[0]]).shape[1], exclude_neighbours)
    k_factor = _conversions(units)[2]

    def term_flux(values: np.ndarray, start: int, stop: int) -> float:
        sel = (steps > start) & (steps <= stop)
        if not sel.any():
            raise NemdError(f"no heat-flux frame in steps ({start}, {stop}]")
        mean = np.asarray(values)[sel].mean(axis=0) / slab_volume
        return 0.5 * float(mean[half_b].mean() - mean[half_a].mean())

    fluxes = {t: np.array([term_flux(heat_flux[t], *w) for w in windows]) for t in terms}
    kappas = {t: f / np.asarray(gradients) * k_factor for t, f in fluxes.items()}
    total = sum(fluxes.values())
    nblocks = len(windows) - 1

    def se(values: np.ndarray) -> float | None:
        return float(values[1:].std() / math.sqrt(nblocks - 1)) if nblocks > 1 else None

    return {
        "terms": {t: {"kappa": float(k[0]), "stderr": se(k), "fraction": float(fluxes[t][0] / total[0])}
                  for t, k in kappas.items()},
        "kappa": float(sum(k[0] for k in kappas.values())),
        "stderr": se(sum(kappas.values())),
        "closure": float(total[0] / swap_flux) if swap_flux else None,
        "unit": UNIT_STYLES[units]["kappa"],
    }


def thermal_diffusivity(kappa: float, density: float, heat_capacity: float) -> float:
    """a = κ/(ρ Cp) in m²/s from κ in W/(m K), ρ in g/cm³ and Cp in J/(kg K)."""
    return kappa / (density * 1000.0 * heat_capacity)


def reduced_kappa(kappa_si: float, sigma: float, epsilon_k: float, mass: float) -> float:
    """κ in W/(m K) of an LJ fluid to the reduced κ* = κ σ² √(m/ε) / k_B (σ in Å, ε/k_B in K, m in g/mol)."""
    kb = 1.380649e-23
    tau = sigma * 1e-10 * math.sqrt(mass / AVOGADRO / 1000.0 / (epsilon_k * kb))
    return kappa_si * sigma * 1e-10 * tau / kb


def skip_reason(
    properties: Mapping[str, Any] | None, convergence: Mapping[str, Any] | None, nematic_max: float = NEMATIC_MAX
) -> str | None:
    """Why NEMD should not be run on an equilibrated cell, or None: the equilibration did not converge
    ("not_equilibrated: ..."), or the chains are aligned, nematic order S ≥ ``nematic_max`` ("nematic_order: ...";
    a one-axis κ of an oriented cell is not the isotropic value)."""
    if convergence is not None and not convergence.get("converged", False):
        failing = sorted(k for k, v in (convergence.get("checks") or {}).items() if not v.get("pass", True))
        return "not_equilibrated: " + (f"failing checks {', '.join(failing)}" if failing else "not converged")
    entry = (properties or {}).get("nematic_order")
    if entry and entry.get("value") is not None and entry["value"] >= nematic_max:
        return f"nematic_order: S = {entry['value']:.3f} >= {nematic_max:g}"
    if any("not_converged" in (e.get("flags") or []) for e in (properties or {}).values() if isinstance(e, Mapping)):
        return "not_equilibrated: properties are flagged not_converged"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Protocols
# ---------------------------------------------------------------------------------------------------------------


def protocol(name: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """One protocol's validated settings (``aiida_polymer/protocols/nemd.yaml``) with ``overrides`` merged in
    recursively (:func:`aiida_polymer.chem.protocols.settings`)."""
    return protocols.settings(PROTOCOL_FILE, name, overrides)


def stages(settings: Mapping[str, Any]) -> list[Stage]:
    """The two stages: NVT with new velocities in the replicated cell, then NVE with Müller-Plathe swaps.

    Stage lengths: ``duration`` (ps) of the ``nvt`` and ``nemd`` sections, or ``steps`` where given (it wins)."""
    md, nvt, nemd = settings["md"], settings["nvt"], dict(settings["nemd"])
    common = {k: md[k] for k in ("timestep", "kspace_accuracy", "cutoff_inner", "cutoff", "lj") if k in md}
    temperature = float(settings["temperature"])
    nvt_steps = int(nvt["steps"]) if "steps" in nvt else protocols.steps(nvt["duration"], md["timestep"])
    duration = nemd.pop("duration", None)
    nemd_steps = int(nemd.pop("steps")) if "steps" in nemd else protocols.steps(duration, md["timestep"])
    restart_every = int(nemd.pop("restart_every", 0))
    window = int(nemd.get("profile_window", 10000))
    first = Stage(
        name="nemd_nvt",
        ensemble="nvt",
        temperature=temperature,
        steps=nvt_steps,
        velocity_seed=int(nvt.get("seed", 1)),
        replicate=list(settings.get("replicate") or [1, 1, 1]),
        thermo_every=max(1, nvt_steps // 10),
        **common,
    )
    second = Stage(
        name="nemd",
        ensemble="nve",
        temperature=temperature,
        steps=nemd_steps,
        nemd=nemd,
        thermo_every=window,
        restart_every=restart_every,
        **common,
    )
    for stage in (first, second):
        stage.validate()
    return [first, second]


def analysis_parameters(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`thermal_conductivity` set by a protocol (its ``analysis`` section)."""
    a = dict(settings.get("analysis") or {})
    return {"axis": settings["nemd"].get("axis", "x"), **a}
