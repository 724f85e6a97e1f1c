"""Statements for batches: thousands of keys bound as one parameter, and rows handed to the
driver's executemany in the form it takes."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY


def in_values(
    column: ColumnElement[Any], values: Collection[Any], dialect: str
) -> ColumnElement[bool]:
    """`column IN values`, the values bound as one parameter (a JSON array read by json_each on
    SQLite, an array on PostgreSQL): a batch's thousands of keys are neither rendered as
    thousands of placeholders nor processed one by one."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    keys = select(literal_column("value")).select_from(
        func.json_each(bindparam(None, json.dumps(list(values))))
    )
    return column.in_(keys.scalar_subquery())


_INSERTS: dict[tuple[str, str, tuple[str, ...]], str] = {}
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_rows(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """INSERT the rows (mappings holding at least `columns`) with one executemany.

    The values go to the driver in the form it takes, turned by each column's own bind
    processor: once for a value every row shares (a batch's timestamps), else row by row; the
    driver runs the statement directly. SQLAlchemy's generic per-row, per-column parameter
    handling would cost more than SQLite's insert itself.
    """
    if not rows:
        return
    dialect = connection.dialect
    first = rows[0]
    plain: list[str] = []
    varying: list[tuple[str, Callable[[Any], Any]]] = []
    shared: dict[str, Any] = {}
    for name in columns:
        impl = table.c[name].type.dialect_impl(dialect)
        processor = impl.bind_processor(dialect)
        if dialect.name == "sqlite" and isinstance(impl, JSON):
            processor = _json_text
        if processor is None:
            plain.append(name)
        elif all(row[name] is first[name] for row in rows):
            shared[name] = processor(first[name])
        else:
            varying.append((name, processor))
    order = (*plain, *(name for name, _ in varying), *shared)
    key = (dialect.name, table.name, order)
    statement = _INSERTS.get(key)
    if statement is None:
        quote = dialect.identifier_preparer.quote
        marks = ", ".join([_PLACEHOLDERS[dialect.paramstyle]] * len(order))
        statement = _INSERTS[key] = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in order)}) "
            f"VALUES ({marks})"
        )
    tail = tuple(shared.values())
    get = itemgetter(*plain) if len(plain) > 1 else (lambda row: (row[plain[0]],))
    if not varying:
        params = [get(row) + tail for row in rows]
    elif len(varying) == 1:
        name, processor = varying[0]
        params = [(*get(row), processor(row[name]), *tail) for row in rows]
    else:
        params = [
            get(row) + tuple([processor(row[name]) for name, processor in varying]) + tail
            for row in rows
        ]
    connection.exec_driver_sql(statement, params)


_encode = json.encoder.encode_basestring_ascii


def _json_text(value: Any) -> str:
    """The text json.dumps gives, made faster for what CSV columns make: a flat dict of text."""
    if type(value) is not dict:
        return json.dumps(value)
    parts = []
    for key, item in value.items():
        if type(item) is not str or type(key) is not str:
            return json.dumps(value)
        parts.append(f"{_encode(key)}: {_encode(item)}")
    return "{" + ", ".join(parts) + "}"
