"""The kinds, states and sources of activities: plain values, no table, so that `bpf` can
name them without loading the storage layer."""

from __future__ import annotations

from enum import StrEnum


class ActivityKind(StrEnum):
    TASK = "task"
    PHONE_CALL = "phone_call"
    APPOINTMENT = "appointment"


class ActivityStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELED = "canceled"


class ActivitySource(StrEnum):
    """What made an activity: entering a stage, a qualification action, or a person."""

    STAGE_ENTRY = "stage_entry"
    QUALIFICATION = "qualification"
    MANUAL = "manual"


class CallOutcome(StrEnum):
    """How a logged phone call went; kept on the call and on its `phone_call` interaction."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    WRONG_NUMBER = "wrong_number"
