"""The property summary of a polymer workflow: the extra ``polymer_values`` on the ``polymer.properties``
workflow node, a small copy of the numbers of its ``properties`` Dict, for fast queries.

A properties Dict (``{name: {value, unit, stderr, flags}}`` for 17 properties) is about 3 KB of JSON; PostgreSQL
compresses it (TOAST, ``pglz``) and every JSON path read decompresses the whole value again, so a table of 17
values cost 17 decompressions per polymer (EXPLAIN ANALYZE: about 9 us each). The summary holds the values, what
the queries filter and sort on most::

    {"workflow": <the workflow's UUID>, "properties": <the Dict's UUID, "" for a run without one>,
     "density": 1.05, "thermal_conductivity": 0.31, ...}

(a value that is not a number is left out, i.e. read as missing): about 0.8 KB of JSONB, so the workflow's row
stays under PostgreSQL's 2 KB TOAST threshold, uncompressed, and each value is one cheap path lookup. (With the
standard errors too it is 1.5 KB and the row is compressed again.) Standard errors, units and flags are read from
the Dicts, each Dict read whole once.

Who writes it: ``PropertiesWorkChain`` when it returns its properties (the end of its ``results`` step),
:func:`aiida_polymer.database.synthetic.synthetic_campaign` as a run would, and
:func:`aiida_polymer.database.query.query` for a workflow that lacks it (older runs, imported archives): read from
its Dict once, then stored.

When it is trusted: the summary names the workflow it was made for; a summary whose ``workflow`` is not the node's
own UUID (an extra copied from another node), or that is missing, is rebuilt from the Dict before use. (A
condition on a value is a database filter on the summaries, with the workflows without one kept; a node carrying
another node's summary is rebuilt when a query reads it, not when a filter has already left it out.) A summary is
written only for a workflow that returned its properties or is sealed (a sealed node's outputs can no longer
change, and a Dict is immutable), so a trusted summary stays equal to its Dict; :func:`refresh` rebuilds every
summary of a group from the Dicts (e.g. after hand edits of extras).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from aiida import orm
from aiida.common.links import LinkType

SUMMARY = "polymer_values"
BATCH = 500  # workflows per query (SQLite's limit on bound parameters)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # NaN: not stored


def summarise(workflow_uuid: str, properties_uuid: str | None, attributes: dict | None) -> dict:
    """The summary of a workflow from its properties Dict's UUID and content (None, None: no properties)."""
    out = {"workflow": workflow_uuid, "properties": properties_uuid or ""}
    for name, entry in sorted((attributes or {}).items()):
        if isinstance(entry, dict) and _number(entry.get("value")):
            out[name] = entry["value"]
    return out


def of_workflow(node: orm.WorkflowNode, properties: orm.Dict | None) -> dict:
    return summarise(node.uuid, properties.uuid if properties is not None else None,
                     properties.get_dict() if properties is not None else None)


def build(ids: list[int]) -> dict[int, tuple[dict, bool]]:
    """workflow id -> (its summary read from its properties Dict, whether it may be stored: the workflow returned
    properties or is sealed), in batched queries; the Dicts' contents are read whole, once each."""
    out: dict[int, tuple[dict, bool]] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        found = orm.QueryBuilder().append(orm.WorkflowNode, filters={"id": {"in": chunk}}, tag="workflow",
                                          project=["id", "uuid", "attributes.sealed"])
        found = {pk: (str(uuid), str(sealed).lower() in ("true", "1")) for pk, uuid, sealed in rows(found)}
        with_dicts = orm.QueryBuilder().append(orm.WorkflowNode, filters={"id": {"in": chunk}}, tag="workflow",
                                               project=["id"])
        with_dicts.append(orm.Dict, with_incoming="workflow", project=["uuid", "attributes"],
                          edge_filters={"label": "properties", "type": LinkType.RETURN.value})
        dicts = {pk: (str(uuid), json.loads(attributes) if isinstance(attributes, str) else attributes)
                 for pk, uuid, attributes in rows(with_dicts)}
        for pk, (uuid, sealed) in found.items():
            if pk in dicts:
                out[pk] = (summarise(uuid, *dicts[pk]), True)
            else:
                out[pk] = (summarise(uuid, None, None), sealed)
    return out


def store(summaries: dict[int, dict]) -> bool:
    """Set the extra ``polymer_values`` of the workflows {id: summary}, only that key of their extras (one UPDATE
    per row, so an extra another process sets at the same time is not lost), in one transaction. False where the
    storage cannot be written (e.g. a read-only archive profile): the summaries are then used, not kept."""
    if not summaries:
        return True
    from aiida.manage import get_manager

    storage = get_manager().get_profile_storage()
    session = storage.get_session() if hasattr(storage, "get_session") else None
    dialect = session.bind.dialect.name if session is not None and session.bind is not None else None
    try:
        if dialect in ("postgresql", "sqlite"):
            from sqlalchemy import text

            if dialect == "postgresql":
                sql = (f"UPDATE db_dbnode SET extras = jsonb_set(extras, '{{{SUMMARY}}}', CAST(:value AS jsonb)) "
                       "WHERE id = :id")
            else:
                sql = f"UPDATE db_dbnode SET extras = json_set(extras, '$.{SUMMARY}', json(:value)) WHERE id = :id"
            rows = [{"id": pk, "value": json.dumps(value)} for pk, value in summaries.items()]
            with storage.transaction():
                for start in range(0, len(rows), 5000):
                    session.execute(text(sql), rows[start : start + 5000])
            _expire(session, set(summaries))
        else:
            for pk, value in summaries.items():
                orm.load_node(pk).base.extras.set(SUMMARY, value)
    except Exception:  # a read-only or unfamiliar storage: the summaries are a cache
        return False
    return True


def _expire(session, ids: set[int]) -> None:
    """Forget the extras of the node rows of ``ids`` loaded in this session: the next read gets the stored ones."""
    for instance in list(session.identity_map.values()):
        if getattr(instance, "__tablename__", None) == "db_dbnode" and instance.id in ids:
            session.expire(instance, ["extras"])


def refresh(workflows: Iterable[int]) -> int:
    """Rebuild the summaries of the workflows (ids) from their properties Dicts and store them; how many stored."""
    built = build(list(workflows))
    keep = {pk: summary for pk, (summary, storable) in built.items() if storable}
    store(keep)
    return len(keep)


def rows(builder: orm.QueryBuilder) -> list[tuple]:
    """The rows of ``builder``: its SQL (the QueryBuilder builds it) run on the storage's session, the values as
    the database driver gives them (JSON may come as text). QueryBuilder.all() would pass every value through its
    entity conversion, and an ORM session's execute through its row loading, which are most of the time at 10^5
    rows x 20 columns; the projections here are columns and JSON values, never entities. A backend whose
    QueryBuilder has no SQL session falls back to .all()."""
    from aiida.manage import get_manager

    implementation = getattr(builder, "_impl", None)  # the storage's QueryBuilder (aiida-core has no public name)
    if not (hasattr(implementation, "query_session") and hasattr(implementation, "get_session")):
        return [tuple(row) for row in builder.all()]
    with implementation.query_session(builder.as_dict()) as built, get_manager().get_profile_storage().transaction():
        return implementation.get_session().connection().execute(built.query.statement).cursor.fetchall()
