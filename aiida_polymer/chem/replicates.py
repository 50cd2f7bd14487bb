"""Run-to-run statistics over independent replicates of one polymer (different seeds for the chains, the packing
velocities and everything after), as RadonPy's database reports its values: the mean over the runs, their standard
deviation, and how many runs gave a value (Hayashi et al., npj Comput. Mater. 8, 222 (2022), up to 5 runs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def aggregate(tables: Sequence[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One property table from the tables of ``tables`` (one per replicate, {name: {value, unit, stderr, flags}}).

    Per property: ``value`` the mean over the replicates that gave a finite value, ``run_to_run_sd`` their
    standard deviation (ddof 1; None for one), ``stderr`` the standard error of that mean (SD/√n; for a single
    value its own stderr), ``count`` n of ``replicates`` run, ``values`` each replicate's value (None where it gave
    none), and the union of the flags. A property no replicate gave keeps the first table's ``reason``. Other keys of
    an entry (e.g. the diffusion exponent) stay in the replicates' own tables.
    """
    if not tables:
        raise ValueError("no replicate tables to aggregate")
    names = list(dict.fromkeys(name for table in tables for name in table))
    out = {}
    for name in names:
        entries = [table.get(name) for table in tables]
        given = [e for e in entries if e is not None]
        values = [None if e is None or e.get("value") is None or not np.isfinite(e["value"]) else float(e["value"])
                  for e in entries]
        finite = [v for v in values if v is not None]
        base = {key: given[0][key] for key in ("unit", "reason") if key in given[0]}
        flags = sorted({flag for e in given for flag in e.get("flags") or []})
        if not finite:
            out[name] = {**base, "value": None, "stderr": None, "flags": flags, "count": 0,
                         "replicates": len(tables), "values": values, "run_to_run_sd": None}
            continue
        n = len(finite)
        sd = float(np.std(finite, ddof=1)) if n > 1 else None
        if n > 1:
            stderr = sd / np.sqrt(n)
        else:
            stderr = next(e.get("stderr") for e, v in zip(entries, values, strict=True) if v is not None)
        out[name] = {**base, "value": float(np.mean(finite)), "stderr": None if stderr is None else float(stderr),
                     "run_to_run_sd": sd, "count": n, "replicates": len(tables), "values": values, "flags": flags}
    return out
