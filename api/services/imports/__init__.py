"""Importing CSV files of contacts, accounts, leads or interactions.

The file is read in batches (`leads.csvimport`). Each batch is checked against the database
(references, erased persons, known kinds), matched against stored records with one query per
batch (the matching strategies for contacts and leads, names for accounts, external ids for
interactions), merged with earlier rows of the file that match the same record, and written with
SQLAlchemy Core statements: one executemany insert and one executemany update per batch.

All or nothing (the default) is one write transaction. At the first bad row it is rolled back,
so the write lock is let go at once, and the rest of the file is only checked, so the report
still names every bad row. Skipping bad rows commits batch by batch, letting other writers in
between; importing a file again is safe, since every row is matched first. A dry run does
everything in one transaction and rolls it back, so its counts are exact, duplicates within the
file included.

The package's modules: `options` and `report` (what an import is asked and what it did),
`reading` (the file's lines), `running` (the batches and their transactions), `writer` (what
every writer shares), `matching` and `erasures` (what a batch looks up), and one module per
writer: `contacts`, `accounts` (on `records`), `leads` (through `api.services.lead_writes`,
as every lead is written) and `interactions`.
"""

from api.services.imports.options import BATCH_ROWS, DEFAULT_OPTIONS, Options
from api.services.imports.reading import text_lines, typed_attributes
from api.services.imports.report import ERRORS_SHOWN, Progress, Refused, Report
from api.services.imports.running import WRITERS, import_csv, import_path

__all__ = [
    "BATCH_ROWS",
    "DEFAULT_OPTIONS",
    "ERRORS_SHOWN",
    "WRITERS",
    "Options",
    "Progress",
    "Refused",
    "Report",
    "import_csv",
    "import_path",
    "text_lines",
    "typed_attributes",
]
