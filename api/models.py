"""Every table of the service, imported in one place so the metadata is complete."""

from api.idempotency import IdempotencyRecord
from api.job_runs import JobRun
from api.keys import ApiKey
from api.leases import JobLease
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
    "JobLease",
    "JobRun",
    "Lead",
    "LeadScore",
    "LeadgenSource",
    "MatchingStrategy",
    "ScoringConfiguration",
    "ScoringModel",
    "ServiceSecret",
    "StageChange",
]
