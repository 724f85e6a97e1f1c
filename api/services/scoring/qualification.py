"""Qualifications through their lifecycle (draft -> published -> stopped -> published), and the
qualifying of leads: set-based over `lead_score`, in the transaction that scored them.

A test of a scoring model that is not live (it stopped after the qualification was published,
say) does not hold; the qualification stays published and shows a warning for it, and holds
again once the model is live again. Leads already qualified stay qualified.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, and_, false, or_
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

import bpf
from api.services import activity_rows, outbox
from api.services.activity_rows import Source
from api.services.outbox import EventType
from api.services.schemas.qualification import QualificationCreate, QualificationUpdate
from api.services.scoring import outcomes
from api.storage import job_runs
from api.storage.db import Database
from api.storage.locking import Expected, locked
from bpf.actors import QUALIFICATION
from leads.errors import Conflict, InvalidInput, NotFound, Taken
from leads.models import Lead, LeadRow, LeadStatus
from leads.types import utcnow
from scoring import qualification
from scoring.lifecycle import QUALIFICATIONS
from scoring.qualification import Criteria, CriteriaError, ModelInfo
from scoring.tables import (
    EvaluationRun,
    ModelStatus,
    Qualification,
    QualificationStatus,
    RunStatus,
    ScoringModel,
)

KIND = "qualification"
MARKETING_QUALIFIED = "marketing_qualified"


def _conflict(detail: str) -> Conflict:
    return Conflict(detail, slug="qualification-state", title="Not in this state")


# -- checking -------------------------------------------------------------------------------


def scoring_models(session: Session) -> dict[str, ModelInfo]:
    """Every scoring model, by name, as criteria see it."""
    models = {}
    for model in session.exec(select(ScoringModel)):
        assert model.id is not None
        definition = model.definition
        models[model.name] = ModelInfo(
            id=model.id,
            name=model.name,
            status=model.status,
            entity=definition.get("entity", "lead"),
            grades=tuple(g["name"] for g in definition.get("grades", [])),
        )
    return models


def _errors(problems: list[tuple[str, str]]) -> InvalidInput:
    return InvalidInput([{"field": path, "reason": reason} for path, reason in problems])


def _parse(raw: Any) -> Criteria:
    """New criteria, or 422 naming each problem."""
    try:
        criteria = qualification.parse(raw)
    except CriteriaError as exc:
        raise _errors(exc.errors) from None
    problems = qualification.out_of_range(criteria)
    if problems:
        raise _errors(problems)
    return criteria


def _require_live(session: Session, criteria: Criteria) -> None:
    """422 naming each test of a model that is unknown or not live."""
    problems = qualification.check_models(criteria, scoring_models(session))
    if problems:
        raise _errors(problems)


def warnings(session: Session, row: Qualification) -> list[tuple[str, str]]:
    """The tests of the qualification that cannot hold as the scoring models are now."""
    return qualification.check_models(qualification.parse(row.criteria), scoring_models(session))


def _unique_name(session: Session, name: str, ident: int | None = None) -> None:
    other = session.exec(select(Qualification).where(col(Qualification.name) == name)).first()
    if other is not None and other.id != ident:
        raise Taken("name", f"a qualification named '{name}' exists")


# -- the lifecycle --------------------------------------------------------------------------


def create(db: Database, data: QualificationCreate) -> Qualification:
    """A new qualification, in draft; every model its criteria name must be live."""
    criteria = _parse(data.criteria)
    with db.write() as session:
        _unique_name(session, data.name)
        _require_live(session, criteria)
        row = Qualification(
            name=data.name,
            criteria=qualification.to_json(criteria),
            sets_marketing_qualified=data.actions.marketing_qualified,
            sets_sales_ready=data.actions.sales_ready,
            activities=[
                a.model_dump(mode="json", exclude_none=True) for a in data.actions.activities
            ],
        )
        session.add(row)
    return row


def update(
    db: Database, ident: int, expected: Expected | None, data: QualificationUpdate
) -> tuple[Qualification, list[tuple[str, str]]]:
    """Change a draft or a stopped qualification; a published one is read-only. Return it
    with its warnings."""
    criteria = _parse(data.criteria) if data.criteria is not None else None
    with db.write() as session:
        row = locked(session, Qualification, ident, expected, KIND)
        if row.status == QualificationStatus.PUBLISHED.value:
            raise _conflict(
                "the qualification is published and qualifying leads: stop it before changing it"
            )
        changes: dict[str, Any] = {}
        if data.name is not None:
            _unique_name(session, data.name, ident)
            changes["name"] = data.name
        if criteria is not None:
            _require_live(session, criteria)
            changes["criteria"] = qualification.to_json(criteria)
        if data.actions is not None:
            changes["sets_marketing_qualified"] = data.actions.marketing_qualified
            changes["sets_sales_ready"] = data.actions.sales_ready
            changes["activities"] = [
                a.model_dump(mode="json", exclude_none=True) for a in data.actions.activities
            ]
        changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(row, key, value)
            row.version += 1
            row.updated_at = utcnow()
        return row, warnings(session, row)


def publish(
    db: Database, ident: int, expected: Expected | None
) -> tuple[Qualification, EvaluationRun, bool]:
    """Publish: from now on the leads scored are qualified in the same transaction, and an
    evaluation of every lead is queued (or one already queued, which will cover it, is
    returned). Return the qualification, the evaluation, and whether it is new."""
    with db.write() as session:
        row = locked(session, Qualification, ident, expected, KIND)
        now = utcnow()
        QUALIFICATIONS.take(row, "publish", now)
        _require_live(session, qualification.parse(row.criteria))
        row.published_at = now
        # Locked, so that the runner cannot start it before this publication is committed.
        run = session.exec(
            select(EvaluationRun)
            .where(
                col(EvaluationRun.model_id).is_(None),
                col(EvaluationRun.status) == RunStatus.QUEUED.value,
            )
            .with_for_update()
        ).first()
        new = run is None
        if run is None:
            run = EvaluationRun(model_id=None, status=RunStatus.QUEUED.value, as_of=now)
            session.add(run)
            job_runs.queue_evaluation(session, run, f"qualification {ident} publishing")
    return row, run, new


def stop(
    db: Database, ident: int, expected: Expected | None
) -> tuple[Qualification, list[tuple[str, str]]]:
    """Stop qualifying; the leads it qualified stay as they are. Return it with its
    warnings."""
    with db.write() as session:
        row = locked(session, Qualification, ident, expected, KIND)
        QUALIFICATIONS.take(row, "stop", utcnow())
        return row, warnings(session, row)


def read(db: Database, ident: int) -> tuple[Qualification, list[tuple[str, str]]]:
    with db.read() as session:
        row = session.get(Qualification, ident)
        if row is None:
            raise NotFound(KIND, ident)
        return row, warnings(session, row)


def listing(db: Database) -> list[tuple[Qualification, list[tuple[str, str]]]]:
    with db.read() as session:
        rows = session.exec(select(Qualification).order_by(col(Qualification.id))).all()
        return [(row, warnings(session, row)) for row in rows]


# -- qualifying -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    id: int
    criteria: Criteria
    marketing_qualified: bool
    sales_ready: bool
    activities: list[bpf.ActivityDef]


_TABLE = Qualification.__table__  # type: ignore[attr-defined]
_PUBLISHED = (
    select_rows(_TABLE.c.id, _TABLE.c.version, _TABLE.c.updated_at)
    .where(_TABLE.c.status == QualificationStatus.PUBLISHED.value)
    .order_by(_TABLE.c.id)
)
_MODELS = ScoringModel.__table__  # type: ignore[attr-defined]
_LIVE = select_rows(_MODELS.c.name, _MODELS.c.id).where(_MODELS.c.status == ModelStatus.LIVE.value)
_parsed: dict[tuple[Any, ...], list[Published]] = {}


def published(connection: Connection) -> list[Published]:
    """The published qualifications, parsed once per state of them."""
    rows = [tuple(r) for r in connection.execute(_PUBLISHED)]
    if not rows:
        return []
    key = (str(connection.engine.url), *rows)
    found = _parsed.get(key)
    if found is None:
        ids = [row[0] for row in rows]
        stored = connection.execute(select_rows(_TABLE).where(_TABLE.c.id.in_(ids))).mappings()
        by_id = {r["id"]: r for r in stored}
        found = [
            Published(
                id=i,
                criteria=qualification.parse(by_id[i]["criteria"]),
                marketing_qualified=by_id[i]["sets_marketing_qualified"],
                sales_ready=by_id[i]["sets_sales_ready"],
                activities=[bpf.ActivityDef.model_validate(a) for a in by_id[i]["activities"]],
            )
            for i in ids
        ]
        if len(_parsed) > 32:
            _parsed.clear()
        _parsed[key] = found
    return found


def apply(
    session: Session,
    catalog: bpf.Catalog,
    scope: ColumnElement[bool],
    switches: Mapping[str, bool],
    now: dt.datetime,
) -> list[int]:
    """Qualify the open leads in scope that meet a published qualification's criteria, in one
    statement for every published qualification; return the leads that changed.

    Like scoring's outcomes, this follows from state: an open lead whose status reason is not
    yet marketing_qualified and that meets the criteria of a qualification setting it becomes
    marketing qualified (outcome `marketing_qualified`); one not yet sales ready that meets the
    criteria of a qualification marking sales ready becomes sales ready (outcome
    `sales_ready`), when the automatic sales ready switch is on, as for scoring. Nothing is
    ever taken back, so a lead stays qualified when its scores fall, and applying twice
    changes nothing.
    """
    connection = session.connection()
    found = published(connection)
    if not found:
        return []
    live: dict[str, int] = dict(connection.execute(_LIVE).all())
    marking = switches.get("automatic_sales_ready", True)
    # Which qualifications with activities a lead meets: each makes its own when it qualifies.
    making = [q for q in found if q.activities]
    query = _qualifying(scope, found, making, live, marking=marking)
    changed: list[int] = []
    for rows in session.execute(query).mappings().partitions():
        changed += _qualify_batch(session, connection, catalog, rows, making, switches, now)
    return changed


def _meets(wanted: list[Published], live: dict[str, int]) -> ColumnElement[bool]:
    lead = Lead.__table__  # type: ignore[attr-defined]
    tests = [qualification.condition(q.criteria, live, lead.c.id) for q in wanted]
    return or_(*tests) if tests else false()


def _qualifying(
    scope: ColumnElement[bool],
    found: list[Published],
    making: list[Published],
    live: dict[str, int],
    *,
    marking: bool,
) -> Select[Any]:
    """The open leads in scope that a qualification changes, locked, with what each meets."""
    lead = Lead.__table__  # type: ignore[attr-defined]
    qualifies = _meets([q for q in found if q.marketing_qualified], live)
    readies = _meets([q for q in found if q.sales_ready and marking], live)
    return (
        select_rows(
            lead,
            qualifies.label("qualifies"),
            readies.label("readies"),
            *(_meets([q], live).label(f"makes_{q.id}") for q in making),
        )
        .where(
            scope,
            lead.c.status == LeadStatus.OPEN.value,
            or_(
                and_(lead.c.status_reason != MARKETING_QUALIFIED, qualifies),
                and_(lead.c.sales_ready.is_(False), readies),
            ),
        )
        .order_by(lead.c.id)
        # As in outcomes.fire: no key columns change, so concurrent interaction inserts of the
        # lead (a key share lock through their foreign key) neither wait nor deadlock.
        .with_for_update(of=lead, key_share=True)
        .execution_options(yield_per=outcomes.BATCH)
    )


def _qualify_batch(
    session: Session,
    connection: Connection,
    catalog: bpf.Catalog,
    rows: Sequence[RowMapping],
    making: list[Published],
    switches: Mapping[str, bool],
    now: dt.datetime,
) -> list[int]:
    """Qualify one batch of the rows `_qualifying` selects; return the leads that changed."""
    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    qualified: list[int] = []
    ready: list[int] = []
    activity_leads: dict[int, list[Mapping[str, Any]]] = {q.id: [] for q in making}
    for row in rows:
        values, lead_row, fired = _qualify_row(row)
        if "marketing_qualified" in fired:
            qualified.append(row["id"])
        if "sales_ready" in fired:
            ready.append(row["id"])
        for q in making:
            if fired and row[f"makes_{q.id}"]:
                activity_leads[q.id].append(row)
        history += outcomes.follow(catalog, lead_row, values, fired, switches, QUALIFICATION, now)
        updates.append(values)
    changed = outcomes.write(
        session, catalog, updates, history, {r["id"]: r for r in rows}, QUALIFICATION, now
    )
    for q in making:
        activity_rows.create_activities(
            connection, activity_leads[q.id], q.activities, Source.qualification(q.id), now
        )
    _announce(connection, qualified, ready)
    return changed


def _qualify_row(row: RowMapping) -> tuple[dict[str, Any], LeadRow, list[str]]:
    """The values a selected lead takes, the lead with them, and the outcomes they fire."""
    values: dict[str, Any] = {"id": row["id"]}
    lead_row = LeadRow(dict(row))
    fired: list[str] = []
    if row["qualifies"] and row["status_reason"] != MARKETING_QUALIFIED:
        values["status_reason"] = MARKETING_QUALIFIED
        lead_row.values["status_reason"] = MARKETING_QUALIFIED
        fired.append("marketing_qualified")
    if row["readies"] and not row["sales_ready"]:
        values["sales_ready"] = lead_row.values["sales_ready"] = True
        fired.append("sales_ready")
    return values, lead_row, fired


def _announce(connection: Connection, qualified: list[int], ready: list[int]) -> None:
    who = outbox.actor_data(QUALIFICATION.kind.value, QUALIFICATION.name)
    for kind, ids in (
        (EventType.LEAD_MARKETING_QUALIFIED, qualified),
        (EventType.LEAD_SALES_READY, ready),
    ):
        outbox.emit(connection, kind, [{"lead_id": i, "actor": who, "model_ids": []} for i in ids])
