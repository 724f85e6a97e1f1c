"""The lead fields a stage can gather as steps, and how their values are checked."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

TEXT_MAX = 10_000


class FieldType(StrEnum):
    BOOLEAN = "boolean"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"
    CONTACT = "contact"
    ACCOUNT = "account"


# Fields every lead has as columns. Any other step field is a custom field kept in the
# lead's attributes, and must declare its type in stages.yaml.
BUILTIN_FIELDS: dict[str, FieldType] = {
    "topic": FieldType.TEXT,
    "owner": FieldType.TEXT,
    "parent_contact_id": FieldType.CONTACT,
    "parent_account_id": FieldType.ACCOUNT,
    "sales_ready": FieldType.BOOLEAN,
}


class FieldValueError(ValueError):
    """A value that does not fit the declared type of a step field."""


def check_value(field_type: FieldType, value: Any, choices: list[str] | None = None) -> Any:
    """Return the value to store for a step field, or raise FieldValueError saying why not.

    None always clears the field.
    """
    if value is None:
        return None
    match field_type:
        case FieldType.BOOLEAN:
            if not isinstance(value, bool):
                raise FieldValueError("must be true or false")
        case FieldType.TEXT:
            if not isinstance(value, str):
                raise FieldValueError("must be a string")
            if len(value) > TEXT_MAX:
                raise FieldValueError(f"must be at most {TEXT_MAX} characters")
        case FieldType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FieldValueError("must be a number")
        case FieldType.DATE:
            if not isinstance(value, str):
                raise FieldValueError("must be a date written YYYY-MM-DD")
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise FieldValueError("must be a date written YYYY-MM-DD") from None
        case FieldType.CHOICE:
            if value not in (choices or []):
                raise FieldValueError(f"must be one of: {', '.join(choices or [])}")
        case FieldType.CONTACT | FieldType.ACCOUNT:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise FieldValueError(f"must be the id of an existing {field_type.value}")
    return value


def is_filled(field_type: FieldType, value: Any) -> bool:
    """Whether a required step counts as done: a boolean must be true, anything else set."""
    if field_type is FieldType.BOOLEAN:
        return value is True
    return value is not None and value != ""
