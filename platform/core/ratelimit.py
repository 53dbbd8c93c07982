"""Rate limiting of authentication failures per client address, in the Django
cache: after ROOFWATCH_AUTH_FAILURES failures within ROOFWATCH_AUTH_WINDOW_SECONDS
an address gets 429 until the window ends. Used by the agent token
authentication (core.agent_auth) and the inbound hooks (notify), each its own scope.
With several web processes the cache must be shared (CACHE_URL=redis://...)
for the limit to hold across them; the default local-memory cache limits each
process on its own."""
from django.conf import settings
from django.core.cache import cache


def _key(scope: str, address: str) -> str:
    return f"auth-failures:{scope}:{address}"


def client_address(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is the client's to forge unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def is_limited(scope: str, address: str) -> bool:
    return (cache.get(_key(scope, address)) or 0) >= settings.ROOFWATCH_AUTH_FAILURES


def record_failure(scope: str, address: str) -> None:
    key, window = _key(scope, address), settings.ROOFWATCH_AUTH_WINDOW_SECONDS
    if not cache.add(key, 1, timeout=window):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
