"""Bringing a lead to where the bundled process qualifies it, for tests whose subject is what
follows a qualification, not the road to it (tests/api/test_opportunities.py tests the rule)."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]
QUALIFY_FROM = "sales_acceptance"


def ready_to_qualify(
    client: Client, lead_id: int, owner: str = "sam", headers: dict[str, str] | None = None
) -> Json:
    """Switch the lead to Sales acceptance and fill its required steps: an owner (the seller
    `owner`, made if need be, when it has none: that takes an admin) and sales accepted. The
    lead as it is then."""
    headers = headers or {}
    lead: Json = client.get(f"/api/leads/{lead_id}", headers=headers).json()
    if lead["stage"] != QUALIFY_FROM:
        lead = _sent(
            client,
            "POST",
            f"/api/leads/{lead_id}/stage",
            {"to": QUALIFY_FROM, "reason": "ready to qualify"},
            headers,
            lead,
        )
    change: Json = {"attributes": {"sales_accepted": True}}
    if lead["owner"] is None:
        ensure_seller(client, owner, headers)
        change["owner"] = owner
    return _sent(client, "PATCH", f"/api/leads/{lead_id}", change, headers, lead)


def ensure_seller(client: Client, handle: str, headers: dict[str, str] | None = None) -> None:
    """Make `handle` an active seller unless it is one (that takes an admin)."""
    seller = client.post(
        "/api/sellers", json={"handle": handle, "name": handle}, headers=headers or {}
    )
    assert seller.status_code in (201, 409), seller.text  # 409: the seller exists


def _sent(
    client: Client, method: str, path: str, body: Json, headers: dict[str, str], lead: Json
) -> Json:
    answer = client.request(
        method, path, json=body, headers={**headers, "If-Match": f'"{lead["version"]}"'}
    )
    assert answer.status_code == 200, answer.text
    changed: Json = answer.json()
    return changed
