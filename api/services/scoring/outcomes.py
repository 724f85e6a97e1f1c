"""Outcomes of scoring, fired on leads in bulk: the first score a lead receives
(`lead_scored`), and reaching a model's sales-ready score (`sales_ready`, which marks the lead
sales ready). stages.yaml turns them into moves, under the switches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select
from sqlmodel import Session, col

import bpf
from api.services import assignment as assignment_service
from api.services import lead_writes, outbox
from api.services.outbox import EventType
from api.storage.bulk import in_values
from bpf.actors import SCORING, Actor
from leads.models import Lead, LeadRow, LeadStatus
from scoring.tables import LeadScore

BATCH = 2000

# The lead fields an outcome (of scoring or of qualification) can change, the owner through
# assignment: a model that reads one is scored again after it.
WRITES = frozenset({"lead.sales_ready", "lead.stage", "lead.status_reason", "lead.owner"})


def fire(
    session: Session,
    catalog: bpf.Catalog,
    scope: ColumnElement[bool],
    switches: Mapping[str, bool],
    now: dt.datetime,
    actor: Actor = SCORING,
) -> list[int]:
    """Fire the scoring outcomes due on the leads in scope; return the leads that changed.

    Outcomes follow from state, not from events: a lead never scored that now has a score
    receives lead_scored; an open lead not yet sales ready with a score that reached its
    model's sales-ready score becomes sales ready (when the automatic sales ready switch is
    on). So firing twice changes nothing, and a full evaluation agrees with incremental ones.
    """
    scored = exists().where(col(LeadScore.lead_id) == col(Lead.id), col(LeadScore.stale).is_(False))
    reached = exists().where(
        col(LeadScore.lead_id) == col(Lead.id),
        col(LeadScore.stale).is_(False),
        col(LeadScore.reached).is_(True),
    )
    due = [and_(col(Lead.scored_at).is_(None), scored)]
    marking = switches.get("automatic_sales_ready", True)
    if marking:
        due.append(
            and_(
                col(Lead.sales_ready).is_(False),
                col(Lead.status) == LeadStatus.OPEN.value,
                reached,
            )
        )
    query = (
        select(Lead.__table__, reached.label("reached"))  # type: ignore[attr-defined]
        .where(scope, or_(*due))
        .order_by(col(Lead.id))
        # FOR NO KEY UPDATE on PostgreSQL: the columns changed are no keys, and a concurrent
        # transaction storing an interaction of the lead (its foreign key check takes a key
        # share lock on the lead) then neither waits for this one nor deadlocks with it.
        .with_for_update(of=Lead, key_share=True)  # type: ignore[arg-type]
        .execution_options(yield_per=BATCH)
    )
    changed: list[int] = []
    for rows in session.execute(query).mappings().partitions():
        updates: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        first_scores: list[int] = []
        ready: list[int] = []
        for row in rows:
            lead = LeadRow(dict(row))
            outcomes: list[str] = []
            values: dict[str, Any] = {"id": row["id"]}
            if row["scored_at"] is None:
                values["scored_at"] = now
                outcomes.append("lead_scored")
                first_scores.append(row["id"])
            if marking and row["reached"] and not row["sales_ready"]:
                values["sales_ready"] = lead.values["sales_ready"] = True
                outcomes.append("sales_ready")
                ready.append(row["id"])
            history += follow(catalog, lead, values, outcomes, switches, actor, now)
            updates.append(values)
        changed += write(session, catalog, updates, history, {r["id"]: r for r in rows}, actor, now)
        _announce(session.connection(), first_scores, ready, actor, now)
    return changed


def follow(
    catalog: bpf.Catalog,
    lead: LeadRow,
    values: dict[str, Any],
    outcomes: list[str],
    switches: Mapping[str, bool],
    actor: Actor,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Fire the automations of an open lead's outcomes: add the move and the new version to
    the lead's changed `values`, and return the history rows of its moves."""
    draft = lead_writes.Draft(lead.values, stored=lead.values)
    if lead.process in catalog.processes and lead.values["status"] == LeadStatus.OPEN.value:
        automated = actor.automated
        lead_writes.fire(catalog, draft, outcomes, now, automated=automated, switches=switches)
    if draft.moves:
        values["stage"] = lead.stage
        values["stage_entered_at"] = now
    values["version"] = lead.values["version"] + 1
    values["updated_at"] = now
    return lead_writes.history(draft, actor, now)


def write(
    session: Session,
    catalog: bpf.Catalog,
    updates: list[dict[str, Any]],
    history: list[dict[str, Any]],
    leads: Mapping[int, Mapping[str, Any]],
    actor: Actor,
    now: dt.datetime,
) -> list[int]:
    """Write the leads' changed values and their moves (`leads`: each lead's row as it was
    read, by id), and route the leads made sales ready or moved to a stage that routes to
    sales; return the leads changed."""
    if not updates:
        return []
    connection = session.connection()
    lead_writes.write_changes(connection, catalog, updates, leads, history, leads, actor, now)
    waiting = [
        values["id"]
        for values in updates
        if "sales_ready" in values
        or (
            "stage" in values
            and assignment_service.routes_to_sales(
                catalog, leads[values["id"]]["process"], values["stage"]
            )
        )
    ]
    assignment_service.route(connection, catalog, waiting, actor, now)
    return [values["id"] for values in updates]


def _announce(
    connection: Connection, scored: list[int], ready: list[int], actor: Actor, now: dt.datetime
) -> None:
    """lead.scored with the lead's first scores; lead.sales_ready with the models whose
    sales-ready score it reached."""
    scored_wanted = bool(scored) and bool(outbox.subscribers(connection, EventType.LEAD_SCORED))
    ready_wanted = bool(ready) and bool(outbox.subscribers(connection, EventType.LEAD_SALES_READY))
    if not (scored_wanted or ready_wanted):
        return
    table = LeadScore.__table__  # type: ignore[attr-defined]
    query = (
        select(table.c.lead_id, table.c.model_id, table.c.score, table.c.grade, table.c.reached)
        .where(
            in_values(table.c.lead_id, {*scored, *ready}, connection.dialect.name),
            table.c.stale.is_(False),
        )
        .order_by(table.c.lead_id, table.c.model_id)
    )
    scores: dict[int, list[Any]] = {}
    for score in connection.execute(query):
        scores.setdefault(score.lead_id, []).append(score)
    if scored_wanted:
        outbox.emit(
            connection,
            EventType.LEAD_SCORED,
            [
                {
                    "lead_id": lead_id,
                    "scores": [
                        {"model_id": s.model_id, "score": s.score, "grade": s.grade}
                        for s in scores.get(lead_id, ())
                    ],
                }
                for lead_id in scored
            ],
            now=now,
        )
    if ready_wanted:
        who = outbox.actor_data(actor.kind.value, actor.name)
        outbox.emit(
            connection,
            EventType.LEAD_SALES_READY,
            [
                {
                    "lead_id": lead_id,
                    "actor": who,
                    "model_ids": [s.model_id for s in scores.get(lead_id, ()) if s.reached],
                }
                for lead_id in ready
            ],
            now=now,
        )
