"""Hostile input is refused at the edge, alike on SQLite and PostgreSQL: a NUL character anywhere
(JSON bodies, query and path parameters, CSV cells), bodies nested too deeply, a lone surrogate,
and webhook URLs outside the pattern the OpenAPI document declares. Each refusal is a 4xx that
says what is wrong, and writes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from api.http.bodies import MAX_DEPTH

Client = TestClient  # type: ignore[type-arg]
NUL = "contains a NUL character"
KEY_NUL = "a key contains a NUL character"
TOO_DEEP = "the JSON body nests too deeply"
WHEN = "2026-03-01T09:30:00Z"


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def _items(client: Client, path: str) -> list[Any]:
    listed = client.get(path).json()
    return listed["items"] if isinstance(listed, dict) else listed


def _form(client: Client) -> None:
    made = client.post("/api/forms", json={"id": "webinar", "name": "Webinar"})
    assert made.status_code == 201, made.text


def _leadgen(client: Client) -> None:
    _form(client)
    source = {"id": "linkedin", "form_id": "webinar", "mapping": {"email": "email"}}
    made = client.post("/api/leadgen/sources", json=source)
    assert made.status_code == 201, made.text


def _contact(client: Client) -> int:
    made = client.post("/api/contacts", json={"email": "ana@example.com"})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _nothing_captured(client: Client) -> None:
    assert _items(client, "/api/contacts") == []
    assert _items(client, "/api/leads") == []
    assert _items(client, "/api/interactions") == []


# -- NUL in JSON bodies ---------------------------------------------------------------------


def test_a_nul_in_a_lead_topic_or_attribute_is_refused_naming_the_path(client: Client) -> None:
    refused = client.post("/api/leads", json={"topic": "Pi\x00lot"})
    assert _errors(refused) == {"topic": NUL}
    refused = client.post("/api/leads", json={"topic": "Pilot", "attributes": {"industry": "\x00"}})
    assert _errors(refused) == {"attributes.industry": NUL}
    assert _items(client, "/api/leads") == []


def test_a_nul_in_a_contact_email_is_refused(client: Client) -> None:
    assert _errors(client.post("/api/contacts", json={"email": "a\x00@example.com"})) == {
        "email": NUL
    }
    assert _items(client, "/api/contacts") == []


def test_a_nul_in_an_interaction_property_is_refused(client: Client) -> None:
    contact = _contact(client)
    item = {"kind": "page_visit", "occurred_at": WHEN, "contact_id": contact}
    body = {"interactions": [item, {**item, "properties": {"campaign": "spring\x00"}}]}
    assert _errors(client.post("/api/interactions", json=body)) == {
        "interactions.1.properties.campaign": NUL
    }
    assert _items(client, "/api/interactions") == []


def test_a_nul_in_a_form_field_or_its_name_is_refused(client: Client) -> None:
    _form(client)
    path = "/api/forms/webinar/submissions"
    fields = {"email": "ana@example.com", "first_name": "A\x00na"}
    assert _errors(client.post(path, json={"fields": fields})) == {"fields.first_name": NUL}
    fields = {"email": "ana@example.com", "na\x00me": "Ana"}
    assert _errors(client.post(path, json={"fields": fields})) == {"fields": KEY_NUL}
    _nothing_captured(client)


def test_a_nul_in_a_matching_strategy_name_is_refused(client: Client) -> None:
    body = {"name": "by\x00email", "entity": "contact", "fields": ["email"]}
    assert _errors(client.post("/api/matching-strategies", json=body)) == {"name": NUL}
    assert all("\x00" not in s["name"] for s in _items(client, "/api/matching-strategies"))


def test_a_nul_anywhere_in_a_lead_gen_payload_is_refused_keys_too(client: Client) -> None:
    _leadgen(client)
    nested = {"email": "bo@example.com", "answers": [{"q": "size", "value": ["1", "2\x00"]}]}
    assert _errors(client.post("/api/leadgen/linkedin", json=nested)) == {"answers.0.value.1": NUL}
    keyed = {"email": "bo@example.com", "answers": [{"q\x00": "size"}]}
    assert _errors(client.post("/api/leadgen/linkedin", json=keyed)) == {"answers.0": KEY_NUL}
    assert _errors(client.post("/api/leadgen/linkedin", json={"\x00": 1})) == {"body": KEY_NUL}
    _nothing_captured(client)


# -- NUL in query and path parameters -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/leads", "owner"),
        ("/api/leads", "stage"),
        ("/api/leads", "process"),
        ("/api/contacts", "email"),
        ("/api/imports/contacts", "mapping"),
    ],
)
def test_a_nul_in_a_query_parameter_is_refused_naming_it(
    client: Client, path: str, name: str
) -> None:
    method = client.post if path.startswith("/api/imports") else client.get
    refused = method(path, params={name: "a\x00b"}, headers={"content-type": "text/csv"})
    assert _errors(refused) == {name: NUL}


def test_a_nul_in_a_path_parameter_is_refused_naming_it(client: Client) -> None:
    _leadgen(client)
    assert _errors(client.get("/api/forms/a%00b")) == {"form_id": NUL}
    assert _errors(client.post("/api/leadgen/a%00b", json={"email": "bo@example.com"})) == {
        "source_id": NUL
    }
    _nothing_captured(client)


# -- NUL in a CSV cell over HTTP ------------------------------------------------------------


def _post_csv(client: Client, body: bytes) -> Any:
    return client.post("/api/imports/contacts", content=body, headers={"content-type": "text/csv"})


def test_a_nul_in_a_csv_cell_is_refused_naming_its_line_and_column(client: Client) -> None:
    body = b"email,first_name\nana@example.com,Ana\nbob@example.com,B\x00ob\n"
    refused = _post_csv(client, body)
    assert refused.status_code == 422, refused.text
    assert [(e["line"], e["column"], e["reason"]) for e in refused.json()["errors"]] == [
        (3, "first_name", NUL)
    ]
    header = _post_csv(client, b"email,first\x00name\nana@example.com,Ana\n")
    assert header.status_code == 422, header.text
    assert [(e["line"], e["reason"]) for e in header.json()["errors"]] == [(1, "the header " + NUL)]
    assert _items(client, "/api/contacts") == []


# -- depth ----------------------------------------------------------------------------------


def _nested(depth: int, inner: str = "1") -> str:
    """A JSON value `depth` arrays deep."""
    return "[" * depth + inner + "]" * depth


def _post_raw(client: Client, path: str, body: str | bytes) -> Any:
    content = body.encode() if isinstance(body, str) else body
    return client.post(path, content=content, headers={"content-type": "application/json"})


DEPTHS = [MAX_DEPTH + 1, 200, 450, 500, 750, 999, 1000, 5000, 100_000]


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_body_nested_beyond_the_bound_is_400_at_every_depth(client: Client, depth: int) -> None:
    _leadgen(client)
    # Two levels are the body and its attributes object.
    lead = '{"topic": "Pilot", "attributes": {"a": ' + _nested(depth - 2) + "}}"
    leadgen = '{"email": "bo@example.com", "a": ' + _nested(depth - 1) + "}"
    for path, body in [("/api/leads", lead), ("/api/leadgen/linkedin", leadgen)]:
        refused = _post_raw(client, path, body)
        assert refused.status_code == 400, (path, refused.text)
        assert refused.json()["type"] == "urn:leadflow:problem:malformed-body"
        assert refused.json()["detail"] == TOO_DEEP
    _nothing_captured(client)


def test_a_body_within_the_bound_is_validated_as_before(client: Client) -> None:
    _leadgen(client)
    lead = '{"topic": "Pilot", "attributes": {"a": ' + _nested(MAX_DEPTH - 2) + "}}"
    assert all(f.startswith("attributes.a") for f in _errors(_post_raw(client, "/api/leads", lead)))
    leadgen = '{"email": "bo@example.com", "a": ' + _nested(MAX_DEPTH - 1) + "}"
    assert _post_raw(client, "/api/leadgen/linkedin", leadgen).status_code == 201


def test_every_json_route_refuses_an_over_deep_body_with_400(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    body = _nested(600)
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "application/json" not in operation.get("requestBody", {}).get("content", {}):
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            answer = client.request(
                method.upper(),
                url,
                content=body.encode(),
                headers={"content-type": "application/json", "If-Match": '"1"'},
            )
            assert answer.status_code == 400, (method, path, answer.text)
            assert answer.json()["detail"] == TOO_DEEP, (method, path)
            checked += 1
    assert checked > 40


# -- lone surrogates ------------------------------------------------------------------------


def test_a_lone_surrogate_is_named_as_what_is_wrong(client: Client) -> None:
    refused = _post_raw(client, "/api/leads", b'{"topic": "Pilot \\ud800"}')
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"] == "urn:leadflow:problem:malformed-body"
    detail = refused.json()["detail"]
    assert "not valid UTF-8" in detail and "lone surrogate" in detail and "topic" in detail
    low = _post_raw(client, "/api/leads", b'{"topic": "x", "attributes": {"\\udc00": 1}}')
    assert low.status_code == 400 and "lone surrogate" in low.json()["detail"]
    assert "attributes" in low.json()["detail"]
    assert _items(client, "/api/leads") == []
    paired = _post_raw(client, "/api/leads", b'{"topic": "Pilot \\ud83d\\ude00"}')
    assert paired.status_code == 201, paired.text
    assert paired.json()["topic"] == "Pilot \U0001f600"


def test_a_truncated_body_is_still_malformed(client: Client) -> None:
    refused = _post_raw(client, "/api/leads", b'{"topic": ')
    assert refused.status_code == 400
    assert "surrogate" not in refused.json()["detail"]


# -- webhook URLs ---------------------------------------------------------------------------

URLS = [
    "http://hooks.example.com",
    "https://hooks.example.com/leadflow?team=a&b=c",
    "https://hooks.example.com:8443/x/y",
    "http://a.b.example.com:65535/",
    "http://0*",
    "http://hooks_example.com/",
    "http://-hooks.example.com/",
    "http://hooks-.example.com/",
    "http://hooks..example.com/",
    "http://hooks.example.com./",
    "HTTP://hooks.example.com/",
    "Https://hooks.example.com/",
    "ftp://hooks.example.com/",
    "http:/hooks.example.com/",
    "http://",
    "http://hooks.example.com:65536/",
    "http://hooks.example.com:0/",
    "http://hooks.example.com:/",
    "http://hooks.example.com:99999/",
    "http://ana@hooks.example.com/",
    "http://ana:pw@hooks.example.com/",
    "http://hooks.example.com/#part",
    "http://hooks.example.com/a b",
    "http://hooks.example.com/a\tb",
    "http://hooks.example.com/\n",
    "http://hooks.example.com\n",
    "http://hooks.example.com/\u00e9",
    "http://hooks.example.com/a\u00a0b",
    "http://hooks.example.com/a\ufeffb",
    "http://hooks.example.com/a\x1cb",
    "http://hooks.example.com/a\x7fb",
    "http://hooks.example.com/%20",
    "http://[::1]/",
    "http://hooks.example.com?x=1",
    "http://hooks.example.com\\x",
    "http://" + "a" * 63 + ".example.com/",
    "http://" + "a" * 64 + ".example.com/",
    "http://hooks.example.com/" + "a" * 1980,
    "http://hooks.example.com/" + "a" * 1990,
]


def test_webhook_urls_are_refused_exactly_where_the_document_says(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    url_schema = document["components"]["schemas"]["WebhookCreate"]["properties"]["url"]
    pattern = re.compile(url_schema["pattern"])
    accepted = 0
    for url in URLS:
        valid = pattern.fullmatch(url) is not None and len(url) <= url_schema["maxLength"]
        answer = client.post("/api/webhooks", json={"url": url, "event_types": ["lead.created"]})
        if valid:
            assert answer.status_code == 201, (url, answer.text)
            accepted += 1
        else:
            assert answer.status_code == 422, (url, answer.text)
            assert "url" in _errors(answer), url
    assert 0 < accepted < len(URLS)
    assert len(_items(client, "/api/webhooks")) == accepted


def test_the_document_says_where_a_nul_is_refused(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    no_nul = r"^[^\x00]*$"
    lead = document["components"]["schemas"]["LeadCreate"]["properties"]
    assert lead["topic"]["pattern"] == no_nul
    listing = document["paths"]["/api/leads"]["get"]["parameters"]
    owner = next(p for p in listing if p["name"] == "owner")["schema"]
    assert no_nul in [owner.get("pattern"), *(m.get("pattern") for m in owner.get("anyOf", []))]
    form = document["paths"]["/api/forms/{form_id}"]["get"]["parameters"]
    assert next(p for p in form if p["name"] == "form_id")["schema"]["pattern"] == no_nul
    leadgen = document["paths"]["/api/leadgen/{source_id}"]["post"]["requestBody"]
    assert leadgen["content"]["application/json"]["schema"]["propertyNames"] == {"pattern": no_nul}
