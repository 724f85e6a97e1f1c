"""What the OpenAPI document says beyond what Litestar reads from the handlers: the problem
answers every route can give, who needs a key, and the schemas of bodies as pydantic validates
them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.http.problems import PROBLEM_JSON
from leads.text import NO_NUL

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


def complete(app: Litestar, *, interaction_kinds: Iterable[str]) -> None:
    """Add to the app's OpenAPI document what Litestar cannot know from the handlers, and the
    interaction kinds this deployment knows (LEADFLOW_INTERACTION_KINDS)."""
    document = app.openapi_schema
    components = document.components
    components.schemas = {
        **(components.schemas or {}),
        **_pydantic_schemas(document),
        PROBLEM: _PROBLEM_SCHEMA,
    }
    interaction = components.schemas["InteractionIn"]
    assert isinstance(interaction, Schema) and interaction.properties is not None
    kind = interaction.properties["kind"]
    assert isinstance(kind, Schema)
    kind.enum = sorted(interaction_kinds)
    for path, method, operation in _operations(document):
        _complete_operation(document, path, method, operation)
    _refuse_nul(document)


def _operations(document: OpenAPI) -> Iterator[tuple[str, str, Operation]]:
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "patch", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is not None:
                yield path, method, operation


def _pydantic_schemas(document: OpenAPI) -> dict[str, Schema | Reference]:
    """The components that are pydantic models, as pydantic itself describes them: request
    bodies as it validates them, answers as it serializes them. Litestar's own translation drops
    constraints (a capped dict becomes an array, a constrained string in a union loses its
    limits), so a document built from it allows what the service refuses."""
    names = set(document.components.schemas or {})
    models = _models_named(names)
    requests = {
        name
        for _, _, operation in _operations(document)
        if operation.request_body is not None
        for name in _REF.findall(json.dumps(operation.request_body.to_schema()))
    }
    wanted: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (models[name], "validation" if name in requests else "serialization")
        for name in names
        if name in models
    ]
    refs, definitions = models_json_schema(wanted, ref_template="#/components/schemas/{model}")
    schemas = {name: _schema(value) for name, value in definitions.get("$defs", {}).items()}
    for (model, _), ref in refs.items():
        # Litestar's paths name each model by its class; pydantic may add -Input or -Output.
        schemas[model.__name__] = schemas[_REF.findall(ref["$ref"])[0]]
    return schemas


_REF = re.compile(r"#/components/schemas/([\w.-]+)")


def _models_named(names: set[str]) -> dict[str, type[BaseModel]]:
    """Our pydantic models that the document names, by name."""
    found: dict[str, type[BaseModel]] = {}
    pending = [BaseModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        ours = model.__module__.split(".")[0] in _PACKAGES
        if (
            ours
            and model.__name__ in names
            and found.setdefault(model.__name__, model) is not model
        ):
            raise TypeError(f"two models are named {model.__name__}; rename one")
    return found


_PACKAGES = {"api", "scoring", "leads", "bpf"}


_FIELDS = {
    field.metadata.get("alias")
    or re.sub(r"_(\w)", lambda m: m.group(1).upper(), field.name): field.name
    for field in dataclasses.fields(Schema)
}
_ONE_SCHEMA = {"items", "not", "if", "then", "else", "contains", "propertyNames"}
_SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SCHEMA_MAPS = {"properties", "patternProperties", "dependentSchemas"}


def _schema(value: dict[str, Any]) -> Schema | Reference:
    """A JSON Schema from pydantic as Litestar's document objects."""
    if "$ref" in value:
        return Reference(ref=value["$ref"], description=value.get("description"))
    fields: dict[str, Any] = {}
    for key, item in value.items():
        if key == "title":
            continue  # pydantic's, made from the field's name
        if key in _ONE_SCHEMA or (key == "additionalProperties" and isinstance(item, dict)):
            item = _schema(item)
        elif key in _SCHEMA_LISTS:
            item = [_schema(member) for member in item]
        elif key in _SCHEMA_MAPS:
            item = {name: _schema(member) for name, member in item.items()}
        elif key == "type":
            item = [OpenAPIType(t) for t in item] if isinstance(item, list) else OpenAPIType(item)
        fields[_FIELDS[key]] = item
    if "patternProperties" in value:
        fields.setdefault("additional_properties", False)  # pydantic refuses other keys
    return Schema(**fields)


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
    body = operation.request_body
    if isinstance(body, RequestBody) and _nullable(body):
        body.required = False  # Litestar marks `data: X | None = None` required
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


def _refuse_nul(document: OpenAPI) -> None:
    """No string a request carries holds a NUL character (the service refuses them at the edge):
    a pattern says so on every string of a query, a path or a body that has no pattern, enum,
    constant or format of its own, and on the keys of every map. The values inside free-form
    JSON (a lead-gen payload) stay free-form: no JSON Schema short of a recursive one says it."""
    schemas = document.components.schemas or {}
    pending: list[Schema | Reference] = []
    for _, _, operation in _operations(document):
        for parameter in operation.parameters or []:
            if not isinstance(parameter, Reference) and parameter.param_in in ("query", "path"):
                pending += [parameter.schema] if parameter.schema is not None else []
        if isinstance(operation.request_body, RequestBody):
            pending += [m.schema for m in operation.request_body.content.values() if m.schema]
    seen: set[str] = set()
    while pending:
        schema = pending.pop()
        if isinstance(schema, Reference):
            name = schema.ref.removeprefix("#/components/schemas/")
            if name not in seen:
                seen.add(name)
                pending.append(schemas[name])
            continue
        types = schema.type if isinstance(schema.type, list) else [schema.type]
        plain = schema.pattern is None and schema.format is None
        if OpenAPIType.STRING in types and plain and schema.enum is None and schema.const is None:
            schema.pattern = NO_NUL
        if schema.additional_properties not in (None, False) and not schema.pattern_properties:
            schema.property_names = schema.property_names or Schema()
        if isinstance(schema.property_names, Schema) and schema.property_names.pattern is None:
            schema.property_names.pattern = NO_NUL
        pending += [
            *(schema.properties or {}).values(),
            *(schema.pattern_properties or {}).values(),
            *(schema.any_of or []),
            *(schema.all_of or []),
            *(schema.one_of or []),
            *(schema.prefix_items or []),
            *[
                child
                for child in (schema.items, schema.additional_properties)
                if isinstance(child, Schema | Reference)
            ],
        ]


def _nullable(body: RequestBody) -> bool:
    schemas = [m.schema for m in body.content.values() if isinstance(m.schema, Schema)]
    members = [m for s in schemas for m in [*(s.one_of or []), *(s.any_of or [])]]
    return any(isinstance(m, Schema) and m.type == OpenAPIType.NULL for m in members)


def _problem(status: int) -> OpenAPIResponse:
    headers: dict[str, Any] = _RETRY_AFTER if status in (429, 503) else {}
    return OpenAPIResponse(
        description=_DESCRIPTIONS[status],
        headers=headers or None,
        content={
            PROBLEM_JSON: OpenAPIMediaType(schema=Reference(f"#/components/schemas/{PROBLEM}"))
        },
    )
