"""Every table of the service, imported in one place so the metadata is complete."""

from api.idempotency import IdempotencyRecord
from api.keys import ApiKey
from api.secrets import ServiceSecret
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
from leads.sellers import AssignmentRule, LeadAssignment, Seller
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
    "AssignmentRule",
    "ConsentChange",
    "Contact",
    "ErasedPerson",
    "EvaluationRun",
    "Form",
    "IdempotencyRecord",
    "Interaction",
    "Lead",
    "LeadAssignment",
    "LeadScore",
    "LeadgenSource",
    "MatchingStrategy",
    "ScoringConfiguration",
    "ScoringModel",
    "Seller",
    "ServiceSecret",
    "StageChange",
]
