"""Reading a CSV file: its text lines, and the types of a lead's attribute columns."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import bpf
from bpf.fields import FieldType as StepType
from leads.csvimport import FieldSpec, FieldType
from leads.models import Lead


def typed_attributes(catalog: bpf.Catalog) -> dict[str, FieldSpec]:
    """The custom step fields of stages.yaml, so a lead's attribute columns get their types."""
    types = {
        StepType.BOOLEAN: FieldType.BOOLEAN,
        StepType.TEXT: FieldType.TEXT,
        StepType.NUMBER: FieldType.NUMBER,
        StepType.DATE: FieldType.DATE,
        StepType.CHOICE: FieldType.CHOICE,
    }
    return {
        name: FieldSpec(name, types[step.type], choices=tuple(step.choices or ()))
        for name, step in catalog.fields.items()
        if step.type in types and name not in Lead.model_fields
    }


@contextmanager
def text_lines(raw: IO[bytes]) -> Iterator[io.TextIOWrapper]:
    """UTF-8 text lines of a binary stream, line endings kept. Bytes that are not UTF-8 become
    U+FFFD, which the import reports as a row error instead of stopping at them."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield text
    finally:
        text.detach()
