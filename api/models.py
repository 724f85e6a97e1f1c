"""Every table of the service, imported in one place so the metadata is complete."""

from api.keys import ApiKey
from leads.models import Lead, StageChange

__all__ = ["ApiKey", "Lead", "StageChange"]
