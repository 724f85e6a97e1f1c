"""Activity operations: list and read them, make one by hand, complete or cancel one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

import bpf
from api.services import access, activity_rows, records
from api.services import leads as lead_service
from api.services.activity_rows import Source
from api.services.schemas.activities import ActivityClose, ActivityCreate
from api.storage.db import Database
from api.storage.locking import Expected, locked
from bpf.actors import Actor
from leads.activities import Activity, ActivityKind, ActivityStatus
from leads.errors import Conflict, InvalidInput
from leads.models import Lead, LeadStatus
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


def list_activities(
    db: Database, scope: access.Scope, where: ActivityFilter, limit: int, cursor: str | None
) -> tuple[list[Activity], str | None]:
    clauses = where.clauses() + access.belongs(col(Activity.lead_id), scope)
    return records.listing(db, Activity, clauses, limit, cursor)


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
        [ident] = activity_rows.insert_activities(session.connection(), [row])
    return records.get(db, Activity, ident, "activity")


def complete(
    db: Database,
    scope: access.Scope,
    activity_id: int,
    expected: Expected | None,
    data: ActivityClose,
    actor: Actor,
) -> Activity:
    return _close(db, scope, activity_id, expected, data, actor, ActivityStatus.COMPLETED)


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
    return activity


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
