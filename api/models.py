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

__all__ = [
    "Account",
    "ApiKey",
    "ConsentChange",
    "Contact",
    "ErasedPerson",
    "Form",
    "IdempotencyRecord",
    "Interaction",
    "Lead",
    "LeadgenSource",
    "MatchingStrategy",
    "ServiceSecret",
    "StageChange",
]
