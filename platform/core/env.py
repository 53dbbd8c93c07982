"""Strict readers for settings that come from the environment (12-factor).

A value that cannot be read is an error naming the variable, never a silent default.
"""
import os

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_positive_floats(name: str, default: list[float]) -> list[float]:
    """Comma-separated numbers > 0, e.g. SLOs in ms."""
    values = []
    for item in env_list(name, [str(v) for v in default]):
        try:
            value = float(item)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise ImproperlyConfigured(f"{name}: {item!r} is not a number > 0; expected e.g. 1,5,10")
        values.append(value)
    return values


def env_header(name: str) -> tuple[str, str] | None:
    """An HTTP header and value written "Header-Name: value", as Django's META
    key and the value: ("HTTP_HEADER_NAME", "value"); None when unset."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    header, sep, value = raw.partition(":")
    header, value = header.strip(), value.strip()
    if not sep or not value or not header or not all(c.isascii() and (c.isalnum() or c == "-") for c in header):
        raise ImproperlyConfigured(f"{name}={raw!r}: expected 'Header-Name: value', e.g. 'X-Forwarded-Proto: https'")
    return "HTTP_" + header.upper().replace("-", "_"), value
