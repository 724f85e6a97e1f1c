"""Conditional requests: a record's version goes out as its ETag and comes back as If-Match."""

from __future__ import annotations

import re

from api.storage.locking import ANY, Expected

_TAG = re.compile(r'"(\d+)"')


def etag(version: int) -> str:
    return f'"{version}"'


def expected(if_match: str | None) -> Expected | None:
    """The versions an If-Match header names: `*` for any, strong tags of versions otherwise;
    any other tag names no version, so the change is refused as stale."""
    if if_match is None:
        return None
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags:
        return ANY
    return Expected(frozenset(int(m[1]) for t in tags if (m := _TAG.fullmatch(t))))
