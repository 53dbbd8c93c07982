"""Rate limiting of authentication failures per client address, in the Django
cache: after ROOFWATCH_AUTH_FAILURES failures within ROOFWATCH_AUTH_WINDOW_SECONDS
an address gets 429 until the window ends. Used by the agent token
authentication (core.agent_auth) and the inbound hooks (notify), each its own scope.

Only failures are counted and refused: a caller checks the credential first,
so a request whose credential verifies is never refused, whoever shares its address.

The client address is REMOTE_ADDR, unless REMOTE_ADDR is one of the trusted
proxies (ROOFWATCH_TRUSTED_PROXIES, addresses or CIDRs): then it is the
right-most X-Forwarded-For entry that is not a trusted proxy (entries left of
it are the client's to forge).

With several web processes the cache must be shared (CACHE_URL=redis://...)
for the limit to hold across them; the default local-memory cache limits each
process on its own."""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as exc:
        raise ImproperlyConfigured(f"ROOFWATCH_TRUSTED_PROXIES: {exc} (expected addresses or CIDRs, "
                                   f"comma-separated)") from None


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _is_trusted(address, trusted: tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


def client_ip(request) -> str | None:
    """The client's IP address as described above; None when it cannot be told (no usable REMOTE_ADDR)."""
    remote = _ip(request.META.get("REMOTE_ADDR", ""))
    trusted = trusted_networks(tuple(settings.ROOFWATCH_TRUSTED_PROXIES))
    if remote is None:
        return None
    if not _is_trusted(remote, trusted):
        return str(remote)
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _ip(hop)
        if address is None:  # not what a trusted proxy writes: the proxy is the best we know
            return str(remote)
        if not _is_trusted(address, trusted):
            return str(address)
    return str(remote)  # every hop is a trusted proxy: a request from the proxies themselves


def client_address(request) -> str:
    return client_ip(request) or "unknown"


def _key(scope: str, address: str) -> str:
    return f"auth-failures:{scope}:{address}"


def is_limited(scope: str, address: str) -> bool:
    return (cache.get(_key(scope, address)) or 0) >= settings.ROOFWATCH_AUTH_FAILURES


def refuse_failure(scope: str, request) -> bool:
    """Count a failed credential of `request`'s client. True when the client was
    already over the limit (answer 429, not the failure), False when counted."""
    address = client_address(request)
    if is_limited(scope, address):
        return True
    key, window = _key(scope, address), settings.ROOFWATCH_AUTH_WINDOW_SECONDS
    if not cache.add(key, 1, timeout=window):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
    return False
