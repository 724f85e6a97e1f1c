"""What the OpenAPI document says beyond what Litestar reads from the handlers: the problem
answers every route can give, the request bodies that refuse unknown fields, and who needs a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.plugins.pydantic import PydanticSchemaPlugin
from litestar.typing import FieldDefinition

from api.problems import PROBLEM_JSON

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

PROBLEM = "Problem"

_PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    description="RFC 9457 problem details; some problems add members of their own.",
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="urn:leadflow:problem:..."),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="Each invalid field and the reason.",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "reason"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "reason": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
)

_RETRY_AFTER = {
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING), description="Seconds to wait before trying again."
    )
}

_DESCRIPTIONS = {
    400: "The body is not JSON, or nests too deeply.",
    401: "No API key, or one that is unknown or revoked.",
    403: "The key's role may not do this.",
    404: "There is no such record.",
    409: "Not allowed in the record's present state.",
    412: "The record changed since you read it (If-Match is stale).",
    413: "The body is larger than the service accepts.",
    422: "The request is well formed but invalid: `errors` names each field and the reason.",
    428: "If-Match is missing.",
    429: "Too many requests: wait for Retry-After.",
    503: "The database is unavailable or too busy: wait for Retry-After.",
}


class StrictModels(PydanticSchemaPlugin):
    """Pydantic models as Litestar describes them, and `additionalProperties: false` for those
    that refuse unknown fields (Litestar does not read `extra="forbid"`)."""

    @classmethod
    def for_pydantic_model(
        cls, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().for_pydantic_model(field_definition, schema_creator)
        if field_definition.annotation.model_config.get("extra") == "forbid":
            schema.additional_properties = False
        return schema


def complete(app: Litestar) -> None:
    """Add to the app's OpenAPI document what Litestar cannot know from the handlers."""
    document = app.openapi_schema
    components = document.components
    components.schemas = {**(components.schemas or {}), PROBLEM: _PROBLEM_SCHEMA}
    for schema in components.schemas.values():
        _any_of(schema)
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "patch", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is not None:
                _complete_operation(document, path, method, operation)


def _any_of(schema: Schema | Reference) -> None:
    """Unions as `anyOf`: Litestar writes `oneOf`, which a value matching two members (0 is
    both an integer and a number) fails, though the server accepts it."""
    if isinstance(schema, Reference):
        return
    if schema.one_of is not None:
        schema.any_of, schema.one_of = [*(schema.any_of or []), *schema.one_of], None
    for child in [
        *(schema.any_of or []),
        *(schema.all_of or []),
        *(schema.properties or {}).values(),
        *([schema.items] if isinstance(schema.items, Schema | Reference) else []),
        *(
            [schema.additional_properties]
            if isinstance(schema.additional_properties, Schema | Reference)
            else []
        ),
    ]:
        _any_of(child)


def _complete_operation(document: OpenAPI, path: str, method: str, operation: Operation) -> None:
    parameters = [p for p in operation.parameters or [] if not isinstance(p, Reference)]
    for parameter in parameters:
        if parameter.schema is not None:
            _any_of(parameter.schema)
        if parameter.name == "If-Match":
            # Optional to the handler, so that its absence is answered 428 rather than 422.
            parameter.required = True
            parameter.schema = Schema(type=OpenAPIType.STRING, description=parameter.description)
    statuses: set[int] = set()
    # The key middleware guards /api; the rest (health, readiness) is open to anyone.
    if path.startswith("/api/"):
        statuses |= {401, 403, 429, 503}
    else:
        operation.security = []
    if parameters or operation.request_body is not None:
        statuses.add(422)
    if operation.request_body is not None:
        statuses |= {400, 413}
    if "{" in path:
        statuses.add(404)
    if method != "get":
        statuses.add(409)
    if any(p.name == "If-Match" for p in parameters):
        statuses |= {412, 428}
    responses = dict(operation.responses or {})
    responses.pop("400", None)  # Litestar's own shape, which our answers do not have
    for status in sorted(statuses):
        responses.setdefault(str(status), _problem(status))
    operation.responses = responses


def _problem(status: int) -> OpenAPIResponse:
    headers: dict[str, Any] = _RETRY_AFTER if status in (429, 503) else {}
    return OpenAPIResponse(
        description=_DESCRIPTIONS[status],
        headers=headers or None,
        content={
            PROBLEM_JSON: OpenAPIMediaType(schema=Reference(f"#/components/schemas/{PROBLEM}"))
        },
    )
