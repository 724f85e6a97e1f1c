"""Writing leads, the one way every caller takes: the API and capture (a batch of one), the CSV
import (a batch at a time) and the outcomes of scoring.

A lead being written is a `Draft`: its columns as a dict, which bpf reads and moves, the row as
it was stored (none for a new lead) and the moves its changes set off. `start` makes a new lead
in the first stage of its process; `change` gives a lead new values; both `fire` what the
values set off (sales ready, a boolean step that became true), so the automations of
stages.yaml move the lead. `store` then writes a batch of drafts: new leads with one insert,
changed ones with one executemany update per set of changed columns, the audit of what
changed, lead.created / lead.updated / lead.sales_ready, and the moves' history rows with
their lead.stage_changed events and the activities of the stages entered (`moves.record`).

Routing and scoring again follow a write; when they run is the caller's (after each change in
the API, after each batch in the import), so they are not done here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, update

import bpf
from api.services import audit, outbox
from api.services.moves import history_rows
from api.services.moves import record as record_moves
from api.services.outbox import EventType
from api.storage.bulk import insert_rows
from bpf.actors import Actor
from leads.audit import Entity
from leads.models import LEAD_COLUMNS, Lead, LeadRow, LeadStatus

LEADS: Table = Lead.__table__  # type: ignore[attr-defined]

# The fields given when a lead is made or changed by hand or by a file.
FIELDS = (
    "topic",
    "email",
    "context_kind",
    "context_id",
    "parent_contact_id",
    "parent_account_id",
    "owner",
    "sales_ready",
)
# The columns a new lead is inserted with (the others keep their defaults).
COLUMNS = (
    *FIELDS,
    "attributes",
    "status",
    "status_reason",
    "process",
    "stage",
    "stage_entered_at",
    "version",
    "created_at",
    "updated_at",
)
# The fields whose changes lead.updated announces.
ANNOUNCED = (*FIELDS, "attributes", "status", "status_reason")
# Columns that change with every write and are no change of their own.
BOOKKEEPING = frozenset({"version", "updated_at"})


class Draft(LeadRow):
    """A lead being written: its columns (`values`), the row as stored (None for a new lead),
    the moves its changes set off, and the process and stage a new lead was created in."""

    __slots__ = ("created_in", "moves", "stored", "touched")

    def __init__(self, values: dict[str, Any], stored: Mapping[str, Any] | None = None) -> None:
        super().__init__(values)
        self.stored = stored
        self.moves: list[tuple[str, list[bpf.Move], dt.datetime]] = []
        self.created_in = (values["process"], values["stage"]) if stored is None else None
        self.touched = False

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Draft:
        """A stored lead, read as a row, to be changed."""
        return cls(dict(row), row)

    def field_value(self, name: str) -> Any:
        if name in LEAD_COLUMNS:
            return self.values.get(name)
        return (self.values.get("attributes") or {}).get(name)

    def changes(self) -> dict[str, Any]:
        """The columns whose values differ from the stored row's (all of them for a new lead)."""
        stored = self.stored
        if stored is None:
            return dict(self.values)
        return {k: v for k, v in self.values.items() if k != "id" and stored[k] != v}

    def changed(self) -> bool:
        """Whether a stored lead is to be written: it moved, or a value differs in the end (a
        file's rows may change a value and change it back)."""
        return bool(self.moves) or any(k not in BOOKKEEPING for k in self.changes())


def start(catalog: bpf.Catalog, values: Mapping[str, Any], now: dt.datetime) -> Draft:
    """A new lead in the first stage of its process (`values`: its FIELDS, attributes and
    optionally process), with what its first values set off fired."""
    chosen = values.get("process")
    process = catalog.get(chosen) if chosen is not None else catalog.default
    state: dict[str, Any] = {name: values.get(name) for name in FIELDS}
    state.update(
        sales_ready=bool(values.get("sales_ready", False)),
        attributes=dict(values.get("attributes") or {}),
        status=LeadStatus.OPEN.value,
        status_reason="new",
        process=process.name,
        stage=process.first_stage,
        stage_entered_at=now,
        version=1,
        created_at=now,
        updated_at=now,
    )
    draft = Draft(state)
    outcomes = [
        outcome
        for name in ("sales_ready", *state["attributes"])
        for outcome in catalog.outcomes_of_change(name, None, draft.field_value(name))
    ]
    fire(catalog, draft, outcomes, now)
    return draft


def change(
    catalog: bpf.Catalog,
    draft: Draft,
    changes: Mapping[str, Any],
    now: dt.datetime,
    *,
    fire_outcomes: bool = True,
) -> bool:
    """Give the lead these values (`attributes`, if given, is the whole new set), fire what
    they set off (unless not `fire_outcomes`), and touch it; False, and nothing done, when
    no value differs."""
    outcomes: list[str] = []
    values = draft.values
    changed = False
    for name, value in changes.items():
        old = values[name]
        if old == value:
            continue
        if name == "attributes":
            before = old or {}
            for key in [*value, *(k for k in before if k not in value)]:
                outcomes += catalog.outcomes_of_change(key, before.get(key), value.get(key))
        else:
            outcomes += catalog.outcomes_of_change(name, old, value)
        values[name] = value
        changed = True
    if not changed:
        return False
    if fire_outcomes:
        fire(catalog, draft, outcomes, now)
    touch(draft, now)
    return True


def fire(
    catalog: bpf.Catalog,
    draft: Draft,
    outcomes: Sequence[str],
    now: dt.datetime,
    *,
    automated: bool = False,
    switches: Mapping[str, bool] | None = None,
) -> None:
    """Apply the automations these outcomes set off; the moves are kept, to be recorded."""
    if not outcomes:
        return
    process = catalog.get(draft.process)
    moves = process.apply_outcomes(draft, outcomes, automated=automated, switches=switches or {})
    if moves:
        draft.moves.append((draft.process, moves, draft.values["stage_entered_at"]))
        draft.values["stage_entered_at"] = now


def touch(draft: Draft, now: dt.datetime) -> None:
    """The lead changed: a stored one goes up one version per write, however many changes it
    gets in it; a new one is still at version 1 when it is inserted."""
    if draft.stored is not None and not draft.touched:
        draft.values["version"] += 1
        draft.touched = True
    draft.values["updated_at"] = now


def store(
    connection: Connection,
    catalog: bpf.Catalog,
    drafts: Iterable[Draft],
    actor: Actor,
    now: dt.datetime,
    *,
    ids: bool = False,
) -> list[Draft]:
    """Write the drafts: insert the new leads and announce them, update the changed ones,
    audit them and record the moves (`write_changes`), then announce the changes. New leads
    get their ids when `ids` asks, when they moved, or when their creation is announced to
    someone. Returns the stored leads that changed."""
    drafts = list(drafts)
    inserts = [d for d in drafts if d.stored is None]
    updates = [d for d in drafts if d.stored is not None and d.changed()]
    announced = _wanted(connection, inserts, EventType.LEAD_CREATED)
    _insert(connection, inserts, ids=ids or announced)
    if announced:
        announce_created(connection, [_as_created(d) for d in inserts], actor)
    write_changes(
        connection,
        catalog,
        [{"id": d.values["id"], **d.changes()} for d in updates],
        {d.values["id"]: d.stored for d in updates if d.stored is not None},
        [row for d in drafts for row in history(d, actor, now)],
        {d.values["id"]: d.values for d in drafts if d.moves},
        actor,
        now,
    )
    if _wanted(connection, updates, EventType.LEAD_UPDATED):
        announce_updated(connection, [_as_updated(d) for d in updates], actor)
    return updates


def history(draft: Draft, actor: Actor, now: dt.datetime) -> list[dict[str, Any]]:
    """The stage_change rows of the lead's moves."""
    return [
        row
        for process, moves, entered in draft.moves
        for row in history_rows(draft.values["id"], process, moves, entered, actor, None, now)
    ]


def write_changes(
    connection: Connection,
    catalog: bpf.Catalog,
    changes: list[dict[str, Any]],
    stored: Mapping[int, Mapping[str, Any]],
    history: list[dict[str, Any]],
    moved: Mapping[int, Mapping[str, Any]],
    actor: Actor,
    now: dt.datetime,
) -> None:
    """Update stored leads (`changes`: each lead's `id` and the columns it changes; `stored`:
    each lead's row as read, by id) with one executemany per set of columns, audit what
    changed, and record the moves' history rows: their events and the activities of the
    stages entered (`moved`: each moved lead's `owner` and `status`, by id)."""
    _update(connection, changes)
    audit.record(
        connection, Entity.LEAD, [(c["id"], stored[c["id"]], c) for c in changes], actor, now
    )
    record_moves(connection, history, catalog, moved)


def _wanted(connection: Connection, drafts: Sequence[Draft], event: EventType) -> bool:
    return bool(drafts) and any(
        outbox.subscribers(connection, t) for t in (event, EventType.LEAD_SALES_READY)
    )


def _insert(connection: Connection, drafts: Sequence[Draft], *, ids: bool) -> None:
    """Insert the new leads; those that moved (their history names them) or, when `ids`, all
    get their ids back, the others go in the faster plain executemany."""
    identified = drafts if ids else [d for d in drafts if d.moves]
    if identified:
        result = connection.execute(
            insert(LEADS).returning(LEADS.c.id, sort_by_parameter_order=True),
            [{k: d.values[k] for k in COLUMNS} for d in identified],
        )
        for draft, new_id in zip(identified, result.scalars(), strict=True):
            draft.values["id"] = new_id
    if not ids:
        insert_rows(connection, LEADS, COLUMNS, [d.values for d in drafts if not d.moves])


def _update(connection: Connection, changes: Sequence[Mapping[str, Any]]) -> None:
    """One executemany per set of changed columns (leads that moved, that became sales ready,
    that did neither), rather than a statement each time the set changes from one lead to the
    next."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        columns = tuple(sorted(c for c in change if c != "id"))
        groups.setdefault(columns, []).append(
            {"_id": change["id"], **{c: change[c] for c in columns}}
        )
    for columns, rows in groups.items():
        statement = (
            update(LEADS)
            .where(LEADS.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in columns})
        )
        connection.execute(statement, rows)


def _as_created(draft: Draft) -> dict[str, Any]:
    """A new lead as it was created: in the stage it was created in, before its moves (which
    lead.stage_changed announces next)."""
    assert draft.created_in is not None
    process, stage = draft.created_in
    return {**draft.values, "process": process, "stage": stage}


def _as_updated(draft: Draft) -> tuple[int, int, Mapping[str, Any], dict[str, Any]]:
    assert draft.stored is not None
    values, stored = draft.values, draft.stored
    after = {k: values[k] for k in ANNOUNCED if k in values and values[k] != stored[k]}
    return values["id"], values["version"], stored, after


def announce_created(
    connection: Connection, leads: Sequence[Mapping[str, Any]], actor: Actor
) -> None:
    """lead.created for new leads (their columns), and lead.sales_ready for those created
    sales ready."""
    who = outbox.actor_data(actor.kind.value, actor.name)
    outbox.emit(
        connection, EventType.LEAD_CREATED, [{**outbox.lead_data(v), "actor": who} for v in leads]
    )
    outbox.emit(
        connection,
        EventType.LEAD_SALES_READY,
        [{"lead_id": v["id"], "actor": who, "model_ids": []} for v in leads if v["sales_ready"]],
    )


def announce_updated(
    connection: Connection,
    leads: Sequence[tuple[int, int, Mapping[str, Any], Mapping[str, Any]]],
    actor: Actor,
) -> None:
    """lead.updated for each (lead id, new version, values before, values after) whose fields
    changed, and lead.sales_ready for those a person marked sales ready."""
    who = outbox.actor_data(actor.kind.value, actor.name)
    outbox.emit(
        connection,
        EventType.LEAD_UPDATED,
        [
            {
                "lead_id": lead_id,
                "version": version,
                "changes": {k: {"from": before.get(k), "to": v} for k, v in after.items()},
                "actor": who,
            }
            for lead_id, version, before, after in leads
            if after
        ],
    )
    outbox.emit(
        connection,
        EventType.LEAD_SALES_READY,
        [
            {"lead_id": lead_id, "actor": who, "model_ids": []}
            for lead_id, _, before, after in leads
            if after.get("sales_ready") is True and not before.get("sales_ready")
        ],
    )
