"""Storing interactions: a batch is checked whole, stored whole, or not at all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlmodel import Session, col, select

from api.problems import invalid
from api.schemas.interactions import Accepted, InteractionIn
from leads.models import Contact, Interaction, Lead
from leads.types import utcnow

# Clocks of senders drift; an interaction a little in the future is still believed.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Stored:
    """What a batch stored: the answer per item, and the new interactions' rows."""

    accepted: list[Accepted]
    new: list[dict[str, object]]


def store(session: Session, items: Sequence[InteractionIn], kinds: Collection[str]) -> Stored:
    """Check every item, then store the new ones; raise a 422 naming each bad item's index."""
    now = utcnow()
    errors: list[dict[str, str]] = []

    def bad(index: int, field: str, reason: str) -> None:
        errors.append({"field": f"interactions.{index}.{field}", "reason": reason})

    contact_ids = {i.contact_id for i in items if i.contact_id is not None}
    lead_ids = {i.lead_id for i in items if i.lead_id is not None}
    known_contacts = set(session.exec(select(Contact.id).where(col(Contact.id).in_(contact_ids))))
    lead_parents = dict(
        session.exec(
            select(Lead.id, Lead.parent_contact_id).where(col(Lead.id).in_(lead_ids))
        ).all()
    )
    external_ids = [i.external_id for i in items if i.external_id is not None]
    stored_ids = dict(
        session.exec(
            select(Interaction.external_id, Interaction.id).where(
                col(Interaction.external_id).in_(external_ids)
            )
        ).all()
    )

    rows: list[dict[str, object]] = []
    plan: list[tuple[int, int | None, str | None]] = []  # index, stored id, external id
    first_in_batch: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.kind not in kinds:
            bad(index, "kind", f"unknown kind '{item.kind}'; known: {', '.join(sorted(kinds))}")
        if item.occurred_at > now + FUTURE_TOLERANCE:
            bad(index, "occurred_at", "is in the future")
        contact_id = item.contact_id
        if contact_id is None and item.lead_id is None:
            bad(index, "contact_id", "an interaction belongs to a contact, a lead, or both")
        if contact_id is not None and contact_id not in known_contacts:
            bad(index, "contact_id", f"there is no contact {contact_id}")
        if item.lead_id is not None:
            if item.lead_id not in lead_parents:
                bad(index, "lead_id", f"there is no lead {item.lead_id}")
            else:
                parent = lead_parents[item.lead_id]
                if contact_id is None:
                    contact_id = parent
                elif parent is not None and parent != contact_id:
                    bad(index, "lead_id", f"lead {item.lead_id} belongs to contact {parent}")
        external = item.external_id
        if external is not None and (external in stored_ids or external in first_in_batch):
            plan.append((index, stored_ids.get(external), external))
            continue
        if external is not None:
            first_in_batch[external] = index
        plan.append((index, None, external))
        rows.append(
            {
                "kind": item.kind,
                "occurred_at": item.occurred_at,
                "contact_id": contact_id,
                "lead_id": item.lead_id,
                "target": item.target,
                "properties": item.properties,
                "external_id": external,
                "created_at": now,
            }
        )
    if errors:
        raise invalid(errors)

    new_ids: list[int] = []
    if rows:
        result = session.execute(
            insert(Interaction).returning(col(Interaction.id), sort_by_parameter_order=True),
            rows,
        )
        new_ids = list(result.scalars())
    for row, new_id in zip(rows, new_ids, strict=True):
        row["id"] = new_id
    by_external = {row["external_id"]: row["id"] for row in rows if row["external_id"]}
    fresh = iter(new_ids)
    accepted = []
    for index, stored_id, external in plan:
        if stored_id is not None:
            accepted.append(Accepted(index=index, id=stored_id, duplicate=True))
        elif external is not None and first_in_batch[external] != index:
            accepted.append(Accepted(index=index, id=by_external[external], duplicate=True))  # type: ignore[arg-type]
        else:
            accepted.append(Accepted(index=index, id=next(fresh), duplicate=False))
    return Stored(accepted=accepted, new=rows)
