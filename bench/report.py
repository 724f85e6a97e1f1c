"""The line every benchmark ends with: one JSON object that tools can read."""

from __future__ import annotations

import json
from typing import Any


def print_result(
    scenario: str, value: float, unit: str, baseline: float, **extra: Any
) -> dict[str, Any]:
    """Print the result line (always the last line of a run) and return what it holds."""
    result = {
        "scenario": scenario,
        "value": round(value, 3),
        "unit": unit,
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 4) if baseline else None,
        **extra,
    }
    print(json.dumps(result), flush=True)
    return result
