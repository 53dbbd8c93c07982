"""Canonical JSON: one spelling per value, so equal documents hash equally."""
import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_sha256(value: Any) -> str:
    return sha256_of_canonical(canonical_json(value))


def sha256_of_canonical(text: str) -> str:
    """canonical_sha256 of a value whose canonical_json is `text` (to hash a spelling already made)."""
    return hashlib.sha256(text.encode()).hexdigest()
