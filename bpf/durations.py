"""Durations as people write them: 90s, 30m, 12h, 30d, 2w."""

from __future__ import annotations

import datetime as dt
import re

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
FORMAT = "a whole number and a unit: s, m (minutes), h, d or w, as in 30m, 12h, 30d"


def parse_duration(text: str) -> dt.timedelta:
    """The duration `text` names; ValueError saying why when it names none."""
    found = _DURATION.match(text)
    if found is None:
        raise ValueError(f"'{text}' is not a duration: {FORMAT}")
    seconds = int(found.group(1)) * _UNITS[found.group(2)]
    if seconds <= 0:
        raise ValueError(f"'{text}' is not longer than zero")
    return dt.timedelta(seconds=seconds)
