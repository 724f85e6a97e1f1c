"""Durations as people write them in stages.yaml, settings and requests: 90s, 30m, 12h, 3d, 1w."""

from __future__ import annotations

import datetime as dt
import re

_DURATION = re.compile(r"^\s*([0-9]{1,4})\s*([smhdw])\s*$")
# The same durations, longer than zero, as one JSON Schema pattern.
PATTERN = r"^\s*(?:[1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9])\s*[smhdw]\s*$"
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
HINT = (
    "a whole number and a unit: s (seconds), m (minutes), h (hours), d (days) or w (weeks), "
    "e.g. 30m, 12h, 3d, 1w"
)


def parse_duration(text: str) -> dt.timedelta:
    """The duration `text` names; ValueError saying why when it names none."""
    found = _DURATION.match(text)
    if found is None:
        raise ValueError(f"'{text}' is not a duration")
    seconds = int(found.group(1)) * _SECONDS[found.group(2)]
    if seconds == 0:
        raise ValueError(f"'{text}' is not longer than zero")
    return dt.timedelta(seconds=seconds)
