"""Cursor pagination: a page and an opaque cursor to the next one, in id order or in the
order of a sort key (ties in id order)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, literal, or_, tuple_

from leads.errors import InvalidInput

MAX_PAGE = 200
# The largest id every JSON client reads exactly (and the OpenAPI document, which Litestar
# writes through a float, states exactly); ids are far from it. A cursor past it is forged.
MAX_ID = 2**53 - 1

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
        if kind != "id" or not value.isascii() or not value.isdigit() or len(value) > 16:
            raise ValueError
        return _id(int(value))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput.field("cursor", "not a cursor this API returned") from None


def _id(number: int) -> int:
    if not 0 <= number <= MAX_ID:
        raise ValueError
    return number


def page(rows: list[T], limit: int) -> tuple[list[T], str | None]:
    """Rows were read with limit + 1: keep `limit` of them and say where the next page starts."""
    if len(rows) <= limit:
        return rows, None
    last: Any = rows[limit - 1]
    return rows[:limit], encode_cursor(last.id)


Key = float | dt.datetime


@dataclass(frozen=True)
class Order:
    """A sort: its key (a number or a time), the id breaking ties, and the directions.

    Ties go the key's way unless `ties_ascending`: then a descending key can still keep the
    oldest first among equals, at the price of an index the database cannot walk alone."""

    key: ColumnElement[Any]
    ident: ColumnElement[Any]
    descending: bool
    time: bool  # the key is a time, else a number
    ties_ascending: bool = False

    def apply(self, query: Select[Any], cursor: str | None, limit: int) -> Select[Any]:
        """The query ordered, from the cursor's position on, at most `limit` + 1 rows."""
        if cursor is not None:
            key, last_id = self._decode(cursor)
            query = query.where(self._after(key, last_id))
        tie = self.ident if self.ties_ascending or not self.descending else self.ident.desc()
        return query.order_by(self.key.desc() if self.descending else self.key, tie).limit(
            limit + 1
        )

    def page(
        self, rows: Sequence[Mapping[str, Any]], limit: int, key: str, ident: str
    ) -> tuple[list[Mapping[str, Any]], str | None]:
        """Rows were read with limit + 1: keep `limit` of them and encode where the next page
        starts from the last one's `key` and `ident` values."""
        if len(rows) <= limit:
            return list(rows), None
        last = rows[limit - 1]
        value = last[key]
        text = value.astimezone(dt.UTC).isoformat() if self.time else value
        encoded = json.dumps([text, last[ident]]).encode()
        return list(rows[:limit]), base64.urlsafe_b64encode(encoded).decode().rstrip("=")

    def _after(self, key: Key, last_id: int) -> ColumnElement[bool]:
        if self.ties_ascending and self.descending:
            return or_(self.key < key, and_(self.key == key, self.ident > last_id))
        position = tuple_(literal(key, self.key.type), literal(last_id, self.ident.type))
        if self.descending:
            return tuple_(self.key, self.ident) < position
        return tuple_(self.key, self.ident) > position

    def _decode(self, cursor: str) -> tuple[Key, int]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            key, last_id = json.loads(raw)
            if not isinstance(last_id, int) or isinstance(last_id, bool):
                raise ValueError
            if self.time:
                moment = dt.datetime.fromisoformat(key)
                if moment.tzinfo is None:
                    raise ValueError
                return moment.astimezone(dt.UTC), _id(last_id)
            if not isinstance(key, int | float) or isinstance(key, bool):
                raise ValueError
            number = float(key)
            if not math.isfinite(number):
                raise ValueError
            return number, _id(last_id)
        except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput.field(
                "cursor", "not a cursor this API returned for this sort"
            ) from None
