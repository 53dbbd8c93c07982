"""Rate limiting of authentication failures on the inbound hooks, per client
address, in the Django cache. With several web processes the cache must be
shared (Redis) for the limit to hold across them; the default local-memory
cache limits each process on its own."""
from django.core.cache import cache

from notify.conf import setting


def _key(address: str) -> str:
    return f"notify:hook-auth-failures:{address}"


def client_address(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is the client's to forge unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def is_limited(address: str) -> bool:
    return (cache.get(_key(address)) or 0) >= setting("ROOFWATCH_HOOK_AUTH_FAILURES")


def record_failure(address: str) -> None:
    key = _key(address)
    if not cache.add(key, 1, timeout=setting("ROOFWATCH_HOOK_AUTH_WINDOW_SECONDS")):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=setting("ROOFWATCH_HOOK_AUTH_WINDOW_SECONDS"))
