"""Input is read as the OpenAPI document states it: JSON types are not coerced, fields that
cannot be cleared refuse null, unknown query parameters are refused, and each refusal names
the field and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

Client = TestClient  # type: ignore[type-arg]


def _errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"handle": "ana", "name": "Ana", "active": 0}, "active"),  # 0 is not false
        ({"handle": "ana", "name": "Ana", "capacity": "12"}, "capacity"),  # "12" is not 12
        ({"handle": "ana", "name": "Ana", "capacity": True}, "capacity"),
        ({"handle": "ana", "name": "Ana", "capacity": 1.5}, "capacity"),
    ],
)
def test_json_types_are_not_coerced(client: Client, body: dict[str, Any], field: str) -> None:
    refused = client.post("/api/sellers", json=body)
    assert refused.status_code == 422, refused.text
    assert field in _errors(refused)
    assert client.get("/api/sellers").json()["items"] == []


def test_a_number_with_a_zero_fraction_is_an_integer_as_in_json_schema(client: Client) -> None:
    made = client.post("/api/sellers", json={"handle": "ana", "name": "Ana", "capacity": 12.0})
    assert made.status_code == 201, made.text
    assert made.json()["capacity"] == 12


def test_times_are_rfc_3339_not_epoch_seconds(client: Client) -> None:
    lead = client.post("/api/leads", json={"topic": "Pilot"}).json()
    body = {"lead_id": lead["id"], "kind": "task", "subject": "Call", "due_at": "1700000000"}
    refused = client.post("/api/activities", json=body)
    assert refused.status_code == 422
    assert "RFC 3339" in _errors(refused)["due_at"]
    listed = client.get("/api/activities", params={"due_before": "0.5"})
    assert listed.status_code == 422 and "due_before" in _errors(listed)


def test_null_is_refused_where_a_field_cannot_be_cleared(client: Client) -> None:
    lead = client.post("/api/leads", json={"topic": "Pilot"})
    refused = client.patch(
        f"/api/leads/{lead.json()['id']}",
        json={"topic": None, "email": None},
        headers={"If-Match": lead.headers["etag"]},
    )
    assert refused.status_code == 422
    assert _errors(refused) == {"topic": "cannot be cleared"}
    schema = client.get("/schema/openapi.json").json()["components"]["schemas"]["LeadUpdate"]
    assert schema["properties"]["topic"].get("type") == "string"  # no null member
    assert {"type": "null"} in schema["properties"]["email"]["anyOf"]


def test_an_unknown_query_parameter_is_refused_naming_it(client: Client) -> None:
    client.post("/api/leads", json={"topic": "Pilot"})
    refused = client.get("/api/leads", params={"ownr": "ana"})
    assert refused.status_code == 422
    assert "not a query parameter of this operation" in _errors(refused)["ownr"]
    assert "owner" in _errors(refused)["ownr"]
    assert client.get("/api/leads", params={"owner": "ana"}).status_code == 200


def test_a_name_taken_is_a_conflict(client: Client) -> None:
    assert client.post("/api/sellers", json={"handle": "ana", "name": "Ana"}).status_code == 201
    again = client.post("/api/sellers", json={"handle": "ana", "name": "Other"})
    assert again.status_code == 409
    assert again.json()["type"] == "urn:leadflow:problem:taken"
    assert "handle" in _errors(again)
