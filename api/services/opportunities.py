"""Reading the opportunities qualified leads became, as far as the caller may see them."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col

from api.services import access, records
from api.storage.db import Database
from leads.opportunities import Opportunity, OpportunityStatus


def list_opportunities(
    db: Database,
    scope: access.Scope,
    *,
    lead_id: int | None,
    account_id: int | None,
    contact_id: int | None,
    owner: str | None,
    status: OpportunityStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Opportunity], str | None]:
    """A page of the opportunities of leads the scope sees, in id order, filtered."""
    where: list[ColumnElement[bool]] = []
    for column, value in (
        (Opportunity.lead_id, lead_id),
        (Opportunity.account_id, account_id),
        (Opportunity.contact_id, contact_id),
        (Opportunity.owner, owner),
        (Opportunity.status, status.value if status else None),
    ):
        if value is not None:
            where.append(col(column) == value)
    where += access.belongs(col(Opportunity.lead_id), scope)
    return records.listing(db, Opportunity, where, limit, cursor)


def get_opportunity(db: Database, scope: access.Scope, opportunity_id: int) -> Opportunity:
    """The opportunity; 404, as for one that does not exist, unless the scope sees its lead."""
    return access.of_visible_lead(db, scope, Opportunity, opportunity_id, "opportunity")
