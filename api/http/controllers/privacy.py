"""GET /api/contacts/{id}/export: a person's data, as the right of access asks for it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.response import Stream

from api.http.auth import roles
from api.http.controllers.params import RecordId
from api.http.state import services
from api.services import privacy_export
from api.services.keys import Principal
from api.services.schemas.privacy import ContactExport
from bpf.actors import Actor


class PrivacyController(Controller):
    path = "/api/contacts"
    tags = ["contacts"]

    @get(
        "/{contact_id:int}/export",
        opt=roles(),
        sync_to_thread=True,
        operation_id="ExportContact",
        responses={
            200: ResponseSpec(
                data_container=ContactExport,
                media_type=MediaType.JSON,
                description="The person's data, streamed",
            )
        },
    )
    def export(self, request: Request[Principal, Any, State], contact_id: RecordId) -> Stream:
        """Everything held about a person (the GDPR right of access), as one JSON document:
        the contact and the other contact records with its email, consent records, the leads
        that are theirs with their stage history and scores explained, activities,
        opportunities, interactions and audit entries. Admins only; the export itself is
        recorded in the contact's audit log (field `privacy_export`). Streamed: interactions
        and audit entries are read a page at a time. An erased contact is 404."""
        service = services(request)
        pieces = privacy_export.export_contact(
            service.db, service.catalog, contact_id, Actor.user(request.user)
        )
        filename = f"contact-{contact_id}.json"
        return Stream(
            pieces,
            media_type=MediaType.JSON,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
