"""Capture: a form submission, event registration or lead-gen response becomes a matched or new
contact, a matched or new lead, and an interaction credited to both."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

import bpf
from api.http.problems import Problem, field_error, invalid, not_found, taken
from api.services import audit, interactions, matching, privacy
from api.services.contacts import record_consent
from api.services.leads import add_lead, announce_updated, merged_attributes
from api.services.moves import Actor
from api.services.schemas.capture import (
    FormCreate,
    LeadgenSourceCreate,
    RecordOutcome,
    StrategyCreate,
    SubmissionIn,
    SubmissionResult,
)
from api.services.schemas.interactions import InteractionIn
from api.services.schemas.leads import LeadCreate, MarketingContext
from api.services.scoring import evaluation
from leads.audit import Entity as Audited
from leads.matching import FIELDS, Entity
from leads.models import (
    ConsentLevel,
    Contact,
    ContextKind,
    Form,
    Lead,
    LeadgenSource,
    MatchingStrategy,
)
from leads.types import utcnow

CONTACT_FIELDS = FIELDS[Entity.CONTACT]
CONTACT_FIELD_LIMITS = {
    "email": 320,
    "first_name": 100,
    "last_name": 100,
    "job_title": 200,
    "company": 200,
    "phone": 50,
    "country": 100,
    "industry": 100,
}


# -- configuration --------------------------------------------------------------------------


def add_strategy(session: Session, data: StrategyCreate) -> MatchingStrategy:
    allowed = FIELDS[data.entity]
    unknown = [f for f in data.fields if f not in allowed]
    if unknown:
        raise field_error(
            "fields",
            f"{', '.join(unknown)}: not {data.entity.value} fields a strategy can compare; "
            f"one of: {', '.join(allowed)}",
        )
    if len(set(data.fields)) != len(data.fields):
        raise field_error("fields", "a field is named twice")
    if session.exec(
        select(MatchingStrategy).where(col(MatchingStrategy.name) == data.name)
    ).first():
        raise taken("name", f"a strategy named '{data.name}' exists")
    if data.default:
        for other in session.exec(
            select(MatchingStrategy).where(col(MatchingStrategy.entity) == data.entity.value)
        ):
            other.is_default = False
            session.add(other)
    row = MatchingStrategy(
        name=data.name, entity=data.entity.value, fields=list(data.fields), is_default=data.default
    )
    session.add(row)
    session.flush()
    return row


def add_form(session: Session, data: FormCreate) -> Form:
    if session.get(Form, data.id) is not None:
        raise Problem(409, "exists", "Already exists", f"form '{data.id}' exists")
    form = Form(
        id=data.id,
        name=data.name,
        kind=data.kind,
        contact_strategy_id=_strategy_id(
            session, data.contact_strategy, Entity.CONTACT, "contact_strategy"
        ),
        lead_strategy_id=_strategy_id(session, data.lead_strategy, Entity.LEAD, "lead_strategy"),
    )
    session.add(form)
    session.flush()
    return form


def _strategy_id(session: Session, name: str | None, entity: Entity, field: str) -> int | None:
    if name is None:
        return None
    row = session.exec(select(MatchingStrategy).where(col(MatchingStrategy.name) == name)).first()
    if row is None:
        raise field_error(field, f"there is no matching strategy named '{name}'")
    if row.entity != entity.value:
        raise field_error(field, f"'{name}' matches {row.entity}s, not {entity.value}s")
    return row.id


def add_leadgen_source(session: Session, data: LeadgenSourceCreate) -> LeadgenSource:
    if session.get(Form, data.form_id) is None:
        raise field_error("form_id", f"there is no form '{data.form_id}'")
    if session.get(LeadgenSource, data.id) is not None:
        raise Problem(409, "exists", "Already exists", f"lead-gen source '{data.id}' exists")
    for target, path in data.mapping.items():
        try:
            _steps(path)
        except ValueError as exc:
            raise field_error(f"mapping.{target}", str(exc)) from None
    source = LeadgenSource(id=data.id, form_id=data.form_id, mapping=dict(data.mapping))
    session.add(source)
    session.flush()
    return source


# -- submissions ----------------------------------------------------------------------------


def submit(
    session: Session,
    catalog: bpf.Catalog,
    form: Form,
    submission: SubmissionIn,
    *,
    kind: str,
    kinds: Collection[str],
    actor: Actor,
    dry_run: bool,
) -> SubmissionResult:
    """Match or create the contact, then the lead, then record the interaction."""
    contact_values, topic, answers = _split(submission.fields)
    email = contact_values.get("email")
    consented = submission.consent is not None and submission.consent.level is not ConsentLevel.NONE
    if dry_run:
        privacy.refuse_erased(session, email, consented)
    else:
        privacy.allow_return(session, email, consented)
    context = (ContextKind(form.kind).value, form.id)

    contact_match = matching.find(
        session,
        matching.strategy(session, Entity.CONTACT, form.contact_strategy_id),
        contact_values,
    )
    contact: Contact | None = contact_match.record
    lead_values = {"email": email, "context": context, "topic": topic or form.name}
    if contact is not None:
        lead_values["parent_contact"] = contact.id
    lead_strategy = matching.strategy(session, Entity.LEAD, form.lead_strategy_id)
    if contact is None and "parent_contact" in lead_strategy.fields:
        lead_match = matching.Match(lead_strategy, missing=["parent_contact"])
    else:
        lead_match = matching.find(session, lead_strategy, lead_values)

    if dry_run:
        return SubmissionResult(
            dry_run=True,
            contact=_would(contact, contact_match),
            lead=_would(lead_match.record, lead_match),
            interaction_id=None,
        )

    now = utcnow()
    before: dict[str, Any] = {}  # the contact's values that change, and their new values
    changed: dict[str, Any] = {}
    if contact is None:
        contact = Contact(**contact_values, created_at=now, updated_at=now)
        session.add(contact)
        session.flush()
        contact_action = "created"
    else:
        changed = {k: v for k, v in contact_values.items() if getattr(contact, k) != v}
        before = {key: getattr(contact, key) for key in changed}
        for key, value in changed.items():
            setattr(contact, key, value)
        if changed:
            contact.version += 1
            contact.updated_at = now
        contact_action = "updated" if changed else "unchanged"
    if submission.consent is not None:
        level = contact.consent_level
        record_consent(session, contact, submission.consent)
        if contact.consent_level != level:
            contact.version += 1
            contact.updated_at = now
            before["consent_level"], changed["consent_level"] = level, contact.consent_level
        contact_action = "updated" if contact_action == "unchanged" else contact_action
    if contact_action != "created":  # a record's first values are no change
        assert contact.id is not None
        audit.record(
            session.connection(), Audited.CONTACT, [(contact.id, before, changed)], actor, now
        )

    lead = lead_match.record
    if lead is None:
        try:
            data = LeadCreate(
                topic=topic or form.name,
                email=email,
                marketing_context=MarketingContext(kind=ContextKind(form.kind), id=form.id),
                parent_contact_id=contact.id,
                parent_account_id=contact.account_id,
                attributes=answers,
            )
        except ValidationError as exc:
            raise invalid(
                [
                    {
                        "field": "fields." + ".".join(str(p) for p in e["loc"][1:]),
                        "reason": e["msg"],
                    }
                    for e in exc.errors()
                ]
            ) from None
        lead = add_lead(session, catalog, data, actor)
        lead_action = "created"
    else:
        lead_action = _update_lead(session, catalog, lead, contact, answers, now, actor)

    stored = interactions.store(
        session,
        [
            InteractionIn(
                kind=kind,
                occurred_at=submission.submitted_at or now,
                contact_id=contact.id,
                lead_id=lead.id,
                target=form.id,
                external_id=submission.external_id,
            )
        ],
        kinds,
    )
    accepted = stored.accepted[0]
    assert lead.id is not None and contact.id is not None
    evaluation.rescore_for(session, catalog, lead_ids=[lead.id], contact_ids=[contact.id])
    return SubmissionResult(
        dry_run=False,
        contact=RecordOutcome(id=contact.id, action=contact_action, match=contact_match.report()),
        lead=RecordOutcome(id=lead.id, action=lead_action, match=lead_match.report()),
        interaction_id=accepted["id"],
        interaction_duplicate=accepted["duplicate"],
    )


def _split(fields: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """Contact fields, the lead's topic, and the other answers, each checked."""
    errors = []
    contact: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    topic = None
    for name, value in fields.items():
        if name in CONTACT_FIELDS:
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                errors.append({"field": f"fields.{name}", "reason": "must be text"})
            elif len(value) > CONTACT_FIELD_LIMITS[name]:
                errors.append(
                    {
                        "field": f"fields.{name}",
                        "reason": f"must be at most {CONTACT_FIELD_LIMITS[name]} characters",
                    }
                )
            elif name == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value.strip()):
                errors.append({"field": "fields.email", "reason": "not an email address"})
            else:
                contact[name] = value.strip().lower() if name == "email" else value.strip()
        elif name == "topic":
            if not isinstance(value, str) or not 1 <= len(value) <= 200:
                errors.append({"field": "fields.topic", "reason": "must be 1 to 200 characters"})
            else:
                topic = value
        elif not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            errors.append({"field": f"fields.{name}", "reason": "not a valid field name"})
        else:
            answers[name] = value
    if errors:
        raise invalid(errors)
    return contact, topic, answers


def _would(record: Any, match: matching.Match) -> RecordOutcome:
    return RecordOutcome(
        id=None if record is None else record.id,
        action="would create" if record is None else "would update",
        match=match.report(),
    )


def _update_lead(
    session: Session,
    catalog: bpf.Catalog,
    lead: Lead,
    contact: Contact,
    answers: Mapping[str, Any],
    now: dt.datetime,
    actor: Actor,
) -> str:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if lead.parent_contact_id is None:
        before["parent_contact_id"], after["parent_contact_id"] = None, contact.id
        lead.parent_contact_id = contact.id
    attributes = merged_attributes(catalog, lead.attributes, answers)
    if attributes != lead.attributes:
        before["attributes"], after["attributes"] = lead.attributes, attributes
        lead.attributes = attributes
    if after:
        lead.version += 1
        lead.updated_at = now
        session.add(lead)
        assert lead.id is not None
        audit.record(session.connection(), Audited.LEAD, [(lead.id, before, after)], actor, now)
        announce_updated(session.connection(), [(lead.id, lead.version, before, after)], actor)
    return "updated" if after else "unchanged"


def form_of(session: Session, form_id: str, kind: str) -> Form:
    form = session.get(Form, form_id)
    if form is None or form.kind != kind:
        raise not_found(kind, form_id)
    return form


# -- lead-gen -------------------------------------------------------------------------------

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^=\]]+)=([^\]]*)\]")


def _steps(path: str) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = []
    for part in path.split("."):
        if not part:
            raise ValueError(f"empty step in '{path}'")
        index = 0
        while index < len(part):
            found = _STEP.match(part, index)
            if found is None:
                raise ValueError(f"cannot read '{part[index:]}' in '{path}'")
            key, number, select_key, select_value = found.groups()
            if key is not None:
                steps.append(("key", key))
            elif number is not None:
                steps.append(("index", int(number)))
            else:
                steps.append(("select", (select_key, select_value)))
            index = found.end()
    return steps


def extract(payload: Any, path: str) -> Any:
    """The value at `path` in an external payload, or None where the path leads nowhere."""
    node = payload
    for kind, step in _steps(path):
        if kind == "key":
            node = node.get(step) if isinstance(node, dict) else None
        elif kind == "index":
            node = node[step] if isinstance(node, list) and -len(node) <= step < len(node) else None
        else:
            key, value = step
            node = (
                next((i for i in node if isinstance(i, dict) and str(i.get(key)) == value), None)
                if isinstance(node, list)
                else None
            )
        if node is None:
            return None
    return node


def leadgen_submission(source: LeadgenSource, payload: Any) -> SubmissionIn:
    """Turn an external lead-gen response into a submission through the source's mapping."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for target, path in source.mapping.items():
        value = extract(payload, path)
        if target in ("external_id", "submitted_at"):
            extra[target] = value
        elif value is not None:
            fields[target] = value if isinstance(value, str | int | float | bool) else str(value)
    submitted = extra.get("submitted_at")
    if isinstance(submitted, int | float) and not isinstance(submitted, bool):
        extra["submitted_at"] = dt.datetime.fromtimestamp(submitted / 1000, dt.UTC)
    if extra.get("external_id") is not None:
        extra["external_id"] = f"{source.id}:{extra['external_id']}"
    try:
        return SubmissionIn(fields=fields, **{k: v for k, v in extra.items() if v is not None})
    except ValidationError as exc:
        raise invalid(
            [
                {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
                for e in exc.errors()
            ]
        ) from None
