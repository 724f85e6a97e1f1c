"""What a model's scores look like, and what they would look like with another definition."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, insert, not_, select
from sqlmodel import col

from api.services.schemas.scoring import Bucket, InsightsRead, WhatIf, WhatIfRead
from api.services.scoring import evaluation
from api.services.scoring.models import refuse_out_of_range
from api.storage.db import Database
from leads.errors import NotFound
from leads.models import Lead, LeadStatus
from leads.types import epoch, utcnow
from scoring.definition import ScoringDefinition
from scoring.sql import CompiledModel, Compiler
from scoring.tables import AccountScore, LeadScore, ScoringModel

BUCKETS = 10


def _model(connection: Connection, model_id: int) -> ScoringModel:
    row = connection.execute(select(ScoringModel).where(col(ScoringModel.id) == model_id)).first()
    if row is None:
        raise NotFound("scoring model", model_id)
    return ScoringModel.model_validate(row._mapping)


def _histogram(connection: Connection, scores: Any) -> list[Bucket]:
    low, high = connection.execute(select(func.min(scores), func.max(scores))).one()
    if low is None:
        return []
    width = (high - low) / BUCKETS or 1.0
    edges = [low + width * i for i in range(BUCKETS)] + [max(high, low + width * BUCKETS)]
    counts = connection.execute(
        select(
            *[
                func.sum(
                    case(
                        (
                            and_(scores >= edges[i], scores < edges[i + 1])
                            if i < BUCKETS - 1
                            else scores >= edges[i],
                            1,
                        ),
                        else_=0,
                    )
                )
                for i in range(BUCKETS)
            ]
        )
    ).one()
    return [
        Bucket(low=round(edges[i], 2), high=round(edges[i + 1], 2), count=int(counts[i] or 0))
        for i in range(BUCKETS)
    ]


def _grades(connection: Connection, grade: Any, where: Any) -> dict[str, int]:
    rows = connection.execute(select(grade, func.count()).where(where).group_by(grade))
    return {(name if name is not None else "(none)"): count for name, count in rows}


def insights(db: Database, model_id: int) -> InsightsRead:
    with db.engine.connect() as connection:
        model = _model(connection, model_id)
        table = AccountScore if model.definition.get("entity") == "account" else LeadScore
        mine = col(table.model_id) == model_id
        scored, ready = connection.execute(
            select(func.count(), func.sum(case((col(table.reached).is_(True), 1), else_=0))).where(
                mine
            )
        ).one()
        threshold = None
        if scored:
            top = math.ceil(scored * 0.1)
            threshold = connection.execute(
                select(table.score).where(mine).order_by(col(table.score).desc()).offset(top - 1)
            ).scalar()
        scores = select(table.score).where(mine).subquery()
        return InsightsRead(
            model_id=model_id,
            scored=scored,
            sales_ready=int(ready or 0),
            top_10_percent_threshold=threshold,
            histogram=_histogram(connection, scores.c.score),
            grades=_grades(connection, table.grade, mine),
        )


def what_if(db: Database, model_id: int, data: WhatIf) -> WhatIfRead:
    """Evaluate a candidate definition against current data, writing nothing."""
    if data.definition is not None:
        refuse_out_of_range(data.definition)
    with db.engine.connect() as connection, connection.begin():
        model = _model(connection, model_id)
        definition = data.definition or ScoringDefinition.model_validate(model.definition)
        if data.sales_ready_score is not None:
            definition = definition.model_copy(update={"sales_ready_score": data.sales_ready_score})
        compiler = Compiler(
            connection.dialect.name, [CompiledModel(model_id, definition)], epoch(utcnow())
        )
        lead_model = definition.entity == "lead"
        statement = compiler.leads() if lead_model else compiler.accounts()
        table = evaluation.result_table("what_if")
        table.create(connection)
        try:
            connection.execute(
                insert(table).from_select(
                    ["model_id", "entity_id", "score", "grade", "reached"], statement
                )
            )
            stored = AccountScore if not lead_model else LeadScore
            entity = col(stored.lead_id if lead_model else stored.account_id)  # type: ignore[union-attr]
            same = and_(col(stored.model_id) == model_id, entity == table.c.entity_id)
            has_candidate = exists().where(
                table.c.entity_id == entity, col(stored.model_id) == model_id
            )
            scored = connection.execute(select(func.count()).select_from(table)).scalar_one()
            becoming = 0
            if lead_model:
                becoming = connection.execute(
                    select(func.count())
                    .select_from(table.join(Lead, col(Lead.id) == table.c.entity_id))
                    .where(
                        table.c.reached.is_(True),
                        col(Lead.status) == LeadStatus.OPEN.value,
                        col(Lead.sales_ready).is_(False),
                    )
                ).scalar_one()
            changing = connection.execute(
                select(func.count())
                .select_from(table.join(stored, same))
                .where(col(stored.grade).is_distinct_from(table.c.grade))
            ).scalar_one()
            newly = connection.execute(
                select(func.count()).select_from(table).where(not_(exists().where(same)))
            ).scalar_one()
            losing = connection.execute(
                select(func.count())
                .select_from(stored)
                .where(col(stored.model_id) == model_id, not_(has_candidate))
            ).scalar_one()
            return WhatIfRead(
                scored=scored,
                histogram=_histogram(connection, table.c.score),
                grades=_grades(connection, table.c.grade, True),
                would_become_sales_ready=becoming,
                would_change_grade=changing,
                would_be_newly_scored=newly,
                would_lose_score=losing,
            )
        finally:
            table.drop(connection, checkfirst=True)
