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
