"""Queries of the polymer database that stay fast at 10^5 polymers: conditions, sort and columns over the
polymer workflows (of a group, or of the whole profile), as a pandas DataFrame, one row per workflow.

Everything comes from QueryBuilder projections: of the workflow (pk, UUID, state, exit status, the extras
``polymer_key`` and ``library``, the description that holds the key) and of paths inside its ``properties`` Dict
(``attributes.<name>.value`` and so on, cast to numbers in the database); no node is loaded. A condition on a
property's value, standard error or unit, on the exit status, pk or state, and ``==`` on the key, the repeat unit
(``smiles``) or the protocol, is a QueryBuilder filter, so the database does the filtering; every condition is
then applied to the rows once more in pandas (exact for all columns, e.g. the parsed temperature), so what the
database gets is only ever a pre-selection. A row without the value (``None``, no properties) never meets a
condition.

The columns are those of the export table (:mod:`aiida_polymer.database.table`) that can be read this way, plus
``pk``: the key fields, ``library_id``, ``state``, ``exit_status``, ``workflow_uuid``, ``properties_uuid`` and per
property ``<name>``, ``<name>_stderr``, ``<name>_unit``, ``<name>_flags`` (``;``-separated, with ``noise`` as
``aiida-polymer show`` adds it)::

    from aiida_polymer.database import query
    frame = query("pi-screen", where=["density>1.1", "thermal_conductivity>=0.3"], sort="-thermal_conductivity",
                  columns=["smiles", "density", "thermal_conductivity"])
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Iterable, Sequence

from aiida import orm
from aiida.common.links import LinkType

from ..campaign.identity import DEFAULT_END, DEFAULT_TACTICITY, canonical_end_group
from ..campaign.submission import BATCH, DESCRIPTION, KEY, LIBRARY, WORKFLOWS
from ..chem.flags import shown_flags
from .synthetic import UNITS

PROPERTIES = tuple(UNITS)
KEY_COLUMNS = ("key", "smiles", "protocol", "temperature", "pressure", "tacticity", "head_group", "tail_group",
               "overrides_hash")
WORKFLOW_COLUMNS = ("pk", "library_id", "state", "exit_status", "workflow_uuid", "properties_uuid")
PARTS = ("", "_stderr", "_unit", "_flags")
COLUMNS = ("key", "pk", *KEY_COLUMNS[1:], *WORKFLOW_COLUMNS[1:], *(f"{n}{p}" for n in PROPERTIES for p in PARTS))
DEFAULT_COLUMNS = ("pk", "smiles", "protocol", "temperature", "pressure", "state", *PROPERTIES)
NUMERIC = {"pk", "temperature", "pressure", "exit_status"} | {f"{n}{p}" for n in PROPERTIES for p in ("", "_stderr")}
OPERATORS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt,
             "<": operator.lt}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*([<>=!]+)\s*(.*?)\s*$")


class QueryError(ValueError):
    """A query that cannot be run as asked (unknown column, bad operator, a number that is not one); the message
    says which and what is allowed."""


class Condition:
    """``column op value`` from a ``--where`` text such as ``density>1.1`` or ``protocol==fast``."""

    def __init__(self, text: str):
        match = _CONDITION.match(text or "")
        if not match:
            raise QueryError(f"bad condition {text!r}: write COLUMN OP VALUE, e.g. 'density>1.1' "
                             f"(operators: {' '.join(OPERATORS)})")
        self.text, (self.column, self.op, raw) = text, match.groups()
        if self.column not in COLUMNS:
            raise QueryError(f"unknown column {self.column!r} in {text!r}{_suggest(self.column)}")
        if self.op not in OPERATORS:
            raise QueryError(f"bad operator {self.op!r} in {text!r}: use one of {' '.join(OPERATORS)}")
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        if self.column in NUMERIC:
            try:
                self.value = float(raw)
            except ValueError:
                raise QueryError(f"{self.column} is a number: {raw!r} in {text!r} is not one") from None
            if math.isnan(self.value):
                raise QueryError(f"{self.column}: NaN in {text!r} matches nothing; give a number")
        else:
            self.value = raw

    def mask(self, series):
        """The rows of ``series`` (a pandas Series) that meet the condition; a missing value never does."""
        present = series.notna()
        if self.column in NUMERIC:
            return present & OPERATORS[self.op](series.astype(float), self.value)
        return present & OPERATORS[self.op](series.astype(object).where(present, ""), self.value)


class UnknownGroupError(QueryError):
    """No group of that label."""


def _suggest(column: str) -> str:
    import difflib

    close = difflib.get_close_matches(column, COLUMNS, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"{hint}; columns: the key fields {', '.join(KEY_COLUMNS)}, {', '.join(WORKFLOW_COLUMNS)}, and per " \
           f"property NAME, NAME_stderr, NAME_unit, NAME_flags ({', '.join(PROPERTIES)})"


def _property(column: str) -> tuple[str, str] | None:
    """(property, part) of a property column, e.g. ("density", "_stderr"); None for the others."""
    for part in PARTS[1:]:
        if column.endswith(part) and column[: -len(part)] in UNITS:
            return column[: -len(part)], part
    return (column, "") if column in UNITS else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _key_filter(pattern: str) -> dict:
    """Workflows whose key (the extra, or the description it was stored with) matches the LIKE ``pattern``."""
    return {"or": [{f"extras.{KEY}": {"like": pattern}}, {"description": {"like": _like(DESCRIPTION) + pattern}}]}


def _pushed(conditions: Sequence[Condition]) -> tuple[list[dict], dict]:
    """The QueryBuilder filters that pre-select the rows: (workflow filters, to be and-ed; properties filters)."""
    workflow, properties = [], {}
    for c in conditions:
        numeric = c.op != "!=" and c.column in NUMERIC
        prop = _property(c.column)
        if prop and prop[1] in ("", "_stderr"):
            path = f"attributes.{prop[0]}.{'value' if prop[1] == '' else 'stderr'}"
            condition = {"or": [{"<": c.value}, {">": c.value}]} if c.op == "!=" else {c.op: c.value}
            properties.setdefault(path, {"and": []})["and"].append(condition)
        elif prop and prop[1] == "_unit" and c.op == "==":
            properties.setdefault(f"attributes.{prop[0]}.unit", {"and": []})["and"].append({"==": c.value})
        elif c.column in ("pk", "exit_status") and numeric:
            value = c.value if c.column == "exit_status" else int(c.value) if c.value.is_integer() else c.value
            workflow.append({"id" if c.column == "pk" else "attributes.exit_status": {c.op: value}})
        elif c.column == "state" and c.op == "==" and c.value != "created":
            workflow.append({"attributes.process_state": {"==": c.value}})
        elif c.op == "==" and c.column == "key":
            workflow.append(_key_filter(_like(c.value)))
        elif c.op == "==" and c.column == "smiles" and "|" not in c.value:
            workflow.append(_key_filter(_like(c.value) + "|%"))
        elif c.op == "==" and c.column == "protocol" and "|" not in c.value:
            workflow.append(_key_filter("%|" + _like(c.value) + "|%"))
    return workflow, properties


def query(
    group: orm.Group | str | None = None,
    where: Iterable[str] = (),
    sort: str | Sequence[str] | None = None,
    columns: Sequence[str] | str | None = None,
):
    """The polymers of ``group`` (label or Group; None: every ``polymer.properties`` workflow of the profile) that
    meet every condition of ``where`` (``"density>1.1"``; operators ``> >= < <= == !=``; numbers for the numeric
    columns, text for the others, quotes optional), sorted by ``sort`` (column names, ``-`` first for descending,
    missing values last; default: by key, then pk), with ``columns`` (default :data:`DEFAULT_COLUMNS`), as a
    pandas DataFrame. Raises :class:`QueryError` for an unknown column, a bad operator or a number that is not
    one, and for an unknown group."""
    import pandas as pd

    conditions = [where] if isinstance(where, str) else list(where)
    conditions = [Condition(text) for text in conditions]
    columns = _names(columns, "columns") or list(DEFAULT_COLUMNS)
    order = [(name[1:], False) if name.startswith("-") else (name.lstrip("+"), True) for name in _names(sort, "sort")]
    for name, _ in order:
        if name not in COLUMNS:
            raise QueryError(f"unknown sort column {name!r}{_suggest(name)}")
    needed = list(dict.fromkeys([*columns, *(c.column for c in conditions), *(name for name, _ in order)]))
    group = _group(group)
    workflow_filters, property_filters = _pushed(conditions)
    properties_needed = {p[0]: set() for p in map(_property, needed) if p}
    for name in needed:
        if (p := _property(name)) is not None:
            properties_needed[p[0]] |= {"_stderr", ""} if p[1] == "_flags" else set()
            properties_needed[p[0]].add(p[1])
    property_conditions = any(_property(c.column) for c in conditions)

    projections = {"pk": "id", "_key": f"extras.{KEY}", "_description": "description"}
    if "state" in needed:
        projections["state"] = "attributes.process_state"
    if "exit_status" in needed:
        projections["exit_status"] = "attributes.exit_status"
    if "workflow_uuid" in needed:
        projections["workflow_uuid"] = "uuid"
    if "library_id" in needed:
        projections["_library"] = f"extras.{LIBRARY}"
    dict_projections = {}
    if "properties_uuid" in needed:
        dict_projections["properties_uuid"] = "uuid"
    for name, parts in properties_needed.items():
        for part in sorted(parts):
            path = f"attributes.{name}.{ {'': 'value', '_stderr': 'stderr', '_unit': 'unit', '_flags': 'flags'}[part]}"
            cast = {"": "f", "_stderr": "f", "_unit": "t"}.get(part)
            dict_projections[f"{name}{part}"] = {path: {"cast": cast}} if cast else path

    if dict_projections or property_conditions:
        joined = _scope(group, workflow_filters)
        _with_properties(joined, property_filters, list(projections.values()), list(dict_projections.values()))
        frame = pd.DataFrame(_rows(joined), columns=[*projections, *dict_projections])
        if not property_conditions:  # the workflows without properties too: their ids first, then their columns
            ids = _scope(group, workflow_filters)
            ids.add_projection("workflow", "id")
            missing = sorted({pk for (pk,) in _rows(ids)} - set(frame["pk"]))
            parts = [frame]
            for start in range(0, len(missing), BATCH):
                rest = _scope(group, [*workflow_filters, {"id": {"in": missing[start : start + BATCH]}}])
                rest.add_projection("workflow", list(projections.values()))
                parts.append(pd.DataFrame(_rows(rest), columns=list(projections)))
            frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else frame
    else:
        workflows = _scope(group, workflow_filters)
        workflows.add_projection("workflow", list(projections.values()))
        frame = pd.DataFrame(_rows(workflows), columns=list(projections))
    frame = _derived(frame, group, needed, properties_needed)
    keep = pd.Series(True, index=frame.index)
    for c in conditions:
        keep &= c.mask(frame[c.column])
    frame = frame[keep].sort_values(["key", "pk"], kind="stable")
    for name in frame.columns:
        if name.endswith(("_unit", "_flags")):
            frame[name] = frame[name].fillna("")
    for name, ascending in reversed(order):
        frame = frame.sort_values(name, ascending=ascending, kind="stable", na_position="last")
    return frame[columns].reset_index(drop=True)


def _names(value, what: str) -> list[str]:
    if value is None:
        return []
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    if unknown := [n for n in names if n.lstrip("+-") not in COLUMNS or (what == "columns" and n not in COLUMNS)]:
        raise QueryError(f"unknown {'column' if len(unknown) == 1 else 'columns'} {', '.join(map(repr, unknown))} "
                         f"in {what}{_suggest(unknown[0].lstrip('+-'))}")
    return names


def _group(group) -> orm.Group | None:
    if group is None or isinstance(group, orm.Group):
        return group
    from aiida.common.exceptions import NotExistent

    try:
        return orm.Group.collection.get(label=group)
    except NotExistent:
        raise UnknownGroupError(f"no group {group!r} (groups: verdi group list)") from None


def _scope(group: orm.Group | None, filters: list[dict]) -> orm.QueryBuilder:
    """The workflows queried (tag ``workflow``): the group's, or every polymer.properties workflow."""
    where = {"and": filters} if filters else {}
    builder = orm.QueryBuilder()
    if group is not None:
        builder.append(orm.Group, filters={"id": group.pk}, tag="group")
        return builder.append(orm.WorkflowNode, with_group="group", filters=where, tag="workflow")
    process = {"process_type": WORKFLOWS["properties"]}
    return builder.append(orm.WorkflowNode, filters={"and": [process, *filters]}, tag="workflow")


def _rows(builder: orm.QueryBuilder) -> list[tuple]:
    """The rows of ``builder``: its SQL (the QueryBuilder builds it) run on the storage's session, the values as
    the database driver gives them. QueryBuilder.all() would pass every value through its entity conversion, which
    is most of the time at 10^5 rows x 20 columns, and the projections here are columns and JSON values, never
    entities. A backend whose QueryBuilder has no SQL session falls back to .all()."""
    from aiida.manage import get_manager

    implementation = getattr(builder, "_impl", None)  # the storage's QueryBuilder (aiida-core has no public name)
    if not (hasattr(implementation, "query_session") and hasattr(implementation, "get_session")):
        return [tuple(row) for row in builder.all()]
    with implementation.query_session(builder.as_dict()) as built, get_manager().get_profile_storage().transaction():
        return [tuple(row) for row in implementation.get_session().execute(built.query.statement)]


def _with_properties(builder: orm.QueryBuilder, filters: dict, workflow: list, properties: list) -> None:
    """Join the workflows' ``properties`` output (tag ``properties``); project ``workflow`` and ``properties``."""
    builder.append(
        orm.Dict,
        with_incoming="workflow",
        edge_filters={"label": "properties", "type": LinkType.RETURN.value},
        filters=filters,
        tag="properties",
    )
    builder.add_projection("workflow", workflow)
    if properties:
        builder.add_projection("properties", properties)


def _derived(frame, group: orm.Group | None, needed: list[str], properties: dict[str, set]):
    """The columns computed from the projected ones: the key and its fields, library_id, flags; missing property
    columns (no properties at all in the rows) as empty."""
    import pandas as pd

    keys = [key if isinstance(key, str) and key else
            text[len(DESCRIPTION):] if isinstance(text, str) and text.startswith(DESCRIPTION) else ""
            for key, text in zip(frame["_key"], frame["_description"], strict=True)]
    frame = frame.drop(columns=["_key", "_description"])
    frame["key"] = keys
    if any(name in needed for name in KEY_COLUMNS[1:]):
        fields = _key_fields(keys)
        for name in KEY_COLUMNS[1:]:
            if name in needed:
                frame[name] = fields[name]
    if "library_id" in needed:
        label = group.label if group is not None else None
        frame["library_id"] = [_library_id(items, label) for items in frame.pop("_library")]
    if "state" in needed:
        frame["state"] = frame["state"].fillna("created")
    if "exit_status" in needed:
        frame["exit_status"] = frame["exit_status"].astype("Int64")
    frame["pk"] = frame["pk"].astype("int64")
    for name, parts in properties.items():
        for part in ("", "_stderr"):
            if part in parts:
                frame[f"{name}{part}"] = pd.to_numeric(frame[f"{name}{part}"]).astype(float)
        if "_flags" in parts:  # None without the entry (as the unit): it meets no condition, shown empty
            frame[f"{name}_flags"] = [
                None if _nan_none(f) is None else ";".join(shown_flags({"value": _nan_none(v), "stderr": _nan_none(e),
                                                             "flags": _list(f)}))
                for v, e, f in zip(frame[name], frame[f"{name}_stderr"], frame[f"{name}_flags"], strict=True)
            ]
    return frame


def _nan_none(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _list(flags) -> list:
    if isinstance(flags, str):  # a backend that returns JSON text
        flags = json.loads(flags)
    return list(flags) if isinstance(flags, list) else []


def _library_id(items, label: str | None) -> str:
    if isinstance(items, str):
        items = json.loads(items)
    items = items if isinstance(items, list) else []
    items = [i for i in items if isinstance(i, dict) and (label is None or i.get("campaign") == label)]
    items = sorted(items, key=lambda item: (item.get("line") or 0, str(item.get("id"))))
    return ";".join(dict.fromkeys(str(item.get("id")) for item in items))


def _key_fields(keys: list[str]) -> dict[str, list]:
    """The fields of each key, as :func:`aiida_polymer.database.table.parse_key` reads them (the default end
    group canonicalised once, not once per row)."""
    default_end = canonical_end_group(DEFAULT_END)
    out = {name: [] for name in KEY_COLUMNS[1:]}
    for key in keys:
        parts = (key or "").split("|")
        fields = {"smiles": parts[0], "protocol": "", "temperature": math.nan, "pressure": math.nan,
                  "tacticity": DEFAULT_TACTICITY, "head_group": default_end, "tail_group": default_end,
                  "overrides_hash": ""}
        if len(parts) >= 4:
            fields["protocol"] = parts[1]
            try:
                fields["temperature"] = float(parts[2].removesuffix("K"))
                fields["pressure"] = float(parts[3].removesuffix("atm"))
            except ValueError:
                pass
        for extra in parts[4:]:
            name, _, value = extra.partition("=")
            if name == "tacticity":
                fields["tacticity"] = value
            elif name == "ends":
                fields["head_group"], _, fields["tail_group"] = value.partition(",")
            elif name == "overrides":
                fields["overrides_hash"] = value
        for name, value in fields.items():
            out[name].append(value)
    return out
