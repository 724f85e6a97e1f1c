"""Outcomes of scoring, fired on leads in bulk: the first score a lead receives
(`lead_scored`), and reaching a model's sales-ready score (`sales_ready`, which marks the lead
sales ready). stages.yaml turns them into moves, under the switches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlmodel import Session, col

import bpf
from api import assignment_service
from api.moves import SCORING, Actor, history_rows, record
from leads.models import Lead, LeadRow, LeadStatus
from scoring.tables import LeadScore

BATCH = 2000

# The lead fields an outcome can change (the owner through assignment): a model that reads
# one is scored again after it.
WRITES = frozenset({"lead.sales_ready", "lead.stage", "lead.owner"})


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
        to_route: list[int] = []  # leads made sales ready, or moved to a routing stage
        for row in rows:
            lead = LeadRow(dict(row))
            outcomes: list[str] = []
            values: dict[str, Any] = {"id": row["id"]}
            if row["scored_at"] is None:
                values["scored_at"] = now
                outcomes.append("lead_scored")
            if marking and row["reached"] and not row["sales_ready"]:
                values["sales_ready"] = lead.values["sales_ready"] = True
                outcomes.append("sales_ready")
            process = catalog.processes.get(lead.process)
            moves: list[bpf.Move] = []
            if process is not None and row["status"] == LeadStatus.OPEN.value:
                moves = process.apply_outcomes(
                    lead, outcomes, automated=actor.automated, switches=switches
                )
            if moves:
                values["stage"] = moves[-1].to_stage
                values["stage_entered_at"] = now
                history += history_rows(
                    row["id"], lead.process, moves, row["stage_entered_at"], actor, None, now
                )
            if "sales_ready" in values or (
                moves and assignment_service.routes_to_sales(catalog, lead.process, lead.stage)
            ):
                to_route.append(row["id"])
            values["version"] = row["version"] + 1
            values["updated_at"] = now
            updates.append(values)
        if updates:
            # Rows that set the same columns go in one executemany: the leads with a move,
            # with sales_ready, with neither, rather than a statement each time the kind
            # changes from one lead to the next.
            updates.sort(key=lambda values: tuple(values))
            session.execute(update(Lead), updates)
            record(session.connection(), history)
            assignment_service.route(session.connection(), catalog, to_route, actor, now)
            changed += [values["id"] for values in updates]
    return changed
