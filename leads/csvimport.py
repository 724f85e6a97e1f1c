"""CSV import, the part that needs no database: reading a CSV stream record by record, deciding
which column fills which field (the header and a mapping), and turning each row's text into
typed values, or into errors that name the line, the column and the reason.

Nothing here holds more than one batch of rows: the reader pulls lines from the stream as the
batches are taken.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml

from leads.models import (
    Account,
    ConsentLevel,
    Contact,
    ContextKind,
    Interaction,
    Lead,
)
from leads.text import HAS_NUL, NUL


class Kind(StrEnum):
    """What a file holds, one record a row."""

    CONTACTS = "contacts"
    ACCOUNTS = "accounts"
    LEADS = "leads"
    INTERACTIONS = "interactions"

    @property
    def singular(self) -> str:
        return self.value[:-1]


class FieldType(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    CHOICE = "choice"


@dataclass(frozen=True)
class FieldSpec:
    """A field a column can fill, and what its text must look like."""

    name: str
    type: FieldType = FieldType.TEXT
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    required: bool = False


@dataclass(frozen=True, order=True)
class RowError:
    """What is wrong with a row: its line in the file (the header is line 1), the column
    (None when the whole row is wrong) and why."""

    line: int
    column: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        where = f"column '{self.column}': " if self.column is not None else ""
        return f"line {self.line}: {where}{self.reason}"


class CsvError(Exception):
    """The file cannot be imported at all: its header or mapping is wrong, or it stops being
    readable CSV. Every problem found is listed."""

    def __init__(self, problems: Sequence[RowError]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


class MappingError(Exception):
    """A mapping file that cannot be used; each problem reads `file[:line]: reason`."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ATTRIBUTE_NAME_MAX = 64
ATTRIBUTES_MAX = 200
ATTRIBUTE_TEXT_MAX = 10_000
PROPERTIES_MAX = 50
PROPERTY_TEXT_MAX = 2_000
KIND_PATTERN = r"[a-z][a-z0-9_]*"
# What a decoder puts where the bytes were not UTF-8 (errors="replace").
UNDECODABLE = "\ufffd"
NOT_UTF8 = "not UTF-8 text; save the file as UTF-8"

FIELDS: dict[Kind, tuple[FieldSpec, ...]] = {
    Kind.CONTACTS: (
        FieldSpec("email", FieldType.EMAIL, max_length=320),
        FieldSpec("first_name", max_length=100),
        FieldSpec("last_name", max_length=100),
        FieldSpec("job_title", max_length=200),
        FieldSpec("company", max_length=200),
        FieldSpec("phone", max_length=50),
        FieldSpec("country", max_length=100),
        FieldSpec("industry", max_length=100),
        FieldSpec("account_id", FieldType.INTEGER, minimum=1, maximum=2**63 - 1),
        FieldSpec(
            "consent_level", FieldType.CHOICE, choices=tuple(level.value for level in ConsentLevel)
        ),
        FieldSpec("consent_source", max_length=200),
    ),
    Kind.ACCOUNTS: (
        FieldSpec("name", max_length=200, required=True),
        FieldSpec("industry", max_length=100),
        FieldSpec("employees", FieldType.INTEGER, minimum=0, maximum=10_000_000),
        FieldSpec("revenue", FieldType.NUMBER, minimum=0, maximum=1e15),
        FieldSpec("country", max_length=100),
    ),
    Kind.LEADS: (
        FieldSpec("topic", max_length=200, required=True),
        FieldSpec("email", FieldType.EMAIL, max_length=320),
        FieldSpec(
            "context_kind", FieldType.CHOICE, choices=tuple(kind.value for kind in ContextKind)
        ),
        FieldSpec("context_id", max_length=200),
        FieldSpec("parent_contact_id", FieldType.INTEGER, minimum=1, maximum=2**63 - 1),
        FieldSpec("parent_account_id", FieldType.INTEGER, minimum=1, maximum=2**63 - 1),
        FieldSpec("owner", max_length=200),
        FieldSpec("sales_ready", FieldType.BOOLEAN),
        FieldSpec("process", max_length=200),
    ),
    Kind.INTERACTIONS: (
        FieldSpec("kind", max_length=64, pattern=KIND_PATTERN, required=True),
        FieldSpec("occurred_at", FieldType.DATETIME, required=True),
        FieldSpec("contact_id", FieldType.INTEGER, minimum=1, maximum=2**63 - 1),
        FieldSpec("lead_id", FieldType.INTEGER, minimum=1, maximum=2**63 - 1),
        FieldSpec("email", FieldType.EMAIL, max_length=320),
        FieldSpec("target", max_length=500),
        FieldSpec("external_id", max_length=200),
    ),
}

# Where columns that are not fields go: the record's custom attributes, or an interaction's
# properties.
EXTRA_KEY: dict[Kind, str] = {
    Kind.CONTACTS: "attributes",
    Kind.ACCOUNTS: "attributes",
    Kind.LEADS: "attributes",
    Kind.INTERACTIONS: "properties",
}

# Columns of the tables that no file may set, so no attribute may be named like them either.
_TABLES = {
    Kind.CONTACTS: Contact,
    Kind.ACCOUNTS: Account,
    Kind.LEADS: Lead,
    Kind.INTERACTIONS: Interaction,
}


def reserved_names(kind: Kind) -> frozenset[str]:
    return frozenset(_TABLES[kind].model_fields) - {f.name for f in FIELDS[kind]}


# -- converting one cell ------------------------------------------------------------------------

Converter = Callable[[str], Any]

_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})


def converter(spec: FieldSpec) -> Converter:
    """A function from a cell's (stripped, non-empty) text to the value to store; it raises
    ValueError with the reason when the text does not fit."""
    match spec.type:
        case FieldType.TEXT:
            return _text(spec.max_length, spec.pattern)
        case FieldType.EMAIL:
            return _email
        case FieldType.INTEGER:
            return _integer(spec.minimum, spec.maximum)
        case FieldType.NUMBER:
            return _number(spec.minimum, spec.maximum)
        case FieldType.BOOLEAN:
            return _boolean
        case FieldType.DATETIME:
            return _datetime
        case FieldType.DATE:
            return _date
        case FieldType.CHOICE:
            return _choice(spec.choices)


def _text(max_length: int | None, pattern: str | None) -> Converter:
    limit = max_length if max_length is not None else ATTRIBUTE_TEXT_MAX
    compiled = re.compile(pattern) if pattern else None

    def convert(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        if compiled is not None and compiled.fullmatch(value) is None:
            raise ValueError(f"must match {pattern}")
        return value

    return convert


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or " " in value or "\t" in value:
        raise ValueError("not an email address")
    if len(value) > 320:
        raise ValueError("must be at most 320 characters")
    return value.lower()


def _integer(minimum: float | None, maximum: float | None) -> Converter:
    def convert(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
        _check_range(number, minimum, maximum)
        return number

    return convert


def _number(minimum: float | None, maximum: float | None) -> Converter:
    def convert(value: str) -> int | float:
        try:
            number: int | float = int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise ValueError("must be a number") from None
            if not math.isfinite(number):
                raise ValueError("must be a finite number") from None
        _check_range(number, minimum, maximum)
        return number

    return convert


def _check_range(number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ValueError(f"must be at least {minimum:g}")
    if maximum is not None and number > maximum:
        raise ValueError(f"must be at most {maximum:g}")


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("must be true or false (also yes/no, 1/0)")


def _datetime(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "must be an ISO 8601 date and time with a time zone, e.g. 2026-03-01T09:30:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-03-01T09:30:00Z or +02:00")
    return moment


def _date(value: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date written YYYY-MM-DD") from None
    if len(value) != 10:
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


def _choice(choices: tuple[str, ...]) -> Converter:
    folded = {c.lower(): c for c in choices}

    def convert(value: str) -> str:
        if value in choices:
            return value
        found = folded.get(value.lower())
        if found is None:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return found

    return convert


# -- the mapping --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMapping:
    """CSV column -> field, `attributes.NAME` (`properties.NAME` for interactions), or None to
    leave the column out. `lines` says where each entry is in the mapping file, if known."""

    entries: dict[str, str | None] = field(default_factory=dict)
    source: str | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, column: str) -> str:
        if self.source is None:
            return "the mapping"
        line = self.lines.get(column)
        return f"{self.source}:{line}" if line is not None else self.source


def mapping_from_object(value: Any, source: str | None = None) -> ColumnMapping:
    """A mapping given as an already parsed JSON object; MappingError says what is wrong."""
    prefix = f"{source}: " if source else ""
    if not isinstance(value, dict):
        raise MappingError([f"{prefix}must be an object of CSV column -> field (or null)"])
    problems = []
    entries: dict[str, str | None] = {}
    for key, target in value.items():
        if not isinstance(key, str):
            problems.append(f"{prefix}column names must be text, not {key!r}")
        elif target is not None and not isinstance(target, str):
            problems.append(f"{prefix}'{key}' must map to a field name or null, not {target!r}")
        else:
            entries[key.strip()] = target.strip() or None if target is not None else None
    if problems:
        raise MappingError(problems)
    return ColumnMapping(entries, source)


def parse_mapping(text: str, source: str) -> ColumnMapping:
    """A mapping file: JSON when it is named *.json, YAML otherwise (YAML errors have lines)."""
    if source.lower().endswith(".json"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MappingError([f"{source}:{exc.lineno}: not JSON: {exc.msg}"]) from None
        except RecursionError:
            raise MappingError([f"{source}: the JSON nests too deeply"]) from None
        return mapping_from_object(value, source)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError([f"{where}: YAML syntax: {problem}"]) from None
    except RecursionError:
        raise MappingError([f"{source}: the YAML nests too deeply"]) from None
    if node is None:
        return ColumnMapping({}, source)
    if not isinstance(node, yaml.MappingNode):
        raise MappingError([f"{source}:{node.start_mark.line + 1}: must map CSV columns to fields"])
    problems = []
    entries: dict[str, str | None] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(f"{source}:{line}: a column name must be text")
            continue
        key = str(key_node.value).strip()
        if key in entries:
            problems.append(f"{source}:{line}: column '{key}' is mapped twice")
            continue
        if not isinstance(value_node, yaml.ScalarNode):
            problems.append(f"{source}:{line}: '{key}' must map to a field name or null")
            continue
        is_null = value_node.tag == "tag:yaml.org,2002:null" or (
            value_node.style is None and value_node.value in ("", "~", "null", "Null", "NULL")
        )
        entries[key] = None if is_null else str(value_node.value).strip() or None
        lines[key] = line
    if problems:
        raise MappingError(problems)
    return ColumnMapping(entries, source, lines)


# -- the header ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    index: int
    name: str  # as in the header
    target: str  # a field, or an attribute (property) name when `extra`
    extra: bool
    convert: Converter
    text_limit: int = 0  # when the column is plain text: its longest value; else 0


@dataclass(frozen=True)
class Plan:
    """Which column fills what, for one file."""

    kind: Kind
    header: tuple[str, ...]
    columns: tuple[Column, ...]

    def column_of(self, target: str) -> str | None:
        """The CSV column that fills a field, to name it in errors."""
        for column in self.columns:
            if column.target == target and not column.extra:
                return column.name
        return None

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(c.target for c in self.columns if not c.extra)


def plan(
    kind: Kind,
    header: Sequence[str],
    mapping: ColumnMapping | None = None,
    typed_extras: Mapping[str, FieldSpec] | None = None,
) -> Plan:
    """Decide what each column fills, or raise CsvError listing every problem (at line 1).

    A mapping entry wins. A column the mapping does not name fills the field of the same name
    (compared without case or surrounding spaces); any other column whose name is a valid
    attribute name becomes an attribute (a property, for interactions), unless it looks like a
    misspelt field. Other columns are errors: the mapping must say what they are, or null to
    skip them. `typed_extras` gives attributes a type (the custom step fields of stages.yaml);
    other attributes are text.
    """
    resolver = _Resolver(kind, mapping or ColumnMapping(), typed_extras or {})
    header = tuple(header)
    problems: list[RowError] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(RowError(1, name, "the header names this column twice"))
        seen.add(name)
    for name in resolver.mapping.entries:
        if name not in seen:
            problems.append(
                RowError(
                    1,
                    name,
                    f"{resolver.mapping.where(name)} maps column '{name}', which the file does "
                    f"not have{_hint(name, header)}",
                )
            )
    columns: list[Column] = []
    filled_by: dict[str, str] = {}  # field or "attributes.NAME" -> the column that fills it
    for index, name in enumerate(header):
        try:
            resolved = resolver.resolve(name)
        except ValueError as exc:
            problems.append(RowError(1, name, str(exc)))
            continue
        if resolved is None:
            continue
        target, extra = resolved
        key = f"{resolver.extra_key}.{target}" if extra else target
        if key in filled_by:
            problems.append(RowError(1, name, f"column '{filled_by[key]}' fills {key} already"))
            continue
        filled_by[key] = name
        columns.append(
            Column(
                index,
                name,
                target,
                extra,
                resolver.converter(target, extra),
                resolver.text_limit(target, extra),
            )
        )

    extras = sum(1 for c in columns if c.extra)
    limit = PROPERTIES_MAX if kind is Kind.INTERACTIONS else ATTRIBUTES_MAX
    if extras > limit:
        problems.append(
            RowError(1, None, f"{extras} columns become {resolver.extra_key}; at most {limit}")
        )
    for spec in FIELDS[kind]:
        if spec.required and spec.name not in filled_by:
            problems.append(
                RowError(
                    1, None, f"no column gives '{spec.name}', which every {kind.singular} needs"
                )
            )
    if problems:
        raise CsvError(problems)
    return Plan(kind, header, tuple(columns))


class _Resolver:
    def __init__(
        self, kind: Kind, mapping: ColumnMapping, typed_extras: Mapping[str, FieldSpec]
    ) -> None:
        self.kind = kind
        self.mapping = mapping
        self.specs = {spec.name: spec for spec in FIELDS[kind]}
        self.extra_key = EXTRA_KEY[kind]
        self.reserved = reserved_names(kind)
        self.typed_extras = typed_extras
        self.untyped_limit = PROPERTY_TEXT_MAX if kind is Kind.INTERACTIONS else ATTRIBUTE_TEXT_MAX
        self.untyped = _text(self.untyped_limit, None)

    def text_limit(self, target: str, extra: bool) -> int:
        spec = self.typed_extras.get(target) if extra else self.specs[target]
        if spec is None:
            return self.untyped_limit
        if spec.type is FieldType.TEXT and spec.pattern is None:
            return spec.max_length or ATTRIBUTE_TEXT_MAX
        return 0

    def converter(self, target: str, extra: bool) -> Converter:
        if not extra:
            return converter(self.specs[target])
        spec = self.typed_extras.get(target)
        return converter(spec) if spec is not None else self.untyped

    def resolve(self, name: str) -> tuple[str, bool] | None:
        """(field, False), (attribute, True), or None to skip; ValueError says why neither."""
        if name in self.mapping.entries:
            target = self.mapping.entries[name]
            if target is None:
                return None
            return self._mapped(target, self.mapping.where(name))
        stripped = name.strip()
        folded = stripped.lower()
        if folded in self.specs:
            return folded, False
        prefix, dot, attribute = stripped.partition(".")
        if dot and prefix.lower() == self.extra_key:
            return self._extra(attribute, "the header"), True
        close = difflib.get_close_matches(folded, list(self.specs), n=1, cutoff=0.8)
        if close:
            why = f"looks like the field '{close[0]}' misspelt"
        elif stripped in self.reserved:
            why = f"is a {self.kind.singular} field that an import does not set"
        elif not _is_attribute_name(stripped):
            why = f"is neither a {self.kind.singular} field nor a valid {self.extra_name} name"
        else:
            return stripped, True
        raise ValueError(
            f"'{name}' {why}; map it to a field, to {self.extra_key}.<name>, or to null to skip it"
        )

    @property
    def extra_name(self) -> str:
        return self.extra_key[:-1]

    def _mapped(self, target: str, origin: str) -> tuple[str, bool]:
        prefix, dot, attribute = target.partition(".")
        if dot and prefix in ("attributes", "properties"):
            if prefix != self.extra_key:
                raise ValueError(f"{origin}: {self.kind.value} have {self.extra_key}, not {prefix}")
            return self._extra(attribute, origin), True
        if target not in self.specs:
            raise ValueError(
                f"{origin}: '{target}' is not a {self.kind.singular} field"
                f"{_hint(target, list(self.specs))}; fields: {', '.join(self.specs)}; or "
                f"{self.extra_key}.<name>, or null to skip the column"
            )
        return target, False

    def _extra(self, attribute: str, origin: str) -> str:
        if not _is_attribute_name(attribute):
            raise ValueError(
                f"{origin}: '{attribute}' is not a valid {self.extra_name} name (letters, digits "
                f"and _, not starting with a digit, at most {ATTRIBUTE_NAME_MAX})"
            )
        if attribute in self.reserved or attribute in self.specs:
            raise ValueError(
                f"{origin}: '{attribute}' is a {self.kind.singular} field, not one of its "
                f"{self.extra_key}"
            )
        return attribute


def _is_attribute_name(name: str) -> bool:
    return len(name) <= ATTRIBUTE_NAME_MAX and ATTRIBUTE_NAME.fullmatch(name) is not None


def _hint(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- rows ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    """A row that converted: its line and its values (fields, and the extras under
    `attributes` or `properties`)."""

    line: int
    values: dict[str, Any]


@dataclass
class Batch:
    rows: list[Row]
    errors: list[RowError]
    records: int  # data rows read, good and bad


Record = tuple[int, list[str]] | RowError


class Reader:
    """CSV records from a stream of text lines, read as they are asked for.

    The lines must keep their line endings (open files with newline=""). Blank lines and rows
    with nothing in any cell are passed over. A record that is not valid CSV (a stray quote,
    say) comes as a RowError, and reading goes on with the next line.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self._reader = csv.reader(lines, strict=True)
        self._line = 0
        self.header = self._first()

    def _next(self) -> Record | None:
        start = self._line + 1
        try:
            cells = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            self._line = self._reader.line_num
            return RowError(start, None, f"not valid CSV: {exc}")
        self._line = self._reader.line_num
        return start, cells

    def _first(self) -> tuple[str, ...]:
        first = self._next()
        while isinstance(first, tuple) and not any(first[1]):
            first = self._next()
        if first is None:
            raise CsvError([RowError(1, None, "the file is empty: it needs a header line")])
        if isinstance(first, RowError):
            raise CsvError([first])
        line, cells = first
        if any(UNDECODABLE in cell for cell in cells):
            raise CsvError([RowError(line, None, NOT_UTF8)])
        if any(NUL in cell for cell in cells):
            raise CsvError([RowError(line, None, f"the header {HAS_NUL}")])
        return tuple(cell.strip() for cell in cells)

    def __iter__(self) -> Iterator[Record]:
        reader = self._reader
        while True:
            start = self._line + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._line = reader.line_num
                yield RowError(start, None, f"not valid CSV: {exc}")
                continue
            self._line = reader.line_num
            if any(cells):
                yield start, cells


def row_converter(plan: Plan) -> Callable[[int, list[str]], Row | list[RowError]]:
    """A function from a record to its Row, or to one RowError per bad cell."""
    width = len(plan.header)
    # Plain text, the most common column, is checked inline: a call per cell costs.
    columns = [
        (c.index, c.name, c.target, c.extra, None if c.text_limit else c.convert, c.text_limit)
        for c in plan.columns
    ]
    extra_key = EXTRA_KEY[plan.kind]

    def convert_row(line: int, cells: list[str]) -> Row | list[RowError]:
        if len(cells) != width:
            if len(cells) < width:
                return [RowError(line, None, f"has {len(cells)} values; the header has {width}")]
            if any(cell.strip() for cell in cells[width:]):
                return [RowError(line, None, f"has {len(cells)} values; the header has {width}")]
        values: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        errors: list[RowError] = []
        for index, name, target, extra, convert, limit in columns:
            text = cells[index].strip()
            if not text:
                continue
            if UNDECODABLE in text:
                errors.append(RowError(line, name, NOT_UTF8))
                continue
            if NUL in text:
                errors.append(RowError(line, name, HAS_NUL))
                continue
            if convert is None:
                if len(text) > limit:
                    errors.append(RowError(line, name, f"must be at most {limit} characters"))
                    continue
                value: Any = text
            else:
                try:
                    value = convert(text)
                except ValueError as exc:
                    errors.append(RowError(line, name, str(exc)))
                    continue
            if extra:
                extras[target] = value
            else:
                values[target] = value
        if errors:
            return errors
        values[extra_key] = extras
        return Row(line, values)

    return convert_row


def batches(plan: Plan, records: Iterable[Record], size: int) -> Iterator[Batch]:
    """The converted rows in batches of `size` records, each with the errors of its records.
    Records are read as the batches are taken, never further."""
    convert_row = row_converter(plan)
    rows: list[Row] = []
    errors: list[RowError] = []
    count = 0
    for record in records:
        if type(record) is tuple:
            result = convert_row(*record)
            if type(result) is Row:
                rows.append(result)
            else:
                errors += result
        else:
            errors.append(record)
        count += 1
        if count == size:
            yield Batch(rows, errors, count)
            rows, errors, count = [], [], 0
    if count:
        yield Batch(rows, errors, count)


def count_records(lines: Iterable[str], limit: int) -> int:
    """The data rows of a CSV stream, counting no further than `limit` + 1."""
    reader = Reader(lines)
    count = 0
    for _ in reader:
        count += 1
        if count > limit:
            break
    return count
