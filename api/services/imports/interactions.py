"""Importing interactions: checked like the batch endpoint's, stored once per external_id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from api.services import interactions as interaction_service
from api.services.imports.erasures import Erasures
from api.services.imports.report import Report
from api.services.imports.writer import CONTACTS, ERASED, INTERACTIONS, Writer
from api.services.scoring import evaluation
from api.storage.bulk import in_values, insert_rows
from leads.csvimport import Row, RowError
from leads.types import epoch, utcnow

INTERACTION_COLUMNS = interaction_service.COLUMNS


class InteractionWriter(Writer):
    """Interactions: checked like the batch endpoint's, stored once per external_id."""

    table = INTERACTIONS

    def rescore(self, session: Session, last: int) -> None:
        table = INTERACTIONS
        rows = session.connection().execute(
            select(table.c.lead_id, table.c.contact_id).where(table.c.id > last)
        )
        stored = [{"lead_id": lead, "contact_id": contact} for lead, contact in rows]
        if stored:
            evaluation.rescore_interactions(session, self.context.catalog, stored)

    def apply(
        self, session: Session, rows: list[Row], report: Report, *, write: bool
    ) -> list[RowError]:
        now = utcnow()
        looked_up = self.looked_up(session, rows)
        stored_externals = looked_up.externals
        errors: list[RowError] = []
        inserts: list[dict[str, Any]] = []
        seen: set[str] = set()
        for row in rows:
            contact_id, found = self.checked(row, looked_up)
            if found:
                errors += found
                continue
            values = row.values
            external = values.get("external_id")
            if external is not None:
                if external in stored_externals or external in seen:
                    report.unchanged += 1
                    continue
                seen.add(external)
            report.created += 1
            inserts.append(
                {
                    "kind": values["kind"],
                    "occurred_at": values["occurred_at"],
                    "occurred_epoch": epoch(values["occurred_at"]),
                    "contact_id": contact_id,
                    "lead_id": values.get("lead_id"),
                    "target": values.get("target"),
                    "properties": values["properties"],
                    "external_id": external,
                    "created_at": now,
                }
            )
        if write:
            insert_rows(session.connection(), INTERACTIONS, INTERACTION_COLUMNS, inserts)
        return errors

    def looked_up(self, session: Session, rows: list[Row]) -> _LookedUp:
        """What the batch's rows name, read with one query each: contacts by email (erased
        persons among the emails no contact has), the known kinds, contacts and leads, the
        external ids stored already."""
        connection = session.connection()
        dialect = connection.dialect.name
        emails = {r.values["email"] for r in rows if "email" in r.values}
        by_email: dict[str, int] = {}
        erasures: Erasures | None = None
        if emails:
            query = (
                select(CONTACTS.c.id, CONTACTS.c.email)
                .where(in_values(CONTACTS.c.email, emails, dialect))
                .order_by(CONTACTS.c.updated_at.desc(), CONTACTS.c.id.desc())
            )
            for contact_id, email in connection.execute(query):
                by_email.setdefault(email, contact_id)
            unknown = emails - by_email.keys()
            if unknown:
                erasures = Erasures(session, unknown)
        known = interaction_service.Known.read(
            connection,
            self.context.interaction_kinds,
            {r.values["contact_id"] for r in rows if "contact_id" in r.values}
            | set(by_email.values()),
            {r.values["lead_id"] for r in rows if "lead_id" in r.values},
        )
        externals = {r.values["external_id"] for r in rows if "external_id" in r.values}
        stored_externals: set[str] = set()
        if externals:
            column = INTERACTIONS.c.external_id
            query = select(column).where(in_values(column, externals, dialect))
            stored_externals = set(connection.execute(query).scalars())
        return _LookedUp(by_email, erasures, known, stored_externals)

    def checked(self, row: Row, looked_up: _LookedUp) -> tuple[int | None, list[RowError]]:
        """The contact the row's interaction belongs to, and the row's errors, in the file's
        order: what the row says, then whom it is about."""
        values = row.values
        contact_id = values.get("contact_id")
        email = values.get("email")
        by_email_errors: list[RowError] = []
        if email is not None:
            contact_id, by_email_errors = self.by_email(row, email, contact_id, looked_up)
        lead_id = values.get("lead_id")
        contact_id, problems = interaction_service.check(
            looked_up.known, values["kind"], values["occurred_at"], contact_id, lead_id
        )
        found = [self.error(row, f, r) for f, r in problems if f in ("kind", "occurred_at")]
        found += by_email_errors
        found += [self.error(row, f, r) for f, r in problems if f in ("contact_id", "lead_id")]
        if contact_id is None and lead_id is None and email is None:
            found.append(
                RowError(
                    row.line,
                    None,
                    "an interaction belongs to a contact (contact_id or email), a lead "
                    "(lead_id), or both",
                )
            )
        return contact_id, found

    def by_email(
        self, row: Row, email: str, contact_id: int | None, looked_up: _LookedUp
    ) -> tuple[int | None, list[RowError]]:
        """The contact whose email the row gives, unless none has it or the row names
        another."""
        found = looked_up.by_email.get(email)
        if found is None:
            erasures = looked_up.erasures
            erased = erasures is not None and email in erasures
            reason = ERASED if erased else "there is no contact with this email"
            return contact_id, [self.error(row, "email", reason)]
        if contact_id is not None and contact_id != found:
            reason = f"is the email of contact {found}, not of {contact_id}"
            return contact_id, [self.error(row, "email", reason)]
        return found, []


@dataclass(frozen=True)
class _LookedUp:
    by_email: dict[str, int]  # the contact of each email (the most recently updated)
    erasures: Erasures | None  # erased persons among the emails no contact has
    known: interaction_service.Known
    externals: set[str]  # the external ids stored already
