"""Making activities for leads, in the transaction of what caused them.

Two ways in:

- `on_entry`, which `api.moves.record` calls for every move it records: a lead that enters a
  stage declaring `activities:` in stages.yaml gets them, due from the time of the move.
- `create_activities`, for anything else that makes activities by declaration (qualification
  actions): given lead rows, `bpf.ActivityDef`s and a `Source`, it inserts one activity per
  lead and declaration with one executemany and returns their ids.

Both are set-based: one statement however many leads, and nothing at all when there is
nothing to make. And `follow`, which every change of a lead's owner calls (through
`api.services.assignment`): the lead's open activities go with it to the new owner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlmodel import Session

import bpf
from api.services import audit
from api.storage.bulk import in_values
from bpf.actors import Actor
from leads.activities import Activity, ActivitySource, ActivityStatus
from leads.audit import Entity
from leads.models import Lead, LeadStatus

ACTIVITY = Activity.__table__  # type: ignore[attr-defined]
LEAD = Lead.__table__  # type: ignore[attr-defined]
INSERT = insert(ACTIVITY).returning(ACTIVITY.c.id, sort_by_parameter_order=True)
SET_OWNER = (
    update(ACTIVITY)
    .where(ACTIVITY.c.id == bindparam("activity_id"))
    .values(
        owner=bindparam("new_owner"), version=ACTIVITY.c.version + 1, updated_at=bindparam("now")
    )
)


@dataclass(frozen=True)
class Source:
    """What made an activity; kept on it, so a person can see why it is on their list."""

    kind: ActivitySource
    process: str | None = None
    stage: str | None = None
    ref: str | None = None

    @classmethod
    def stage_entry(cls, process: str, stage: str) -> Source:
        return cls(ActivitySource.STAGE_ENTRY, process=process, stage=stage)

    @classmethod
    def qualification(cls, ref: str | int) -> Source:
        """Made by a qualification action; `ref` is the id of what qualified the lead."""
        return cls(ActivitySource.QUALIFICATION, ref=str(ref))

    @classmethod
    def manual(cls) -> Source:
        return cls(ActivitySource.MANUAL)


def row(
    lead_id: int,
    owner: str | None,
    kind: str,
    subject: str,
    description: str | None,
    due_at: dt.datetime,
    source: Source,
    created_by: str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """An activity row with every column set, so rows of any origin go in one executemany."""
    return {
        "kind": kind,
        "subject": subject,
        "description": description,
        "lead_id": lead_id,
        "owner": owner,
        "due_at": due_at,
        "status": ActivityStatus.OPEN.value,
        "source": source.kind.value,
        "source_process": source.process,
        "source_stage": source.stage,
        "source_ref": source.ref,
        "created_by": created_by,
        "completed_at": None,
        "completed_by": None,
        "canceled_at": None,
        "canceled_by": None,
        "outcome": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def declared_rows(
    leads: Iterable[Mapping[str, Any]],
    specs: Sequence[bpf.ActivityDef],
    source: Source,
    now: dt.datetime,
    created_by: str | None = None,
) -> list[dict[str, Any]]:
    """One row per lead and declaration: owned by the lead's owner, due `due_in` from now."""
    if not specs:
        return []
    due = [(spec, now + spec.due_after) for spec in specs]
    return [
        row(
            lead["id"],
            lead["owner"],
            spec.kind,
            spec.subject,
            spec.description,
            due_at,
            source,
            created_by,
            now,
        )
        for lead in leads
        for spec, due_at in due
    ]


def insert_activities(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert activity rows with one executemany; their ids, in the order given."""
    if not rows:
        return []
    return list(connection.execute(INSERT, rows).scalars())


def create_activities(
    connection: Connection | Session,
    leads: Iterable[Mapping[str, Any]],
    specs: Sequence[bpf.ActivityDef],
    source: Source,
    now: dt.datetime,
    created_by: str | None = None,
) -> list[int]:
    """Make the declared activities for these leads, in the caller's transaction.

    `leads` are rows with at least `id` (a `LeadRow`'s values, a row mapping of the lead
    table, or `{"id": lead.id}`); each activity is owned by its lead's owner as it is now in
    the transaction (null: nobody's yet; the change that qualified the lead may have routed it
    since the row was read) and due `spec.due_in` after `now`. `source` says what made them
    (`Source.qualification(criteria_id)`, say); `created_by` names the person, if a person
    did. Returns the new activities' ids, lead by lead, in spec order.
    """
    bind = connection.connection() if isinstance(connection, Session) else connection
    ids = [lead["id"] for lead in leads]
    if not specs or not ids:
        return []
    query = select(LEAD.c.id, LEAD.c.owner).where(in_values(LEAD.c.id, ids, bind.dialect.name))
    owners = dict(bind.execute(query).all())
    current = [{"id": i, "owner": owners.get(i)} for i in ids]
    return insert_activities(bind, declared_rows(current, specs, source, now, created_by))


def on_entry(
    connection: Connection,
    catalog: bpf.Catalog,
    history: Sequence[Mapping[str, Any]],
    leads: Mapping[int, Mapping[str, Any]],
) -> list[int]:
    """Make the activities of the stages leads entered by these moves (stage_change rows).

    `leads` holds each moved lead's `owner` and `status` by id. A closed (qualified or
    disqualified) lead gets none; a lead that moved through several stages gets those of the
    stage it stays in. Costs nothing when no stage declares activities.
    """
    if not catalog.declares_activities or not history:
        return []
    at = {r["lead_id"]: r["at"] for r in history}
    entered = catalog.entered((r["lead_id"], r["process"], r["to_stage"]) for r in history)
    rows: list[dict[str, Any]] = []
    for lead_id, (process, stage) in entered.items():
        lead = leads[lead_id]
        if lead["status"] != LeadStatus.OPEN.value:
            continue
        rows += declared_rows(
            [{"id": lead_id, "owner": lead["owner"]}],
            catalog.activities_on_entry(process, stage),
            Source.stage_entry(process, stage),
            at[lead_id],
        )
    return insert_activities(connection, rows)


def follow(
    connection: Connection,
    changes: Sequence[tuple[int, str | None, str | None]],
    actor: Actor,
    now: dt.datetime,
) -> None:
    """The leads changed owner (lead id, previous owner, new owner): their open activities that
    were the previous owner's or nobody's go to the new owner, each audited as a change of its
    owner. An activity given by hand to someone else stays theirs."""
    if not changes:
        return
    by_lead = {lead_id: (previous, owner) for lead_id, previous, owner in changes}
    query = select(ACTIVITY.c.id, ACTIVITY.c.lead_id, ACTIVITY.c.owner).where(
        in_values(ACTIVITY.c.lead_id, list(by_lead), connection.dialect.name),
        ACTIVITY.c.status == ActivityStatus.OPEN.value,
    )
    moved = []
    for ident, lead_id, owner in connection.execute(query.order_by(ACTIVITY.c.id)):
        previous, new = by_lead[lead_id]
        if owner != new and (owner is None or owner == previous):
            moved.append((ident, owner, new))
    if not moved:
        return
    connection.execute(
        SET_OWNER, [{"activity_id": i, "new_owner": new, "now": now} for i, _, new in moved]
    )
    audit.record(
        connection,
        Entity.ACTIVITY,
        [(i, {"owner": old}, {"owner": new}) for i, old, new in moved],
        actor,
        now,
    )
