"""The guard on outbound requests (Prometheus sources, PromQL, webhooks): a URL whose host
resolves to a loopback, private, link-local (cloud metadata), multicast or otherwise non-public
address is refused unless allow-listed (``AI_ANALYTICS_OUTBOUND_ALLOW``: CIDRs and host names,
``*.example.com`` for a domain). The request is then pinned to the address that was checked, so
a second DNS answer cannot move it elsewhere (DNS rebinding), and redirects are never followed.

Senders call ``guarded_request(client, method, url, allow)``; ``Allowlist.parse`` reads the setting.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import httpx

from ..errors import SourceError

__all__ = ["Allowlist", "OutboundRefused", "check_url", "guarded_request"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(SourceError):
    """Raised when an outbound URL leads to an address the service may not reach."""

    code = "outbound_refused"


@dataclass(frozen=True)
class Allowlist:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    hosts: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, text: str | Iterable[str] | None) -> Allowlist:
        items = text.split(",") if isinstance(text, str) else list(text or [])
        networks, hosts = [], []
        for item in (i.strip() for i in items):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.append(item.lower())
        return cls(tuple(networks), tuple(hosts))

    def allows_host(self, host: str) -> bool:
        return any(fnmatchcase(host.lower(), pattern) for pattern in self.hosts)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, allow: Allowlist) -> tuple[httpx.URL, IPAddress | None]:
    """The parsed URL and the address to connect to (None when the host is allow-listed by
    name: connect as usual); ``OutboundRefused`` when it may not be reached."""
    parsed = httpx.URL(url)
    host = parsed.host
    if parsed.scheme not in ("http", "https") or not host:
        raise OutboundRefused(f"outbound request refused: {parsed.scheme}:// is not http(s)")
    if allow.allows_host(host):
        return parsed, None
    try:
        literal = ipaddress.ip_address(host)
        addresses: list[IPAddress] = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, parsed.port or (443 if parsed.scheme == "https" else 80))
        except OSError:
            raise OutboundRefused(f"outbound request to {host} refused: the name does not resolve") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if not _public(address) and not allow.allows_address(address):
            raise OutboundRefused(
                f"outbound request to {host} refused: it resolves to a loopback, private, link-local or "
                "reserved address (allow it with AI_ANALYTICS_OUTBOUND_ALLOW)"
            )
    return parsed, addresses[0]


def guarded_request(
    client: httpx.Client, method: str, url: str, allow: Allowlist | None, **kwargs: Any
) -> httpx.Response:
    """``client.request`` after ``check_url``, connected to the checked address (with the URL's
    host name kept for ``Host`` and TLS), never following a redirect. ``allow`` None: unguarded
    (a library caller that chose its own URL)."""
    kwargs["follow_redirects"] = False
    if allow is None:
        return client.request(method, url, **kwargs)
    parsed, address = check_url(url, allow)
    if address is None:
        return client.request(method, parsed, **kwargs)
    headers = dict(kwargs.pop("headers", None) or {})
    headers.setdefault("Host", parsed.netloc.decode("ascii"))
    extensions = dict(kwargs.pop("extensions", None) or {})
    if parsed.scheme == "https":
        extensions.setdefault("sni_hostname", parsed.host)
    pinned = parsed.copy_with(host=str(address))
    return client.request(method, pinned, headers=headers, extensions=extensions, **kwargs)
