"""notify's settings: read from Django settings, else from the environment
(so a worker started with the variable set agrees with the web process)."""
from django.conf import settings

from core.env import env_bool, env_int

DEFAULTS = {
    # Outbound: seconds before the first retry; doubles each retry, capped at an hour.
    "ROOFWATCH_WEBHOOK_BACKOFF_SECONDS": 30,
    "ROOFWATCH_WEBHOOK_MAX_RETRIES": 8,
    "ROOFWATCH_WEBHOOK_TIMEOUT_SECONDS": 10,
}


def setting(name: str) -> int:
    value = getattr(settings, name, None)
    return env_int(name, DEFAULTS[name]) if value is None else value


def allow_private() -> bool:
    """ROOFWATCH_WEBHOOK_ALLOW_PRIVATE: whether endpoints may be loopback, private or other internal addresses."""
    value = getattr(settings, "ROOFWATCH_WEBHOOK_ALLOW_PRIVATE", None)
    return env_bool("ROOFWATCH_WEBHOOK_ALLOW_PRIVATE", False) if value is None else value
