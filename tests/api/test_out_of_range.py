"""Numbers out of range: in a scoring model, a qualification, a what-if, a cursor, or an
integer parameter of any operation. Each is refused with 4xx naming it, and nothing a model
may hold breaks lead writes on either database."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.api.test_scoring import live

LARGEST = 2**53 - 1  # the bound on numbers in models and qualifications
HUGE = [2**63, -(2**63) - 1]


def _document(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    return client.get("/schema/openapi.json").json()  # type: ignore[no-any-return]


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield method, path, operation


def _types(schema: dict[str, Any]) -> set[str]:
    found = {schema.get("type")}
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(branch)
    return {t for t in found if isinstance(t, str)}


def _url(path: str, operation: dict[str, Any], values: dict[str, Any]) -> str:
    """The path with every path parameter filled: from `values`, else 1 or 'x'."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            default = 1 if "integer" in _types(parameter["schema"]) else "x"
            path = path.replace("{" + name + "}", str(values.get(name, default)))
    return path


def _statuses(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation["responses"] if code.isdigit()}


def _reasons(response: Any) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in response.json().get("errors", [])}


# -- integer parameters ------------------------------------------------------------------------


def test_every_integer_parameter_refuses_numbers_beyond_64_bits(client: TestClient) -> None:  # type: ignore[type-arg]
    document = _document(client)
    walked = 0
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            if parameter["in"] not in ("path", "query") or "integer" not in _types(schema):
                continue
            assert "maximum" in schema and "minimum" in schema, (method, path, parameter)
            for number in HUGE:
                name = parameter["name"]
                query = {name: str(number)} if parameter["in"] == "query" else {}
                url = _url(path, operation, {name: number})
                response = client.request(
                    method.upper(), url, params=query, headers={"If-Match": '"1"'}
                )
                walked += 1
                where = (method, url, query, response.text)
                assert 400 <= response.status_code < 500, where
                assert response.status_code in _statuses(operation), where
                if parameter["in"] == "query":
                    assert response.status_code == 422, where
                    assert name in _reasons(response), where
                else:
                    assert response.status_code in (404, 422), where
    assert walked > 100


# -- cursors -------------------------------------------------------------------------------------


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


FORGED = [
    _encode("id:9223372036854775808"),
    "aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk",  # id:99999999999999999999999
    _encode(json.dumps([1, 2**63])),
    _encode(json.dumps([1, -(2**63) - 1])),
    _encode("[1e999, 1]"),
    _encode(json.dumps(["2026-01-01T00:00:00+00:00", 2**63])),
    _encode(json.dumps(["0001-01-01T00:00:00+23:59", 1])),
    _encode(json.dumps(["9999-12-31T23:59:59-23:59", 1])),
]


def _sorts(operation: dict[str, Any]) -> list[str | None]:
    for parameter in operation.get("parameters", []):
        if parameter["name"] == "sort":
            schema = parameter["schema"]
            options = schema.get("enum") or [
                v for b in schema.get("anyOf", []) for v in b.get("enum", [])
            ]
            return [*options, None]
    return [None]


def _records(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    """A record of each kind a paged route lists under, by the name of its path parameter."""
    account = client.post("/api/accounts", json={"name": "Acme"}).json()
    person = client.post("/api/contacts", json={"email": "c@x.io", "account_id": account["id"]})
    lead = client.post("/api/leads", json={"topic": "t"}).json()
    activity = client.post(
        "/api/activities",
        json={"lead_id": lead["id"], "kind": "phone_call", "subject": "Call", "due_in": "1d"},
    )
    assert activity.status_code == 201, activity.text
    return {
        "lead_id": lead["id"],
        "contact_id": person.json()["id"],
        "account_id": account["id"],
        "activity_id": activity.json()["id"],
    }


def test_every_paged_route_refuses_a_cursor_out_of_range(client: TestClient) -> None:  # type: ignore[type-arg]
    condition = {"field": "lead.topic", "op": "is_set"}
    model = live(
        client, {"rules": [{"type": "attribute", "name": "a", "when": condition, "points": 1}]}
    )
    records = _records(client)
    document = _document(client)
    routes = checked = 0
    for method, path, operation in _operations(document):
        parameters = operation.get("parameters", [])
        names = {p["name"] for p in parameters}
        if "cursor" not in names:
            continue
        routes += 1
        url = _url(path, operation, records)
        # A route under a record this test does not make (an opportunity, a webhook) may
        # answer 404 first; every other must read the cursor.
        found = all(p["name"] in records for p in parameters if p["in"] == "path")
        for sort in _sorts(operation):
            query: dict[str, Any] = {} if sort is None else {"sort": sort}
            if "model" in names:
                query["model"] = model["id"]
            for cursor in FORGED:
                response = client.request(method.upper(), url, params={**query, "cursor": cursor})
                where = (url, query, cursor, response.text)
                if not found and response.status_code == 404:
                    continue
                checked += 1
                assert response.status_code == 422, where
                reason = _reasons(response)["cursor"]
                assert reason.startswith("not a cursor this API returned"), where
    assert routes >= 15
    assert checked >= 15 * len(FORGED)


# -- numbers in scoring models ---------------------------------------------------------------


def _attribute(condition: dict[str, Any], points: float = 10_000) -> dict[str, Any]:
    return {"type": "attribute", "name": "a", "when": condition, "points": points}


def _create(client: TestClient, definition: dict[str, Any]) -> Any:  # type: ignore[type-arg]
    return client.post("/api/scoring-models", json={"name": "m", "definition": definition})


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        (
            {"rules": [_attribute({"field": "lead.size", "op": "greater", "value": 1e19})]},
            "definition.rules[0].when.value",
        ),
        (
            {"rules": [_attribute({"field": "lead.size", "op": "less", "value": -(2**63)})]},
            "definition.rules[0].when.value",
        ),
        (
            {"rules": [_attribute({"field": "lead.size", "op": "in", "value": ["a", 1e300]})]},
            "definition.rules[0].when.value[1]",
        ),
        (
            {"rules": [_attribute({"field": "lead.size", "op": "between", "value": [0, 1e19]})]},
            "definition.rules[0].when.value[1]",
        ),
        (
            {
                "rules": [
                    _attribute(
                        {
                            "any": [
                                {"field": "lead.a", "op": "is_set"},
                                {"field": "lead.size", "op": "equals", "value": 10**400},
                            ]
                        }
                    )
                ]
            },
            "definition.rules[0].when.any[1].value",
        ),
        (
            {"audience": {"field": "account.employees", "op": "greater", "value": 2**53 + 2}},
            "definition.audience.value",
        ),
        (
            {
                "rules": [
                    {
                        "type": "behaviour",
                        "name": "b",
                        "kind": "email_open",
                        "properties": {"n": 1e19},
                        "points": 1,
                    }
                ]
            },
            "definition.rules[0].properties.n",
        ),
        (
            {
                "rules": [
                    {
                        "type": "behaviour",
                        "name": "b",
                        "kind": "email_open",
                        "half_life_days": 1e-300,
                        "points": 1,
                    }
                ]
            },
            "definition.rules[0].half_life_days",
        ),
        (
            {"grades": [{"name": "A", "min": 1e19}, {"name": "B", "max": 1e19}]},
            "definition.grades[0].min",
        ),
    ],
)
def test_a_model_with_a_number_out_of_range_is_refused_naming_it(
    client: TestClient,  # type: ignore[type-arg]
    definition: dict[str, Any],
    field: str,
) -> None:
    response = _create(client, definition)
    assert response.status_code == 422, response.text
    reasons = _reasons(response)
    assert field in reasons, reasons
    assert "9007199254740991" in reasons[field] or "at least" in reasons[field], reasons
    assert client.get("/api/scoring-models").json() == []
    # The same holds for an edit of a draft and for a what-if.
    model = _create(client, {"rules": []}).json()
    edited = client.patch(
        f"/api/scoring-models/{model['id']}",
        json={"definition": definition},
        headers={"If-Match": f'"{model["version"]}"'},
    )
    assert edited.status_code == 422 and field in _reasons(edited), edited.text
    asked = client.post(
        f"/api/scoring-models/{model['id']}/what-if", json={"definition": definition}
    )
    assert asked.status_code == 422 and field in _reasons(asked), asked.text


@pytest.mark.parametrize("number", [1e19, 10**400, -1e300])
def test_what_if_qualification_and_assignment_rule_numbers_are_bounded(
    client: TestClient,  # type: ignore[type-arg]
    number: float,
) -> None:
    model = live(client, {"rules": [_attribute({"field": "lead.topic", "op": "is_set"})]})
    asked = client.post(
        f"/api/scoring-models/{model['id']}/what-if", json={"sales_ready_score": number}
    )
    assert asked.status_code == 422 and "sales_ready_score" in _reasons(asked), asked.text
    made = client.post(
        "/api/qualifications",
        json={"name": "q", "criteria": {"model": "engagement", "score_at_least": number}},
    )
    assert made.status_code == 422, made.text
    assert "criteria.score_at_least" in _reasons(made), made.text
    when = {"all": [{"field": "lead.size", "op": "in", "value": [1, number]}]}
    rule = client.post(
        "/api/assignment-rules",
        json={"name": "r", "when": when, "strategy": "round_robin", "team": "north"},
    )
    assert rule.status_code == 422, rule.text
    assert "when.all[0].value[1]" in _reasons(rule), rule.text


def _conditions() -> list[dict[str, Any]]:
    """A condition of every operator, with the extreme values a model may hold."""
    found: list[dict[str, Any]] = []
    for field in ("lead.size", "account.employees", "account.revenue"):
        for number in (LARGEST, -float(LARGEST), 3e9, 0.5):
            found += [
                {"field": field, "op": "equals", "value": number},
                {"field": field, "op": "not_equals", "value": number},
                {"field": field, "op": "in", "value": [number, -number, "x", True]},
                {"field": field, "op": "greater", "value": number},
                {"field": field, "op": "less", "value": number},
                {"field": field, "op": "between", "value": [-number, number]},
            ]
        found += [
            {"field": field, "op": "contains", "value": "x" * 1000},
            {"field": field, "op": "starts_with", "value": "x"},
            {"field": field, "op": "is_empty"},
            {"field": field, "op": "is_set"},
        ]
    return found


def _extreme_definition() -> dict[str, Any]:
    conditions = _conditions()
    rules: list[dict[str, Any]] = [
        {
            "type": "attribute",
            "name": f"a{index}",
            "when": {"any": conditions[index::30]},
            "points": 10_000 if index % 2 else -10_000,
        }
        for index in range(30)
    ]
    behaviour: dict[str, Any] = {"type": "behaviour", "kind": "email_open"}
    rules += [
        {**behaviour, "name": "each", "points": 10_000},
        {**behaviour, "name": "capped", "points": -10_000, "cap": -10_000},
        {**behaviour, "name": "decay", "points": 10_000, "half_life_days": 0.001},
        {**behaviour, "name": "slow", "points": 1, "half_life_days": 3650, "window_days": 3650},
        {**behaviour, "name": "many", "count": "at_least", "times": 100_000, "points": 1},
        {**behaviour, "name": "none", "count": "none", "points": -10_000},
        {
            **behaviour,
            "name": "props",
            "properties": {"n": LARGEST, "m": -LARGEST, "f": 0.5, "t": True, "s": "x"},
            "points": 1,
        },
    ]
    return {
        "audience": {
            "any": [
                {"field": "lead.size", "op": "less", "value": LARGEST},
                {"field": "lead.size", "op": "is_empty"},
            ]
        },
        "rules": rules,
        "grades": [
            {"name": "low", "max": -LARGEST},
            {"name": "mid", "min": -LARGEST, "max": LARGEST},
            {"name": "high", "min": LARGEST},
        ],
        "sales_ready_score": 10_000,
    }


def test_a_live_model_of_extreme_values_leaves_lead_writes_working(client: TestClient) -> None:  # type: ignore[type-arg]
    account = client.post(
        "/api/accounts", json={"name": "Big", "employees": 10_000_000, "revenue": 1e15}
    )
    assert account.status_code == 201, account.text
    person = client.post(
        "/api/contacts", json={"email": "p@x.io", "account_id": account.json()["id"]}
    ).json()
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3000)).isoformat()
    now = dt.datetime.now(dt.UTC).isoformat()
    items = [
        {
            "kind": "email_open",
            "occurred_at": old if i % 2 else now,
            "contact_id": person["id"],
            "properties": {"n": LARGEST, "m": -LARGEST, "f": 0.5, "t": True, "s": "x"},
        }
        for i in range(1000)
    ]
    # 3,000 occurrences of 10,000 points: 3 * 10^9 cents, past a 32-bit integer.
    for _ in range(3):
        sent = client.post("/api/interactions", json={"interactions": items})
        assert sent.status_code == 201, sent.text
    model = live(client, _extreme_definition())
    for attributes in ({"size": 2**63}, {"size": -1e300}, {"size": LARGEST}, {"size": "x"}, {}):
        created = client.post(
            "/api/leads",
            json={"topic": "t", "parent_contact_id": person["id"], "attributes": attributes},
        )
        assert created.status_code == 201, created.text
        lead = created.json()
        patched = client.patch(
            f"/api/leads/{lead['id']}",
            json={"attributes": {"size": -(10**30)}},
            headers={"If-Match": f'"{lead["version"]}"'},
        )
        assert patched.status_code == 200, patched.text
    asked = client.post(
        f"/api/scoring-models/{model['id']}/what-if",
        json={"definition": _extreme_definition(), "sales_ready_score": -10_000},
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["scored"] == 5
