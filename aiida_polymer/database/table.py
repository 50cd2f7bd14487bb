"""A campaign's results as one table: one row per polymer, by QueryBuilder projections (no node is loaded).

Per polymer (a workflow of the group): the fields of its key (canonical repeat unit, protocol, state point,
tacticity, end groups, hash of the protocol overrides), its library id(s) and metadata (the campaign's rows for
that key), the workflow's state and exit status, a sha256 of its settings, the versions of the codes that computed
it, the UUIDs of the workflow and of its ``properties`` output, then for every property ``<name>``,
``<name>_stderr``, ``<name>_unit`` and ``<name>_flags`` (the stored flags plus ``noise`` where the standard error is
at least half the value, as ``aiida-polymer show`` prints them, joined with ``;``).

Versions are those AiiDA recorded: aiida-core and aiida-polymer from the workflow node (``version.core``,
``version.plugin``), LAMMPS and Psi4 from the ``version`` of their jobs' ``output_parameters`` (the jobs found down
the CALL links); AmberTools records none. What is not recorded is ``unknown``, never guessed.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field

from aiida import orm
from aiida.common.links import LinkType

from ..campaign.identity import DEFAULT_TACTICITY, canonical_end_group
from ..campaign.submission import BATCH, DESCRIPTION, KEY, LIBRARY, SETTINGS
from ..chem.flags import shown_flags

UNKNOWN = "unknown"
SETTINGS_TYPES = [
    "data.core.dict.Dict.",
    "data.core.bool.Bool.",
    "data.core.int.Int.",
    "data.core.float.Float.",
    "data.core.str.Str.",
]
CODES = {"lammps": "aiida.calculations:polymer.lammps", "psi4": "aiida.calculations:polymer.psi4"}

# (name, type, description, unit) of the columns before the metadata and the properties
KEY_FIELDS = [
    ("key", "string", "the polymer key: canonical repeat unit|protocol|temperature|pressure[|extras]", None),
    ("smiles", "string", "canonical repeat unit (two *), or copolymer(unit:fraction,...)", None),
    ("protocol", "string", "computational protocol (fast, screening, moderate, precise)", None),
    ("temperature", "number", "temperature of the state point", "K"),
    ("pressure", "number", "pressure of the state point", "atm"),
    ("tacticity", "string", "tacticity of the chains", None),
    ("head_group", "string", "end group at the chain heads (canonical SMILES, one *)", None),
    ("tail_group", "string", "end group at the chain tails (canonical SMILES, one *)", None),
    ("overrides_hash", "string", "first 12 hex digits of the sha256 of the protocol overrides (empty: none)", None),
    ("library_id", "string", "id(s) of the campaign library rows of this polymer, ';'-separated", None),
]
RUN_FIELDS = [
    ("state", "string", "process state of the workflow (finished, excepted, killed, running, ...)", None),
    ("exit_status", "integer", "exit status of the workflow (0: finished ok)", None),
    (
        "settings_sha256",
        "string",
        "sha256 of the canonical JSON of the workflow's settings inputs (every Dict and "
        "base-type input by link label, the scheduler options left out)",
        None,
    ),
    ("aiida_core_version", "string", "aiida-core that ran the workflow", None),
    ("aiida_polymer_version", "string", "aiida-polymer that ran the workflow", None),
    ("lammps_version", "string", "LAMMPS version(s) of the workflow's jobs, ';'-separated", None),
    ("psi4_version", "string", "Psi4 version(s) of the workflow's jobs, ';'-separated", None),
    ("ambertools_version", "string", "AmberTools version (not recorded in the provenance)", None),
    ("workflow_uuid", "string", "UUID of the workflow node", None),
    ("properties_uuid", "string", "UUID of the workflow's properties output (Dict)", None),
]
PROPERTY_PARTS = [
    ("", "number", "value"),
    ("_stderr", "number", "block-averaged standard error"),
    ("_unit", "string", "unit"),
    ("_flags", "string", "flags, ';'-separated (see the package's flags)"),
]
LONG_FIELDS = [
    ("property", "string", "property name", None),
    ("value", "number", "value", None),
    ("stderr", "number", "block-averaged standard error", None),
    ("unit", "string", "unit", None),
    ("flags", "string", "flags, ';'-separated (see the package's flags)", None),
]


@dataclass
class Table:
    """Rows (dicts) with the columns in a fixed order and a description per column: {name: {type, description,
    unit}}; rows sorted by key (then workflow UUID)."""

    columns: list[str]
    rows: list[dict]
    fields: dict[str, dict] = field(default_factory=dict)
    properties: list[str] = field(default_factory=list)

    def long(self) -> Table:
        """One row per polymer x property: the polymer's columns, then property, value, stderr, unit, flags."""
        wide = {f"{name}{suffix}" for name in self.properties for suffix, _, _ in PROPERTY_PARTS}
        base = [column for column in self.columns if column not in wide]
        rows = []
        for row in self.rows:
            for name in self.properties:
                rows.append(
                    {
                        **{c: row[c] for c in base},
                        "property": name,
                        "value": row[name],
                        "stderr": row[f"{name}_stderr"],
                        "unit": row[f"{name}_unit"],
                        "flags": row[f"{name}_flags"],
                    }
                )
        fields = {c: self.fields[c] for c in base}
        fields.update({name: _field(kind, text, unit) for name, kind, text, unit in LONG_FIELDS})
        return Table(base + [name for name, *_ in LONG_FIELDS], rows, fields, list(self.properties))


def _field(kind: str, description: str, unit: str | None = None) -> dict:
    return {"type": kind, "description": description, **({"unit": unit} if unit else {})}


def parse_key(key: str) -> dict:
    """The fields of a polymer key (see :func:`aiida_polymer.campaign.identity.polymer_key`)."""
    parts = (key or "").split("|")
    default_end = canonical_end_group("*C")
    fields = {
        "smiles": parts[0] if parts else "",
        "protocol": "",
        "temperature": None,
        "pressure": None,
        "tacticity": DEFAULT_TACTICITY,
        "head_group": default_end,
        "tail_group": default_end,
        "overrides_hash": "",
    }
    if len(parts) >= 4:
        fields["protocol"] = parts[1]
        fields["temperature"] = float(parts[2].removesuffix("K"))
        fields["pressure"] = float(parts[3].removesuffix("atm"))
    for extra in parts[4:]:
        name, _, value = extra.partition("=")
        if name == "tacticity":
            fields["tacticity"] = value
        elif name == "ends":
            fields["head_group"], _, fields["tail_group"] = value.partition(",")
        elif name == "overrides":
            fields["overrides_hash"] = value
    return fields


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def settings_hash(inputs: dict[str, object]) -> str:
    return hashlib.sha256(canonical_json(inputs).encode()).hexdigest()


def _number(value):
    if value is None or isinstance(value, bool):
        return value if value is None else float(value)
    return float(value) if isinstance(value, int | float) else canonical_json(value)


def campaign_table(group: orm.Group) -> Table:
    """The table of ``group``'s workflows (one row each), from a few queries over the whole group."""
    workflows = _workflows(group)
    ids = [w["id"] for w in workflows]
    properties = _properties(group)
    settings = _settings_inputs(group)
    versions = _code_versions(ids)
    entries = (group.base.extras.get(SETTINGS, None) or {}).get("entries", {})
    names = sorted({name for table, _ in properties.values() for name in table})
    rows, metadata_names = [], set()
    for w in workflows:
        key = w["key"]
        library = entries.get(key) or [item for item in (w["library"] or []) if item.get("campaign") == group.label]
        library = sorted(library, key=lambda item: (item.get("line") or 0, str(item.get("id"))))
        metadata: dict[str, list[str]] = {}
        for item in library:
            for name, value in (item.get("metadata") or {}).items():
                values = metadata.setdefault(name, [])
                if str(value) not in values:
                    values.append(str(value))
        metadata_names |= set(metadata)
        version = w["version"] if isinstance(w["version"], dict) else {}
        table, props_uuid = properties.get(w["id"], ({}, ""))
        row = {
            "key": key,
            **parse_key(key),
            "library_id": ";".join(str(item["id"]) for item in library),
            **{f"metadata.{name}": ";".join(values) for name, values in metadata.items()},
            "state": w["state"] or "created",
            "exit_status": w["exit_status"],
            "settings_sha256": settings_hash(settings.get(w["id"], {})),
            "aiida_core_version": version.get("core") or UNKNOWN,
            "aiida_polymer_version": version.get("plugin") or UNKNOWN,
            "lammps_version": ";".join(sorted(versions[w["id"]].get("lammps", ()))) or UNKNOWN,
            "psi4_version": ";".join(sorted(versions[w["id"]].get("psi4", ()))) or UNKNOWN,
            "ambertools_version": UNKNOWN,
            "workflow_uuid": w["uuid"],
            "properties_uuid": props_uuid,
        }
        for name in names:
            entry = table.get(name) or {}
            row[name] = _number(entry.get("value"))
            row[f"{name}_stderr"] = _number(entry.get("stderr"))
            row[f"{name}_unit"] = entry.get("unit") or ""
            row[f"{name}_flags"] = ";".join(shown_flags(entry)) if entry else ""
        rows.append(row)
    meta_columns = sorted(f"metadata.{name}" for name in metadata_names)
    for row in rows:
        for column in meta_columns:
            row.setdefault(column, "")
    rows.sort(key=lambda row: (row["key"], row["workflow_uuid"]))
    fields = {name: _field(kind, text, unit) for name, kind, text, unit in KEY_FIELDS}
    fields.update({column: _field("string", f"library metadata column {column[9:]!r}") for column in meta_columns})
    fields.update({name: _field(kind, text, unit) for name, kind, text, unit in RUN_FIELDS})
    for name in names:
        units = sorted({row[f"{name}_unit"] for row in rows if row[f"{name}_unit"]})
        kinds = {"string" for row in rows if isinstance(row[name], str)}
        for suffix, kind, text in PROPERTY_PARTS:
            unit = units[0] if suffix in ("", "_stderr") and len(units) == 1 else None
            fields[f"{name}{suffix}"] = _field("string" if suffix == "" and kinds else kind, f"{name}: {text}", unit)
    columns = (
        [name for name, *_ in KEY_FIELDS]
        + meta_columns
        + [name for name, *_ in RUN_FIELDS]
        + [f"{name}{suffix}" for name in names for suffix, _, _ in PROPERTY_PARTS]
    )
    return Table(columns, rows, fields, names)


def _workflows(group: orm.Group) -> list[dict]:
    query = (
        orm.QueryBuilder()
        .append(orm.Group, filters={"id": group.pk}, tag="group")
        .append(
            orm.WorkflowNode,
            with_group="group",
            project=[
                "id",
                "uuid",
                f"extras.{KEY}",
                "description",
                "attributes.process_state",
                "attributes.exit_status",
                "attributes.version",
                f"extras.{LIBRARY}",
            ],
        )
    )
    out = []
    for pk, uuid, key, description, state, exit_status, version, library in query.iterall():
        if not key and (description or "").startswith(DESCRIPTION):
            key = description[len(DESCRIPTION) :]
        out.append(
            {
                "id": pk,
                "uuid": uuid,
                "key": key or "",
                "state": state,
                "exit_status": exit_status,
                "version": version,
                "library": library,
            }
        )
    return out


def _properties(group: orm.Group) -> dict[int, tuple[dict, str]]:
    """workflow id -> (its properties table, the Dict's UUID)."""
    query = (
        orm.QueryBuilder()
        .append(orm.Group, filters={"id": group.pk}, tag="group")
        .append(orm.WorkflowNode, with_group="group", tag="workflow", project="id")
        .append(
            orm.Dict,
            with_incoming="workflow",
            edge_filters={"label": "properties", "type": LinkType.RETURN.value},
            project=["attributes", "uuid"],
        )
    )
    return {pk: (attributes or {}, uuid) for pk, attributes, uuid in query.iterall()}


def _settings_inputs(group: orm.Group) -> dict[int, dict]:
    """workflow id -> {link label: Dict content or base-type value} of its inputs, scheduler options left out."""
    query = (
        orm.QueryBuilder()
        .append(orm.Group, filters={"id": group.pk}, tag="group")
        .append(orm.WorkflowNode, with_group="group", tag="workflow", project="id")
        .append(
            orm.Data,
            with_outgoing="workflow",
            edge_filters={"type": LinkType.INPUT_WORK.value},
            edge_project="label",
            tag="input",
            edge_tag="link",
            filters={"node_type": {"in": SETTINGS_TYPES}},
            project=["node_type", "attributes"],
        )
    )
    out: dict[int, dict] = defaultdict(dict)
    for row in query.dict():
        pk, label = row["workflow"]["id"], row["link"]["label"]
        node_type, attributes = row["input"]["node_type"], row["input"]["attributes"]
        if "options" in label.split("__"):
            continue
        attributes = attributes or {}
        out[pk][label] = attributes if node_type.startswith("data.core.dict") else attributes.get("value")
    return out


def _code_versions(roots: list[int]) -> dict[int, dict[str, set[str]]]:
    """workflow id -> {"lammps": {versions}, "psi4": {...}} of the jobs it called (directly or not); the jobs are
    found down the CALL links, one query per level."""
    root = {pk: pk for pk in roots}
    jobs: dict[int, str] = {}  # job id -> code name
    parents, seen = list(roots), set(roots)
    while parents:
        children = []
        for start in range(0, len(parents), BATCH):
            query = (
                orm.QueryBuilder()
                .append(
                    orm.ProcessNode, filters={"id": {"in": parents[start : start + BATCH]}}, tag="parent", project="id"
                )
                .append(
                    orm.ProcessNode,
                    with_incoming="parent",
                    project=["id", "process_type"],
                    edge_filters={"type": {"in": [LinkType.CALL_CALC.value, LinkType.CALL_WORK.value]}},
                )
            )
            for parent, pk, process_type in query.iterall():
                if pk in seen:
                    continue
                seen.add(pk)
                root[pk] = root[parent]
                children.append(pk)
                for name, wanted in CODES.items():
                    if process_type == wanted:
                        jobs[pk] = name
        parents = children
    versions: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    ids = list(jobs)
    for start in range(0, len(ids), BATCH):
        query = (
            orm.QueryBuilder()
            .append(orm.CalcJobNode, filters={"id": {"in": ids[start : start + BATCH]}}, tag="job", project="id")
            .append(
                orm.Dict, with_incoming="job", edge_filters={"label": "output_parameters"}, project="attributes.version"
            )
        )
        for pk, version in query.iterall():
            if version:
                versions[root[pk]][jobs[pk]].add(str(version))
    return versions
