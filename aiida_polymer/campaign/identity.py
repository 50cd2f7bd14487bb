"""A polymer's identity: the canonical repeat unit, and the key of a computed polymer (no AiiDA here).

The canonical repeat unit (one string per polymer, whichever frame, direction or multiple it is written in) is
:func:`aiida_polymer.chem.canonical.canonical_repeat_unit`, re-exported here.

:func:`polymer_key` joins that string with everything else that sets the computed numbers: the copolymer layout,
tacticity, end groups, protocol and its overrides, and the state point.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from ..chem.canonical import canonical_end_group, canonical_repeat_unit

__all__ = ["DEFAULT_END", "DEFAULT_TACTICITY", "canonical_end_group", "canonical_repeat_unit", "polymer_key"]

DEFAULT_TACTICITY = "atactic"
DEFAULT_END = "*C"


def polymer_key(units: Sequence[str], protocol: str, temperature: float = 300.0, pressure: float = 1.0, *,
                copolymer: str | None = None, fractions: Sequence[float] | None = None,
                tacticity: str | None = None, head_group: str | None = None, tail_group: str | None = None,
                overrides: dict | None = None) -> str:
    """The identity of a computed polymer, readable: ``<unit(s)>|<protocol>|<T>K|<P>atm`` and, where they differ
    from the defaults, ``|tacticity=…``, ``|ends=head,tail`` and ``|overrides=<hash>``. Copolymer units (with
    their fractions) are sorted, so the order they are listed in does not matter."""
    homopolymer = len(units) == 1 and copolymer in (None, "homopolymer")
    canonical = [canonical_repeat_unit(unit, reduce=homopolymer) for unit in units]
    if homopolymer:
        polymer = canonical[0]
    else:
        shares = list(fractions) if fractions else [1.0 / len(canonical)] * len(canonical)
        total = sum(shares)
        pairs = sorted(zip(canonical, (share / total for share in shares), strict=True))
        polymer = f"{copolymer}(" + ",".join(f"{unit}:{share:.4g}" for unit, share in pairs) + ")"
    parts = [polymer, protocol, f"{float(temperature):g}K", f"{float(pressure):g}atm"]
    if tacticity and tacticity != DEFAULT_TACTICITY:
        parts.append(f"tacticity={tacticity}")
    ends = [canonical_end_group(group) if group else canonical_end_group(DEFAULT_END)
            for group in (head_group, tail_group)]
    if ends != [canonical_end_group(DEFAULT_END)] * 2:
        parts.append(f"ends={ends[0]},{ends[1]}")
    if overrides:
        digest = hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:12]
        parts.append(f"overrides={digest}")
    return "|".join(parts)
