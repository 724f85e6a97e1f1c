"""Cursor pagination in id order: a page and an opaque cursor to the next one."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from leads.errors import InvalidInput

MAX_PAGE = 200

T = TypeVar("T")


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the page starts; 0 for the first page."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id" or not value.isdigit():
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput.field("cursor", "not a cursor this API returned") from None


def page(rows: list[T], limit: int) -> tuple[list[T], str | None]:
    """Rows were read with limit + 1: keep `limit` of them and say where the next page starts."""
    if len(rows) <= limit:
        return rows, None
    last: Any = rows[limit - 1]
    return rows[:limit], encode_cursor(last.id)
