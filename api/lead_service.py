"""Lead operations: each one a transaction that checks, decides through bpf, and writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, insert, literal, update
from sqlmodel import Session, col, select

import bpf
from api import privacy, records
from api.db import Database
from api.keys import Principal
from api.problems import Problem, field_error, invalid
from api.schemas.leads import LeadCreate, LeadUpdate, MoveRequest
from api.versioning import locked
from bpf.fields import BUILTIN_FIELDS, FieldValueError
from bpf.schema import NEXT
from leads.models import STATUS_REASONS, Account, Contact, Lead, LeadStatus, StageChange
from leads.types import UTCDateTime, utcnow


@dataclass(frozen=True)
class Actor:
    kind: bpf.Actor
    name: str | None

    @classmethod
    def user(cls, principal: Principal) -> Actor:
        return cls(bpf.Actor.USER, principal.name)


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilter:
    process: str | None = None
    stage: str | None = None
    status: LeadStatus | None = None
    owner: str | None = None
    sales_ready: bool | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.process is not None:
            clauses.append(col(Lead.process) == self.process)
        if self.stage is not None:
            clauses.append(col(Lead.stage) == self.stage)
        if self.status is not None:
            clauses.append(col(Lead.status) == self.status.value)
        if self.owner is not None:
            clauses.append(col(Lead.owner) == self.owner)
        if self.sales_ready is not None:
            clauses.append(col(Lead.sales_ready) == self.sales_ready)
        return clauses


def list_leads(
    db: Database, where: LeadFilter, limit: int, cursor: str | None
) -> tuple[list[Lead], str | None]:
    return records.listing(db, Lead, where.clauses(), limit, cursor)


def lead_history(
    db: Database, lead_id: int, limit: int, cursor: str | None
) -> tuple[list[StageChange], str | None]:
    records.get(db, Lead, lead_id, "lead")
    where = [col(StageChange.lead_id) == lead_id]
    return records.listing(db, StageChange, where, limit, cursor)


# -- writing ------------------------------------------------------------------------------


def create_lead(db: Database, catalog: bpf.Catalog, data: LeadCreate, actor: Actor) -> Lead:
    with db.write() as session:
        return add_lead(session, catalog, data, actor)


def add_lead(session: Session, catalog: bpf.Catalog, data: LeadCreate, actor: Actor) -> Lead:
    """Insert a lead in the first stage of its process and fire what its fields set off."""
    process = catalog.get(data.process) if data.process is not None else catalog.default
    now = utcnow()
    lead = Lead(
        topic=data.topic,
        email=data.email,
        context_kind=data.marketing_context.kind.value if data.marketing_context else None,
        context_id=data.marketing_context.id if data.marketing_context else None,
        parent_contact_id=data.parent_contact_id,
        parent_account_id=data.parent_account_id,
        owner=data.owner,
        sales_ready=data.sales_ready,
        process=process.name,
        stage=process.first_stage,
        stage_entered_at=now,
        created_at=now,
        updated_at=now,
    )
    lead.attributes = merged_attributes(catalog, {}, data.attributes)
    outcomes = [
        outcome
        for name in ("sales_ready", *data.attributes)
        for outcome in catalog.outcomes_of_change(name, None, lead.field_value(name))
    ]
    _check_references(session, lead.parent_contact_id, lead.parent_account_id)
    privacy.allow_return(session, lead.email, consent_given=False)
    session.add(lead)
    session.flush()
    moves = process.apply_outcomes(lead, outcomes, automated=False, switches={})
    _record(session, lead, moves, actor, None, now)
    return lead


def update_lead(
    db: Database,
    catalog: bpf.Catalog,
    lead_id: int,
    if_match: str | None,
    data: LeadUpdate,
    actor: Actor,
) -> Lead:
    with db.write() as session:
        lead = locked(session, Lead, lead_id, if_match, "lead")
        changes = _changes(catalog, lead, data)
        if not changes:
            return lead
        _check_references(
            session, changes.get("parent_contact_id"), changes.get("parent_account_id")
        )
        if "email" in changes:
            privacy.allow_return(session, changes["email"], consent_given=False)
        outcomes: list[str] = []
        for name, value in changes.items():
            if name == "attributes":
                for key in set(value) | set(lead.attributes):
                    outcomes += catalog.outcomes_of_change(
                        key, lead.attributes.get(key), value.get(key)
                    )
            else:
                outcomes += catalog.outcomes_of_change(name, getattr(lead, name), value)
            setattr(lead, name, value)
        now = utcnow()
        moves = catalog.get(lead.process).apply_outcomes(
            lead, outcomes, automated=False, switches={}
        )
        _record(session, lead, moves, actor, None, now)
        _touch(lead, now)
    return lead


def move_lead(
    db: Database,
    catalog: bpf.Catalog,
    lead_id: int,
    if_match: str | None,
    request: MoveRequest,
    actor: Actor,
) -> Lead:
    kind = _move_kind(request)
    with db.write() as session:
        lead = locked(session, Lead, lead_id, if_match, "lead")
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
        _record(session, lead, [move], actor, request.reason, now)
        _touch(lead, now)
    return lead


def _move_kind(request: MoveRequest) -> str:
    given = [
        name
        for name in ("action", "trigger", "to", "process")
        if getattr(request, name) is not None
    ]
    if request.process is not None:
        given = [g for g in given if g != "to"]
    if len(given) != 1:
        raise invalid(
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
        raise field_error("reason", "required when switching to a chosen stage or process")
    return kind


def _check_references(session: Session, contact_id: int | None, account_id: int | None) -> None:
    records.require(session, Contact, contact_id, "parent_contact_id", "contact")
    records.require(session, Account, account_id, "parent_account_id", "account")


def _touch(lead: Lead, now: dt.datetime) -> None:
    lead.version += 1
    lead.updated_at = now


def _record(
    session: Session,
    lead: Lead,
    moves: Sequence[bpf.Move],
    actor: Actor,
    reason: str | None,
    now: dt.datetime,
) -> None:
    assert lead.id is not None
    entered = lead.stage_entered_at
    for move in moves:
        session.add(
            StageChange(
                lead_id=lead.id,
                from_process=move.from_process,
                process=lead.process,
                from_stage=move.from_stage,
                to_stage=move.to_stage,
                trigger=move.trigger,
                actor=actor.kind.value,
                actor_name=actor.name,
                reason=reason,
                at=now,
                seconds_in_stage=max((now - entered).total_seconds(), 0.0),
            )
        )
        entered = now
    if moves:
        lead.stage_entered_at = now


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
            except Problem as problem:
                errors += problem.errors or []
        elif name == "topic" and value is None:
            errors.append({"field": "topic", "reason": "a lead always has a topic"})
        elif name in ("status", "status_reason") and value is None:
            errors.append({"field": name, "reason": "cannot be cleared"})
        elif name in ("sales_ready",) and value is None:
            errors.append({"field": name, "reason": "must be true or false"})
        else:
            try:
                wanted[name] = catalog.check_field(name, value)
            except FieldValueError as exc:
                errors.append({"field": name, "reason": str(exc)})
    if "status" in wanted or "status_reason" in wanted:
        status = LeadStatus(wanted.get("status", lead.status))
        reasons = STATUS_REASONS[status]
        if "status_reason" in wanted:
            reason = wanted["status_reason"]
        else:
            reason = lead.status_reason if lead.status_reason in reasons else reasons[0]
        if reason not in reasons:
            errors.append(
                {
                    "field": "status_reason",
                    "reason": f"'{reason}' is not a reason for status '{status.value}'; "
                    f"one of: {', '.join(reasons)}",
                }
            )
        wanted["status"], wanted["status_reason"] = status.value, reason
    if errors:
        raise invalid(errors)
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
        raise invalid(errors)
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
                        literal(bpf.Actor.SYSTEM.value),
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
