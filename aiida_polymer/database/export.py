"""Export of a campaign for reuse: the table as CSV and Parquet, its description as a Frictionless Data package,
and the full provenance as an AiiDA archive.

Files written to the output folder:

- ``polymers.csv``, ``polymers.parquet``: one row per polymer (:func:`~aiida_polymer.database.table.campaign_table`);
  with ``long``, also ``properties_long.csv`` / ``.parquet``, one row per polymer x property;
- ``datapackage.json``: a Frictionless *tabular data package* (https://specs.frictionlessdata.io/): one resource per
  file with its path, format and table schema (fields with name, type, description and a ``unit`` where there is
  one), the flags' meanings (``flags``: {flag: {gate, description}}) and the provenance archive (``provenance``);
- ``provenance.aiida``: ``aiida.tools.archive.create_archive`` of the group (its workflows with everything they
  ran and used): ``verdi archive import provenance.aiida``.

The CSV is deterministic: rows sorted by key (then workflow UUID), columns in the table's fixed order, floats
written with ``repr`` (exact round trip), empty cells for missing values, ``\\n`` line ends. With ``public``, a
closed campaign is refused and the table and archive are scrubbed (:mod:`aiida_polymer.database.scrub`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from aiida import orm

from ..chem.flags import FLAGS
from .access import is_closed
from .scrub import scrub_archive, scrub_rows, site_secrets
from .table import Table, campaign_table

ARCHIVE = "provenance.aiida"
PACKAGE = "datapackage.json"


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says why."""


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(table: Table, path: str | Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([_cell(row.get(column)) for column in table.columns])


ARROW_TYPES = {"string": "string", "number": "float64", "integer": "int64"}


def write_parquet(table: Table, path: str | Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c, ARROW_TYPES[table.fields[c]["type"]]) for c in table.columns])
    arrays = {c: [row.get(c) for row in table.rows] for c in table.columns}
    pq.write_table(pa.table(arrays, schema=schema), path)


def resource(name: str, path: str, table: Table, fmt: str) -> dict:
    """A Frictionless tabular data resource for ``table`` stored at ``path`` in ``fmt`` (csv or parquet)."""
    fields = [{"name": column, **table.fields[column]} for column in table.columns]
    out = {
        "name": name,
        "profile": "tabular-data-resource",
        "path": path,
        "format": fmt,
        "mediatype": "text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
        "schema": {
            "fields": fields,
            "missingValues": [""],
            "primaryKey": ["key", "workflow_uuid"] + (["property"] if "property" in table.columns else []),
        },
    }
    if fmt == "csv":
        out.update({"encoding": "utf-8", "dialect": {"delimiter": ",", "lineTerminator": "\n", "header": True}})
    return out


def datapackage(group_label: str, tables: dict[str, Table], archive: bool, public: bool) -> dict:
    """The ``datapackage.json`` content for the exported ``tables`` ({file stem: table})."""
    from .. import __version__

    resources = []
    for stem, table in tables.items():
        resources.append(resource(stem.replace("_", "-"), f"{stem}.csv", table, "csv"))
        resources.append(resource(f"{stem.replace('_', '-')}-parquet", f"{stem}.parquet", table, "parquet"))
    package = {
        "profile": "tabular-data-package",
        "name": "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in group_label.lower()),
        "title": f"aiida-polymer campaign {group_label}",
        "description": "Polymer properties computed by molecular dynamics with aiida-polymer (one row per polymer: "
        "value, standard error, unit and flags of every property; the polymer key, library id and "
        "metadata; code versions; UUIDs of the AiiDA workflow and property nodes).",
        "access": "public" if public else "site",
        "sources": [{"title": f"aiida-polymer {__version__} export of the AiiDA group {group_label!r}"}],
        "resources": resources,
        "flags": {flag: {"gate": gate, "description": text} for flag, (gate, text) in FLAGS.items()},
    }
    if archive:
        package["provenance"] = {
            "path": ARCHIVE,
            "format": "aiida",
            "mediatype": "application/zip",
            "description": "AiiDA archive of the group's full provenance: verdi archive import",
        }
    return package


def export_group(
    group: orm.Group, directory: str | Path, *, long: bool = False, public: bool = False, archive: bool = True
) -> list[Path]:
    """Write the campaign ``group`` to ``directory`` (see the module docstring); returns the files written.
    ``public``: refuse a closed group, scrub the table and the archive."""
    if public and is_closed(group):
        raise ExportError(
            f"campaign {group.label!r} is closed: its data do not leave the site (open it with "
            f"`aiida-polymer campaign open {group.label}` if it may)"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = campaign_table(group)
    secrets = site_secrets() if public else None
    if secrets is not None:
        table.rows = scrub_rows(table.rows, secrets)
    tables = {"polymers": table}
    if long:
        tables["properties_long"] = table.long()
    written = []
    for stem, each in tables.items():
        write_csv(each, directory / f"{stem}.csv")
        write_parquet(each, directory / f"{stem}.parquet")
        written += [directory / f"{stem}.csv", directory / f"{stem}.parquet"]
    if archive:
        written.append(create_provenance_archive(group, directory / ARCHIVE, secrets))
    package = datapackage(group.label, tables, archive, public)
    if secrets is not None:
        package = secrets.value(package)
    (directory / PACKAGE).write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(directory / PACKAGE)
    return written


def create_provenance_archive(group: orm.Group, path: Path, secrets=None) -> Path:
    """``verdi archive create`` of the group (scrubbed with ``secrets``); unfinished workflows are an ExportError."""
    from aiida.tools.archive import create_archive
    from aiida.tools.archive.exceptions import ExportValidationError

    try:
        create_archive([group], filename=str(path), overwrite=True)
    except ExportValidationError as exc:
        raise ExportError(
            f"cannot archive {group.label!r}: {exc} (export when its workflows have ended, or "
            f"without the archive: --no-archive)"
        ) from None
    if secrets is not None:
        scrub_archive(path, secrets)
    return path
