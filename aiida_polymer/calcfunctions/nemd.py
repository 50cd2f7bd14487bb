"""Calcfunctions of the NEMD thermal conductivity: the analysis of the parsed NEMD arrays, and the skipped result."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from aiida import orm
from aiida.engine import ExitCode, calcfunction

from ..chem import nemd

UNITS = {"thermal_conductivity": "W/(m K)", "thermal_diffusivity": "m^2/s"}
ANALYSIS_KEYS = ("axis", "units", "discard", "nblocks", "exclude_neighbours", "r2_min", "block_r2_min", "asymmetry_max")


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _entry(name: str, value: float | None, stderr: float | None, flags: list[str]) -> dict[str, Any]:
    """A property in the style of :func:`aiida_polymer.chem.analysis._entry`."""
    return _finite({"value": value, "unit": UNITS[name], "stderr": stderr, "flags": sorted(set(flags))})


def _table(node: orm.ArrayData | None) -> dict[str, np.ndarray]:
    return {} if node is None else {k: node.get_array(k) for k in node.get_arraynames()}


@calcfunction
def compute_thermal_conductivity(parameters: orm.Dict, thermo: orm.ArrayData, nemd_profile: orm.ArrayData,
                                 nemd_flux: orm.ArrayData, nemd_heat_flux: orm.ArrayData | None = None
                                 ) -> dict[str, orm.Dict] | ExitCode:
    """κ (and a = κ/(ρ Cp)) from the NEMD stage's outputs (:func:`aiida_polymer.chem.nemd.thermal_conductivity`):
    its ``thermo``, ``nemd_profile``, ``nemd_flux`` and, with them, the κ decomposition from ``nemd_heat_flux`` (a
    stage run in pieces has them joined by ``polymer.lammps.base``).
    ``parameters``: timestep (fs, the one the stage ran with), units (real), the analysis settings (axis, discard,
    nblocks, exclude_neighbours,
    r2_min, block_r2_min, asymmetry_max), optional density (g/cm³; default: the mean thermo density of the run) and
    heat_capacity (J/(kg K)) for the diffusivity, with optional density_stderr/heat_capacity_stderr, and flags to
    attach to both properties.

    Returns ``properties`` ({thermal_conductivity, thermal_diffusivity: {value, unit, stderr, flags}}) and ``nemd``
    (the analysis: κ, gradient, flux, r² of the mean profile and of each block, block κ, mean profile, flags, passed).
    Exit 300 when the arrays cannot be analysed (e.g. too few frames).
    """
    p = parameters.get_dict()
    profile, flux = _table(nemd_profile), _table(nemd_flux)
    if not len(profile.get("step", ())) or not len(flux.get("step", ())):
        return ExitCode(300, "no temperature profile frame or no exchanged energy in the NEMD arrays")
    box = [float(thermo.get_array(k)[-1]) for k in ("lx", "ly", "lz")]
    options = {k: p[k] for k in ANALYSIS_KEYS if k in p}
    heat_flux = _table(nemd_heat_flux) or None
    try:
        result = nemd.thermal_conductivity(
            profile["step"], profile["temp"], flux["step"], flux["energy"], box, float(p["timestep"]),
            heat_flux=heat_flux, **options
        )
    except (nemd.NemdError, ValueError, KeyError) as exc:
        return ExitCode(300, f"NEMD analysis failed: {exc}")
    flags = [*result["flags"], *p.get("flags", [])]
    kappa = result["kappa"]
    properties = {"thermal_conductivity": _entry("thermal_conductivity", kappa["value"], kappa["stderr"], flags)}
    density = p.get("density")
    if density is None and "density" in thermo.get_arraynames():
        density = float(np.mean(thermo.get_array("density")))
    if p.get("heat_capacity") and density:
        cp = float(p["heat_capacity"])
        value = nemd.thermal_diffusivity(kappa["value"], density, cp)
        relative = [
            kappa["stderr"] / kappa["value"] if kappa["value"] else float("nan"),
            (p.get("density_stderr") or 0.0) / density,
            (p.get("heat_capacity_stderr") or 0.0) / cp,
        ]
        properties["thermal_diffusivity"] = _entry(
            "thermal_diffusivity", value, abs(value) * math.hypot(*relative), flags
        )
    details = {**result, "box": box, "timestep": float(p["timestep"]), "density": density,
               "rescaled_to_density": p.get("rescaled_to_density")}
    return {"properties": orm.Dict(_finite(properties)), "nemd": orm.Dict(_finite(details))}


@calcfunction
def skipped_thermal_conductivity(reason: orm.Str) -> orm.Dict:
    """The property table of a cell on which NEMD was not run: no values, flag ``skipped`` and the reason."""
    flags = ["skipped", reason.value.split(":")[0]]
    return orm.Dict({name: {**_entry(name, None, None, flags), "reason": reason.value} for name in UNITS})
