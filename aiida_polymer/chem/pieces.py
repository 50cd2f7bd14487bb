"""One MD stage run in pieces — continued after a walltime stop or a killed job — joined back into one series.

Each piece resumes from a restart file written at its start step, which may lie before the step the previous piece
reached (a killed job redoes what followed its newest restart file). The joined series keeps the previous piece's
rows up to the next piece's start and the next piece's rows after the last row kept; so no step appears twice and
nothing that was redone is counted twice. Counters that each run starts at zero (the energy exchanged by a NEMD fix)
are shifted by the value reached before the piece.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Table = Mapping[str, np.ndarray]  # {"step": (F,), name: (F, ...)}


def join(tables: Sequence[Table | None], starts: Sequence[int], cumulative: Sequence[str] = ()
         ) -> dict[str, np.ndarray]:
    """Join the tables of one output of the pieces of a stage, in run order.

    ``starts``: the step each piece started from; a table may be None or empty (a piece too short to write a
    row). ``cumulative``: columns restarted at zero by every piece. Returns {} when no piece has a row.
    """
    if len(tables) != len(starts):
        raise ValueError("one start step per piece is needed")
    ends = [*starts[1:], None]
    kept: list[dict[str, np.ndarray]] = []
    last_step, offsets = None, dict.fromkeys(cumulative, 0.0)
    for table, end in zip(tables, ends, strict=True):
        if table is None or not len(table.get("step", ())):
            continue
        steps = np.asarray(table["step"])
        keep = np.ones(len(steps), bool) if end is None else steps <= end
        if last_step is not None:
            keep &= steps > last_step
        rows = {k: np.asarray(v)[keep] for k, v in table.items()}
        for name in cumulative:
            rows[name] = rows[name].astype(float) + offsets[name]
        if len(rows["step"]):
            last_step = int(rows["step"][-1])
            offsets = {name: float(rows[name][-1]) for name in cumulative}
            kept.append(rows)
    if not kept:
        return {}
    return {k: np.concatenate([rows[k] for rows in kept]) for k in kept[0]}
