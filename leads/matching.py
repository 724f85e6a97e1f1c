"""Matching strategies: which fields must be equal for a submission to be an existing record."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Entity(StrEnum):
    CONTACT = "contact"
    LEAD = "lead"


# The fields a strategy may compare, per entity. `context` is the lead's marketing context
# (the form, page or event it came from); `parent_contact` is the contact matched first.
FIELDS: dict[Entity, tuple[str, ...]] = {
    Entity.CONTACT: (
        "email",
        "first_name",
        "last_name",
        "phone",
        "company",
        "job_title",
        "country",
        "industry",
    ),
    Entity.LEAD: ("email", "context", "topic", "parent_contact"),
}


@dataclass(frozen=True)
class Strategy:
    name: str
    entity: Entity
    fields: tuple[str, ...]


DEFAULTS = {
    Entity.CONTACT: Strategy("default contact matching", Entity.CONTACT, ("email",)),
    Entity.LEAD: Strategy("default lead matching", Entity.LEAD, ("email", "context")),
}


def comparable(field: str, value: object) -> object:
    """The value as compared: emails case-insensitively, text trimmed, everything else as is."""
    if isinstance(value, str):
        value = value.strip()
        return value.lower() if field == "email" else value
    return value
