"""The shape of stages.yaml, as pydantic models. Meaning is checked in bpf.validation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bpf.durations import parse_duration
from bpf.fields import FieldType

Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64),
]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# A reason a lead or an opportunity is closed with: stored as a status reason of 40 characters.
ReasonName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40),
]

# Outcomes that scoring and qualification report; a boolean step field that becomes true
# is an outcome of the same name too.
SYSTEM_OUTCOMES = ("lead_scored", "sales_ready", "marketing_qualified")

# The scoring configuration switches an automation may be gated by.
SWITCHES = (
    "automatic_sales_ready",
    "automated_marketing_qualification",
    "automatic_lead_score_cleanup",
)

NEXT = "next"
ANY_STAGE = "*"

# The reasons a lead is disqualified with when its process names none.
DEFAULT_DISQUALIFY_REASONS = ("lost", "cannot_contact", "no_longer_interested", "canceled")
# The reasons an opportunity is lost with when stages.yaml names none.
DEFAULT_LOST_REASONS = ("out_sold", "no_budget", "no_decision", "timing", "canceled")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepDef(_Strict):
    field: Name
    label: Label | None = None
    type: FieldType | None = None
    required: bool = False
    choices: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = None


class ActivityDef(_Strict):
    """An activity made for the lead's owner: on entering a stage, or by a qualification action.

    `kind` and `due_in` are checked in bpf.validation, so a mistake gets its line and a hint.
    """

    kind: Name
    subject: Label
    due_in: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    description: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None

    @property
    def due_after(self) -> dt.timedelta:
        return parse_duration(self.due_in)


class StageDef(_Strict):
    name: Name
    label: Label | None = None
    steps: list[StepDef] = Field(default_factory=list)
    # Made for the lead's owner each time a lead enters the stage.
    activities: list[ActivityDef] = Field(default_factory=list)
    # Where completing the stage leads; absent means the following stage, null means nowhere.
    next: Name | None = None
    # The work queue that lists the stage's open leads.
    queue: Literal["teleprospecting", "sales"] | None = None
    # Entering the stage hands the lead to sales routing (assignment rules); its open leads
    # are in the sales queue.
    routes_to_sales: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def next_declared(self) -> bool:
        return "next" in self.model_fields_set


class GuardDef(_Strict):
    field: Name
    equals: Any = None
    is_set: bool | None = None
    one_of: list[Any] | None = None

    @model_validator(mode="after")
    def _one_test(self) -> GuardDef:
        tests = [k for k in ("equals", "is_set", "one_of") if k in self.model_fields_set]
        if len(tests) != 1:
            raise ValueError("a guard names its field and exactly one of: equals, is_set, one_of")
        return self


class TransitionDef(_Strict):
    trigger: Name
    source: Name | Literal["*"] | list[Name]
    dest: Name
    guards: list[GuardDef] = Field(default_factory=list)
    label: Label | None = None

    def sources(self, stages: list[str]) -> list[str]:
        """The stages this transition leaves from; "*" is every stage but the destination."""
        if self.source == ANY_STAGE:
            return [s for s in stages if s != self.dest]
        return [self.source] if isinstance(self.source, str) else list(self.source)


class AutomationDef(_Strict):
    """An outcome fires a trigger (`when`), or time does: a lead that has sat in `stage` for
    `after` (30d, 12h, ...) fires it, as the scheduler."""

    when: Name | None = None
    after: str | None = None
    stage: Name | None = None
    fire: Name
    switch: Name | None = None

    @property
    def delay(self) -> dt.timedelta:
        assert self.after is not None
        return parse_duration(self.after)


class ProcessDef(_Strict):
    name: Name
    label: Label | None = None
    default: bool = False
    stages: list[StageDef] = Field(min_length=1)
    transitions: list[TransitionDef] = Field(default_factory=list)
    automations: list[AutomationDef] = Field(default_factory=list)
    # Stages that were renamed: leads still sitting in the old name move to the new one.
    renamed: dict[Name, Name] = Field(default_factory=dict)
    # The reasons a lead of this process may be disqualified with; absent: the default four.
    disqualify_reasons: list[ReasonName] | None = Field(default=None, min_length=1)
    # The stages a lead may be qualified from (its stage's required steps filled); absent:
    # every stage.
    qualify_from: list[Name] | None = Field(default=None, min_length=1)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class OpportunitiesDef(_Strict):
    # The reasons an opportunity may be lost with.
    lost_reasons: list[ReasonName] = Field(
        default_factory=lambda: list(DEFAULT_LOST_REASONS), min_length=1
    )


class StagesFileDef(_Strict):
    processes: list[ProcessDef] = Field(min_length=1)
    renamed_processes: dict[Name, Name] = Field(default_factory=dict)
    opportunities: OpportunitiesDef = Field(default_factory=OpportunitiesDef)
