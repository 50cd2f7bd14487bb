"""Calcfunction of the uniaxial-deformation moduli: the analysis of the parsed deformation arrays of each direction."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ExitCode, calcfunction

from ..chem import mechanics
from .nemd import _finite

ANALYSIS_KEYS = ("window", "units", "min_points")


@calcfunction
def compute_mechanics(parameters: orm.Dict, **deformation: orm.ArrayData) -> dict[str, orm.Dict] | ExitCode:
    """E, ν and K = E/(3(1 − 2ν)) (:func:`aiida_polymer.chem.mechanics.mechanical_properties`) from the
    ``deformation`` outputs of the deformation stages, one input ``<axis>`` (x, y, z) each.

    ``parameters``: the analysis settings (window [low, high], min_points, units, default real) and flags to attach to
    every property. Returns ``properties`` ({youngs_modulus, poisson_ratio, bulk_modulus_uniaxial and
    youngs_modulus_<axis>, poisson_ratio_<axis>: {value, unit, stderr, flags}}) and ``mechanics`` (each direction's
    fits: slopes, intercepts, r², SEs, statistical inefficiency, points, strain range; window, passed).
    Exit 300 when the arrays cannot be analysed (e.g. the run never reached the window)."""
    p = parameters.get_dict()
    runs = {axis: {"strain": node.get_array("strain"), "pressure": node.get_array("pressure")}
            for axis, node in deformation.items()}
    if not runs or any(not len(run["strain"]) for run in runs.values()):
        return ExitCode(300, "no deformation rows to analyse")
    try:
        properties, details = mechanics.mechanical_properties(
            runs, flags=p.get("flags", []), **{k: p[k] for k in ANALYSIS_KEYS if k in p})
    except (mechanics.MechanicsError, ValueError, KeyError) as exc:
        return ExitCode(300, f"deformation analysis failed: {exc}")
    return {"properties": orm.Dict(_finite(properties)), "mechanics": orm.Dict(_finite(details))}
