"""Importing leads: matched among open leads by the lead strategy, written by
`lead_writes` as every lead is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session

from api.services import assignment, lead_writes, matching
from api.services.imports.erasures import Erasures
from api.services.imports.matching import matches
from api.services.imports.report import Report
from api.services.imports.writer import (
    ACCOUNTS,
    CONTACTS,
    ERASED,
    LEADS,
    Context,
    Writer,
    existing_ids,
    locking,
)
from api.services.lead_writes import Draft
from api.services.scoring import evaluation
from bpf.validation import suggest
from leads.csvimport import Row, RowError
from leads.matching import Entity, comparable
from leads.models import LeadStatus
from leads.types import utcnow

LEAD_KEY_COLUMNS = ("email", "topic", "context_kind", "context_id", "parent_contact_id")
OWNER_REASON = "set by an import's owner column"


class LeadWriter(Writer):
    """Leads: matched among open leads by the lead strategy; new ones start in the first stage
    of their process, and what their fields set off (sales ready, a boolean step) moves them."""

    table = LEADS

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.strategy = matching.DEFAULTS[Entity.LEAD]

    def rescore(self, session: Session, last: int) -> None:
        leads = self.changed | set(self.new_ids(session, last))
        if leads:
            catalog = self.context.catalog
            # Imported leads that are sales ready or in a routing stage get their owners first,
            # as the API's changes do.
            assignment.route(session.connection(), catalog, leads, self.context.actor, utcnow())
            evaluation.rescore(session, catalog, lead_ids=sorted(leads))
        self.changed.clear()

    def warnings(self, session: Session) -> list[str]:
        self.strategy = matching.strategy(session, Entity.LEAD, None)
        gives = set(self.plan.fields)
        names = {
            "email": {"email"},
            "topic": {"topic"},
            "context": {"context_kind", "context_id"},
            "parent_contact": {"parent_contact_id"},
        }
        missing = [f for f in self.strategy.fields if not names[f] <= gives]
        if not missing:
            return []
        return [
            f"the lead matching strategy '{self.strategy.name}' compares "
            f"{', '.join(self.strategy.fields)}, but the file does not give {', '.join(missing)}: "
            "every row creates a new lead"
        ]

    def key(self, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        key: list[Any] = []
        for name in self.strategy.fields:
            if name == "context":
                kind, ident = values.get("context_kind"), values.get("context_id")
                if kind is None or ident is None:
                    return None
                key.append((kind, ident))
            elif name == "parent_contact":
                contact = values.get("parent_contact_id")
                if contact is None:
                    return None
                key.append(contact)
            else:
                value = values.get(name)
                if value is None:
                    return None
                key.append(comparable(name, value))
        return tuple(key)

    def apply(
        self, session: Session, rows: list[Row], report: Report, *, write: bool
    ) -> list[RowError]:
        errors, good = self.checked(session, rows)
        keyed: dict[tuple[Any, ...], list[Row]] = {}
        singles: list[Row] = []
        for row in good:
            key = self.key(row.values)
            if key is None:
                singles.append(row)
            else:
                keyed.setdefault(key, []).append(row)
        connection = session.connection()
        stored = self.stored(connection, keyed, lock=locking(session, write))
        now = utcnow()
        drafts: list[Draft] = []
        for key, group in keyed.items():
            draft = self.merged(stored.get(key), group, report, errors, now)
            if draft is not None:
                drafts.append(draft)
        for row in singles:
            drafts.append(self.new(row.values, now))
            report.created += 1
        if write:
            catalog, actor = self.context.catalog, self.context.actor
            owned = any(d.stored is None and d.values["owner"] is not None for d in drafts)
            changed = lead_writes.store(connection, catalog, drafts, actor, now, ids=owned)
            self.changed.update(d.values["id"] for d in changed)
            owners = [
                (d.values["id"], previous, d.values["owner"])
                for d in drafts
                if (previous := None if d.stored is None else d.stored["owner"])
                != d.values["owner"]
            ]
            assignment.record_by_hand(
                connection, owners, actor, now, strategy=assignment.IMPORT, reason=OWNER_REASON
            )
        return errors

    def checked(self, session: Session, rows: list[Row]) -> tuple[list[RowError], list[Row]]:
        """The errors of the rows, and the good rows: their parents exist, their process is
        one of stages.yaml, a marketing context is whole, their email is no erased person's."""
        contacts = existing_ids(
            session,
            CONTACTS,
            {r.values["parent_contact_id"] for r in rows if "parent_contact_id" in r.values},
        )
        accounts = existing_ids(
            session,
            ACCOUNTS,
            {r.values["parent_account_id"] for r in rows if "parent_account_id" in r.values},
        )
        erasures = Erasures(session, [r.values["email"] for r in rows if "email" in r.values])
        owners = assignment.owner_problems(
            session.connection(), {r.values["owner"] for r in rows if "owner" in r.values}
        )
        errors: list[RowError] = []
        good: list[Row] = []
        for row in rows:
            found = self.problems(row, contacts, accounts, erasures, owners)
            if found:
                errors += found
            else:
                good.append(row)
        return errors, good

    def problems(
        self,
        row: Row,
        contacts: set[int],
        accounts: set[int],
        erasures: Erasures,
        owners: Mapping[str, str],
    ) -> list[RowError]:
        catalog = self.context.catalog
        values = row.values
        found: list[RowError] = []
        owner = values.get("owner")
        if owner in owners:
            found.append(self.error(row, "owner", owners[owner]))
        contact = values.get("parent_contact_id")
        if contact is not None and contact not in contacts:
            found.append(self.error(row, "parent_contact_id", f"there is no contact {contact}"))
        account = values.get("parent_account_id")
        if account is not None and account not in accounts:
            found.append(self.error(row, "parent_account_id", f"there is no account {account}"))
        process = values.get("process")
        if process is not None and process not in catalog.processes:
            hint = suggest(process, catalog.processes)
            found.append(
                self.error(
                    row,
                    "process",
                    f"'{process}' is not a process"
                    + (f"; {hint}" if hint else f"; one of: {', '.join(catalog.processes)}"),
                )
            )
        for given, other in (("context_kind", "context_id"), ("context_id", "context_kind")):
            if given in values and other not in values:
                found.append(self.error(row, given, f"a marketing context needs {other} too"))
        email = values.get("email")
        if email is not None and email in erasures:
            found.append(
                self.error(
                    row,
                    "email",
                    f"{ERASED}; import them as a contact with their consent first",
                )
            )
        return found

    def merged(
        self,
        current: dict[str, Any] | None,
        group: list[Row],
        report: Report,
        errors: list[RowError],
        now: dt.datetime,
    ) -> Draft | None:
        """The lead the rows of a key make, in the file's order: the stored lead they match,
        or a new one made by the first; a row that names another process is an error."""
        draft = Draft.of(current) if current is not None else None
        for row in group:
            if draft is None:
                draft = self.new(row.values, now)
                report.created += 1
                continue
            process = row.values.get("process")
            if process is not None and process != draft.process:
                which = (
                    f"lead {draft.values['id']}"
                    if draft.stored is not None
                    else "an earlier row's lead"
                )
                errors.append(
                    self.error(
                        row,
                        "process",
                        f"matches {which}, which walks process '{draft.process}'; an "
                        "import does not move a lead to another process",
                    )
                )
                continue
            if self.merge(draft, row.values, now):
                report.updated += 1
            else:
                report.unchanged += 1
        return draft

    def stored(
        self, connection: Connection, keyed: Mapping[tuple[Any, ...], list[Row]], *, lock: bool
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        first = self.strategy.fields[0]
        if first == "context":
            column, values = "context_id", {key[0][1] for key in keyed}
        elif first == "parent_contact":
            column, values = "parent_contact_id", {key[0] for key in keyed}
        else:
            column, values = first, {key[0] for key in keyed}
        found = matches(
            connection,
            LEADS,
            column,
            values,
            LEAD_KEY_COLUMNS,
            self.key,
            keyed,
            lock=lock,
            where=[LEADS.c.status == LeadStatus.OPEN.value],
        )
        for record in found.values():
            record["attributes"] = dict(record["attributes"] or {})
        return found

    def new(self, values: Mapping[str, Any], now: dt.datetime) -> Draft:
        return lead_writes.start(self.context.catalog, values, now)

    def merge(self, draft: Draft, values: Mapping[str, Any], now: dt.datetime) -> bool:
        """Apply a row's values to a lead; False when nothing changed. Empty cells change
        nothing; attributes are merged key by key."""
        changes = {
            name: values[name] for name in lead_writes.FIELDS if values.get(name) is not None
        }
        given = values["attributes"]
        attributes = draft.values["attributes"]
        if any(attributes.get(k) != v for k, v in given.items()):
            changes["attributes"] = {**attributes, **given}
        return lead_writes.change(self.context.catalog, draft, changes, now)
