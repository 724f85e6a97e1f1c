"""Scoring at run time: the switches, evaluation (incremental and full, one meaning), and the
writes both share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Float,
    Index,
    MetaData,
    String,
    Table,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    tuple_,
)
from sqlalchemy import select as select_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

import bpf
from api.services.scoring import outcomes
from api.services.scoring import qualification as qualification_service
from api.storage import job_runs
from api.storage.bulk import in_values
from api.storage.db import Database, reading, unavailable, writing
from api.storage.leases import Interrupted
from leads.models import Account, Contact, Lead
from leads.types import UTCDateTime, epoch, utcnow
from scoring.definition import ScoringDefinition
from scoring.sql import CompiledModel, Compiler
from scoring.tables import (
    AccountScore,
    EvaluationRun,
    LeadScore,
    ModelStatus,
    RunStatus,
    ScoringConfiguration,
    ScoringModel,
)

CHUNK = 20_000
SWITCH_NAMES = bpf.schema.SWITCHES

Scope = Callable[[ColumnElement[Any]], ColumnElement[bool]]


# -- the switches ---------------------------------------------------------------------------


def effective_configuration(session: Session) -> ScoringConfiguration | None:
    """The most recently created configuration, or None (every switch on)."""
    return session.exec(
        select(ScoringConfiguration).order_by(
            col(ScoringConfiguration.created_at).desc(), col(ScoringConfiguration.id).desc()
        )
    ).first()


def switches(session: Session) -> dict[str, bool]:
    config = effective_configuration(session)
    return {name: True if config is None else getattr(config, name) for name in SWITCH_NAMES}


# -- models ---------------------------------------------------------------------------------


_compiled: dict[tuple[Any, ...], list[CompiledModel]] = {}


_MODELS = ScoringModel.__table__  # type: ignore[attr-defined]
_LIVE = (
    select_rows(_MODELS.c.id, _MODELS.c.version, _MODELS.c.updated_at)
    .where(_MODELS.c.status == ModelStatus.LIVE.value)
    .order_by(_MODELS.c.id)
)


def live_models(connection: Connection, only: int | None = None) -> list[CompiledModel]:
    """The live models, parsed once per state of them (most calls read three small columns)."""
    rows = [tuple(r) for r in connection.execute(_LIVE) if only is None or r.id == only]
    key = (str(connection.engine.url), *rows)
    found = _compiled.get(key)
    if found is None:
        ids = [row[0] for row in rows]
        by_id = dict(
            connection.execute(
                select_rows(_MODELS.c.id, _MODELS.c.definition).where(_MODELS.c.id.in_(ids))
            ).all()
        )
        found = [CompiledModel(i, ScoringDefinition.model_validate(by_id[i])) for i in ids]
        if len(_compiled) > 32:
            _compiled.clear()
        _compiled[key] = found
    return found


# -- writing results ------------------------------------------------------------------------


def _score_table(entity: str) -> tuple[Table, Any]:
    """The score table of the entity (as a Core table: writes report their row counts)."""
    if entity == "lead":
        table: Table = LeadScore.__table__  # type: ignore[attr-defined]
        return table, table.c.lead_id
    table = AccountScore.__table__  # type: ignore[attr-defined]
    return table, table.c.account_id


def write(
    session: Session,
    entity: str,
    source: Any,
    scope: Scope,
    model_ids: Collection[int],
    as_of: dt.datetime,
) -> int:
    """Make the stored scores of the models, for the records in scope, what `source` says:
    changed ones are written, new ones added, ones `source` no longer has (out of the
    audience) removed. A score written after `as_of` (a newer incremental result) is left.
    Return how many scores changed."""
    if not model_ids:
        return 0
    table, entity_column = _score_table(entity)
    dialect = session.get_bind().dialect.name
    rows = select_rows(
        source.c.model_id,
        source.c.entity_id,
        source.c.score,
        source.c.grade,
        source.c.reached,
        false(),
        literal(as_of, UTCDateTime()),
    ).where(source.c.model_id.in_(model_ids), scope(source.c.entity_id))
    if dialect == "postgresql":
        # Rows are locked in the order they are written: the same order in every transaction,
        # so that two re-scoring the same leads at once wait for each other, not deadlock.
        rows = rows.order_by(source.c.model_id, source.c.entity_id)
    inserting = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    upsert = inserting.from_select(
        ["model_id", entity_column.key, "score", "grade", "reached", "stale", "as_of"], rows
    )
    new = upsert.excluded
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.model_id, entity_column],
        set_={
            "score": new.score,
            "grade": new.grade,
            "reached": new.reached,
            "stale": false(),
            "as_of": new.as_of,
        },
        where=(table.c.as_of <= as_of)
        & or_(
            table.c.score != new.score,
            table.c.grade.is_distinct_from(new.grade),
            table.c.reached != new.reached,
            table.c.stale.is_(True),
        ),
    )
    connection = session.connection()
    changed = connection.execute(upsert.execution_options(preserve_rowcount=True)).rowcount
    removed = connection.execute(
        delete(table).where(
            table.c.model_id.in_(model_ids),
            scope(entity_column),
            table.c.as_of <= as_of,
            # The results in scope only: a full evaluation writes chunk by chunk, and each
            # chunk's delete would otherwise look through every result.
            tuple_(table.c.model_id, entity_column).not_in(
                select_rows(source.c.model_id, source.c.entity_id).where(scope(source.c.entity_id))
            ),
        )
    ).rowcount
    return changed + removed


# -- incremental ----------------------------------------------------------------------------


def reads_any(connection: Connection, fields: Collection[str]) -> bool:
    """Whether a live model reads any of these fields (`lead.stage`, say)."""
    return any(m.fields & set(fields) for m in live_models(connection))


def rescore(
    session: Session,
    catalog: bpf.Catalog,
    *,
    lead_ids: Iterable[int] = (),
    account_ids: Iterable[int] = (),
    now: dt.datetime | None = None,
) -> None:
    """Re-score these leads and accounts for every live model and fire the outcomes, in the
    caller's transaction; pending ORM changes are flushed first, so they count."""
    session.flush()
    models = live_models(session.connection())
    if not models:
        return
    now = now or utcnow()
    compiler = Compiler(session.get_bind().dialect.name, models, epoch(now))
    leads = sorted(set(lead_ids))
    if leads and compiler.lead_models:
        source = compiler.leads(leads).subquery("result")
        ids = [m.id for m in compiler.lead_models]
        write(session, "lead", source, lambda c: c.in_(leads), ids, now)
        fired = fire(session, catalog, col(Lead.id).in_(leads), now)
        settle(session, catalog, compiler, fired, now)
    accounts = sorted(set(account_ids))
    if accounts and compiler.account_models:
        source = compiler.accounts(accounts).subquery("result")
        ids = [m.id for m in compiler.account_models]
        write(session, "account", source, lambda c: c.in_(accounts), ids, now)


def fire(
    session: Session, catalog: bpf.Catalog, scope: ColumnElement[bool], now: dt.datetime
) -> list[int]:
    """What the scores of the leads in scope set off: scoring's outcomes, then qualification
    by the published qualifications. Return the leads that changed."""
    on = switches(session)
    scored = outcomes.fire(session, catalog, scope, on, now)
    qualified = qualification_service.apply(session, catalog, scope, on, now)
    return sorted({*scored, *qualified})


def settle(
    session: Session,
    catalog: bpf.Catalog,
    compiler: Compiler,
    fired: Collection[int],
    as_of: dt.datetime,
) -> tuple[int, set[int]]:
    """Outcomes change a lead's sales-ready mark, status reason and stage. When a live model
    reads one, the leads that changed are scored again, and their new outcomes fired, until
    none is due: the stored scores then agree with the leads as they are, whichever path
    scored them. Each outcome fires once per lead, so this ends. Return the scores changed
    and the leads whose outcomes fired."""
    changed, leads = 0, set(fired)
    if not any(m.fields & outcomes.WRITES for m in compiler.lead_models):
        return changed, leads
    ids = [m.id for m in compiler.lead_models]
    while fired:
        again = sorted(set(fired))
        source = compiler.leads(again).subquery("result")
        changed += write(session, "lead", source, lambda c, a=again: c.in_(a), ids, as_of)
        fired = fire(session, catalog, col(Lead.id).in_(again), as_of)
        leads |= set(fired)
    return changed, leads


def rescore_for(
    session: Session,
    catalog: bpf.Catalog,
    *,
    lead_ids: Iterable[int] = (),
    contact_ids: Iterable[int] = (),
    account_ids: Iterable[int] = (),
    now: dt.datetime | None = None,
) -> None:
    """Re-score what a change touches: the leads; the contacts' leads, their accounts and
    those accounts' account-based leads (which read the contacts' behaviour); the accounts
    and all their leads (a lead reads its account's fields)."""
    session.flush()
    leads = set(lead_ids)
    accounts = set(account_ids)
    contacts = set(contact_ids)
    if contacts:
        leads |= set(session.exec(select(Lead.id).where(col(Lead.parent_contact_id).in_(contacts))))
        theirs = _accounts_of(session.connection(), contacts)
        leads |= _account_based(session.connection(), theirs)
        accounts |= theirs
    if account_ids:
        members = select(Contact.id).where(col(Contact.account_id).in_(account_ids))
        leads |= set(
            session.exec(
                select(Lead.id).where(
                    or_(
                        col(Lead.parent_account_id).in_(account_ids),
                        col(Lead.parent_contact_id).in_(members),
                    )
                )
            )
        )
    rescore(session, catalog, lead_ids=leads, account_ids=accounts, now=now)


def rescore_interactions(
    session: Session,
    catalog: bpf.Catalog,
    rows: Iterable[dict[str, Any]],
    now: dt.datetime | None = None,
) -> None:
    """After interactions were stored: their leads, or, when no lead was named, every lead
    of the contact and the account-based leads of its account; and the accounts of their
    contacts."""
    connection = session.connection()
    if not live_models(connection):
        return
    dialect = connection.dialect.name
    rows = list(rows)
    leads = {r["lead_id"] for r in rows if r["lead_id"] is not None}
    contact_only = {r["contact_id"] for r in rows if r["lead_id"] is None and r["contact_id"]}
    contacts = {r["contact_id"] for r in rows if r["contact_id"] is not None}
    if contact_only:
        lead = Lead.__table__  # type: ignore[attr-defined]
        leads |= set(
            connection.execute(
                select_rows(lead.c.id).where(
                    in_values(lead.c.parent_contact_id, contact_only, dialect)
                )
            ).scalars()
        )
        leads |= _account_based(connection, _accounts_of(connection, contact_only))
    accounts = _accounts_of(connection, contacts)
    rescore(session, catalog, lead_ids=leads, account_ids=accounts, now=now)


def _accounts_of(connection: Connection, contacts: Collection[int]) -> set[int]:
    if not contacts:
        return set()
    contact = Contact.__table__  # type: ignore[attr-defined]
    found = connection.execute(
        select_rows(contact.c.account_id).where(
            in_values(contact.c.id, contacts, connection.dialect.name)
        )
    ).scalars()
    return {a for a in found if a is not None}


def _account_based(connection: Connection, accounts: Collection[int]) -> set[int]:
    """The leads of these accounts that name no contact: they read the behaviour of every
    contact of their account."""
    if not accounts:
        return set()
    lead = Lead.__table__  # type: ignore[attr-defined]
    return set(
        connection.execute(
            select_rows(lead.c.id).where(
                lead.c.parent_contact_id.is_(None),
                in_values(lead.c.parent_account_id, accounts, connection.dialect.name),
            )
        ).scalars()
    )


# -- full evaluation ------------------------------------------------------------------------


def result_table(name: str) -> Table:
    return Table(
        name,
        MetaData(),
        Column("model_id", col(LeadScore.model_id).type),
        Column("entity_id", col(LeadScore.lead_id).type),
        Column("score", Float),
        Column("grade", String(40)),
        Column("reached", Boolean),
        prefixes=["TEMPORARY"],
    )


Progress = Callable[[EvaluationRun], None]
# Called inside each write transaction an evaluation makes, with its run as it will be
# committed: a job's lease is checked there (raising rolls the transaction back).
Within = Callable[[Session, EvaluationRun], None]
ENTITIES = ("lead", "account")


def new_run(
    db: Database,
    model_id: int | None = None,
    status: RunStatus = RunStatus.QUEUED,
    requested_by: str = "leadflow",
) -> EvaluationRun:
    """A new evaluation, queued for the evaluation job (which a scheduler runs)."""
    with db.write() as session:
        run = EvaluationRun(model_id=model_id, status=status.value, as_of=utcnow())
        session.add(run)
        job_runs.queue_evaluation(session, run, requested_by)
    return run


def evaluate(
    db: Database,
    catalog: bpf.Catalog,
    run_id: int,
    *,
    chunk: int = CHUNK,
    progress: Progress | None = None,
    as_of: dt.datetime | None = None,
    within: Within | None = None,
) -> EvaluationRun:
    """Run a full evaluation, as of now or `as_of`: every live model, or the run's model
    going live; or carry on one that was cut off, after its checkpoint, as of its `as_of`.

    Per entity, the results are computed in one statement into a temporary table without
    holding the write lock; they are then written in chunks of `chunk` records, each a short
    write transaction that also fires the chunk's outcomes and moves the run's checkpoint.
    A run interrupted (its lease lost, the database away) is left running, to be resumed;
    any other error marks it failed.
    """
    try:
        return _evaluate(db, catalog, run_id, chunk, progress, as_of, within)
    except Exception as exc:
        if isinstance(exc, Interrupted) or unavailable(exc):
            raise
        with db.write() as session:
            run = session.get(EvaluationRun, run_id)
            if run is not None:
                run.status = RunStatus.FAILED.value
                run.error = f"{type(exc).__name__}: {exc}"[:2000]
                run.finished_at = utcnow()
                if within is not None:
                    within(session, run)
        raise


def _evaluate(
    db: Database,
    catalog: bpf.Catalog,
    run_id: int,
    chunk: int,
    progress: Progress | None,
    as_of: dt.datetime | None,
    within: Within | None,
) -> EvaluationRun:
    with db.write() as session:
        run = session.get(EvaluationRun, run_id)
        assert run is not None
        resumed = run.checkpoint_entity is not None
        if not resumed:
            run.as_of = as_of or utcnow()
        run.status = RunStatus.RUNNING.value
        if within is not None:
            within(session, run)
    as_of, model_id = run.as_of, run.model_id
    with db.unbounded() as connection:
        with connection.begin():
            models = live_models(connection, only=model_id)
            compiler = Compiler(connection.dialect.name, models, epoch(as_of))
            scored = {"lead": compiler.lead_models, "account": compiler.account_models}
            session = Session(bind=connection)
            total = sum(_span(session, entity)[2] for entity in ENTITIES if scored[entity])
        if not resumed:
            _update_run(db, run_id, within, total=total)
        statements = {"lead": compiler.leads, "account": compiler.accounts}
        for entity in ENTITIES[ENTITIES.index(run.checkpoint_entity) if resumed else 0 :]:
            after = run.checkpoint_id if entity == run.checkpoint_entity else None
            statement = statements[entity](after=after)
            if statement is None:
                continue
            table = result_table(f"evaluation_{entity}")
            _drop(connection, table)
            with connection.begin():
                table.create(connection)
                Index(f"evaluation_{entity}_entity", table.c.entity_id).create(connection)
                connection.execute(
                    insert(table).from_select(
                        ["model_id", "entity_id", "score", "grade", "reached"], statement
                    )
                )
                low, high, _ = _span(Session(bind=connection), entity)
            writing(connection)
            try:
                _write_chunks(
                    connection,
                    catalog,
                    run_id,
                    entity,
                    table,
                    [m.id for m in models if m.definition.entity == entity],
                    after + 1 if after is not None else low,
                    high,
                    chunk,
                    as_of,
                    progress,
                    within,
                )
            finally:
                reading(connection)
                _drop(connection, table)
    with db.write() as session:
        run = session.get(EvaluationRun, run_id)
        assert run is not None
        run.status = RunStatus.DONE.value
        run.finished_at = utcnow()
        if within is not None:
            within(session, run)
    return run


def _write_chunks(
    connection: Connection,
    catalog: bpf.Catalog,
    run_id: int,
    entity: str,
    table: Table,
    model_ids: list[int],
    start: int,
    high: int,
    chunk: int,
    as_of: dt.datetime,
    progress: Progress | None,
    within: Within | None,
) -> None:
    while start <= high:
        end = start + chunk - 1
        with connection.begin():
            session = Session(bind=connection)
            still_live = {m.id for m in live_models(connection)} & set(model_ids)
            changed = write(
                session,
                entity,
                table,
                lambda c, s=start, e=end: c.between(s, e),
                still_live,
                as_of,
            )
            fired: set[int] = set()
            if entity == "lead":
                first = fire(session, catalog, col(Lead.id).between(start, end), utcnow())
                everyone = Compiler(connection.dialect.name, live_models(connection), epoch(as_of))
                more, fired = settle(session, catalog, everyone, first, as_of)
                changed += more
            done = _count(session, entity, start, end)
            run = _advance(session, run_id, done, changed, len(fired), (entity, end), within)
        if progress is not None:
            progress(run)
        start = end + 1


def _drop(connection: Connection, table: Table) -> None:
    """Drop the temporary table, left behind on this pooled connection or not; a connection
    that cannot is discarded (its temporary tables go with it)."""
    try:
        with connection.begin():
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
    except Exception:
        connection.invalidate()
        raise


def _span(session: Session, entity: str) -> tuple[int, int, int]:
    model = Lead if entity == "lead" else Account
    low, high, count = session.execute(
        select_rows(func.min(model.id), func.max(model.id), func.count())  # type: ignore[arg-type]
    ).one()
    return (low or 0), (high or -1), count


def _count(session: Session, entity: str, start: int, end: int) -> int:
    model = Lead if entity == "lead" else Account
    return int(
        session.execute(
            select_rows(func.count()).where(col(model.id).between(start, end))
        ).scalar_one()
    )


def _update_run(db: Database, run_id: int, within: Within | None, **values: Any) -> None:
    with db.write() as session:
        run = session.get(EvaluationRun, run_id)
        assert run is not None
        for key, value in values.items():
            setattr(run, key, value)
        if within is not None:
            within(session, run)


def _advance(
    session: Session,
    run_id: int,
    done: int,
    changed: int,
    fired: int,
    checkpoint: tuple[str, int],
    within: Within | None,
) -> EvaluationRun:
    run = session.get(EvaluationRun, run_id)
    assert run is not None
    run.done += done
    run.changed += changed
    run.outcomes += fired
    run.checkpoint_entity, run.checkpoint_id = checkpoint
    session.flush()
    if within is not None:
        within(session, run)
    session.expunge(run)
    return run
