"""Durations as stages.yaml writes them: a whole number and a unit, such as 30m, 2h, 3d, 1w."""

from __future__ import annotations

import datetime as dt
import re

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^([1-9][0-9]{0,3})([mhdw])$")
HINT = "a whole number and a unit: m (minutes), h (hours), d (days) or w (weeks), e.g. 2h, 3d, 1w"


def parse_duration(text: str) -> dt.timedelta:
    """The duration `text` names; ValueError when it is not one."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise ValueError(f"'{text}' is not a duration")
    amount, unit = found.groups()
    return dt.timedelta(**{UNITS[unit]: int(amount)})
