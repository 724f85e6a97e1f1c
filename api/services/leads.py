"""Lead operations: each one a transaction that checks, decides through bpf, and writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, literal, update
from sqlmodel import Session, col, select

import bpf
from api.services import access, assignment, audit, lead_writes, opportunities, privacy, records
from api.services.moves import history_rows
from api.services.moves import record as record_moves
from api.services.schemas.leads import LeadCreate, LeadOutcome, LeadRead, LeadUpdate, MoveRequest
from api.services.scoring import evaluation
from api.storage.db import Database
from api.storage.locking import ANY, Expected, locked_values
from bpf.actors import SYSTEM, Actor
from bpf.fields import BUILTIN_FIELDS, FieldValueError
from bpf.schema import NEXT
from leads.audit import AuditEntry, Entity
from leads.errors import InvalidInput
from leads.models import (
    STATUS_REASONS,
    Account,
    Contact,
    Lead,
    LeadRow,
    LeadStatus,
    StageChange,
)
from leads.types import UTCDateTime, utcnow

# -- reading ------------------------------------------------------------------------------


def get_lead(db: Database, scope: access.Scope, lead_id: int) -> Lead:
    """The lead, if the caller may see it; 404 as for a missing lead otherwise."""
    with db.read() as session:
        access.require(session.connection(), scope, lead_id)
    return records.get(db, Lead, lead_id, "lead")


def lead_history(
    db: Database, scope: access.Scope, lead_id: int, limit: int, cursor: str | None
) -> tuple[list[StageChange], str | None]:
    get_lead(db, scope, lead_id)
    where = [col(StageChange.lead_id) == lead_id]
    return records.listing(db, StageChange, where, limit, cursor)


def lead_audit(
    db: Database, scope: access.Scope, lead_id: int, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    get_lead(db, scope, lead_id)
    return audit.history(db, Entity.LEAD, lead_id, limit, cursor)


def reads(db: Database, catalog: bpf.Catalog, leads: Sequence[Lead | LeadRow]) -> list[LeadRead]:
    """The leads as the API shows them, with the opportunity each became (one query)."""
    shown = [LeadRead.of(x, catalog.processes[x.process].missing_steps(x)) for x in leads]
    found = opportunities.outcomes(db, [read.id for read in shown])
    for read in shown:
        if read.id in found:
            read.opportunity = LeadOutcome.of(found[read.id])
    return shown


# -- writing ------------------------------------------------------------------------------


def create_lead(db: Database, catalog: bpf.Catalog, data: LeadCreate, actor: Actor) -> Lead:
    with db.write() as session:
        return add_lead(session, catalog, data, actor)


def add_lead(session: Session, catalog: bpf.Catalog, data: LeadCreate, actor: Actor) -> Lead:
    """Insert a lead in the first stage of its process and fire what its fields set off."""
    process = catalog.get(data.process) if data.process is not None else catalog.default
    values = {
        "topic": data.topic,
        "email": data.email,
        "context_kind": data.marketing_context.kind.value if data.marketing_context else None,
        "context_id": data.marketing_context.id if data.marketing_context else None,
        "parent_contact_id": data.parent_contact_id,
        "parent_account_id": data.parent_account_id,
        "owner": data.owner,
        "sales_ready": data.sales_ready,
        "process": process.name,
        "attributes": merged_attributes(catalog, {}, data.attributes),
    }
    _check_references(session, data.parent_contact_id, data.parent_account_id)
    privacy.allow_return(session, data.email, consent_given=False)
    connection = session.connection()
    if data.owner is not None:
        assignment.check_owner(connection, data.owner, "owner")
    now = utcnow()
    draft = lead_writes.start(catalog, values, now)
    lead_writes.store(connection, catalog, [draft], actor, now, ids=True)
    lead_id = draft.values["id"]
    if data.owner is not None:
        assignment.record_by_hand(connection, [(lead_id, None, data.owner)], actor, now)
    assignment.route(connection, catalog, [lead_id], actor, now)
    lead = session.get(Lead, lead_id)
    assert lead is not None
    _rescore(session, catalog, lead)
    return lead


def update_lead(
    db: Database,
    catalog: bpf.Catalog,
    scope: access.Scope,
    lead_id: int,
    expected: Expected | None,
    data: LeadUpdate,
    actor: Actor,
) -> Lead:
    with db.write() as session:
        lead = access.locked_lead(session, scope, lead_id, expected)
        changes = _changes(catalog, lead, data)
        if not changes:
            return lead
        _check_references(
            session, changes.get("parent_contact_id"), changes.get("parent_account_id")
        )
        if "email" in changes:
            privacy.allow_return(session, changes["email"], consent_given=False)
        if changes.get("owner") is not None:
            assignment.check_owner(session.connection(), changes["owner"], "owner")
        owner, status = lead.owner, lead.status
        now = utcnow()
        draft = lead_writes.Draft.of(lead.model_dump())
        lead_writes.change(catalog, draft, changes, now)
        lead_writes.store(session.connection(), catalog, [draft], actor, now)
        session.refresh(lead)
        _route(session, catalog, lead, owner, status, actor, now)
        _rescore(session, catalog, lead)
    return lead


def _route(
    session: Session,
    catalog: bpf.Catalog,
    lead: Lead,
    owner: str | None,
    status: str,
    actor: Actor,
    now: dt.datetime,
) -> None:
    """After a change by hand: record an owner set by hand, route the lead if it now waits for
    one, and route the waiting leads again if the change freed a seller's capacity (a closed
    lead, or an owner changed)."""
    assert lead.id is not None
    session.flush()
    connection = session.connection()
    if lead.owner != owner:
        assignment.record_by_hand(connection, [(lead.id, owner, lead.owner)], actor, now)
    assignment.route(connection, catalog, [lead.id], actor, now)
    freed = owner is not None and status == LeadStatus.OPEN.value
    if freed and (lead.owner != owner or lead.status != LeadStatus.OPEN.value):
        assignment.route_waiting(connection, catalog, actor)


# Fields a move changes that scoring rules can read.
MOVED_FIELDS = frozenset({"lead.stage", "lead.process"})

# Moves are the hot path: statements built once, on the table, run on the connection.
LEAD_TABLE = Lead.__table__  # type: ignore[attr-defined]
WRITE_MOVE = (
    update(LEAD_TABLE)
    .where(LEAD_TABLE.c.id == bindparam("lead_id"))
    .values(
        process=bindparam("process"),
        stage=bindparam("stage"),
        stage_entered_at=bindparam("stage_entered_at"),
        version=bindparam("version"),
        updated_at=bindparam("updated_at"),
    )
)


def move_lead(
    db: Database,
    catalog: bpf.Catalog,
    scope: access.Scope,
    lead_id: int,
    expected: Expected | None,
    request: MoveRequest,
    actor: Actor,
) -> LeadRow:
    """Move the lead as asked: one row read under lock, one update, one history row."""
    kind = _move_kind(request)
    with db.write_connection() as connection:
        lead = locked_row(connection, scope, lead_id, expected)
        if kind == "process":
            assert request.process is not None
            move = catalog.change_process(lead, request.process, request.to)
        else:
            process = catalog.get(lead.process)
            if kind == "next":
                move = process.fire(lead, NEXT)
            elif kind == "trigger":
                assert request.trigger is not None
                move = process.fire(lead, request.trigger)
            else:
                assert request.to is not None
                move = process.switch(lead, request.to)
        now = utcnow()
        entered = lead.values["stage_entered_at"]
        rows = history_rows(lead_id, lead.process, [move], entered, actor, request.reason, now)
        record_moves(connection, rows, catalog, {lead_id: lead.values})
        changes = {
            "process": lead.process,
            "stage": lead.stage,
            "stage_entered_at": now,
            "version": lead.values["version"] + 1,
            "updated_at": now,
        }
        connection.execute(WRITE_MOVE, {"lead_id": lead_id, **changes})
        before = {"process": move.from_process or lead.process, "stage": move.from_stage}
        audit.record(connection, Entity.LEAD, [(lead_id, before, changes)], actor, now)
        lead.values.update(changes)
        read = MOVED_FIELDS
        if assignment.routes_to_sales(catalog, lead.process, lead.stage) and assignment.route(
            connection, catalog, [lead_id], actor, now
        ):
            read = MOVED_FIELDS | {"lead.owner"}
            lead = locked_row(connection, None, lead_id, ANY)
        if evaluation.reads_any(connection, read):
            session = Session(bind=connection)
            evaluation.rescore(session, catalog, lead_ids=[lead_id], now=now)
            lead = locked_row(connection, None, lead_id, ANY)
    return lead


def locked_row(
    connection: Connection, scope: access.Scope, lead_id: int, expected: Expected | None
) -> LeadRow:
    """The lead as a row, locked until the transaction ends, if the caller may see it."""
    return LeadRow(
        locked_values(
            connection,
            LEAD_TABLE,
            lead_id,
            expected,
            "lead",
            visible=lambda _: access.sees(connection, scope, lead_id),
        )
    )


def _move_kind(request: MoveRequest) -> str:
    given = [
        name
        for name in ("action", "trigger", "to", "process")
        if getattr(request, name) is not None
    ]
    if request.process is not None:
        given = [g for g in given if g != "to"]
    if len(given) != 1:
        raise InvalidInput(
            [
                {
                    "field": "body",
                    "reason": "give exactly one of: action 'next', trigger, to, or process "
                    "(with an optional to)",
                }
            ]
        )
    kind = "next" if given[0] == "action" else given[0]
    if kind in ("to", "process") and request.reason is None:
        raise InvalidInput.field("reason", "required when switching to a chosen stage or process")
    return kind


def _check_references(session: Session, contact_id: int | None, account_id: int | None) -> None:
    records.require(session, Contact, contact_id, "parent_contact_id", "contact")
    records.require(session, Account, account_id, "parent_account_id", "account")


def _rescore(session: Session, catalog: bpf.Catalog, lead: Lead) -> None:
    """Scoring reads the lead's fields and stage: score it again, and see what it fired."""
    assert lead.id is not None
    evaluation.rescore(session, catalog, lead_ids=[lead.id])
    session.refresh(lead)


DISPOSITION_ROUTES = (
    "a lead is qualified, disqualified or reopened through POST /api/leads/{id}/qualify, "
    "/disqualify or /reopen, which keep who did it and why"
)


def _changes(catalog: bpf.Catalog, lead: Lead, data: LeadUpdate) -> dict[str, Any]:
    """The field values that differ from the lead's; every invalid field is reported at once."""
    errors: list[dict[str, str]] = []
    wanted: dict[str, Any] = {}
    for name in data.model_fields_set:
        value = getattr(data, name)
        if name == "marketing_context":
            wanted["context_kind"] = value.kind.value if value else None
            wanted["context_id"] = value.id if value else None
        elif name == "attributes":
            try:
                wanted["attributes"] = merged_attributes(catalog, lead.attributes, value or {})
            except InvalidInput as problem:
                errors += problem.errors or []
        elif name == "status_reason" and lead.status != LeadStatus.OPEN.value:
            if value != lead.status_reason:
                errors.append({"field": "status_reason", "reason": DISPOSITION_ROUTES})
        else:
            try:
                wanted[name] = catalog.check_field(name, value)
            except FieldValueError as exc:
                errors.append({"field": name, "reason": str(exc)})
    if "status_reason" in wanted:
        status = LeadStatus(lead.status)
        reasons = STATUS_REASONS[status]
        reason = wanted["status_reason"]
        if reason not in reasons:
            errors.append(
                {
                    "field": "status_reason",
                    "reason": f"'{reason}' is not a reason for status '{status.value}'; "
                    f"one of: {', '.join(reasons)}",
                }
            )
    if errors:
        raise InvalidInput(errors)
    return {k: v for k, v in wanted.items() if getattr(lead, k) != v}


def merged_attributes(
    catalog: bpf.Catalog, current: Mapping[str, Any], given: Mapping[str, Any]
) -> dict[str, Any]:
    errors = []
    merged = dict(current)
    for key, value in given.items():
        if key in BUILTIN_FIELDS or key in Lead.model_fields:
            errors.append(
                {
                    "field": f"attributes.{key}",
                    "reason": f"'{key}' is a lead field, not an attribute",
                }
            )
            continue
        try:
            checked = catalog.check_field(key, value)
        except FieldValueError as exc:
            errors.append({"field": f"attributes.{key}", "reason": str(exc)})
            continue
        if checked is None:
            merged.pop(key, None)
        else:
            merged[key] = checked
    if errors:
        raise InvalidInput(errors)
    return merged


def adopt(db: Database, catalog: bpf.Catalog) -> list[bpf.Relocation]:
    """Make the database agree with a stages file: leads in renamed stages move to the new names.

    Raise bpf.StagesInUse, and change nothing, when leads sit in stages the file dropped.
    """
    with db.write() as session:
        rows = session.exec(
            select(Lead.process, Lead.stage, func.count()).group_by(Lead.process, Lead.stage)
        )
        relocations = catalog.relocations({(p, s): n for p, s, n in rows})
        now = utcnow()
        for r in relocations:
            where = (col(Lead.process) == r.process, col(Lead.stage) == r.stage)
            moved = session.exec(select(Lead.id).where(*where))
            before = {"process": r.process, "stage": r.stage}
            after = {"process": r.new_process, "stage": r.new_stage}
            audit.record(
                session.connection(),
                Entity.LEAD,
                [(lead_id, before, after) for lead_id in moved if lead_id is not None],
                SYSTEM,
                now,
            )
            session.execute(
                insert(StageChange).from_select(
                    [
                        "lead_id",
                        "from_process",
                        "process",
                        "from_stage",
                        "to_stage",
                        "actor",
                        "reason",
                        "at",
                    ],
                    select(
                        col(Lead.id),
                        literal(r.process if r.new_process != r.process else None),
                        literal(r.new_process),
                        literal(r.stage),
                        literal(r.new_stage),
                        literal(bpf.ActorKind.SYSTEM.value),
                        literal(f"renamed in {catalog.source}"),
                        literal(now, UTCDateTime()),
                    ).where(*where),
                )
            )
            session.execute(
                update(Lead)
                .where(*where)
                .values(
                    process=r.new_process,
                    stage=r.new_stage,
                    version=col(Lead.version) + 1,
                    updated_at=now,
                )
            )
    return relocations
