"""What an import did: its counts and the bad rows it names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from leads.csvimport import Kind, RowError

ERRORS_SHOWN = 1000


@dataclass
class Report:
    """What an import did (or, in a dry run or when refused, would have done)."""

    kind: Kind
    dry_run: bool
    skip_bad_rows: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    written: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add_errors(self, errors: Sequence[RowError]) -> None:
        if not errors:
            return
        self.bad_rows += len({e.line for e in errors})
        self.errors_total += len(errors)
        room = ERRORS_SHOWN - len(self.errors)
        if room > 0:
            self.errors += sorted(errors, key=lambda e: e.line)[:room]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "dry_run": self.dry_run,
            "skip_bad_rows": self.skip_bad_rows,
            "written": self.written,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "bad_rows": self.bad_rows,
            "errors": [e.as_dict() for e in self.errors],
            "errors_total": self.errors_total,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[Report], None]


class Refused(Exception):
    """All or nothing, and some rows are bad: nothing was written. The report names them."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"{report.bad_rows} bad rows")
        self.report = report
