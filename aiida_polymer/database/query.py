"""Queries of the polymer database that stay fast at 10^5 polymers: conditions, sort and columns over the
polymer workflows (of a group, or of the whole profile), as a pandas DataFrame, one row per workflow.

Everything comes from QueryBuilder projections: of the workflow (pk, UUID, state, exit status, the extras
``polymer_key`` and ``library``, the description that holds the key) and of paths inside its ``properties`` Dict
(``attributes.<name>.value`` and so on); no node is loaded. On PostgreSQL the QueryBuilder's SQL is run as one
``COPY ... TO STDOUT`` read by pyarrow (:mod:`.fetch`: no Python object per value; elsewhere the driver's rows,
the same columns). A condition on a property's value, standard error or unit, on the exit status, pk or state,
and ``==`` on the key, the repeat unit (``smiles``) or the protocol, is a QueryBuilder filter, so the database
does the filtering; every condition is then applied to the rows once more in pandas (exact for all columns, e.g.
the parsed temperature), so what the database gets is only ever a pre-selection. A row without the value
(``None``, no properties) never meets a condition.

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
from dataclasses import dataclass

from aiida import orm
from aiida.common.links import LinkType

from ..campaign.identity import DEFAULT_END, DEFAULT_TACTICITY, canonical_end_group
from ..campaign.submission import BATCH, DESCRIPTION, KEY, LIBRARY, WORKFLOWS
from ..chem.flags import shown_flags
from . import fetch
from . import summary as summary_module
from .fetch import FLOAT, ID, INTEGER, JSON, TEXT, Field
from .summary import SUMMARY
from .summary import rows as _rows
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


def _pushed(conditions: Sequence[Condition]) -> list[dict]:
    """The QueryBuilder filters of the workflows that pre-select the rows (to be and-ed). Conditions on property
    values are filters on the workflow's summary (:mod:`.summary`); a workflow without a
    summary is kept (its summary is made from its Dict, then every condition is checked in pandas)."""
    workflow, summary = [], []
    for c in conditions:
        numeric = c.op != "!=" and c.column in NUMERIC
        prop = _property(c.column)
        if prop and prop[1] == "":
            condition = {"or": [{"<": c.value}, {">": c.value}]} if c.op == "!=" else {c.op: c.value}
            summary.append({f"extras.{SUMMARY}.{prop[0]}": condition})
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
    if summary:
        workflow.append({"or": [{"and": summary}, {f"extras.{SUMMARY}.workflow": {"of_type": "null"}}]})
    return workflow


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
    one, and for an unknown group. Workflows without a trusted summary get one (stored, see :mod:`.summary`)."""
    import gc

    enabled = gc.isenabled()
    gc.disable()  # 10^5 rows of tuples, no cycles: the collector would scan them again and again
    try:
        return _query(group, where, sort, columns)
    finally:
        if enabled:
            gc.enable()


def _query(group, where, sort, columns):
    import numpy as np
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
    workflow_filters = _pushed(conditions)
    properties_needed = {p[0]: set() for p in map(_property, needed) if p}
    for name in needed:
        if (p := _property(name)) is not None:
            properties_needed[p[0]].add(p[1])

    fields = {"pk": Field("id", ID), "workflow_uuid": Field("uuid", TEXT), "_key": Field(f"extras.{KEY}", TEXT),
              "_summary": Field(f"extras.{SUMMARY}.workflow", TEXT)}
    if "state" in needed:
        fields["state"] = Field("attributes.process_state", TEXT)
    if "exit_status" in needed:
        fields["exit_status"] = Field("attributes.exit_status", INTEGER)
    if "library_id" in needed:
        fields["_library"] = Field(f"extras.{LIBRARY}", JSON)
    if "properties_uuid" in needed:
        fields["properties_uuid"] = Field(f"extras.{SUMMARY}.properties", TEXT)
    for name, parts in properties_needed.items():
        if "" in parts:
            fields[name] = Field(f"extras.{SUMMARY}.{name}", FLOAT)
    data = fetch.columns(_scope(group, workflow_filters), "workflow", fields)
    _trusted(data, fields)
    if any(part != "" for parts in properties_needed.values() for part in parts):
        _from_dicts(data, group, workflow_filters, properties_needed)
    frame = _derived(data, group, needed, properties_needed)
    keep = np.ones(len(frame), dtype=bool)
    for c in conditions:
        keep &= c.mask(frame[c.column]).to_numpy(dtype=bool)
    rows = np.flatnonzero(keep)  # by key, then pk (unique): the keys' ranks, then the pks, as integers
    ranks, _ = pd.factorize(frame["key"].iloc[rows], sort=True)
    frame = frame.iloc[rows[np.lexsort((frame["pk"].to_numpy()[rows], ranks))]]
    for name in frame.columns:
        if name.endswith(("_unit", "_flags")):
            frame[name] = frame[name].fillna("")
    for name, ascending in reversed(order):
        frame = frame.sort_values(name, ascending=ascending, kind="stable", na_position="last")
    return frame[columns].reset_index(drop=True)


def _trusted(data: dict[str, object], fields: dict[str, Field]) -> None:
    """The rows whose summary is missing or names another workflow get theirs, made from their Dict (and stored)."""
    stale = [i for i, (named, uuid) in enumerate(zip(data.pop("_summary"), data["workflow_uuid"], strict=True))
             if named != uuid]
    if not stale:
        return
    ids = [int(data["pk"][i]) for i in stale]
    built = summary_module.build(ids)
    summary_module.store({pk: value for pk, (value, storable) in built.items() if storable})
    for name, field in fields.items():
        if name == "_summary" or not field.path.startswith(f"extras.{SUMMARY}."):
            continue
        key = field.path.removeprefix(f"extras.{SUMMARY}.")
        for i, pk in zip(stale, ids, strict=True):
            value = built.get(pk, ({}, False))[0].get(key)
            if field.kind == FLOAT:
                value = value if _is_number(value) else math.nan
            data[name][i] = value


def _from_dicts(data: dict[str, list], group, workflow_filters: list[dict], properties: dict[str, set]) -> None:
    """The standard errors, units and flags of the rows, from their properties Dicts, each read whole once."""
    wanted = {name: parts - {""} for name, parts in properties.items() if parts - {""}}
    found: dict[int, dict] = {}
    pks = data["pk"].tolist()
    if len(pks) > 4 * BATCH:
        batches = [workflow_filters]
    else:
        batches = [[{"id": {"in": pks[s : s + BATCH]}}] for s in range(0, len(pks), BATCH)]
    for filters in batches:
        builder = _scope(group, filters)
        builder.append(orm.Dict, with_incoming="workflow", project=["attributes"], tag="properties",
                       edge_filters={"label": "properties", "type": LinkType.RETURN.value})
        builder.add_projection("workflow", "id")
        for pk, attributes in _rows(builder):  # the workflow's projections come first
            found[pk] = json.loads(attributes) if isinstance(attributes, str) else attributes or {}
    for name, parts in wanted.items():
        entries = [found.get(pk, {}).get(name) for pk in pks]
        entries = [entry if isinstance(entry, dict) and entry else None for entry in entries]
        if "_stderr" in parts:
            data[f"{name}_stderr"] = [e["stderr"] if e is not None and _is_number(e.get("stderr")) else None
                                      for e in entries]
        if "_unit" in parts:
            data[f"{name}_unit"] = [None if e is None else e.get("unit") for e in entries]
        if "_flags" in parts:  # None without the entry (as the unit): it meets no condition, shown empty
            data[f"{name}_flags"] = [None if e is None else ";".join(shown_flags(e)) for e in entries]


def _names(value, what: str) -> list[str]:
    if value is None:
        return []
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    if unknown := [n for n in names if n.lstrip("+-") not in COLUMNS or (what == "columns" and n not in COLUMNS)]:
        raise QueryError(f"unknown {'column' if len(unknown) == 1 else 'columns'} {', '.join(map(repr, unknown))} "
                         f"in {what}{_suggest(unknown[0].lstrip('+-'))}")
    return names


@dataclass(frozen=True)
class _Group:
    pk: int
    label: str


def _group(group) -> _Group | None:
    """The group's id and label, by a projection: loading the Group would read its extras, which hold the
    campaign's library (megabytes of JSON at 10^5 polymers)."""
    if group is None:
        return None
    if isinstance(group, orm.Group):
        return _Group(group.pk, group.label)
    found = orm.QueryBuilder().append(orm.Group, filters={"label": group}, project=["id", "label"]).all()
    if not found:
        raise UnknownGroupError(f"no group {group!r} (groups: verdi group list)")
    return _Group(*found[0])


def _scope(group: _Group | None, filters: list[dict]) -> orm.QueryBuilder:
    """The workflows queried (tag ``workflow``): the group's, or every polymer.properties workflow."""
    where = {"and": filters} if filters else {}
    builder = orm.QueryBuilder()
    if group is not None:
        builder.append(orm.Group, filters={"id": group.pk}, tag="group")
        return builder.append(orm.WorkflowNode, with_group="group", filters=where, tag="workflow")
    process = {"process_type": WORKFLOWS["properties"]}
    return builder.append(orm.WorkflowNode, filters={"and": [process, *filters]}, tag="workflow")


def _derived(data: dict[str, list], group: _Group | None, needed: list[str], properties: dict[str, set]):
    """The DataFrame of the projected columns and those computed from them: the key and its fields, library_id;
    numbers as floats (NaN where missing)."""
    import numpy as np
    import pandas as pd

    keys = data.pop("_key")
    if missing := [i for i, key in enumerate(keys) if not (isinstance(key, str) and key)]:  # the description's key
        texts = {}
        for start in range(0, len(missing), BATCH):
            ids = [int(data["pk"][i]) for i in missing[start : start + BATCH]]
            builder = orm.QueryBuilder().append(orm.WorkflowNode, filters={"id": {"in": ids}},
                                                project=["id", "description"])
            texts.update(_rows(builder))
        for i in missing:
            text = texts.get(data["pk"][i])
            keys[i] = text[len(DESCRIPTION):] if isinstance(text, str) and text.startswith(DESCRIPTION) else ""
    data["key"] = keys
    if any(name in needed for name in KEY_COLUMNS[1:]):
        fields = _key_fields(keys)
        for name in KEY_COLUMNS[1:]:
            if name in needed:
                data[name] = fields[name]
    if "library_id" in needed:
        label = group.label if group is not None else None
        data["library_id"] = [_library_id(items, label) for items in data.pop("_library")]
    if "state" in needed:
        data["state"] = ["created" if state is None else state for state in data["state"]]
    if "properties_uuid" in needed:
        data["properties_uuid"] = ["" if uuid is None else uuid for uuid in data["properties_uuid"]]
    numbers = {f"{name}{part}" for name, parts in properties.items() for part in ("", "_stderr") if part in parts}
    frame = pd.DataFrame({name: np.array(values, dtype=float) if name in numbers else
                          np.array(values, dtype="int64") if name == "pk" else values
                          for name, values in data.items()})
    if "exit_status" in needed:
        frame["exit_status"] = frame["exit_status"].astype("Int64")
    return frame


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _library_id(items, label: str | None) -> str:
    if isinstance(items, str):
        items = json.loads(items)
    items = items if isinstance(items, list) else []
    items = [i for i in items if isinstance(i, dict) and (label is None or i.get("campaign") == label)]
    items = sorted(items, key=lambda item: (item.get("line") or 0, str(item.get("id"))))
    return ";".join(dict.fromkeys(str(item.get("id")) for item in items))


def _key_fields(keys: list[str]) -> dict[str, object]:
    """The fields of each key, as :func:`aiida_polymer.database.table.parse_key` reads them (the default end
    group canonicalised once, not once per row; the state point and the extras parsed once per distinct text,
    the columns made by indexing those: ``smiles`` a list, the text fields pandas string arrays, temperature and
    pressure float arrays)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    default_end = canonical_end_group(DEFAULT_END)
    split = [(key or "").partition("|") for key in keys]
    codes, rests = pd.factorize(np.array([rest for _, _, rest in split], dtype=object))
    known = [_rest_fields(tuple(rest.split("|")) if rest else (), default_end) for rest in rests]
    out = {"smiles": [smiles for smiles, _, _ in split]}
    indices, text = pa.array(codes, type=pa.int64()), pd.StringDtype(na_value=np.nan)  # pandas' default str
    for i, name in enumerate(KEY_COLUMNS[2:]):
        values = [fields[i] for fields in known]
        if name in ("temperature", "pressure"):
            out[name] = np.array(values, dtype="float64")[codes]
        else:
            out[name] = pd.array(pa.array(values, type=pa.string()).take(indices), dtype=text)
    return out


def _rest_fields(rest: tuple, default_end: str) -> tuple:
    """(protocol, temperature, pressure, tacticity, head_group, tail_group, overrides_hash) of a key's parts after
    the repeat unit."""
    fields = {"protocol": "", "temperature": math.nan, "pressure": math.nan, "tacticity": DEFAULT_TACTICITY,
              "head_group": default_end, "tail_group": default_end, "overrides_hash": ""}
    if len(rest) >= 3:
        fields["protocol"] = rest[0]
        try:
            fields["temperature"] = float(rest[1].removesuffix("K"))
            fields["pressure"] = float(rest[2].removesuffix("atm"))
        except ValueError:
            pass
    for extra in rest[3:]:
        name, _, value = extra.partition("=")
        if name == "tacticity":
            fields["tacticity"] = value
        elif name == "ends":
            fields["head_group"], _, fields["tail_group"] = value.partition(",")
        elif name == "overrides":
            fields["overrides_hash"] = value
    return tuple(fields[name] for name in KEY_COLUMNS[2:])
