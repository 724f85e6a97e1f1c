"""Importing accounts, matched by name."""

from __future__ import annotations

from sqlmodel import Session

from api.services.imports.records import RecordWriter
from api.services.imports.writer import ACCOUNTS
from api.services.scoring import evaluation
from leads.audit import Entity as Audited

ACCOUNT_COLUMNS = ("name", "industry", "employees", "revenue", "country")


class AccountWriter(RecordWriter):
    table = ACCOUNTS
    audited = Audited.ACCOUNT
    fields = ACCOUNT_COLUMNS
    key_fields = ("name",)

    def rescore(self, session: Session, last: int) -> None:
        # A new account has no contacts or leads yet: only changed ones score differently.
        if self.changed:
            evaluation.rescore_for(session, self.context.catalog, account_ids=sorted(self.changed))
        self.changed.clear()
