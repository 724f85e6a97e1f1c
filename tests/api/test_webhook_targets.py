"""Webhook targets: no webhook goes to the service's own side of the network (loopback,
link-local, private, unspecified, multicast, reserved; IPv4 and IPv6) unless
LEADFLOW_WEBHOOK_ALLOWED_TARGETS allows the host or its network. Refused with 422 when a URL
is set, and again at every connection the sender opens, on the address it then connects to."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app, open_service
from api.services.keys import Role
from api.services.webhook_targets import Refused, Targets
from api.settings import Settings
from tests.api.test_webhooks import lead, settled, subscribe
from tests.conftest import KeyMaker
from tests.receiver import Receiver, receiving

Client = TestClient  # type: ignore[type-arg]

REFUSED = [
    ("http://127.0.0.1:9/hooks", "127.0.0.1 is a loopback address"),
    ("http://127.0.0.2/", "127.0.0.2 is a loopback address"),
    ("http://localhost:8080/hooks", "localhost is 127.0.0.1, a loopback address"),
    ("http://2130706433/", "2130706433 is 127.0.0.1, a loopback address"),  # decimal
    ("http://0177.0.0.1/", "0177.0.0.1 is 127.0.0.1, a loopback address"),  # octal
    ("http://0x7f.1/", "0x7f.1 is 127.0.0.1, a loopback address"),  # hexadecimal, short
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("https://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://172.16.5.4:8443/x", "172.16.5.4 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://100.64.0.1/", "100.64.0.1 is not a public address"),
    ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
    ("http://0/", "0 is 0.0.0.0, an unspecified address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://240.0.0.1/", "240.0.0.1 is a"),
]


@pytest.fixture
def settings(database_url: str, stages_file: Path) -> Settings:
    """The defaults of a deployment: no target allowed besides public addresses."""
    return Settings(
        database_url=database_url,
        stages_file=stages_file,
        periodic_jobs=False,
        webhook_poll_seconds=0.02,
        webhook_backoff_seconds=0.05,
        webhook_backoff_max_seconds=0.2,
        webhook_max_attempts=4,
        webhook_timeout_seconds=2,
    )


@pytest.fixture
def admin(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.ADMIN))
    return app_client


@contextmanager
def serving(settings: Settings, auth: KeyMaker, **changes: Any) -> Iterator[Client]:
    """An admin's client of the app with these settings changed, on the test's database."""
    service = open_service(settings.model_copy(update=changes))
    try:
        with TestClient(create_app(service)) as client:
            client.headers.update(auth(Role.ADMIN))
            yield client
    finally:
        service.db.dispose()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the resolver answers with the addresses set here, in turn, one list per lookup
    (the last one again once they are used up); any other name resolves as usual."""
    answers: dict[str, list[str]] = {}
    lookups: dict[str, int] = {}
    real: Callable[..., Any] = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        turn = lookups.get(host, 0)
        lookups[host] = turn + 1
        address = answers[host][min(turn, len(answers[host]) - 1)]
        return real(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def reasons(answer: Any) -> list[str]:
    return [e["reason"] for e in answer.json()["errors"] if e["field"] == "url"]


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_a_url_reaching_the_inside_of_the_network_is_refused(
    admin: Client, url: str, why: str
) -> None:
    answer = admin.post("/api/webhooks", json={"url": url, "event_types": ["lead.created"]})
    assert answer.status_code == 422, answer.text
    [reason] = reasons(answer)
    assert reason.startswith(why), reason
    assert reason.endswith(
        "webhooks go to public addresses only, unless LEADFLOW_WEBHOOK_ALLOWED_TARGETS allows it"
    )
    assert admin.get("/api/webhooks").json() == []


def test_a_change_of_url_to_the_inside_is_refused_and_changes_nothing(admin: Client) -> None:
    hook = subscribe(admin, "https://hooks.example.com/leadflow", "lead.created")
    url = f"/api/webhooks/{hook['id']}"
    refused = admin.patch(
        url, json={"url": "http://169.254.169.254/latest"}, headers={"If-Match": '"1"'}
    )
    assert refused.status_code == 422, refused.text
    assert reasons(refused)[0].startswith("169.254.169.254 is a link-local address")
    read = admin.get(url)
    assert (read.json()["url"], read.headers["ETag"]) == (
        "https://hooks.example.com/leadflow",
        '"1"',
    )


def test_every_internal_address_family_is_refused_and_public_ones_pass() -> None:
    targets = Targets()
    refused = {
        "::1": "a loopback address",
        "::": "an unspecified address",
        "fe80::1": "a link-local address",
        "fc00::1": "a private address",
        "fd12:3456::1": "a private address",
        "ff02::1": "a multicast address",
        "::ffff:127.0.0.1": "an IPv6 form of 127.0.0.1, a loopback address",
        "::ffff:169.254.169.254": "an IPv6 form of 169.254.169.254, a link-local address",
        "::ffff:10.0.0.1": "an IPv6 form of 10.0.0.1, a private address",
        "2002:7f00:1::": "an IPv6 form of 127.0.0.1, a loopback address",  # 6to4
        "64:ff9b::a9fe:a9fe": "an IPv6 form of 169.254.169.254, a link-local address",  # NAT64
    }
    for address, why in refused.items():
        with pytest.raises(Refused, match="webhooks go to public addresses only") as caught:
            targets.addresses(address, 443)
        assert str(caught.value).startswith(f"{address} is {why}"), caught.value
    for public in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"):
        assert targets.addresses(public, 443) == [public]


def test_the_setting_allows_named_hosts_and_networks(
    settings: Settings, auth: KeyMaker, dns: dict[str, list[str]]
) -> None:
    dns["receiver.corp.example"] = ["10.1.2.3"]
    dns["other.corp.example"] = ["10.1.2.3"]
    allowed = "receiver.corp.example, 127.0.0.0/8, fd00::/8"
    with serving(settings, auth, webhook_allowed_targets=allowed) as admin:
        for url in (
            "http://127.0.0.1:9/hooks",
            "http://localhost:8080/hooks",
            "https://receiver.corp.example/hooks",
        ):
            subscribe(admin, url, "lead.created")
        answer = admin.post(
            "/api/webhooks",
            json={"url": "https://other.corp.example/hooks", "event_types": ["lead.created"]},
        )
        assert answer.status_code == 422
        assert reasons(answer)[0].startswith("other.corp.example is 10.1.2.3, a private address")
    with pytest.raises(ValueError, match="'a b' is neither a host name nor an address"):
        Settings(webhook_allowed_targets="receiver.corp.example, a b")


def test_a_target_refused_at_send_time_fails_at_once_with_its_reason(
    settings: Settings, auth: KeyMaker
) -> None:
    """Subscribed while the setting allowed the receiver; the sender of a deployment that no
    longer allows it sends nothing there and says why in the delivery log."""
    inbox = Receiver()
    with receiving(inbox) as url:
        with serving(settings, auth, webhook_allowed_targets="127.0.0.1") as admin:
            hook = subscribe(admin, url, "lead.created")
        with serving(settings, auth) as admin:
            lead(admin)
            [failed] = settled(admin, hook, 1)
    assert inbox.received == []
    assert (failed["status"], failed["attempt_count"]) == ("failed", 1)
    [attempt] = failed["attempts"]
    assert attempt["status_code"] is None and attempt["next_retry_at"] is None
    assert attempt["error"].startswith("refused: 127.0.0.1 is a loopback address"), attempt


def test_a_name_that_resolves_elsewhere_at_send_time_is_refused(
    admin: Client, dns: dict[str, list[str]]
) -> None:
    """DNS rebinding: public when the URL is set, then the service's own machine. The sender
    checks the address it connects to, not the one seen at subscription."""
    inbox = Receiver()
    with receiving(inbox) as url:
        port = url.split(":")[2].split("/")[0]
        dns["rebind.example"] = ["93.184.216.34", "127.0.0.1"]
        hook = subscribe(admin, f"http://rebind.example:{port}/hooks", "lead.created")
        lead(admin)
        [failed] = settled(admin, hook, 1)
    assert inbox.received == []
    [attempt] = failed["attempts"]
    assert failed["status"] == "failed"
    assert attempt["error"].startswith("refused: rebind.example is 127.0.0.1, a loopback")


def test_an_allowed_name_is_sent_to_the_address_checked_with_its_own_host_header(
    settings: Settings, auth: KeyMaker, dns: dict[str, list[str]]
) -> None:
    inbox = Receiver()
    with receiving(inbox) as url:
        port = url.split(":")[2].split("/")[0]
        dns["receiver.corp.example"] = ["127.0.0.1"]
        with serving(settings, auth, webhook_allowed_targets="receiver.corp.example") as admin:
            hook = subscribe(admin, f"http://receiver.corp.example:{port}/hooks", "lead.created")
            lead(admin)
            [done] = settled(admin, hook, 1)
    assert done["status"] == "delivered", done
    [received] = inbox.received
    assert received.headers["host"] == f"receiver.corp.example:{port}"
