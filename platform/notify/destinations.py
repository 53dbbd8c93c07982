"""Where outbound webhooks may go: public addresses only, unless
ROOFWATCH_WEBHOOK_ALLOW_PRIVATE=1.

Checked twice. When an endpoint is saved (WebhookEndpoint.clean: admin and any
form or API that validates the model), its host must resolve, and every
address it resolves to must be public. And when a request goes out, the
connection itself resolves the host again, checks every address and connects
to a checked one (`session()`), so a name that re-resolves to an internal
address after it was saved (DNS rebinding) is refused, not followed. TLS still
verifies the certificate against the host name. Redirects are never followed,
and proxy variables are ignored: a proxy would connect where no check looked.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError

from notify.conf import allow_private


class UnsafeDestination(Exception):
    """The host is, or resolves to, an address outbound webhooks may not reach.
    Not an OSError, so urllib3 and requests pass it through unwrapped."""


def is_public(address: str) -> bool:
    """Whether `address` is a global unicast address: not loopback, private,
    link-local, multicast, reserved, unspecified, shared (CGNAT) or an IPv6
    unique-local one; an IPv4-mapped IPv6 address is judged as its IPv4 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_private or ip.is_unspecified)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses of `host`, each one checked; raises UnsafeDestination if
    any is not public (while private ones are not allowed)."""
    addresses = resolve(host, port)
    if not allow_private():
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise UnsafeDestination(f"{host} resolves to {', '.join(refused)}, which is not a public address "
                                    "(set ROOFWATCH_WEBHOOK_ALLOW_PRIVATE=1 to allow internal receivers)")
    return addresses


def check_url(url: str) -> None:
    """Refuse (UnsafeDestination) a URL whose host does not resolve, or resolves
    to a non-public address; anything goes while private addresses are allowed."""
    if allow_private():
        return
    parts = urlsplit(url)
    if not parts.hostname:
        raise UnsafeDestination(f"{url!r} has no host")
    try:
        checked_addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError) as exc:
        raise UnsafeDestination(f"{parts.hostname} does not resolve: {exc}") from None


class _CheckedConnect:
    """Connect to a checked address of the host instead of letting the socket
    layer resolve it again; `host` stays the name (Host header, TLS SNI and
    certificate check)."""

    def _new_conn(self):
        name = self._dns_host
        addresses = checked_addresses(name, self.port)
        try:
            for i, address in enumerate(addresses):
                self._dns_host = address  # what urllib3 connects to; restored below
                try:
                    return super()._new_conn()
                except ConnectTimeoutError:  # and NewConnectionError: try the next address
                    if i == len(addresses) - 1:
                        raise
        finally:
            self._dns_host = name


class _CheckedHTTPConnection(_CheckedConnect, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnect, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


def session() -> requests.Session:
    """A requests session whose every connection goes through the address check."""
    s = requests.Session()
    s.trust_env = False
    adapter = _CheckedAdapter()
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s
