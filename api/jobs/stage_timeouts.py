"""Time-based automations: a lead that has sat in a stage longer than an automation's
`after` fires its trigger, as the scheduler. Set-based: one query per rule and batch finds
and locks the leads due; their moves go through the same path as scoring's outcomes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import Session

import bpf
from api.services.moves import history_rows
from api.services.scoring import evaluation, outcomes
from bpf.actors import SCHEDULER
from bpf.schema import AutomationDef
from leads.models import Lead, LeadRow, LeadStatus
from leads.types import utcnow

if TYPE_CHECKING:
    from api.jobs.definitions import JobContext

BATCH = 1000
_LEAD = Lead.__table__  # type: ignore[attr-defined]


def run(ctx: JobContext) -> None:
    assert ctx.run.started_at is not None
    as_of = ctx.run.started_at  # a resumed run keeps the limits of its first start
    checkpoint: dict[str, Any] = dict(ctx.run.checkpoint or {})
    with ctx.db.read() as session:
        switches = evaluation.switches(session)
    for process in ctx.catalog.processes.values():
        for index, automation in enumerate(process.definition.automations):
            if automation.after is None or automation.stage is None:
                continue
            if automation.switch and not switches.get(automation.switch, True):
                continue
            key = f"{process.name}.automations.{index}"
            limit = as_of - automation.delay
            while True:
                with ctx.write() as session:
                    rows = session.execute(
                        select(_LEAD)
                        .where(
                            _LEAD.c.process == process.name,
                            _LEAD.c.stage == automation.stage,
                            _LEAD.c.status == LeadStatus.OPEN.value,
                            _LEAD.c.stage_entered_at <= limit,
                            _LEAD.c.id > checkpoint.get(key, 0),
                        )
                        .order_by(_LEAD.c.id)
                        .limit(BATCH)
                        .with_for_update(of=_LEAD, key_share=True)
                    ).mappings()
                    found = [dict(row) for row in rows]
                    moved = _move(session, ctx.catalog, process, automation, found)
                    if found:
                        checkpoint[key] = found[-1]["id"]
                    ctx.advance(session, add=len(moved), checkpoint=checkpoint)
                ctx.notify()
                if len(found) < BATCH:
                    break


def _move(
    session: Session,
    catalog: bpf.Catalog,
    process: bpf.Process,
    automation: AutomationDef,
    rows: list[dict[str, Any]],
) -> list[int]:
    now = utcnow()
    reason = f"in stage '{automation.stage}' for {automation.after} or more"
    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for row in rows:
        lead = LeadRow(dict(row))  # the move changes it; `rows` stay as read
        try:
            move = process.fire(lead, automation.fire)
        except (bpf.MoveNotAllowed, bpf.GuardRefused):
            continue
        updates.append(
            {
                "id": row["id"],
                "stage": move.to_stage,
                "stage_entered_at": now,
                "version": row["version"] + 1,
                "updated_at": now,
            }
        )
        history += history_rows(
            row["id"], process.name, [move], row["stage_entered_at"], SCHEDULER, reason, now
        )
    if updates:
        moved = outcomes.write(
            session, catalog, updates, history, {r["id"]: r for r in rows}, SCHEDULER, now
        )
        if evaluation.reads_any(session.connection(), {"lead.stage", "lead.process"}):
            evaluation.rescore(session, catalog, lead_ids=moved, now=now)
        return moved
    return []
