"""Importing contacts: matched by the contact strategy, their consent recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from api.services import matching
from api.services.imports.erasures import Erasures
from api.services.imports.records import RecordWriter
from api.services.imports.writer import (
    ACCOUNTS,
    CONSENT_CHANGES,
    CONTACTS,
    ERASED,
    Context,
    existing_ids,
    insert_returning_ids,
    touch,
)
from api.services.scoring import evaluation
from api.storage.bulk import insert_rows
from leads.audit import Entity as Audited
from leads.csvimport import Row, RowError
from leads.matching import Entity
from leads.models import ConsentLevel

CONTACT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "job_title",
    "company",
    "phone",
    "country",
    "industry",
    "account_id",
)


class ContactWriter(RecordWriter):
    table = CONTACTS
    audited = Audited.CONTACT
    fields = CONTACT_COLUMNS
    defaults = {"consent_level": ConsentLevel.NONE.value}

    def rescore(self, session: Session, last: int) -> None:
        # A new contact has no leads yet: only changed ones score differently.
        if self.changed:
            evaluation.rescore_for(session, self.context.catalog, contact_ids=sorted(self.changed))
        self.changed.clear()

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.key_fields = matching.DEFAULTS[Entity.CONTACT].fields
        self.erasures: Erasures | None = None
        self.returning: list[str] = []

    def warnings(self, session: Session) -> list[str]:
        strategy = matching.strategy(session, Entity.CONTACT, None)
        self.key_fields = strategy.fields
        missing = [f for f in strategy.fields if f not in self.plan.fields]
        if not missing:
            return []
        return [
            f"the contact matching strategy '{strategy.name}' compares "
            f"{', '.join(strategy.fields)}, but no column gives {', '.join(missing)}: every "
            "row creates a new contact"
        ]

    def checks(
        self, session: Session, rows: list[Row], write: bool
    ) -> tuple[list[RowError], set[int]]:
        errors: list[RowError] = []
        accounts = {r.values["account_id"] for r in rows if "account_id" in r.values}
        known = existing_ids(session, ACCOUNTS, accounts)
        for row in rows:
            account = row.values.get("account_id")
            if account is not None and account not in known:
                errors.append(self.error(row, "account_id", f"there is no account {account}"))
        emails = [r.values["email"] for r in rows if "email" in r.values]
        erasures = self.erasures = Erasures(session, emails)
        back: dict[int, str] = {}
        if erasures.erased:
            for row in rows:
                email = row.values.get("email")
                if email is None or email not in erasures:
                    continue
                if row.values.get("consent_level", ConsentLevel.NONE.value) == ConsentLevel.NONE:
                    errors.append(
                        self.error(
                            row,
                            "email",
                            f"{ERASED}; they can be imported again only with their consent "
                            "(a consent_level column other than none)",
                        )
                    )
                else:
                    back[row.line] = email
        bad = {e.line for e in errors}
        self.returning = [email for line, email in back.items() if line not in bad]
        return errors, bad

    def new(
        self, values: Mapping[str, Any], blank: Mapping[str, Any], now: dt.datetime
    ) -> dict[str, Any]:
        state = {**blank, **values}
        level = state["consent_level"]
        if level != ConsentLevel.NONE:
            state["_consents"] = [self.consent_change(values, level, ConsentLevel.NONE, now)]
        return state

    def merge(self, state: dict[str, Any], values: Mapping[str, Any], now: dt.datetime) -> bool:
        changed = super().merge(state, values, now)
        level = values.get("consent_level")
        if level is not None and level != state["consent_level"]:
            change = self.consent_change(values, level, state["consent_level"], now)
            state.setdefault("_consents", []).append(change)
            state["consent_level"] = level
            touch(state, now)
            changed = True
        return changed

    def consent_change(
        self, values: Mapping[str, Any], level: str, previous: str, now: dt.datetime
    ) -> dict[str, Any]:
        return {
            "level": level,
            "previous_level": previous,
            "source": values.get("consent_source") or self.context.options.source,
            "note": None,
            "at": now,
        }

    def write(
        self, session: Session, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
    ) -> None:
        connection = session.connection()
        if self.erasures is not None:
            self.erasures.forget(session, self.returning)
        columns = self.columns
        consenting = [s for s in inserts if "_consents" in s]
        if consenting:
            rows = [{c: s[c] for c in columns} for s in consenting]
            for state, new_id in zip(
                consenting, insert_returning_ids(connection, self.table, rows), strict=True
            ):
                state["id"] = new_id
            inserts = [s for s in inserts if "_consents" not in s]
        insert_rows(connection, self.table, columns, inserts)
        self.update(connection, updates)
        consents = [
            {"contact_id": state["id"], **change}
            for state in (*consenting, *updates)
            for change in state.get("_consents", ())
        ]
        if consents:
            insert_rows(connection, CONSENT_CHANGES, tuple(consents[0]), consents)
