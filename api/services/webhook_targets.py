"""Where webhooks may go. Not, by default, to the service's own side of the network: an
address that is loopback, link-local, private, unspecified, multicast, reserved or otherwise
not publicly routable (IPv4 or IPv6, also an IPv4 address inside an IPv6 one) is refused,
unless LEADFLOW_WEBHOOK_ALLOWED_TARGETS names the host or a network holding the address.

A subscription's URL is checked when it is set, on the addresses its host resolves to then
(an IP address written in decimal, octal or short form resolves to itself). The sender checks
again at every connection it opens and connects to an address it has just checked, so a DNS
answer that changes between the check and the connection cannot lead it elsewhere. The host
name stays what the URL says: in the Host header and for TLS (SNI and the certificate)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

SETTING = "LEADFLOW_WEBHOOK_ALLOWED_TARGETS"
ONLY_PUBLIC = "webhooks go to public addresses only"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
# NAT64's well-known prefix: the last 32 bits are the IPv4 address reached.
_NAT64 = ip_network("64:ff9b::/96")


class Refused(Exception):
    """The target is not one webhooks may be sent to."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _host_name(value: str) -> str:
    return value.strip().lower().rstrip(".")


@dataclass(frozen=True)
class Targets:
    """The targets allowed besides public addresses: host names, and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Targets:
        """Comma-separated host names and addresses or networks (10.0.0.0/8, fd00::/8);
        ValueError names an entry that is neither."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ip_network(entry, strict=False))
            except ValueError:
                if not _HOST.fullmatch(_host_name(entry)):
                    raise ValueError(
                        f"'{entry}' is neither a host name nor an address or network "
                        "(10.0.0.0/8, fd00::/8)"
                    ) from None
                hosts.add(_host_name(entry))
        return cls(frozenset(hosts), tuple(networks))

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, each checked: Refused when any of them is
        not allowed, OSError when the name does not resolve."""
        found = _resolve(host, port)
        if _host_name(host) not in self.hosts:
            for text in found:
                if reason := self.refusal(ip_address(text)):
                    what = f"{host} is {reason}" if host == text else f"{host} is {text}, {reason}"
                    raise Refused(f"{what}: {ONLY_PUBLIC}, unless {SETTING} allows it")
        return found

    def refusal(self, address: Address) -> str | None:
        """Why webhooks may not go to `address` (None: they may)."""
        inner = _embedded(address)
        if any(a in network for a in (address, inner) if a for network in self.networks):
            return None
        if inner is None:
            return _kind(address)
        # What is reached is the IPv4 address inside.
        kind = _kind(inner)
        return f"an IPv6 form of {inner}, {kind}" if kind else None


@lru_cache(maxsize=8)
def allowed(setting: str) -> Targets:
    return Targets.parse(setting)


def _embedded(address: Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo's client, NAT64)."""
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: Address) -> str | None:
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, targets: Targets) -> None:
    """Refused when the URL's host resolves to an address webhooks may not go to. A host that
    does not resolve now passes: the sender checks it again each time it connects."""
    parts = urlsplit(url)
    host = parts.hostname
    if host is None:
        return
    try:
        targets.addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError:
        return


class _CheckedBackend(httpcore.SyncBackend):
    """Opens a connection only to an address of the host that `targets` allows, the one
    checked, never looking the name up a second time."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = self.targets.addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        failed: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in found:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failed = exc
        assert failed is not None
        raise failed


def transport(targets: Targets, limits: httpx.Limits) -> httpx.HTTPTransport:
    """An httpx transport whose connections go only where `targets` allows."""
    checked = httpx.HTTPTransport(limits=limits)
    # httpx takes no network backend of its own; its connection pool holds the one it uses.
    pool = checked._pool
    assert isinstance(pool, httpcore.ConnectionPool) and hasattr(pool, "_network_backend")
    pool._network_backend = _CheckedBackend(targets)
    return checked
