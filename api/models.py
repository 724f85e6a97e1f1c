"""Every table of the service, imported in one place so the metadata is complete."""

from api.idempotency import IdempotencyRecord
from api.keys import ApiKey
from api.secrets import ServiceSecret
from api.webhook_tables import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
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
from scoring.tables import (
    AccountScore,
    EvaluationRun,
    LeadScore,
    ScoringConfiguration,
    ScoringModel,
)

__all__ = [
    "Account",
    "AccountScore",
    "ApiKey",
    "ConsentChange",
    "Contact",
    "ErasedPerson",
    "EvaluationRun",
    "Form",
    "IdempotencyRecord",
    "Interaction",
    "Lead",
    "LeadScore",
    "LeadgenSource",
    "MatchingStrategy",
    "ScoringConfiguration",
    "ScoringModel",
    "ServiceSecret",
    "StageChange",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
]
