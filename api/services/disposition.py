"""Disposition: qualify an open lead into an opportunity, disqualify it with a reason, or reopen
a disqualified one. Each is one transaction: the lead's status and version, the disposition
history row, the opportunity, and the lead's open activities canceled when it closes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

import bpf
from api.services import access, assignment, audit, outbox, records
from api.services import leads as lead_service
from api.services.activities import cancel_open, lead_not_open
from api.services.outbox import EventType
from api.services.schemas.opportunities import (
    DisqualifyRequest,
    QualifyRequest,
    ReopenRequest,
    cents,
)
from api.services.scoring import evaluation
from api.storage.db import Database
from api.storage.locking import Expected
from bpf.actors import Actor
from leads.activities import Activity
from leads.audit import Entity
from leads.errors import Conflict, InvalidInput
from leads.models import STATUS_REASONS, Contact, Lead, LeadStatus
from leads.opportunities import Disposition, Opportunity, OpportunityStatus
from leads.types import utcnow

ANNOUNCED = {
    LeadStatus.QUALIFIED: EventType.LEAD_QUALIFIED,
    LeadStatus.DISQUALIFIED: EventType.LEAD_DISQUALIFIED,
    LeadStatus.OPEN: EventType.LEAD_REOPENED,
}


@dataclass
class Outcome:
    lead: Lead
    disposition: Disposition
    opportunity: Opportunity | None = None
    canceled: list[Activity] = field(default_factory=list)


def qualify(
    db: Database,
    catalog: bpf.Catalog,
    scope: access.Scope,
    lead_id: int,
    expected: Expected | None,
    data: QualifyRequest,
    actor: Actor,
) -> Outcome:
    """Make an opportunity of an open lead (its contact and account from the lead's parents,
    its owner the lead's) and mark the lead qualified: from a stage its process qualifies
    from, its required steps filled."""
    with db.write() as session:
        lead = _locked_open(session, scope, lead_id, expected, "be qualified")
        _check_ready(catalog.get(lead.process), lead)
        now = utcnow()
        account_id = lead.parent_account_id
        if account_id is None and lead.parent_contact_id is not None:
            contact = session.get(Contact, lead.parent_contact_id)
            account_id = contact.account_id if contact is not None else None
        opportunity = Opportunity(
            name=data.name or lead.topic,
            lead_id=lead.id,
            contact_id=lead.parent_contact_id,
            account_id=account_id,
            estimated_value_cents=cents(data.estimated_value),
            currency=data.currency,
            estimated_close_date=data.estimated_close_date,
            status=OpportunityStatus.OPEN.value,
            owner=lead.owner,
            created_at=now,
            updated_at=now,
        )
        session.add(opportunity)
        session.flush()
        outcome = _close(
            session,
            catalog,
            lead,
            LeadStatus.QUALIFIED,
            "qualified",
            data.note,
            actor,
            now,
            opportunity,
        )
    return outcome


def disqualify(
    db: Database,
    catalog: bpf.Catalog,
    scope: access.Scope,
    lead_id: int,
    expected: Expected | None,
    data: DisqualifyRequest,
    actor: Actor,
) -> Outcome:
    with db.write() as session:
        lead = _locked_open(session, scope, lead_id, expected, "be disqualified")
        process = catalog.get(lead.process)
        what = f"a disqualify reason of process '{process.name}'"
        InvalidInput.check_one_of("reason", data.reason, list(process.disqualify_reasons), what)
        outcome = _close(
            session,
            catalog,
            lead,
            LeadStatus.DISQUALIFIED,
            data.reason,
            data.note,
            actor,
            utcnow(),
            None,
        )
    return outcome


def reopen(
    db: Database,
    catalog: bpf.Catalog,
    scope: access.Scope,
    lead_id: int,
    expected: Expected | None,
    data: ReopenRequest,
    actor: Actor,
) -> Outcome:
    """A disqualified lead is open again (status reason "new"); its canceled activities stay
    canceled. A qualified lead is not reopened: its opportunity carries the work on."""
    with db.write() as session:
        lead = access.locked_lead(session, scope, lead_id, expected)
        if lead.status != LeadStatus.DISQUALIFIED.value:
            detail = f"lead {lead.id} is {lead.status}; only a disqualified lead can be reopened"
            if lead.status == LeadStatus.QUALIFIED.value:
                found = session.exec(
                    select(Opportunity.id).where(col(Opportunity.lead_id) == lead.id)
                ).first()
                if found is not None:
                    detail += f" (work on opportunity {found} instead)"
            raise Conflict(
                detail,
                slug="lead-not-disqualified",
                title="Lead not disqualified",
                current_status=lead.status,
                current_status_reason=lead.status_reason,
            )
        now = utcnow()
        disposition = _record(
            session,
            catalog,
            lead,
            LeadStatus.OPEN,
            STATUS_REASONS[LeadStatus.OPEN][0],
            data.note,
            actor,
            now,
            None,
        )
        _rescore(session, catalog, lead)
    return Outcome(lead, disposition)


def dispositions(
    db: Database, scope: access.Scope, lead_id: int, limit: int, cursor: str | None
) -> tuple[list[Disposition], str | None]:
    lead_service.get_lead(db, scope, lead_id)
    where = [col(Disposition.lead_id) == lead_id]
    return records.listing(db, Disposition, where, limit, cursor)


def _locked_open(
    session: Session, scope: access.Scope, lead_id: int, expected: Expected | None, what: str
) -> Lead:
    lead = access.locked_lead(session, scope, lead_id, expected)
    if lead.status != LeadStatus.OPEN.value:
        raise lead_not_open(lead, what)
    return lead


def _check_ready(process: bpf.Process, lead: Lead) -> None:
    refusal = process.qualify_refusal(lead)
    if refusal is not None:
        raise Conflict(
            refusal,
            slug="lead-not-ready-to-qualify",
            title="Lead not ready to qualify",
            stage=lead.stage,
            missing_steps=process.missing_steps(lead),
            qualify_from=list(process.qualify_from),
        )


def _close(
    session: Session,
    catalog: bpf.Catalog,
    lead: Lead,
    status: LeadStatus,
    reason: str,
    note: str | None,
    actor: Actor,
    now: dt.datetime,
    opportunity: Opportunity | None,
) -> Outcome:
    assert lead.id is not None
    disposition = _record(session, catalog, lead, status, reason, note, actor, now, opportunity)
    canceled = cancel_open(session, lead.id, actor, now)
    _rescore(session, catalog, lead)
    return Outcome(lead, disposition, opportunity, canceled)


def _record(
    session: Session,
    catalog: bpf.Catalog,
    lead: Lead,
    status: LeadStatus,
    reason: str,
    note: str | None,
    actor: Actor,
    now: dt.datetime,
    opportunity: Opportunity | None,
) -> Disposition:
    """Set the lead's status, keep who did it, when and why, and announce it. A lead that
    closes frees its owner's capacity for the leads waiting for one; a reopened lead may wait
    for an owner itself."""
    assert lead.id is not None
    disposition = Disposition(
        lead_id=lead.id,
        from_status=lead.status,
        status=status.value,
        status_reason=reason,
        note=note,
        opportunity_id=opportunity.id if opportunity is not None else None,
        actor=actor.kind.value,
        actor_name=actor.name,
        at=now,
    )
    before = {"status": lead.status, "status_reason": lead.status_reason}
    lead.status, lead.status_reason = status.value, reason
    lead.version += 1
    lead.updated_at = now
    session.add(lead)
    session.add(disposition)
    session.flush()
    after = {"status": lead.status, "status_reason": lead.status_reason}
    audit.record(session.connection(), Entity.LEAD, [(lead.id, before, after)], actor, now)
    outbox.emit(
        session.connection(),
        ANNOUNCED[status],
        [
            {
                "lead_id": lead.id,
                "status": status.value,
                "status_reason": reason,
                "note": note,
                "opportunity_id": disposition.opportunity_id,
                "actor": outbox.actor_data(actor.kind.value, actor.name),
            }
        ],
        now=now,
    )
    connection = session.connection()
    if status is LeadStatus.OPEN:
        assignment.route(connection, catalog, [lead.id], actor, now)
    elif lead.owner is not None:
        assignment.route_waiting(connection, catalog, actor)
    return disposition


def _rescore(session: Session, catalog: bpf.Catalog, lead: Lead) -> None:
    """A scoring model may read the lead's status (an audience of open leads, say)."""
    assert lead.id is not None
    evaluation.rescore(session, catalog, lead_ids=[lead.id])
    session.refresh(lead)
