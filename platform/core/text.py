"""Text PostgreSQL cannot store: NUL (0x00), which it refuses in text columns,
in jsonb and even as a query parameter, and lone surrogates (U+D800 to
U+DFFF), which are not Unicode text and have no UTF-8 encoding (JSON's
"\\udfff" escape makes one).

A NUL in a path or query string is refused before any view runs
(core.middleware); in a body, the field that reads the text decides: refuse
it, naming the field (run reports, JSON objects), or replace it (process
output). Error bodies escape lone surrogates they quote (core.errors)."""
from __future__ import annotations

import re

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NUL = "NUL (0x00) characters"
NUL_MESSAGE = f"Must not contain {NUL}."


def unstorable(text: str) -> str | None:
    """What in `text` PostgreSQL cannot store, as a plural noun for a message
    ("NUL (0x00) characters"); None when it can store all of it."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    return NUL if char == "\x00" else f"lone surrogates (U+{ord(char):04X}): they are not Unicode text"


def printable(text: str) -> str:
    """`text` with lone surrogates spelt as \\udfff escapes, so it can be encoded as UTF-8."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def storable_text(text: str) -> str:
    """Process output as PostgreSQL can store it: NUL and lone surrogates become U+FFFD."""
    return UNSTORABLE.sub("\ufffd", text)
