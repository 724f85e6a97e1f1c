"""Scoring models compiled to SQL: the set-based evaluator.

One scan of the interactions computes every behaviour rule of every model at once; the
records are then scored in the same statement. The meaning is scoring.values' and
scoring.explain's, to the cent: text folds ASCII case only, ages are whole seconds, decay
weights are whole millionths, and each rule's points are rounded to cents before they add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)

from leads.models import Account, Contact, Interaction, Lead
from scoring.definition import (
    AttributeRule,
    BehaviourRule,
    Condition,
    Count,
    Op,
    ScoringDefinition,
    Test,
    as_float,
)
from scoring.values import COLUMNS, CONSENT_RANK, LN2, MICRO, cents, fold

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# A decay exponent below it weighs nothing (a millionth rounds to 0 from -14.5 down), and
# PostgreSQL's exp() refuses to underflow.
_LEAST_EXPONENT = -50.0


def _number(value: Any) -> ColumnElement[Any]:
    """A number a model compares with, bound as a float: as an integer it would take the
    column's type (32 or 64 bits) and fail beyond it."""
    return literal(as_float(value), Float)


@dataclass(frozen=True)
class CompiledModel:
    id: int
    definition: ScoringDefinition

    @property
    def fields(self) -> frozenset[str]:
        """The fields the model's audience and rules read."""
        return self.definition.fields


class Dialect:
    """The few places where SQLite and PostgreSQL spell the same thing differently."""

    def __init__(self, name: str) -> None:
        self.postgres = name == "postgresql"

    def fold(self, text: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.postgres:
            return func.translate(text, _UPPER, fold(_UPPER))
        return func.lower(text)  # SQLite's lower() folds ASCII letters only

    def starts_with(self, text: ColumnElement[Any], prefix: str) -> ColumnElement[bool]:
        if self.postgres:
            return func.left(text, len(prefix)) == prefix
        return func.substr(text, 1, len(prefix)) == prefix

    def contains(self, text: ColumnElement[Any], part: str) -> ColumnElement[bool]:
        if self.postgres:
            return func.strpos(text, part) > 0
        return func.instr(text, part) > 0

    def least(
        self, a: ColumnElement[Any] | float, b: ColumnElement[Any] | float
    ) -> ColumnElement[Any]:
        return func.least(a, b) if self.postgres else func.min(a, b)

    def greatest(
        self, a: ColumnElement[Any] | float, b: ColumnElement[Any] | float
    ) -> ColumnElement[Any]:
        return func.greatest(a, b) if self.postgres else func.max(a, b)

    def truncate(self, number: ColumnElement[Any]) -> ColumnElement[Any]:
        """Toward zero, as a whole number (64 bits: cents of many occurrences pass 32)."""
        if self.postgres:
            return cast(func.trunc(number), BigInteger)
        return cast(number, BigInteger)

    def cents(self, points: ColumnElement[Any]) -> ColumnElement[Any]:
        """scoring.values.cents in SQL."""
        whole = self.truncate(func.abs(points) * 100 + 0.5)
        return case((points >= 0, whole), else_=-whole)

    # Custom attributes are JSON: a value is used only where its JSON type fits the test.
    def json_kind(self, document: ColumnElement[Any], key: str) -> ColumnElement[Any]:
        """'text', 'number', 'true', 'false', or null when absent or JSON null."""
        if self.postgres:
            kind = func.jsonb_typeof(document.op("->")(key))
            return case(
                (kind == "string", "text"),
                (kind == "number", "number"),
                (document.op("->")(key) == literal_column("'true'::jsonb"), "true"),
                (document.op("->")(key) == literal_column("'false'::jsonb"), "false"),
                else_=null(),
            )
        kind = func.json_type(document, f'$."{key}"')
        return case(
            (kind == "text", "text"),
            (kind.in_(["integer", "real"]), "number"),
            (kind == "true", "true"),
            (kind == "false", "false"),
            else_=null(),
        )

    def json_text(self, document: ColumnElement[Any], key: str) -> ColumnElement[Any]:
        if self.postgres:
            return document.op("->>")(key)
        return func.json_extract(document, f'$."{key}"')

    def json_number(self, document: ColumnElement[Any], key: str) -> ColumnElement[Any]:
        if self.postgres:
            return case(
                (
                    func.jsonb_typeof(document.op("->")(key)) == "number",
                    cast(document.op("->>")(key), Float),
                ),
                else_=null(),
            )
        return func.json_extract(document, f'$."{key}"')


class _Field:
    """A field as SQL sees it: typed accessors that are null where the type does not fit.

    Either a column of known type, or a key of a JSON document (custom attributes,
    interaction properties).
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        column: ColumnElement[Any] | None = None,
        column_type: str | None = None,
        document: ColumnElement[Any] | None = None,
        key: str = "",
    ) -> None:
        self.dialect = dialect
        self.column = column
        self.column_type = column_type
        self.document = document
        self.key = key

    @classmethod
    def of(cls, dialect: Dialect, table: Any, entity: str, name: str) -> _Field:
        column_type = COLUMNS[entity].get(name)
        if column_type is not None:
            return cls(dialect, column=table[name], column_type=column_type)
        return cls(dialect, document=table["attributes"], key=name)

    def _json_kind(self) -> ColumnElement[Any]:
        assert self.document is not None
        return self.dialect.json_kind(self.document, self.key)

    def text(self) -> ColumnElement[Any] | None:
        if self.document is None:
            return self.column if self.column_type == "text" else None
        return case(
            (self._json_kind() == "text", self.dialect.json_text(self.document, self.key)),
            else_=null(),
        )

    def number(self) -> ColumnElement[Any] | None:
        if self.document is None:
            return self.column if self.column_type == "number" else None
        return case(
            (self._json_kind() == "number", self.dialect.json_number(self.document, self.key)),
            else_=null(),
        )

    def boolean_is(self, wanted: bool) -> ColumnElement[bool] | None:
        if self.document is None:
            if self.column_type != "boolean":
                return None
            assert self.column is not None
            return self.column.is_(wanted)
        return self._json_kind() == ("true" if wanted else "false")

    def empty(self) -> ColumnElement[bool]:
        if self.document is None:
            assert self.column is not None
            if self.column_type == "text":
                return or_(self.column.is_(None), self.column == "")
            return self.column.is_(None)
        kind = self._json_kind()
        return or_(
            kind.is_(None),
            and_(kind == "text", self.dialect.json_text(self.document, self.key) == ""),
        )


def _equals(field: _Field, wanted: Any) -> ColumnElement[bool]:
    if isinstance(wanted, bool):
        found = field.boolean_is(wanted)
    elif isinstance(wanted, str):
        text = field.text()
        found = None if text is None else field.dialect.fold(text) == fold(wanted)
    else:
        number = field.number()
        found = None if number is None else number == _number(wanted)
    return false() if found is None else found


def _holds(field: _Field, condition: Condition) -> ColumnElement[bool]:
    wanted = condition.value
    dialect = field.dialect
    match condition.op:
        case Op.EQUALS:
            return _equals(field, wanted)
        case Op.NOT_EQUALS:
            return ~_sure(_equals(field, wanted))
        case Op.IN:
            assert isinstance(wanted, list)
            return or_(*[_sure(_equals(field, w)) for w in wanted])
        case Op.CONTAINS | Op.STARTS_WITH:
            text = field.text()
            if text is None:
                return false()
            folded = dialect.fold(text)
            if condition.op is Op.CONTAINS:
                return dialect.contains(folded, fold(str(wanted)))
            return dialect.starts_with(folded, fold(str(wanted)))
        case Op.GREATER | Op.LESS | Op.BETWEEN:
            number = field.number()
            if number is None:
                return false()
            if condition.op is Op.GREATER:
                return number > _number(wanted)
            if condition.op is Op.LESS:
                return number < _number(wanted)
            assert isinstance(wanted, list)
            return and_(number >= _number(wanted[0]), number <= _number(wanted[1]))
        case Op.IS_EMPTY:
            return field.empty()
        case Op.IS_SET:
            return ~_sure(field.empty())


def _sure(test: ColumnElement[bool]) -> ColumnElement[bool]:
    """A test that is false, never null, where SQL would not know."""
    return func.coalesce(test, false())


def behaving(lead_ids: Sequence[int]) -> Any:
    """The contacts whose interactions (those that name no lead) the leads read: a lead's
    parent contact, or, for an account-based lead (an account and no contact), every contact
    of its account."""
    chosen = Lead.id.in_(lead_ids)  # type: ignore[union-attr]
    accounts = select(Lead.parent_account_id).where(chosen, Lead.parent_contact_id.is_(None))  # type: ignore[union-attr]
    return union_all(
        select(Lead.parent_contact_id).where(chosen),
        select(Contact.id).where(Contact.account_id.in_(accounts)),  # type: ignore[union-attr]
    )


class Compiler:
    def __init__(self, dialect_name: str, models: Sequence[CompiledModel], now_epoch: int) -> None:
        self.dialect = Dialect(dialect_name)
        self.now = now_epoch
        self.lead_models = [m for m in models if m.definition.entity == "lead"]
        self.account_models = [m for m in models if m.definition.entity == "account"]

    # -- conditions on records --------------------------------------------------------------

    def _test(self, check: Test, tables: dict[str, Any]) -> ColumnElement[bool]:
        if isinstance(check, Condition):
            entity, _, name = check.field.partition(".")
            return _sure(_holds(_Field.of(self.dialect, tables[entity], entity, name), check))
        parts = [self._test(member, tables) for member in check.members]
        return and_(*parts) if check.all is not None else or_(*parts)

    # -- behaviour ----------------------------------------------------------------------------

    def _matches(self, rule: BehaviourRule) -> ColumnElement[bool]:
        i = Interaction
        parts: list[ColumnElement[bool]] = [i.kind == rule.kind]  # type: ignore[list-item]
        if rule.target is not None:
            target = i.target
            if rule.target.equals is not None:
                parts.append(target == rule.target.equals)  # type: ignore[arg-type]
            else:
                assert rule.target.starts_with is not None
                parts.append(_sure(self.dialect.starts_with(target, rule.target.starts_with)))  # type: ignore[arg-type]
        for key, wanted in rule.properties.items():
            field = _Field(self.dialect, document=i.properties, key=key)  # type: ignore[arg-type]
            parts.append(_sure(_equals(field, wanted)))
        if rule.window_days is not None:
            parts.append(i.occurred_epoch >= self.now - rule.window_days * 86400)  # type: ignore[arg-type]
        return and_(*parts)

    def _measure(self, rule: BehaviourRule) -> ColumnElement[Any]:
        """Per interaction: 1 for a counted occurrence, or its decayed weight in millionths."""
        if rule.half_life_days is None:
            return case((self._matches(rule), 1), else_=0)
        age = self.dialect.greatest(self.now - Interaction.occurred_epoch, 0)  # type: ignore[operator]
        exponent = self.dialect.greatest(
            -LN2 * age / (rule.half_life_days * 86400), _LEAST_EXPONENT
        )
        weight = self.dialect.truncate(MICRO * 1.0 * func.exp(exponent) + 0.5)
        return case((self._matches(rule), weight), else_=0)

    def _behaviour_rules(self, models: Sequence[CompiledModel]) -> list[tuple[str, BehaviourRule]]:
        return [
            (f"b{model.id}_{index}", rule)
            for model in models
            for index, rule in enumerate(model.definition.rules)
            if isinstance(rule, BehaviourRule)
        ]

    def _aggregate(
        self,
        rules: list[tuple[str, BehaviourRule]],
        where: list[ColumnElement[bool]],
        keys: Sequence[ColumnElement[Any]] | None = None,
    ) -> Select[Any]:
        """One scan of the interactions, every rule's measure summed per group of `keys`
        (default: per lead and contact)."""
        kinds = sorted({rule.kind for _, rule in rules})
        if keys is None:
            keys = [Interaction.lead_id, Interaction.contact_id]  # type: ignore[list-item]
        return (
            select(
                *keys,
                *[func.sum(self._measure(rule)).label(name) for name, rule in rules],
            )
            .where(Interaction.kind.in_(kinds), *where)  # type: ignore[attr-defined]
            .group_by(*keys)
        )

    def _rule_cents(
        self,
        rule: AttributeRule | BehaviourRule,
        amount: ColumnElement[Any] | None,
        tables: dict[str, Any],
    ) -> ColumnElement[Any]:
        if isinstance(rule, AttributeRule):
            return case((self._test(rule.when, tables), cents(rule.points)), else_=0)
        assert amount is not None
        if rule.count is Count.AT_LEAST:
            return case((amount >= rule.times, cents(rule.points)), else_=0)
        if rule.count is Count.NONE:
            return case((amount == 0, cents(rule.points)), else_=0)
        if rule.half_life_days is None:
            total: ColumnElement[Any] = amount * rule.points
        else:
            total = amount * rule.points / (MICRO * 1.0)
        if rule.cap is not None:
            if rule.points > 0:
                total = self.dialect.least(total, rule.cap)
            else:
                total = self.dialect.greatest(total, rule.cap)
        return self.dialect.cents(total)

    def _results(
        self,
        models: Sequence[CompiledModel],
        base: Select[Any],
        amounts: dict[str, ColumnElement[Any]],
        tables: dict[str, Any],
        entity_id: ColumnElement[Any],
        consent: ColumnElement[Any] | None,
    ) -> Select[Any] | None:
        if not models:
            return None
        columns: list[ColumnElement[Any]] = [entity_id.label("entity_id")]
        for model in models:
            definition = model.definition
            terms = [
                self._rule_cents(rule, amounts.get(f"b{model.id}_{index}"), tables)
                for index, rule in enumerate(definition.rules)
            ]
            total = terms[0] if terms else literal(0)
            for term in terms[1:]:
                total = total + term
            columns.append(total.label(f"c{model.id}"))
            scope: list[ColumnElement[bool]] = []
            if definition.audience is not None:
                scope.append(self._test(definition.audience, tables))
            if definition.min_consent is not None:
                assert consent is not None
                scope.append(consent >= CONSENT_RANK[definition.min_consent])
            columns.append((and_(*scope) if scope else true()).label(f"in{model.id}"))
        # Each record's row is computed once, then read once per model: a CTE read more than
        # once is materialized, by SQLite and PostgreSQL alike, where a subquery would be
        # computed again for each model.
        per_record = base.add_columns(*columns).cte("per_record")
        parts = []
        for model in models:
            score = getattr(per_record.c, f"c{model.id}") / 100.0
            definition = model.definition
            grade = (
                case(
                    *[
                        (and_(*self._band(score, g.min, g.max)), literal(g.name))
                        for g in definition.grades
                    ],
                    else_=null(),
                )
                if definition.grades
                else null()
            )
            reached = (
                score >= _number(definition.sales_ready_score)
                if definition.sales_ready_score is not None
                else false()
            )
            parts.append(
                select(
                    literal(model.id).label("model_id"),
                    per_record.c.entity_id,
                    score.label("score"),
                    grade.label("grade"),
                    _sure(reached).label("reached"),
                ).where(getattr(per_record.c, f"in{model.id}"))
            )
        return union_all(*parts) if len(parts) > 1 else parts[0]  # type: ignore[return-value]

    @staticmethod
    def _band(
        score: ColumnElement[Any], low: float | None, high: float | None
    ) -> list[ColumnElement[bool]]:
        parts: list[ColumnElement[bool]] = []
        if low is not None:
            parts.append(score >= _number(low))
        if high is not None:
            parts.append(score < _number(high))
        return parts or [true()]

    def _lead_behaviour(
        self,
        rules: list[tuple[str, BehaviourRule]],
        lead_ids: Sequence[int] | None,
        base: Select[Any],
        lead: Any,
    ) -> tuple[Select[Any], dict[str, ColumnElement[Any]]]:
        """The leads' behaviour joined to `base`, and each rule's amount per lead."""
        where: list[ColumnElement[bool]] = []
        if lead_ids is not None:
            # The contacts' interactions are found through the contact index: "lead_id is
            # null" is tested on an expression, which no index serves, or SQLite, without
            # statistics, reads every interaction that names no lead through the lead index.
            no_lead = (Interaction.lead_id + 0).is_(None)  # type: ignore[operator]
            where.append(
                or_(
                    Interaction.lead_id.in_(lead_ids),  # type: ignore[union-attr]
                    and_(Interaction.contact_id.in_(behaving(lead_ids)), no_lead),  # type: ignore[union-attr]
                )
            )
        # A lead's interactions are those credited to it, and those of its contact (or its
        # account's contacts) that name no lead: one group per lead (contact_id null) and
        # one per contact (lead_id null). The keys are expressions, so that SQLite scans the
        # table in order and sorts, rather than visiting it row by row in the order of an
        # index on lead_id; cast to the id type, so that SQLite can index them when it joins
        # them.
        id_type = Interaction.__table__.c.lead_id.type  # type: ignore[attr-defined]
        lead_key = cast(Interaction.lead_id + 0, id_type)  # type: ignore[operator]
        contact_key = cast(
            case((Interaction.lead_id.is_(None), Interaction.contact_id)),  # type: ignore[union-attr]
            id_type,
        )
        keys = [lead_key.label("lead_id"), contact_key.label("contact_id")]
        aggregate = self._aggregate(rules, where, keys).cte("behaviour")
        by_lead = (
            select(aggregate.c.lead_id, *[aggregate.c[n] for n, _ in rules])
            .where(aggregate.c.lead_id.is_not(None))
            .subquery("by_lead")
        )
        by_contact = (
            select(aggregate.c.contact_id, *[aggregate.c[n] for n, _ in rules])
            .where(aggregate.c.lead_id.is_(None), aggregate.c.contact_id.is_not(None))
            .subquery("by_contact")
        )
        # An account-based lead (an account, no contact) reads the behaviour of the
        # account's contacts.
        member = Contact.__table__.alias("member")  # type: ignore[attr-defined]
        by_account = (
            select(member.c.account_id, *[func.sum(aggregate.c[n]).label(n) for n, _ in rules])
            .select_from(aggregate.join(member, member.c.id == aggregate.c.contact_id))
            .where(aggregate.c.lead_id.is_(None), member.c.account_id.is_not(None))
            .group_by(member.c.account_id)
            .subquery("by_account")
        )
        base = base.outerjoin(by_lead, by_lead.c.lead_id == lead.c.id)
        base = base.outerjoin(by_contact, by_contact.c.contact_id == lead.c.parent_contact_id)
        base = base.outerjoin(
            by_account,
            and_(
                lead.c.parent_contact_id.is_(None),
                by_account.c.account_id == lead.c.parent_account_id,
            ),
        )
        amounts = {
            name: func.coalesce(by_lead.c[name], 0)
            + func.coalesce(by_contact.c[name], 0)
            + func.coalesce(by_account.c[name], 0)
            for name, _ in rules
        }
        return base, amounts

    # -- entry points -------------------------------------------------------------------------

    def leads(self, lead_ids: Sequence[int] | None = None, after: int | None = None) -> Any:
        """(model_id, entity_id, score, grade, reached) for every lead in scope and audience;
        with `after`, for the leads of greater id only (a resumed evaluation)."""
        models = self.lead_models
        if not models:
            return None
        rules = self._behaviour_rules(models)
        contact = Contact.__table__.alias("c")  # type: ignore[attr-defined]
        account = Account.__table__.alias("a")  # type: ignore[attr-defined]
        lead = Lead.__table__  # type: ignore[attr-defined]
        base = select().select_from(lead)
        base = base.outerjoin(contact, contact.c.id == lead.c.parent_contact_id)
        base = base.outerjoin(
            account, account.c.id == func.coalesce(lead.c.parent_account_id, contact.c.account_id)
        )
        amounts: dict[str, ColumnElement[Any]] = {}
        if rules:
            base, amounts = self._lead_behaviour(rules, lead_ids, base, lead)
        if lead_ids is not None:
            base = base.where(lead.c.id.in_(lead_ids))
        if after is not None:
            base = base.where(lead.c.id > after)
        consent = case(
            *[(contact.c.consent_level == level, rank) for level, rank in CONSENT_RANK.items()],
            else_=0,
        )
        tables = {"lead": lead.c, "contact": contact.c, "account": account.c}
        return self._results(models, base, amounts, tables, lead.c.id, consent)

    def accounts(self, account_ids: Sequence[int] | None = None, after: int | None = None) -> Any:
        """(model_id, entity_id, score, grade, reached) for every account in scope and audience:
        an account's behaviour is that of all its contacts."""
        models = self.account_models
        if not models:
            return None
        rules = self._behaviour_rules(models)
        account = Account.__table__  # type: ignore[attr-defined]
        base = select().select_from(account)
        amounts: dict[str, ColumnElement[Any]] = {}
        if rules:
            where: list[ColumnElement[bool]] = [Interaction.contact_id.is_not(None)]  # type: ignore[union-attr]
            if account_ids is not None:
                members = select(Contact.id).where(Contact.account_id.in_(account_ids))  # type: ignore[union-attr]
                where.append(Interaction.contact_id.in_(members))  # type: ignore[union-attr]
            aggregate = self._aggregate(rules, where).cte("behaviour")
            contact = Contact.__table__  # type: ignore[attr-defined]
            by_account = (
                select(contact.c.account_id, *[func.sum(aggregate.c[n]).label(n) for n, _ in rules])
                .select_from(aggregate.join(contact, contact.c.id == aggregate.c.contact_id))
                .group_by(contact.c.account_id)
                .subquery("by_account")
            )
            base = base.outerjoin(by_account, by_account.c.account_id == account.c.id)
            amounts = {name: func.coalesce(by_account.c[name], 0) for name, _ in rules}
        if account_ids is not None:
            base = base.where(account.c.id.in_(account_ids))
        if after is not None:
            base = base.where(account.c.id > after)
        return self._results(models, base, amounts, {"account": account.c}, account.c.id, None)
