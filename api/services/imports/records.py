"""Contacts and accounts: records matched on key fields, updated in place or inserted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table
from sqlmodel import Session

from api.services import audit
from api.services.imports.matching import matches
from api.services.imports.report import Report
from api.services.imports.writer import Writer, bulk_update, differs, locking, touch
from api.storage.bulk import insert_rows
from leads.audit import Entity as Audited
from leads.csvimport import Row, RowError
from leads.matching import comparable
from leads.types import utcnow


class RecordWriter(Writer):
    """Contacts and accounts: matched on key fields, updated in place, or inserted."""

    table: Table
    audited: Audited
    fields: tuple[str, ...]  # the columns a row may set
    defaults: Mapping[str, Any] = {}
    key_fields: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns an insert or an update writes."""
        return (*self.fields, *self.defaults, "attributes", "version", "created_at", "updated_at")

    def key(self, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        # Row values are trimmed and emails lower-cased already, as `comparable` makes them.
        if len(self.key_fields) == 1:
            value = values.get(self.key_fields[0])
            return None if value is None else (value,)
        key = tuple([values.get(name) for name in self.key_fields])
        return None if None in key else key

    def checks(
        self, session: Session, rows: list[Row], write: bool
    ) -> tuple[list[RowError], set[int]]:
        """Errors from looking the rows up, and the lines they make bad."""
        return [], set()

    def apply(
        self, session: Session, rows: list[Row], report: Report, *, write: bool
    ) -> list[RowError]:
        errors, bad = self.checks(session, rows, write)
        good = [r for r in rows if r.line not in bad] if bad else rows
        now = utcnow()
        blank: dict[str, Any] = dict.fromkeys(self.fields)
        blank.update(self.defaults, version=1, created_at=now, updated_at=now)
        keyed: dict[tuple[Any, ...], Row] = {}  # each key's first row
        later: dict[tuple[Any, ...], list[Row]] = {}  # and the rows after it, if any
        inserts: list[dict[str, Any]] = []
        key = self.key
        new = self.new
        for row in good:
            found = key(row.values)
            if found is None:
                inserts.append(new(row.values, blank, now))
            elif found in keyed:
                later.setdefault(found, []).append(row)
            else:
                keyed[found] = row
        stored = self.stored(session.connection(), keyed, lock=locking(session, write))
        updates: list[dict[str, Any]] = []
        for found, first in keyed.items():
            current = stored.get(found)
            if current is None:
                state = new(first.values, blank, now)
                inserts.append(state)
                group = later.get(found, ())
            else:
                state = dict(current)
                group = (first, *later.get(found, ()))
            for row in group:
                if self.merge(state, row.values, now):
                    report.updated += 1
                else:
                    report.unchanged += 1
            if current is not None and differs(state, current, self.columns):
                state["_stored"] = current
                updates.append(state)
        report.created += len(inserts)
        if write:
            self.write(session, inserts, updates)
        return errors

    def stored(
        self, connection: Connection, keyed: Mapping[tuple[Any, ...], Row], *, lock: bool
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        """The stored record each key matches: the most recently updated among equals."""
        fields = self.key_fields

        def key_of(record: Mapping[str, Any]) -> tuple[Any, ...]:
            return tuple(comparable(name, record[name]) for name in fields)

        values = {key[0] for key in keyed}
        return matches(connection, self.table, fields[0], values, fields, key_of, keyed, lock=lock)

    def new(
        self, values: Mapping[str, Any], blank: Mapping[str, Any], now: dt.datetime
    ) -> dict[str, Any]:
        return {**blank, **values}

    def merge(self, state: dict[str, Any], values: Mapping[str, Any], now: dt.datetime) -> bool:
        """Apply a row's values to a record; False when nothing changed. Empty cells change
        nothing; attributes are merged key by key."""
        changed = False
        for name in self.fields:
            value = values.get(name)
            if value is not None and state[name] != value:
                state[name] = value
                changed = True
        given = values["attributes"]
        if given and any(state["attributes"].get(k) != v for k, v in given.items()):
            state["attributes"] = {**state["attributes"], **given}
            changed = True
        if changed:
            touch(state, now)
        return changed

    def write(
        self, session: Session, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
    ) -> None:
        connection = session.connection()
        insert_rows(connection, self.table, self.columns, inserts)
        self.update(connection, updates)

    def update(self, connection: Connection, updates: list[dict[str, Any]]) -> None:
        columns = self.columns
        self.changed.update(s["id"] for s in updates)
        bulk_update(
            connection,
            self.table,
            [{"_id": s["id"], **{c: s[c] for c in columns}} for s in updates],
        )
        audit.record(
            connection,
            self.audited,
            [(s["id"], s["_stored"], {c: s[c] for c in columns}) for s in updates],
            self.context.actor,
            utcnow(),
        )
