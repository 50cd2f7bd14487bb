"""Reference values to compare a campaign with: experiment and RadonPy's published MD table (no AiiDA here).

Shipped tables (built by ``scripts/build_reference.py``; see README.md next to them), long format, one row per
polymer x property x source, in the pipeline's property names and units: ``polymer``, ``smiles``,
``canonical_smiles`` (what a campaign table's ``smiles`` column holds), ``property``, ``value``, ``spread`` (half
the range a source gives, or RadonPy's run-to-run SD), ``unit``, ``source``.

- ``experiment``: the project's experimental development set (about 300 K, 1 atm; several sources per value).
- ``radonpy``: RadonPy's PI1070 results (Hayashi et al. 2022, GAFF2_mod, 10 chains of ~1000 atoms), the repeat
  units with at most 10 heavy atoms.

A user's CSV in the same format works too; it needs ``smiles``, ``property`` and ``value`` (``spread`` or
``stderr``, ``unit``, ``polymer``, ``source`` optional); its SMILES are canonicalised on reading.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIPPED = {"experiment": HERE / "experiment.csv", "radonpy": HERE / "radonpy.csv.gz"}
TITLES = {"experiment": "experiment", "radonpy": "RadonPy (PI1070)"}


class ReferenceDataError(ValueError):
    """A reference that cannot be read; the message says why."""


def _text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8-sig")


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def load_reference(source: str | Path) -> list[dict]:
    """The rows of a shipped reference (``experiment``, ``radonpy``) or of a CSV file: dicts with polymer,
    canonical_smiles, property, value, spread, unit and source (values as floats, spread 0 when not given)."""
    shipped = str(source) in SHIPPED
    path = SHIPPED[str(source)] if shipped else Path(source)
    if not path.is_file():
        raise ReferenceDataError(f"no reference {str(source)!r}: give experiment, radonpy or a CSV file")
    reader = csv.DictReader(io.StringIO(_text(path)))
    missing = {"smiles", "property", "value"} - set(reader.fieldnames or [])
    if missing and not ({"canonical_smiles", "property", "value"} <= set(reader.fieldnames or [])):
        raise ReferenceDataError(f"reference {path.name}: missing column(s) {', '.join(sorted(missing))}")
    canonical = _canonicaliser() if "canonical_smiles" not in (reader.fieldnames or []) else None
    rows = []
    for number, row in enumerate(reader, start=2):
        value = _float(row.get("value"))
        if value is None:
            continue
        unit_smiles = row.get("canonical_smiles") or ""
        if canonical is not None:
            try:
                unit_smiles = canonical(row["smiles"])
            except ValueError as exc:
                raise ReferenceDataError(f"reference {path.name} line {number}: {exc}") from None
        rows.append({
            "polymer": row.get("polymer") or row.get("smiles") or unit_smiles,
            "canonical_smiles": unit_smiles,
            "property": row["property"].strip(),
            "value": value,
            "spread": _float(row.get("spread")) or _float(row.get("stderr")) or 0.0,
            "unit": (row.get("unit") or "").strip(),
            "source": row.get("source") or "",
        })
    return rows


def _canonicaliser():
    from ...campaign.identity import canonical_repeat_unit  # RDKit; only for a user's file

    return canonical_repeat_unit


def reference_values(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """(canonical unit, property) -> {value, spread, unit, n, polymer}: the mean over the sources, spread the larger
    of the largest stated spread and half the range of the values (the sources' disagreement)."""
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        grouped[(row["canonical_smiles"], row["property"])].append(row)
    out = {}
    for key, items in grouped.items():
        values = [item["value"] for item in items]
        spread = max([item["spread"] for item in items] + [0.5 * (max(values) - min(values))])
        out[key] = {"value": sum(values) / len(values), "spread": spread, "unit": items[0]["unit"],
                    "n": len(items), "polymer": items[0]["polymer"]}
    return out
