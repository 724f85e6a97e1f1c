"""Capture: a form submission, event registration or lead-gen response becomes a matched or new
contact, a matched or new lead, and an interaction credited to both."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError
from sqlmodel import Session, col, select

import bpf
from api.services import audit, interactions, lead_writes, matching, privacy
from api.services.contacts import record_consent
from api.services.leads import add_lead, merged_attributes
from api.services.schemas.capture import (
    FormCreate,
    LeadgenSourceCreate,
    StrategyCreate,
    SubmissionIn,
)
from api.services.schemas.interactions import InteractionIn
from api.services.schemas.leads import LeadCreate, MarketingContext
from api.services.scoring import evaluation
from bpf.actors import Actor
from leads.audit import Entity as Audited
from leads.errors import Conflict, InvalidInput, NotFound, Taken
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
        raise InvalidInput.field(
            "fields",
            f"{', '.join(unknown)}: not {data.entity.value} fields a strategy can compare; "
            f"one of: {', '.join(allowed)}",
        )
    if len(set(data.fields)) != len(data.fields):
        raise InvalidInput.field("fields", "a field is named twice")
    if session.exec(
        select(MatchingStrategy).where(col(MatchingStrategy.name) == data.name)
    ).first():
        raise Taken("name", f"a strategy named '{data.name}' exists")
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
        raise Conflict(f"form '{data.id}' exists", slug="exists", title="Already exists")
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
        raise InvalidInput.field(field, f"there is no matching strategy named '{name}'")
    if row.entity != entity.value:
        raise InvalidInput.field(field, f"'{name}' matches {row.entity}s, not {entity.value}s")
    return row.id


def add_leadgen_source(session: Session, data: LeadgenSourceCreate) -> LeadgenSource:
    if session.get(Form, data.form_id) is None:
        raise InvalidInput.field("form_id", f"there is no form '{data.form_id}'")
    if session.get(LeadgenSource, data.id) is not None:
        raise Conflict(f"lead-gen source '{data.id}' exists", slug="exists", title="Already exists")
    for target, path in data.mapping.items():
        try:
            _steps(path)
        except ValueError as exc:
            raise InvalidInput.field(f"mapping.{target}", str(exc)) from None
    source = LeadgenSource(id=data.id, form_id=data.form_id, mapping=dict(data.mapping))
    session.add(source)
    session.flush()
    return source


# -- submissions ----------------------------------------------------------------------------


Action = Literal["created", "updated", "unchanged", "would create", "would update"]


@dataclass(frozen=True)
class Outcome:
    """What became of the contact or the lead: its id (None if a dry run would create it)."""

    id: int | None
    action: Action
    match: matching.Match


@dataclass(frozen=True)
class Captured:
    """The contact and the lead a submission reached, and the interaction recorded on them."""

    dry_run: bool
    contact: Outcome
    lead: Outcome
    interaction_id: int | None = None
    interaction_duplicate: bool = False


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
) -> Captured:
    """Match or create the contact, then the lead, then record the interaction."""
    contact_values, topic, answers = _split(submission.fields)
    email = contact_values.get("email")
    consented = submission.consent is not None and submission.consent.level is not ConsentLevel.NONE
    if dry_run:
        privacy.refuse_erased(session, email, consented)
    else:
        privacy.allow_return(session, email, consented)
    contact_match, lead_match = _matches(session, form, contact_values, email, topic)
    if dry_run:
        return Captured(
            dry_run=True,
            contact=_would(contact_match),
            lead=_would(lead_match),
        )

    now = utcnow()
    contact, contact_action = _save_contact(
        session, contact_match.record, contact_values, submission, actor, now
    )
    lead = lead_match.record
    if lead is None:
        lead = _new_lead(session, catalog, form, contact, email, topic, answers, actor)
        lead_action: Action = "created"
    else:
        lead_action = _update_lead(session, catalog, lead, contact, answers, now, actor)
    accepted = _interaction(session, form, submission, contact, lead, kind, kinds, now)
    assert lead.id is not None and contact.id is not None
    evaluation.rescore_for(session, catalog, lead_ids=[lead.id], contact_ids=[contact.id])
    return Captured(
        dry_run=False,
        contact=Outcome(contact.id, contact_action, contact_match),
        lead=Outcome(lead.id, lead_action, lead_match),
        interaction_id=accepted["id"],
        interaction_duplicate=accepted["duplicate"],
    )


def _matches(
    session: Session,
    form: Form,
    contact_values: Mapping[str, Any],
    email: str | None,
    topic: str | None,
) -> tuple[matching.Match, matching.Match]:
    """The contact the submission matches, then the lead, each by the form's strategy."""
    contact_match = matching.find(
        session,
        matching.strategy(session, Entity.CONTACT, form.contact_strategy_id),
        contact_values,
    )
    contact: Contact | None = contact_match.record
    context = (ContextKind(form.kind).value, form.id)
    lead_values = {"email": email, "context": context, "topic": topic or form.name}
    if contact is not None:
        lead_values["parent_contact"] = contact.id
    lead_strategy = matching.strategy(session, Entity.LEAD, form.lead_strategy_id)
    if contact is None and "parent_contact" in lead_strategy.fields:
        lead_match = matching.Match(lead_strategy, missing=["parent_contact"])
    else:
        lead_match = matching.find(session, lead_strategy, lead_values)
    return contact_match, lead_match


def _save_contact(
    session: Session,
    contact: Contact | None,
    contact_values: Mapping[str, Any],
    submission: SubmissionIn,
    actor: Actor,
    now: dt.datetime,
) -> tuple[Contact, Action]:
    """Create the contact, or bring the matched one up to date; audit what changed."""
    before: dict[str, Any] = {}  # the contact's values that change, and their new values
    changed: dict[str, Any] = {}
    action: Action
    if contact is None:
        contact = Contact(**contact_values, created_at=now, updated_at=now)
        session.add(contact)
        session.flush()
        action = "created"
    else:
        changed = {k: v for k, v in contact_values.items() if getattr(contact, k) != v}
        before = {key: getattr(contact, key) for key in changed}
        for key, value in changed.items():
            setattr(contact, key, value)
        if changed:
            contact.version += 1
            contact.updated_at = now
        action = "updated" if changed else "unchanged"
    if submission.consent is not None:
        level = contact.consent_level
        record_consent(session, contact, submission.consent)
        if contact.consent_level != level:
            contact.version += 1
            contact.updated_at = now
            before["consent_level"], changed["consent_level"] = level, contact.consent_level
        action = "updated" if action == "unchanged" else action
    if action != "created":  # a record's first values are no change
        assert contact.id is not None
        audit.record(
            session.connection(), Audited.CONTACT, [(contact.id, before, changed)], actor, now
        )
    return contact, action


def _new_lead(
    session: Session,
    catalog: bpf.Catalog,
    form: Form,
    contact: Contact,
    email: str | None,
    topic: str | None,
    answers: dict[str, Any],
    actor: Actor,
) -> Lead:
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
        raise InvalidInput(
            [
                {
                    "field": "fields." + ".".join(str(p) for p in e["loc"][1:]),
                    "reason": e["msg"],
                }
                for e in exc.errors()
            ]
        ) from None
    return add_lead(session, catalog, data, actor)


def _interaction(
    session: Session,
    form: Form,
    submission: SubmissionIn,
    contact: Contact,
    lead: Lead,
    kind: str,
    kinds: Collection[str],
    now: dt.datetime,
) -> dict[str, Any]:
    """Record the submission as an interaction of the contact and the lead (once per id)."""
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
    return stored.accepted[0]


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
        raise InvalidInput(errors)
    return contact, topic, answers


def _would(match: matching.Match) -> Outcome:
    record = match.record
    return Outcome(
        None if record is None else record.id,
        "would create" if record is None else "would update",
        match,
    )


def _update_lead(
    session: Session,
    catalog: bpf.Catalog,
    lead: Lead,
    contact: Contact,
    answers: Mapping[str, Any],
    now: dt.datetime,
    actor: Actor,
) -> Action:
    changes: dict[str, Any] = {}
    if lead.parent_contact_id is None:
        changes["parent_contact_id"] = contact.id
    changes["attributes"] = merged_attributes(catalog, lead.attributes, answers)
    draft = lead_writes.Draft.of(lead.model_dump())
    # A submission's answers to a lead it matched fire no automations: they never have.
    if not lead_writes.change(catalog, draft, changes, now, fire_outcomes=False):
        return "unchanged"
    lead_writes.store(session.connection(), catalog, [draft], actor, now)
    session.refresh(lead)
    return "updated"


def form_of(session: Session, form_id: str, kind: str | None) -> Form:
    """The form of that kind (any kind when None); 404 when there is none."""
    form = session.get(Form, form_id)
    if form is None or (kind is not None and form.kind != kind):
        raise NotFound(kind or "form", form_id)
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
        raise InvalidInput(
            [
                {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
                for e in exc.errors()
            ]
        ) from None
