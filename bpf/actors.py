"""Who changes a lead: a person, or one of leadflow's own automations."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class ActorKind(StrEnum):
    """Switches gate every kind of actor but a user."""

    USER = "user"
    SCORING = "scoring"
    QUALIFICATION = "qualification"
    SCHEDULER = "scheduler"
    SYSTEM = "system"


class Person(Protocol):
    """Whoever a user acts as: a name, and the API key they act with, if any."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int | None: ...


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    name: str | None = None
    key_id: int | None = None  # the API key a person acted with

    @classmethod
    def user(cls, person: Person) -> Actor:
        return cls(ActorKind.USER, person.name, person.key_id)

    @property
    def automated(self) -> bool:
        return self.kind is not ActorKind.USER


SCORING = Actor(ActorKind.SCORING)
QUALIFICATION = Actor(ActorKind.QUALIFICATION)
SCHEDULER = Actor(ActorKind.SCHEDULER)
SYSTEM = Actor(ActorKind.SYSTEM)
