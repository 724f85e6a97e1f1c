"""How an import runs: all or nothing or skipping bad rows, a dry run, its batch size."""

from __future__ import annotations

from dataclasses import dataclass

BATCH_ROWS = 5000


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    skip_bad_rows: bool = False
    batch_rows: int = BATCH_ROWS
    # Recorded as the source of consent given in the file, unless a consent_source column says.
    source: str = "import"


DEFAULT_OPTIONS = Options()
