"""Text every database stores. PostgreSQL's text and JSON hold no NUL character (U+0000),
so input carrying one is refused where it comes in, on SQLite as on PostgreSQL: no part of
the service ever sees one."""

from __future__ import annotations

NUL = "\x00"
HAS_NUL = "contains a NUL character"
KEY_HAS_NUL = "a key contains a NUL character"
NO_NUL = r"^[^\x00]*$"
"""The same rule as a JSON Schema pattern, for the OpenAPI document."""
