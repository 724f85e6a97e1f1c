"""Activities as the API accepts and returns them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from api.services.schemas.common import (
    Email,
    Input,
    Instant,
    PositiveId,
    Reason,
    Text200,
    given,
)
from api.services.schemas.sellers import Handle
from bpf.durations import HINT, PATTERN, parse_duration
from leads.activities import Activity, ActivityKind, ActivitySource, ActivityStatus, CallOutcome

Description = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


def _duration(value: str) -> str:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{exc}: {HINT}") from None
    return value


DueIn = Annotated[
    str,
    StringConstraints(max_length=20),
    AfterValidator(_duration),
    Field(description="A duration: 30m, 2h, 3d, 1w.", json_schema_extra={"pattern": PATTERN}),
]


# Who attends an appointment: an email, or the handle of a seller (an email as its JSON Schema
# says; a handle the service checks against the sellers).
Attendee = Annotated[Email | Handle, Field(description="An email, or a seller's handle.")]
APPOINTMENT = {
    **given(["starts_at", "ends_at"]),
    "required": ["kind", "starts_at", "ends_at"],
}
APPOINTMENT["properties"]["kind"] = {"const": ActivityKind.APPOINTMENT.value}
NOT_APPOINTMENT = given([], absent=["starts_at", "ends_at", "attendees"])
NOT_APPOINTMENT["properties"]["kind"] = {
    "enum": [k.value for k in ActivityKind if k is not ActivityKind.APPOINTMENT]
}


class ActivityCreate(Input):
    """An activity made by hand for a lead: due at a time, or in a duration from now. An
    appointment has a start, an end after it, and attendees; other kinds have none."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "anyOf": [
                        given(["due_at"], absent=["due_in"]),
                        given(["due_in"], absent=["due_at"]),
                    ]
                },
                {"anyOf": [APPOINTMENT, NOT_APPOINTMENT]},
            ]
        }
    )

    lead_id: PositiveId
    kind: ActivityKind
    subject: Text200
    description: Description | None = None
    due_at: Instant | None = None
    due_in: DueIn | None = Field(default=None, description="Due this long from now.")
    owner: Text200 | None = Field(
        default=None, description="Whose activity it is; the lead's owner if absent."
    )
    starts_at: Instant | None = Field(default=None, description="Appointments: the start.")
    ends_at: Instant | None = Field(default=None, description="Appointments: the end.")
    attendees: (
        Annotated[list[Attendee], Field(max_length=50, json_schema_extra={"uniqueItems": True})]
        | None
    ) = Field(default=None, description="Appointments: who attends, 50 at most.")

    @model_validator(mode="after")
    def _one_due(self) -> ActivityCreate:
        if (self.due_at is None) == (self.due_in is None):
            raise ValueError("give exactly one of due_at and due_in")
        return self


class ActivityClose(Input):
    """Completing or canceling an activity, with an optional note on how it went."""

    note: Reason | None = None


class ActivityComplete(ActivityClose):
    """Completing an activity; a phone call may say how it went, which scoring models read
    as a `phone_call` interaction with the property `outcome`."""

    call_outcome: CallOutcome | None = Field(
        default=None, description="Phone calls only: reached, no_answer, left_message, ..."
    )


class CallLog(Input):
    """A phone call made to the lead, logged as it ends: a completed phone_call activity and
    a `phone_call` interaction with the property `outcome`."""

    outcome: CallOutcome
    subject: Text200 = "Call"
    note: Reason | None = None


class ActivityRead(BaseModel):
    id: int
    kind: ActivityKind
    subject: str
    description: str | None
    lead_id: int
    owner: str | None
    due_at: dt.datetime
    status: ActivityStatus
    source: ActivitySource
    source_process: str | None = Field(description="The process of the stage entered.")
    source_stage: str | None = Field(description="The stage whose entry made the activity.")
    source_ref: str | None = Field(description="The id of the qualification that made it.")
    created_by: str | None
    completed_at: dt.datetime | None
    completed_by: str | None
    canceled_at: dt.datetime | None
    canceled_by: str | None
    outcome: str | None = Field(description="The note given on completing or canceling.")
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    attendees: list[str] | None
    call_outcome: CallOutcome | None = Field(description="How a logged phone call went.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, activity: Activity) -> ActivityRead:
        return cls.model_validate(activity, from_attributes=True)


class ActivityPage(BaseModel):
    items: list[ActivityRead]
    next_cursor: str | None
