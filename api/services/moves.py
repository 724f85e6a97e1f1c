"""Recording moves: who moved a lead, from where to where, and how long it had stayed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert

import bpf
from api.services import activity_rows, outbox
from bpf.actors import Actor
from leads.models import StageChange


def history_rows(
    lead_id: int,
    process: str,
    moves: Sequence[bpf.Move],
    entered: dt.datetime,
    actor: Actor,
    reason: str | None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """The stage_change rows for a lead's moves, made in order at `now`; `entered` is when it
    entered the stage the first move leaves."""
    rows = []
    for move in moves:
        rows.append(
            {
                "lead_id": lead_id,
                "from_process": move.from_process,
                "process": process,
                "from_stage": move.from_stage,
                "to_stage": move.to_stage,
                "trigger": move.trigger,
                "actor": actor.kind.value,
                "actor_name": actor.name,
                "reason": reason,
                "at": now,
                "seconds_in_stage": max((now - entered).total_seconds(), 0.0),
            }
        )
        entered = now
    return rows


INSERT = insert(StageChange.__table__)  # type: ignore[attr-defined]


def record(
    connection: Connection,
    rows: list[dict[str, Any]],
    catalog: bpf.Catalog,
    leads: Mapping[int, Mapping[str, Any]],
) -> list[int]:
    """Insert the history rows of moves, announce them, and make the activities of the stages
    the leads entered (`leads`: each moved lead's `owner` and `status`, by id). Returns the
    ids of the activities made."""
    if not rows:
        return []
    connection.execute(INSERT, rows)
    announce(connection, rows)
    return activity_rows.on_entry(connection, catalog, rows, leads)


def announce(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """lead.stage_changed for each stage_change row."""
    outbox.emit(
        connection,
        outbox.EventType.LEAD_STAGE_CHANGED,
        [
            {
                "lead_id": row["lead_id"],
                "process": row["process"],
                "from_process": row["from_process"],
                "from": row["from_stage"],
                "to": row["to_stage"],
                "trigger": row["trigger"],
                "actor": outbox.actor_data(row["actor"], row["actor_name"]),
                "reason": row["reason"],
                "at": row["at"],
            }
            for row in rows
        ],
    )
