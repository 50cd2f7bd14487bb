"""Calcfunction of the glass transition: the holds' thermo of a stepwise cooling into Tg and the expansion
coefficients above and below it (:mod:`aiida_polymer.chem.glass_transition`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from aiida import orm
from aiida.engine import ExitCode, calcfunction

from ..chem import glass_transition as tg


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


@calcfunction
def compute_glass_transition(parameters: orm.Dict, **holds: orm.ArrayData) -> dict[str, orm.Data] | ExitCode:
    """Tg from the holds of a cooling phase. ``holds``: the ``stage_thermo`` of each hold from each LAMMPS run that
    ran it, as ``<hold name>__<i>`` (i: the run's order; the pieces are joined by
    :func:`aiida_polymer.chem.glass_transition.join_hold_pieces`). ``parameters``: ``schedule`` (the
    CoolingSchedule as a dict), ``analysis`` (keyword arguments of :func:`~aiida_polymer.chem.glass_transition.
    glass_transition`) and ``flags`` to attach.

    Returns ``properties`` ({glass_transition_temperature (K), thermal_expansion_above_tg,
    thermal_expansion_below_tg (1/K): {value, unit, stderr, flags}}), ``glass_transition`` (the fit: break and its
    interval, slopes, residuals, RSS profile, range sensitivity, p value of one line, flags) and ``holds`` (per hold:
    set_temperature, temperature, density, density_stderr, samples). Exit 300 when no hold finished."""
    p = parameters.get_dict()
    schedule = tg.CoolingSchedule.from_dict(p["schedule"])
    pieces: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for key, node in holds.items():
        name, index = key.rsplit("__", 1)
        pieces.setdefault(name, {})[int(index)] = {k: node.get_array(k) for k in node.get_arraynames()}
    thermo = {name: tg.join_hold_pieces([parts[i] for i in sorted(parts)]) for name, parts in pieces.items()}
    table = tg.hold_densities(thermo, schedule)
    if not len(table["density"]):
        return ExitCode(300, "no hold of the cooling ran to its end")
    result = tg.glass_transition(table["set_temperature"], table["density"], flags=p.get("flags", []),
                                 **p.get("analysis", {}))
    node = orm.ArrayData()
    for key, values in table.items():
        node.set_array(key, np.asarray(values))
    return {"properties": orm.Dict(_finite(result["properties"])), "glass_transition": orm.Dict(_finite(result["fit"])),
            "holds": node}
