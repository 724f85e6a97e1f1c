"""/api/imports: CSV files of contacts, accounts, leads or interactions, streamed in."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from functools import partial
from typing import IO, Annotated, Any, cast

import anyio.to_thread
from litestar import Controller, Request, post
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import PathParameter, QueryParameter
from pydantic import BaseModel, Field

import bpf
from api.http.auth import roles
from api.http.problems import Problem
from api.http.state import services
from api.services import imports as import_service
from api.services.imports import Options, Refused, Report
from api.services.keys import Principal, Role
from api.storage.db import Database
from bpf.actors import Actor
from leads import csvimport
from leads.csvimport import Kind
from leads.errors import InvalidInput, NotFound

# Larger files go through `leadflow import` on the server, which has no cap.
MAX_ROWS = 500_000
# The body is kept in memory up to this size, and spilled to a temporary file beyond it.
SPOOL_BYTES = 1 << 20
MAPPING_MAX = 20_000
CSV_MEDIA_TYPES = ("text/csv", "application/csv")


class RowErrorRead(BaseModel):
    line: int = Field(description="The line in the file; the header is line 1.")
    column: str | None = Field(description="The CSV column; null when the whole row is wrong.")
    reason: str


class ImportResult(BaseModel):
    kind: Kind
    dry_run: bool
    skip_bad_rows: bool
    written: bool = Field(description="Whether anything was written: false for a dry run.")
    rows: int = Field(description="Data rows read, good and bad.")
    created: int
    updated: int
    unchanged: int = Field(
        description="Rows that matched a record (or, for interactions, an external_id already "
        "stored) and changed nothing."
    )
    bad_rows: int
    errors: list[RowErrorRead] = Field(
        description=f"The first {import_service.ERRORS_SHOWN:,} errors, in file order."
    )
    errors_total: int
    warnings: list[str]
    seconds: float

    @classmethod
    def of(cls, report: Report) -> ImportResult:
        return cls.model_validate(report.as_dict())


@dataclass
class _CsvBody(Operation):
    """The operation as OpenAPI shows it: the body is the CSV file itself, which the handler
    streams rather than declaring as `data` (that would read it whole into memory)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={
                "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
            },
            description="A UTF-8 CSV file with a header line.",
            required=True,
        )


KindParam = Annotated[
    str,
    PathParameter(
        description="What the file holds: " + ", ".join(kind.value for kind in Kind) + "."
    ),
]
SkipBadRows = Annotated[
    bool,
    QueryParameter(
        name="skip_bad_rows",
        description="Write the good rows and report the bad ones. Default: all or nothing, "
        "where any bad row means nothing is written (422 naming every bad row).",
    ),
]
DryRun = Annotated[
    bool,
    QueryParameter(
        name="dry_run", description="Check and match every row and report; write nothing."
    ),
]
MappingParam = Annotated[
    str | None,
    QueryParameter(
        name="mapping",
        max_length=MAPPING_MAX,
        description='A JSON object, CSV column -> field, e.g. {"E-mail": "email", "Company '
        'name": "company", "Source": "attributes.source", "Notes": null}. A column not in the '
        "mapping fills the field of its name; other columns become attributes (properties "
        "for interactions) when their name is a valid attribute name.",
    ),
]


DESCRIPTION = f"""\
Import a CSV file of `contacts`, `accounts`, `leads` or `interactions`: the body, with
`Content-Type: text/csv`, UTF-8, a header line first.

Columns: a `mapping` entry wins; a column the mapping does not name fills the field of the same
name (without regard to case); other columns become attributes (an interaction's properties)
when their name is a valid attribute name. Values: numbers, booleans (true/false, yes/no, 1/0),
ISO 8601 date-times with a time zone (`occurred_at`). Empty cells change nothing.

Matching: contacts by the default contact matching strategy (email, unless another is marked
default), leads by the default lead strategy among open leads, accounts by name, interactions
by `external_id`. A matched record is updated, duplicates within the file included. New leads
start in the first stage of their process (a `process` column, else the default) and their
fields fire the process's automations. An erased person's row is an error unless it gives a
`consent_level` (contacts only).

All or nothing by default: any bad row and nothing is written (422, listing every bad row by
line, column and reason, the first {import_service.ERRORS_SHOWN:,} of them).
`skip_bad_rows=true` writes the good rows and reports the bad ones; `dry_run=true` reports and
writes nothing.

At most LEADFLOW_IMPORT_MAX_BYTES bytes (413 beyond) and {MAX_ROWS:,} rows (422 beyond):
larger files go through `leadflow import` on the server.
"""


class ImportController(Controller):
    path = "/api/imports"
    tags = ["imports"]

    @post(
        "/{kind:str}",
        opt=roles(Role.MARKETER),
        status_code=200,
        operation_id="ImportCsv",
        summary="Import a CSV file",
        description=DESCRIPTION,
        operation_class=_CsvBody,
        # The import's own cap (LEADFLOW_IMPORT_MAX_BYTES) replaces the app-wide one.
        request_max_body_size=None,
    )
    async def create(
        self,
        request: Request[Principal, Any, Any],
        kind: KindParam,
        skip_bad_rows: SkipBadRows = False,
        dry_run: DryRun = False,
        mapping: MappingParam = None,
    ) -> ImportResult:
        """The body is spooled (to a temporary file beyond 1 MiB) while it arrives, and
        imported from there in a worker thread: no write lock waits on a slow upload."""
        parts = services(request)
        db, catalog, settings = parts.db, parts.catalog, parts.settings
        chosen = _kind(kind)
        columns = _mapping(mapping)
        _check_media_type(request)
        cap = settings.import_max_bytes
        if request.content_length is not None and request.content_length > cap:
            raise _too_large(cap)
        options = Options(dry_run=dry_run, skip_bad_rows=skip_bad_rows, source="import over HTTP")
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > cap:
                    raise _too_large(cap)
                body.write(chunk)
            work = partial(
                _run,
                body,
                db,
                catalog,
                chosen,
                columns,
                options,
                Actor.user(request.user),
                settings.known_interaction_kinds(),
            )
            report = await anyio.to_thread.run_sync(work)
        return ImportResult.of(report)


def _run(
    body: IO[bytes],
    db: Database,
    catalog: bpf.Catalog,
    kind: Kind,
    mapping: csvimport.ColumnMapping | None,
    options: Options,
    actor: Actor,
    interaction_kinds: tuple[str, ...],
) -> Report:
    try:
        body.seek(0)
        with import_service.text_lines(body) as lines:
            rows = csvimport.count_records(lines, MAX_ROWS)
        if rows > MAX_ROWS:
            raise Problem(
                422,
                "too-many-rows",
                "Too many rows",
                f"an import over HTTP takes at most {MAX_ROWS:,} rows; this file has more. "
                "Split it, or run `leadflow import` on the server",
                errors=[{"field": "body", "reason": f"more than {MAX_ROWS:,} rows"}],
                max_rows=MAX_ROWS,
            )
        body.seek(0)
        with import_service.text_lines(body) as lines:
            return import_service.import_csv(
                db,
                catalog,
                kind,
                lines,
                mapping=mapping,
                options=options,
                actor=actor,
                interaction_kinds=interaction_kinds,
            )
    except csvimport.CsvError as exc:
        raise Problem(
            422,
            "import-rejected",
            "Import rejected",
            "the file cannot be imported: " + "; ".join(str(p) for p in exc.problems),
            errors=_errors(exc.problems),
            rows=0,
            bad_rows=0,
            errors_total=len(exc.problems),
        ) from None
    except Refused as exc:
        report = exc.report
        raise Problem(
            422,
            "import-rejected",
            "Import rejected",
            f"{report.bad_rows:,} of {report.rows:,} rows are bad, so nothing was written; fix "
            "them, or import with skip_bad_rows=true to write the good rows",
            errors=_errors(report.errors),
            rows=report.rows,
            bad_rows=report.bad_rows,
            errors_total=report.errors_total,
        ) from None


def _errors(errors: list[csvimport.RowError]) -> list[dict[str, str]]:
    # Problem details name fields; an import's errors name a line (a number) and a column.
    return cast("list[dict[str, str]]", [e.as_dict() for e in errors])


def _kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        raise NotFound(
            "import", f"of '{value}'; one of: {', '.join(k.value for k in Kind)}"
        ) from None


def _mapping(text: str | None) -> csvimport.ColumnMapping | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput.field("mapping", f"not JSON: {exc.msg}") from None
    except RecursionError:
        raise InvalidInput.field("mapping", "nests too deeply") from None
    try:
        return csvimport.mapping_from_object(value)
    except csvimport.MappingError as exc:
        raise InvalidInput.field("mapping", "; ".join(exc.problems)) from None


def _check_media_type(request: Request[Any, Any, Any]) -> None:
    media_type, options = request.content_type
    if media_type not in CSV_MEDIA_TYPES:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send the CSV file as the body with Content-Type: text/csv, not "
            f"'{media_type or 'none'}'",
        )
    charset = options.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"an import reads UTF-8 text, not {charset}",
        )


def _too_large(cap: int) -> Problem:
    return Problem(
        413,
        "body-too-large",
        "Request body too large",
        f"an import over HTTP takes at most {cap:,} bytes (LEADFLOW_IMPORT_MAX_BYTES); split the "
        "file, or run `leadflow import` on the server",
        max_bytes=cap,
    )
