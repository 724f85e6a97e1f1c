"""Every table of the service, imported in one place so the metadata is complete."""

from api.storage.api_keys import ApiKey
from api.storage.idempotency_records import IdempotencyRecord
from api.storage.job_runs import JobRun
from api.storage.leases import JobLease
from api.storage.secrets import ServiceSecret
from api.storage.webhook_tables import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from leads.activities import Activity
from leads.audit import AuditEntry
from leads.models import (
    Account,
    ConsentChange,
    Contact,
    ErasedPerson,
    Form,
    Interaction,
    Lead,
    LeadgenSource,
    MatchingStrategy,
    StageChange,
)
from leads.opportunities import Disposition, Opportunity, OpportunityStatusChange
from leads.sellers import AssignmentRule, LeadAssignment, Seller
from scoring.tables import (
    AccountScore,
    EvaluationRun,
    LeadScore,
    Qualification,
    ScoringConfiguration,
    ScoringModel,
)

__all__ = [
    "Account",
    "AccountScore",
    "Activity",
    "ApiKey",
    "AssignmentRule",
    "AuditEntry",
    "ConsentChange",
    "Contact",
    "Disposition",
    "ErasedPerson",
    "EvaluationRun",
    "Form",
    "IdempotencyRecord",
    "Interaction",
    "JobLease",
    "JobRun",
    "Lead",
    "LeadAssignment",
    "LeadScore",
    "LeadgenSource",
    "MatchingStrategy",
    "Opportunity",
    "OpportunityStatusChange",
    "Qualification",
    "ScoringConfiguration",
    "ScoringModel",
    "Seller",
    "ServiceSecret",
    "StageChange",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
]
