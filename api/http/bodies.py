"""How request bodies become models: as pydantic validates JSON, strictly.

Litestar validates a decoded body in pydantic's lax Python mode, which takes `0` for false,
`false` for 0 and `"12"` for 12: values the OpenAPI document says are refused. Strict JSON
validation refuses them and still reads what JSON cannot carry natively (dates, enums). As in
JSON Schema, a number with a zero fraction (`3.0`) is an integer.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pydantic
from litestar._signature.types import ExtendedMsgSpecValidationError
from litestar.plugins.pydantic import PydanticInitPlugin


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
