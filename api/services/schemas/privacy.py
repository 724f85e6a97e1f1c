"""The document a privacy export is: everything held about a person."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from api.services.schemas.activities import ActivityRead
from api.services.schemas.audit import AuditEntryRead
from api.services.schemas.contacts import ConsentChangeRead, ContactRead
from api.services.schemas.interactions import InteractionRead
from api.services.schemas.leads import LeadRead, StageChangeRead
from api.services.schemas.opportunities import OpportunityRead
from api.services.schemas.scoring import ModelScoreRead


class ExportedContact(ContactRead):
    consent: list[ConsentChangeRead] = Field(description="Its consent statements, oldest first.")


class ExportedLead(LeadRead):
    stage_history: list[StageChangeRead]
    scores: list[ModelScoreRead] = Field(description="Its scores, each rule's part explained.")


class ExportedAuditEntry(AuditEntryRead):
    entity: str = Field(description="contact or lead.")
    entity_id: int


class Exporter(BaseModel):
    actor: str = Field(description="user (an API key) or system (the command line).")
    name: str | None


class ContactExport(BaseModel):
    exported_at: dt.datetime
    exported_by: Exporter
    contact: ExportedContact
    other_contacts: list[ExportedContact] = Field(
        description="The person's other contact records: those with the same email."
    )
    leads: list[ExportedLead] = Field(description="Theirs by parent contact or by email.")
    activities: list[ActivityRead]
    opportunities: list[OpportunityRead]
    interactions: list[InteractionRead] = Field(
        description="Each contact's, then those credited to the leads alone; oldest first."
    )
    audit: list[ExportedAuditEntry] = Field(
        description="Each record's entries, oldest first, this export's among them."
    )
