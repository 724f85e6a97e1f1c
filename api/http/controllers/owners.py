"""POST /api/leads/{id}/take and /hand-off: people who act on who owns a lead."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.http.auth import roles
from api.http.conditional import etag, expected
from api.http.controllers.params import IfMatch, RecordId
from api.http.problems import Problem
from api.http.state import services
from api.services import leads as lead_service
from api.services import owners as service
from api.services.keys import Principal, Role
from api.services.schemas.leads import LeadRead
from api.services.schemas.owners import HandOffRequest, TakeRequest
from leads.models import Lead

WORKERS = roles(Role.TELEPROSPECTOR, Role.SALESPERSON)


def _answer(request: Request[Principal, Any, State], lead: Lead) -> Response[LeadRead]:
    [read] = lead_service.reads(services(request).db, services(request).catalog, [lead])
    return Response(read, headers={"ETag": etag(lead.version)})


def acting_seller(principal: Principal, field: str, needs: str) -> str:
    """The seller the key acts for; 403 naming `field` when it acts for none."""
    if principal.seller is None:
        reason = (
            f"the API key '{principal.name}' acts for no seller, so {needs}; "
            "create one with `leadflow keys create --seller HANDLE`"
        )
        errors = [{"field": field, "reason": reason}]
        raise Problem(403, "no-seller", "Forbidden", f"{field}: {reason}", errors=errors)
    return principal.seller


class OwnerController(Controller):
    path = "/api/leads/{lead_id:int}"
    tags = ["assignment"]

    @post("/take", opt=WORKERS, sync_to_thread=True, status_code=200, operation_id="TakeLead")
    def take(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
        data: JSONBody[TakeRequest | None] = None,
        if_match: IfMatch = None,
    ) -> Response[LeadRead]:
        """Take a lead without an owner from a queue you work (salespeople: sales and
        unassigned; teleprospectors: teleprospecting), for the seller your key acts for,
        within their capacity (`If-Match` required). A lead someone took meanwhile gets 412,
        or 409 lead-owned; a key that acts for no active seller gets 409."""
        db, catalog = services(request).db, services(request).catalog
        lead = service.take(
            db, catalog, request.user, lead_id, expected(if_match), data or TakeRequest()
        )
        return _answer(request, lead)

    @post(
        "/hand-off", opt=WORKERS, sync_to_thread=True, status_code=200, operation_id="HandOffLead"
    )
    def hand_off(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
        data: JSONBody[HandOffRequest],
        if_match: IfMatch = None,
    ) -> Response[LeadRead]:
        """Hand a lead you own to an active seller of your team, with the reason (`If-Match`
        required). Admins hand any lead to any active seller, past capacity only with
        `exceed_capacity`."""
        db, catalog = services(request).db, services(request).catalog
        lead = service.hand_off(db, catalog, request.user, lead_id, expected(if_match), data)
        return _answer(request, lead)
