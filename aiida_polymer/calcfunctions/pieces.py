"""Calcfunction joining the series of a LAMMPS stage that was run in pieces (see :mod:`aiida_polymer.chem.pieces`)."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from ..chem import pieces

CUMULATIVE = {"nemd_flux": ("energy",)}  # counters every LAMMPS run starts at zero


@calcfunction
def join_pieces(**series: orm.ArrayData) -> dict[str, orm.ArrayData]:
    """One series per output from the pieces of a stage: inputs ``<output>__<i>`` for pieces i = 0, 1, … in run
    order (``thermo__<i>`` for every piece: its first step is where the piece started). Returns ``<output>``."""
    count = 1 + max(int(key.rsplit("__", 1)[1]) for key in series)
    starts = [int(series[f"thermo__{i}"].get_array("step")[0]) for i in range(count)]
    names = dict.fromkeys(key.rsplit("__", 1)[0] for key in series)
    joined = {}
    for name in names:
        tables = [_table(series.get(f"{name}__{i}")) for i in range(count)]
        table = pieces.join(tables, starts, CUMULATIVE.get(name, ()))
        if table:
            node = orm.ArrayData()
            for key, values in table.items():
                node.set_array(key, np.asarray(values))
            joined[name] = node
    return joined


def _table(node: orm.ArrayData | None) -> dict[str, np.ndarray] | None:
    return None if node is None else {k: node.get_array(k) for k in node.get_arraynames()}
