"""How request bodies are read: as JSON no deeper than a bound and free of NUL characters,
then into models as pydantic validates JSON, strictly.

Every JSON body is decoded in one place, `JSONRequest.json`, for models and free-form bodies
(lead-gen payloads) alike: one nested more than `MAX_DEPTH` levels is refused with 400 before
anything walks it, a NUL character in any string or key with 422 naming where it is, and a body
that is not UTF-8 JSON because it holds a lone surrogate (`"\\ud800"`) with 400 saying so.

Litestar validates a decoded body in pydantic's lax Python mode, which takes `0` for false,
`false` for 0 and `"12"` for 12: values the OpenAPI document says are refused. Strict JSON
validation refuses them and still reads what JSON cannot carry natively (dates, enums). As in
JSON Schema, a number with a zero fraction (`3.0`) is an integer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import msgspec
import pydantic
from litestar import Request
from litestar._signature.types import ExtendedMsgSpecValidationError
from litestar.exceptions import SerializationException
from litestar.plugins.pydantic import PydanticInitPlugin

from api.http.problems import Problem
from leads.errors import InvalidInput
from leads.text import HAS_NUL, KEY_HAS_NUL, NUL

MAX_DEPTH = 64
"""Arrays and objects nest at most this deep in a request body; the deepest body the API
defines, qualification criteria five groups deep, nests 12."""
MAX_NUL_ERRORS = 20  # a body full of NULs is answered with the first ones found


class JSONRequest(Request[Any, Any, Any]):
    """A request whose JSON body is checked, once decoded, before anything else reads it."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise _too_deep() from None
        except SerializationException:
            surrogate = _lone_surrogate(await self.body())
            if surrogate is None:
                raise
            raise Problem(
                400,
                "malformed-body",
                "Malformed body",
                f"the body is not valid UTF-8 JSON: {surrogate}",
            ) from None
        if _deeper_than(value, MAX_DEPTH):
            raise _too_deep()
        # JSON text holds a NUL only as the escape \u0000 (a raw one is malformed), so a body
        # without it is not walked.
        if b"\\u0000" in await self.body():
            _refuse_nul(value)
        return value


def _too_deep() -> Problem:
    return Problem(400, "malformed-body", "Malformed body", "the JSON body nests too deeply")


_CONTAINERS = {dict, list}  # what a decoded JSON array or object is, exactly


def _deeper_than(value: Any, bound: int) -> bool:
    """Whether arrays and objects nest more than `bound` deep, level by level, without recursion."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > bound:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) in _CONTAINERS
        ]
    return False


def _texts(value: Any) -> Iterator[tuple[str, str, bool]]:
    """Every string and key of a decoded body: where it is (`attributes.industry`, `body` at the
    top), the text, and whether it is a key (then where names the object holding it)."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, node = pending.pop()
        if isinstance(node, str):
            yield path or "body", node, False
        elif isinstance(node, dict):
            for key, item in node.items():
                yield path or "body", key, True
                pending.append((f"{path}.{key}" if path else key, item))
        elif isinstance(node, list):
            pending.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(node))


def _refuse_nul(value: Any) -> None:
    errors: list[dict[str, str]] = []
    for path, text, is_key in _texts(value):
        if NUL in text:
            errors.append({"field": path, "reason": KEY_HAS_NUL if is_key else HAS_NUL})
            if len(errors) == MAX_NUL_ERRORS:
                break
    if errors:
        raise InvalidInput(errors)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _lone_surrogate(body: bytes) -> str | None:
    """Where a body that failed to decode holds a lone surrogate (which no UTF-8 text can), or
    None if that is not why. Python's JSON decoder reads them where msgspec's stops."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    for path, text, is_key in _texts(value):
        if found := _SURROGATE.search(text):
            where = f"a key of {path}" if is_key else path
            return f"{where} contains a lone surrogate (\\u{ord(found.group()):04x})"
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


_EXACT = 2.0**53  # beyond it a float no longer holds every integer


def _strict_json(model: type[pydantic.BaseModel], value: Any) -> pydantic.BaseModel:
    try:
        return model.model_validate_json(msgspec.json.encode(_whole(value)), strict=True)
    except pydantic.ValidationError as e:
        raise ExtendedMsgSpecValidationError(errors=list(e.errors())) from e


class StrictBodies(PydanticInitPlugin):
    @classmethod
    def decoders(cls, validate_strict: bool = False) -> list[Any]:
        return [(_is_model, _strict_json)]
