"""Activity operations: list and read them (a person's open work, due first), make one by hand
(an appointment with its start, end and attendees), complete or cancel one, log a phone call
with its outcome (a `phone_call` interaction the scoring models read)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

import bpf
from api.services import access, activity_rows, audit, interactions, records
from api.services import leads as lead_service
from api.services.activity_rows import Source
from api.services.schemas.activities import (
    ActivityClose,
    ActivityComplete,
    ActivityCreate,
    CallLog,
)
from api.services.schemas.interactions import InteractionIn
from api.services.scoring import evaluation
from api.storage.db import Database
from api.storage.locking import Expected, locked
from api.storage.paging import Order
from bpf.actors import Actor
from leads.activities import Activity, ActivityKind, ActivityStatus, CallOutcome
from leads.audit import AuditEntry, Entity
from leads.errors import Conflict, InvalidInput, NotFound
from leads.models import Lead, LeadStatus
from leads.sellers import Seller
from leads.types import utcnow

# The reason kept on open activities canceled because their lead was qualified or disqualified.
LEAD_CLOSED = "lead closed"


@dataclass(frozen=True)
class ActivityFilter:
    lead_id: int | None = None
    owner: str | None = None
    status: ActivityStatus | None = None
    kind: ActivityKind | None = None
    due_before: dt.datetime | None = None
    due_after: dt.datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.lead_id is not None:
            clauses.append(col(Activity.lead_id) == self.lead_id)
        if self.owner is not None:
            clauses.append(col(Activity.owner) == self.owner)
        if self.status is not None:
            clauses.append(col(Activity.status) == self.status.value)
        if self.kind is not None:
            clauses.append(col(Activity.kind) == self.kind.value)
        if self.due_before is not None:
            clauses.append(col(Activity.due_at) < self.due_before)
        if self.due_after is not None:
            clauses.append(col(Activity.due_at) >= self.due_after)
        return clauses


class ActivitySort(StrEnum):
    ID = "id"  # oldest first
    DUE = "due"  # due first (due_at is never null), then oldest first


# The interaction a logged call is, for scoring: its kind, and the property with the outcome.
CALL = "phone_call"


def list_activities(
    db: Database,
    scope: access.Scope,
    where: ActivityFilter,
    limit: int,
    cursor: str | None,
    sort: ActivitySort = ActivitySort.ID,
) -> tuple[list[Activity], str | None]:
    clauses = where.clauses() + access.belongs(col(Activity.lead_id), scope)
    if sort is ActivitySort.ID:
        return records.listing(db, Activity, clauses, limit, cursor)
    order = Order(key=col(Activity.due_at), ident=col(Activity.id), descending=False, time=True)
    with db.read() as session:
        found = list(session.exec(order.apply(select(Activity).where(*clauses), cursor, limit)))
    keys = [{"due_at": a.due_at, "id": a.id} for a in found]
    kept, next_cursor = order.page(keys, limit, "due_at", "id")
    return found[: len(kept)], next_cursor


def activity_audit(
    db: Database, scope: access.Scope, activity_id: int, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """The changes of the activity's fields (its owner, as its lead changes owner), newest
    first."""
    get_activity(db, scope, activity_id)
    return audit.history(db, Entity.ACTIVITY, activity_id, limit, cursor)


def lead_activities(
    db: Database,
    scope: access.Scope,
    lead_id: int,
    status: ActivityStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Activity], str | None]:
    lead_service.get_lead(db, scope, lead_id)
    where = ActivityFilter(lead_id=lead_id, status=status)
    return list_activities(db, scope, where, limit, cursor)


def get_activity(db: Database, scope: access.Scope, activity_id: int) -> Activity:
    """The activity, if the caller may see its lead; 404 as for a missing one otherwise."""
    return access.of_visible_lead(db, scope, Activity, activity_id, "activity")


def create_activity(
    db: Database, scope: access.Scope, data: ActivityCreate, actor: Actor
) -> Activity:
    """An activity made by hand, for an open lead; its owner is the lead's unless given."""
    now = utcnow()
    if data.due_in is not None:
        due_at = now + bpf.parse_duration(data.due_in)
    else:
        assert data.due_at is not None
        due_at = data.due_at
    with db.write() as session:
        lead = session.get(Lead, data.lead_id)
        if lead is None or not access.sees(session.connection(), scope, data.lead_id):
            raise InvalidInput.field("lead_id", f"there is no lead {data.lead_id}")
        if lead.status != LeadStatus.OPEN.value:
            raise lead_not_open(lead, "be given activities")
        owner = data.owner if "owner" in data.model_fields_set else lead.owner
        row = activity_rows.row(
            data.lead_id,
            owner,
            data.kind.value,
            data.subject,
            data.description,
            due_at,
            Source.manual(),
            actor.name,
            now,
        )
        row.update(_appointment(session, data))
        [ident] = activity_rows.insert_activities(session.connection(), [row])
    return records.get(db, Activity, ident, "activity")


def _appointment(session: Session, data: ActivityCreate) -> dict[str, Any]:
    """An appointment's start, end and attendees, checked; other kinds have none."""
    fields = {"starts_at": data.starts_at, "ends_at": data.ends_at, "attendees": data.attendees}
    if data.kind is not ActivityKind.APPOINTMENT:
        given = [
            {"field": n, "reason": "only an appointment has it"} for n, v in fields.items() if v
        ]
        if given:
            raise InvalidInput(given)
        return fields
    errors = [
        {"field": n, "reason": "an appointment needs its start and end"}
        for n in ("starts_at", "ends_at")
        if fields[n] is None
    ]
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        errors.append({"field": "ends_at", "reason": "an appointment ends after it starts"})
    attendees = data.attendees or []
    handles = {a for a in attendees if "@" not in a}
    known = set(session.exec(select(Seller.handle).where(col(Seller.handle).in_(handles))))
    errors += [
        {"field": f"attendees.{i}", "reason": f"there is no seller '{a}' (and it is no email)"}
        for i, a in enumerate(attendees)
        if a in handles and a not in known
    ]
    errors += [
        {"field": f"attendees.{i}", "reason": f"'{a}' is listed twice"}
        for i, a in enumerate(attendees)
        if a in attendees[:i]
    ]
    if errors:
        raise InvalidInput(errors)
    return fields


def complete(
    db: Database,
    catalog: bpf.Catalog,
    scope: access.Scope,
    activity_id: int,
    expected: Expected | None,
    data: ActivityComplete,
    actor: Actor,
) -> Activity:
    """Complete the activity; a phone call completed with its outcome is logged as a call."""
    call = None if data.call_outcome is None else (catalog, data.call_outcome)
    return _close(db, scope, activity_id, expected, data, actor, ActivityStatus.COMPLETED, call)


def cancel(
    db: Database,
    scope: access.Scope,
    activity_id: int,
    expected: Expected | None,
    data: ActivityClose,
    actor: Actor,
) -> Activity:
    return _close(db, scope, activity_id, expected, data, actor, ActivityStatus.CANCELED)


def _close(
    db: Database,
    scope: access.Scope,
    activity_id: int,
    expected: Expected | None,
    data: ActivityClose,
    actor: Actor,
    status: ActivityStatus,
    call: tuple[bpf.Catalog, CallOutcome] | None = None,
) -> Activity:
    verb = "completed" if status is ActivityStatus.COMPLETED else "canceled"
    with db.write() as session:
        activity = locked(
            session,
            Activity,
            activity_id,
            expected,
            "activity",
            visible=lambda row: access.sees(session.connection(), scope, row.lead_id),
        )
        if activity.status != ActivityStatus.OPEN.value:
            raise _not_open(activity, verb)
        if call is not None and activity.kind != ActivityKind.PHONE_CALL.value:
            reason = f"only a phone call has an outcome; this is a {activity.kind}"
            raise InvalidInput.field("call_outcome", reason)
        now = utcnow()
        activity.status = status.value
        if status is ActivityStatus.COMPLETED:
            activity.completed_at, activity.completed_by = now, actor.name
        else:
            activity.canceled_at, activity.canceled_by = now, actor.name
        activity.outcome = data.note
        activity.version += 1
        activity.updated_at = now
        session.add(activity)
        if call is not None:
            catalog, outcome = call
            activity.call_outcome = outcome.value
            session.flush()
            _interaction(session, catalog, activity, now)
    return activity


def log_call(
    db: Database,
    catalog: bpf.Catalog,
    scope: access.Scope,
    lead_id: int,
    data: CallLog,
    actor: Actor,
) -> Activity:
    """A call made to an open lead: a completed phone call of the lead's owner, made by the
    caller, with its outcome, and the `phone_call` interaction the scoring models read."""
    now = utcnow()
    with db.write() as session:
        lead = session.get(Lead, lead_id)
        if lead is None or not access.sees(session.connection(), scope, lead_id):
            raise NotFound("lead", lead_id)
        if lead.status != LeadStatus.OPEN.value:
            raise lead_not_open(lead, "be called")
        row = activity_rows.row(
            lead_id,
            lead.owner,
            ActivityKind.PHONE_CALL.value,
            data.subject,
            None,
            now,
            Source.manual(),
            actor.name,
            now,
        )
        row.update(
            status=ActivityStatus.COMPLETED.value,
            completed_at=now,
            completed_by=actor.name,
            outcome=data.note,
            call_outcome=data.outcome.value,
        )
        [ident] = activity_rows.insert_activities(session.connection(), [row])
        activity = session.get(Activity, ident)
        assert activity is not None
        _interaction(session, catalog, activity, now)
    return activity


def _interaction(
    session: Session, catalog: bpf.Catalog, activity: Activity, now: dt.datetime
) -> None:
    """The call as an interaction of its lead (and the lead's contact), scored at once."""
    item = InteractionIn(
        kind=CALL,
        occurred_at=now,
        lead_id=activity.lead_id,
        properties={"outcome": activity.call_outcome, "activity_id": activity.id},
    )
    stored = interactions.store(session, [item], {CALL})
    evaluation.rescore_interactions(session, catalog, stored.new)


def _not_open(activity: Activity, verb: str) -> Conflict:
    if activity.status == ActivityStatus.COMPLETED.value:
        when, who = activity.completed_at, activity.completed_by
    else:
        when, who = activity.canceled_at, activity.canceled_by
    done = f"{activity.status} at {when.isoformat() if when else 'an unknown time'}"
    if who:
        done += f" by {who}"
    if activity.outcome:
        done += f" ({activity.outcome})"
    return Conflict(
        f"activity {activity.id} was {done}; only an open activity can be {verb}",
        slug="activity-closed",
        title="Activity closed",
        current_status=activity.status,
    )


def lead_not_open(lead: Lead, what: str) -> Conflict:
    return Conflict(
        f"lead {lead.id} is {lead.status} ({lead.status_reason}); only an open lead can {what}",
        slug="lead-not-open",
        title="Lead not open",
        current_status=lead.status,
        current_status_reason=lead.status_reason,
    )


def cancel_open(session: Session, lead_id: int, actor: Actor, now: dt.datetime) -> list[Activity]:
    """Cancel the lead's open activities because it was closed; the activities canceled."""
    query = (
        select(Activity)
        .where(col(Activity.lead_id) == lead_id, col(Activity.status) == ActivityStatus.OPEN.value)
        .order_by(col(Activity.id))
        .with_for_update()
    )
    canceled = list(session.exec(query))
    for activity in canceled:
        activity.status = ActivityStatus.CANCELED.value
        activity.canceled_at, activity.canceled_by = now, actor.name
        activity.outcome = LEAD_CLOSED
        activity.version += 1
        activity.updated_at = now
        session.add(activity)
    return canceled
