"""A campaign's library: a CSV of polymers or a plain file of SMILES, read and checked row by row (no AiiDA here).

CSV columns: ``id`` and ``smiles`` (required; several repeat units of a copolymer separated by ``.``), optional
``copolymer`` (alternating, random, block), ``fractions`` (mole fractions, ``;``- or space-separated),
``tacticity``, ``head_group``, ``tail_group``, ``protocol`` (this row's, instead of the campaign's); every other
column is metadata, kept with the polymer. A plain file
has one SMILES per line, optionally followed by an id (the ``.smi`` convention); blank lines and ``#`` comments
are skipped. Every row is checked here; a bad one is rejected with its line number and the reason, the rest go on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..chem.chains import COPOLYMER_KINDS, TACTICITIES
from ..chem.monomer import MonomerError, parse_end_group, parse_repeat_unit
from ..chem.protocols import NAMES as PROTOCOLS
from .identity import polymer_key

COLUMNS = ("id", "smiles", "copolymer", "fractions", "tacticity", "head_group", "tail_group", "protocol")


@dataclass(frozen=True)
class Entry:
    """One polymer of the library, as the user wrote it; ``line`` is its line in the file (1 = first line)."""

    id: str
    line: int
    units: tuple[str, ...]
    copolymer: str | None = None
    fractions: tuple[float, ...] | None = None
    tacticity: str | None = None
    head_group: str | None = None
    tail_group: str | None = None
    protocol: str | None = None  # this row's protocol, else the campaign's
    metadata: dict[str, str] = field(default_factory=dict, compare=False)

    def key(self, protocol: str, temperature: float = 300.0, pressure: float = 1.0,
            overrides: dict | None = None) -> str:
        """The polymer key at this row's protocol, else ``protocol``."""
        return polymer_key(self.units, self.protocol or protocol, temperature, pressure, copolymer=self.copolymer,
                           fractions=self.fractions, tacticity=self.tacticity, head_group=self.head_group,
                           tail_group=self.tail_group, overrides=overrides)

    def cell(self) -> dict:
        """The cell settings this row sets (the ``cell`` section of the equilibration protocol)."""
        settings = {"tacticity": self.tacticity, "head_group": self.head_group, "tail_group": self.tail_group,
                    "copolymer": self.copolymer, "fractions": list(self.fractions) if self.fractions else None}
        return {key: value for key, value in settings.items() if value is not None}

    def as_dict(self) -> dict:
        extra = {"protocol": self.protocol} if self.protocol else {}
        return {"id": self.id, "line": self.line, "units": list(self.units), **self.cell(), **extra,
                "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, data: dict) -> Entry:
        fractions = data.get("fractions")
        return cls(id=data["id"], line=data["line"], units=tuple(data["units"]), copolymer=data.get("copolymer"),
                   fractions=tuple(fractions) if fractions else None, tacticity=data.get("tacticity"),
                   head_group=data.get("head_group"), tail_group=data.get("tail_group"),
                   protocol=data.get("protocol"), metadata=dict(data.get("metadata") or {}))


@dataclass(frozen=True)
class Rejected:
    line: int
    id: str
    reason: str


def read_library(path: str | Path) -> tuple[list[Entry], list[Rejected]]:
    """The good rows and the rejected ones (line and reason) of a library file; a duplicate id is rejected."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    rows = _csv_rows(text) if _is_csv(path, text) else _smi_rows(text, path.stem)
    entries, rejected, ids = [], [], set()
    for line, raw in rows:
        ident = (raw.get("id") or "").strip()
        try:
            entry = _entry(line, raw)
            if entry.id in ids:
                raise ValueError(f"id {entry.id!r} is used by an earlier row")
        except (ValueError, KeyError) as exc:
            rejected.append(Rejected(line, ident, str(exc)))
            continue
        ids.add(entry.id)
        entries.append(entry)
    return entries, rejected


def _is_csv(path: Path, text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    return path.suffix.lower() in (".csv", ".tsv") or ("smiles" in first.lower() and "," in first)


def _csv_rows(text: str) -> Iterator[tuple[int, dict]]:
    dialect = csv.excel_tab if "\t" in text.splitlines()[0] else csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    names = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [column for column in ("id", "smiles") if column not in names]
    if missing:
        raise LibraryError(f"the library has no {' and no '.join(repr(m) for m in missing)} column "
                           f"(columns: {', '.join(reader.fieldnames or []) or 'none'}; required: id, smiles)")
    reader.fieldnames = names
    for row in reader:
        if any((value or "").strip() for value in row.values()):
            yield reader.line_num, {key: (value or "").strip() for key, value in row.items() if key}


def _smi_rows(text: str, stem: str) -> Iterator[tuple[int, dict]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split()
        if words:
            yield line, {"smiles": words[0], "id": " ".join(words[1:]) or f"{stem}-{line}"}


class LibraryError(ValueError):
    """A library file that cannot be read at all (no id or smiles column)."""


def _entry(line: int, row: dict) -> Entry:
    ident, smiles = row.get("id", ""), row.get("smiles", "")
    if not ident:
        raise ValueError("empty id")
    if not smiles:
        raise ValueError("empty smiles")
    copolymer = row.get("copolymer") or None
    units = tuple(unit for unit in smiles.split(".") if unit)
    if copolymer and copolymer not in COPOLYMER_KINDS:
        raise ValueError(f"copolymer {copolymer!r}: choose from {', '.join(COPOLYMER_KINDS)}")
    if len(units) > 1 and not copolymer:
        raise ValueError(f"{len(units)} repeat units ({smiles}) but no copolymer column saying how they are laid out "
                         f"({', '.join(COPOLYMER_KINDS)})")
    for unit in units:
        parse_repeat_unit(unit)  # MonomerError (a ValueError) names the problem
    fractions = _fractions(row.get("fractions", ""), len(units))
    tacticity = row.get("tacticity") or None
    if tacticity and tacticity not in TACTICITIES:
        raise ValueError(f"tacticity {tacticity!r}: choose from {', '.join(TACTICITIES)}")
    ends = {}
    for column in ("head_group", "tail_group"):
        if row.get(column):
            try:
                parse_end_group(row[column])
            except MonomerError as exc:
                raise ValueError(f"{column}: {exc}") from None
            ends[column] = row[column]
    protocol = row.get("protocol") or None
    if protocol and protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r}: choose from {', '.join(PROTOCOLS)}")
    metadata = {key: value for key, value in row.items() if key not in COLUMNS and value}
    return Entry(id=ident, line=line, units=units, copolymer=copolymer, fractions=fractions, tacticity=tacticity,
                 protocol=protocol, metadata=metadata, **ends)


def _fractions(text: str, n_units: int) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        values = tuple(float(word) for word in text.replace(";", " ").split())
    except ValueError:
        raise ValueError(f"fractions {text!r} are not numbers (separate them with ';' or spaces)") from None
    if len(values) != n_units:
        raise ValueError(f"{len(values)} fractions for {n_units} repeat unit(s)")
    if any(value <= 0 for value in values) or abs(sum(values) - 1) > 1e-3:
        raise ValueError(f"fractions {text!r} must be positive and sum to 1 (sum {sum(values):g})")
    return values
