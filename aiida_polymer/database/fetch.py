"""Columns of a QueryBuilder query read in bulk, for tables of 10^5 rows.

On PostgreSQL (the psycopg 3 driver) the SQL that the QueryBuilder builds is run as ``COPY (...) TO STDOUT WITH
(FORMAT csv)`` on the storage's own session and connection, and the CSV is parsed by pyarrow (C++, multithreaded):
no Python object is made per value, and the numbers are read as the text of the JSON path (``#>>``), not cast to
``float`` by the server (psql, the full table's COPY at 10^5 polymers, load average 3: 1.4 s with the casts, 0.6 s
without; the rest is mostly the JSON path lookups themselves, about as costly without the text output).
A JSON number's text is its exact decimal value, which pyarrow parses to the nearest double, as the server's cast
and Python's ``json.loads`` do, so the numbers are the same. Elsewhere (SQLite, another driver) the rows come from
the driver's cursor (:func:`aiida_polymer.database.summary.rows`) and are transposed; both give the same columns.

The columns, by :class:`Field` kind:

- ``ID``: a non-null integer column (the pk): a numpy ``int64`` array;
- ``INTEGER``: a list of ``int`` or ``None``;
- ``FLOAT``: a numpy ``float64`` array, NaN where the value is missing or is not a number (a JSON string, boolean,
  list or object at that path is read as missing on both paths);
- ``TEXT``: a list of ``str`` or ``None``; a JSON path's string value (a number or another JSON value: its text);
- ``JSON``: a list of the parsed JSON values (``None`` where missing).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from aiida import orm

ID, INTEGER, FLOAT, TEXT, JSON = "id", "integer", "float", "text", "json"
USE_COPY = True  # False: always the driver's rows (tests compare the two paths)


@dataclass(frozen=True)
class Field:
    """A projection of the QueryBuilder's tag: ``path`` (``id``, ``uuid``, ``extras.a.b``) read as ``kind``."""

    path: str
    kind: str


def columns(builder: orm.QueryBuilder, tag: str, fields: dict[str, Field]) -> dict[str, object]:
    """The columns ``{name: column}`` of ``fields`` projected on ``tag`` of ``builder`` (which must have no other
    projections; they are added here), of the types in the module's list."""
    copy = USE_COPY and _copy_connection(builder) is not None
    builder.add_projection(tag, [_projection(field, copy) for field in fields.values()])
    if copy:
        return _by_copy(builder, fields)
    from .summary import rows

    found = rows(builder)
    transposed = zip(*found, strict=True) if found else [()] * len(fields)
    return {name: _typed(list(values), field.kind) for (name, field), values in zip(fields.items(), transposed,
                                                                                    strict=True)}


def _projection(field: Field, copy: bool):
    if "." not in field.path:  # a column of the table
        return field.path
    cast = {ID: "i", INTEGER: "i", FLOAT: "t" if copy else "f", TEXT: "t"}.get(field.kind)
    return {field.path: {"cast": cast}} if cast else field.path


def _typed(values: list, kind: str):
    """A column of the driver's values (rows path) as the kind says."""
    if kind == ID:
        return np.array(values, dtype="int64")
    if kind == FLOAT:
        return np.array([v if _is_number(v) else math.nan for v in values], dtype="float64")
    if kind == INTEGER:
        return [None if v is None else int(v) for v in values]
    if kind == TEXT:
        return [None if v is None else str(v) for v in values]  # PostgreSQL gives UUID objects
    return [json.loads(v) if isinstance(v, str) else v for v in values]


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _copy_connection(builder: orm.QueryBuilder):
    """The psycopg 3 connection of the storage's session, where the storage is PostgreSQL through it; else None."""
    implementation = getattr(builder, "_impl", None)  # the storage's QueryBuilder (aiida-core has no public name)
    if not (hasattr(implementation, "query_session") and hasattr(implementation, "get_session")):
        return None
    bind = implementation.get_session().bind
    if bind is None or bind.dialect.name != "postgresql" or bind.dialect.driver != "psycopg":
        return None
    return implementation


def _by_copy(builder: orm.QueryBuilder, fields: dict[str, Field]) -> dict[str, object]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from aiida.manage import get_manager

    implementation = builder._impl
    with implementation.query_session(builder.as_dict()) as built, get_manager().get_profile_storage().transaction():
        session = implementation.get_session()
        compiled = built.query.statement.compile(dialect=session.bind.dialect)
        # the driver binds the parameters into the text (COPY takes none); it writes a tuple as a record, the
        # JSON paths' binds are tuples: as lists they are text arrays, as the query means them
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in compiled.params.items()}
        data = bytearray()
        connection = session.connection().connection.driver_connection
        statement = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
        with connection.cursor() as cursor, cursor.copy(statement, params) as copy:
            for block in copy:
                data += block
    if not data:
        return {name: _typed([], field.kind) for name, field in fields.items()}
    names = [f"c{i}" for i in range(len(fields))]
    arrow = {ID: pa.int64(), INTEGER: pa.int64(), FLOAT: pa.float64()}
    types = {n: arrow.get(f.kind, pa.string()) for n, f in zip(names, fields.values(), strict=True)}
    buffer = pa.py_buffer(data)  # no copy of the bytes

    def read(column_types):
        return pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),  # 2 busy cores: faster
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False),
        )

    try:
        table = read(types)
    except pa.ArrowInvalid:  # a value that is not a number: the float columns as text, such values missing
        table = read({n: pa.string() if t == pa.float64() else t for n, t in types.items()})
    out = {}
    for name, (field_name, field) in zip(names, fields.items(), strict=True):
        column = table.column(name)
        if field.kind == FLOAT:
            if column.type != pa.float64():
                import pandas as pd

                column = pd.to_numeric(pd.Series(column.to_pylist(), dtype=object), errors="coerce")
            out[field_name] = np.array(column.to_numpy(), dtype="float64")  # writable: a stale row is set
        elif field.kind == ID:
            out[field_name] = column.to_numpy().astype("int64")
        elif field.kind == JSON:
            out[field_name] = [None if v is None else json.loads(v) for v in column.to_pylist()]
        else:
            out[field_name] = column.to_pylist()
    return out
