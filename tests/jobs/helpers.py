"""What the job tests share: running a job through the API, seeding many leads, and the
scores a clean evaluation gives."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import insert, select, text

import bpf
from api.services.scoring import evaluation as scoring_service
from api.storage.db import Database
from leads.models import Interaction, Lead
from leads.types import epoch, utcnow
from scoring.sql import Compiler
from scoring.tables import LeadScore, ScoringModel
from tests.patience import SETTLE_SECONDS


def run_job(client: TestClient, name: str, headers: dict[str, str]) -> dict[str, Any]:  # type: ignore[type-arg]
    """Ask for a run now and wait for it to end; return it."""
    started = client.post(f"/api/jobs/{name}/run", headers=headers)
    assert started.status_code == 202, started.text
    return wait_run(client, started.headers["location"], headers)


def wait_run(client: TestClient, location: str, headers: dict[str, str]) -> dict[str, Any]:  # type: ignore[type-arg]
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        run = client.get(location, headers=headers).json()
        if run["status"] in ("done", "failed"):
            return run  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"{location} did not end")


# A live model that reads a lead field and behaviour: points from the topic, and from the
# email opens of the last 30 days.
MODEL: dict[str, Any] = {
    "rules": [
        {
            "type": "attribute",
            "name": "pricing topic",
            "when": {"field": "lead.topic", "op": "contains", "value": "pricing"},
            "points": 20,
        },
        {
            "type": "behaviour",
            "name": "opens",
            "kind": "email_open",
            "points": 5,
            "cap": 25,
            "window_days": 30,
        },
    ],
    "grades": [{"name": "hot", "min": 30}, {"name": "cold", "max": 30}],
    "sales_ready_score": 40,
}


def seed(
    db: Database, catalog: bpf.Catalog, leads: int, opens: int = 10, batch: int = 20_000
) -> None:
    """A live model and `leads` leads in the default process's first stage, a third of them
    about pricing, each with 0 to `opens` - 1 email opens over the last 60 days: with bulk
    inserts."""
    now = utcnow()
    process = catalog.default
    lead_table = Lead.__table__  # type: ignore[attr-defined]
    interaction = Interaction.__table__  # type: ignore[attr-defined]
    with db.write() as session:
        session.add(ScoringModel(name="engagement", status="live", definition=MODEL))
    first = 1
    while first <= leads:
        last = min(first + batch - 1, leads)
        rows = [
            {
                "id": i,
                "topic": "pricing" if i % 3 == 0 else "other",
                "process": process.name,
                "stage": process.first_stage,
                "stage_entered_at": now,
                "attributes": {},
                "status": "open",
                "status_reason": "new",
                "sales_ready": False,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(first, last + 1)
        ]
        events: list[dict[str, Any]] = []
        for i in range(first, last + 1):
            for k in range(i % opens):
                at = now - dt.timedelta(days=(i * 7 + k * 13) % 60, seconds=k)
                events.append(
                    {
                        "kind": "email_open",
                        "occurred_at": at,
                        "occurred_epoch": epoch(at),
                        "lead_id": i,
                        "properties": {},
                        "created_at": now,
                    }
                )
        with db.write_connection() as connection:
            connection.execute(insert(lead_table), rows)
            if events:
                connection.execute(insert(interaction), events)
        first = last + 1
    if not db.is_sqlite:
        with db.write_connection() as connection:
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('lead', 'id'), "
                    "(SELECT max(id) FROM lead))"
                )
            )


def expected_scores(db: Database, as_of: dt.datetime) -> dict[int, tuple[float, str | None]]:
    """What a single clean evaluation as of `as_of` gives each lead, computed by the SQL
    evaluator directly, nothing written."""
    with db.read() as session:
        connection = session.connection()
        models = scoring_service.live_models(connection)
        statement = Compiler(connection.dialect.name, models, epoch(as_of)).leads()
        return {r.entity_id: (r.score, r.grade) for r in connection.execute(statement)}


def stored_scores(db: Database) -> dict[int, tuple[float, str | None]]:
    table = LeadScore.__table__  # type: ignore[attr-defined]
    with db.read() as session:
        rows = session.connection().execute(select(table.c.lead_id, table.c.score, table.c.grade))
        return {lead_id: (score, grade) for lead_id, score, grade in rows}
