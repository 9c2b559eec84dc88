"""Text a database can hold: no NUL character, no lone UTF-16 surrogate.

PostgreSQL refuses both in text and JSONB; SQLite stores them, but such a string
cannot be encoded back as UTF-8 JSON, so every later read of it fails. They are
refused where they come in (documents, patches, drafts: every request body).
"""

from __future__ import annotations

import re

_BAD = re.compile("[\x00\ud800-\udfff]")


def _reason(char: str) -> str:
    if char == "\x00":
        return "a NUL character (\\u0000)"
    return f"a lone surrogate (\\u{ord(char):04x})"


def printable(text: str) -> str:
    """The text with each character no database holds written as its \\u escape."""
    return _BAD.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def unstorable(value: object, root: str = "") -> tuple[str, str] | None:
    """The first string (key or value) in a JSON value that no database can hold: its
    path (`metadata.k`, `nodes[0].env.A`; printable) and what is wrong with it. None: fine.
    Iterative: the depth of the value costs no Python stack."""
    stack: list[tuple[object, str]] = [(value, root)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            bad = _BAD.search(item)
            if bad:
                return printable(path) or "value", f"contains {_reason(bad.group())}"
        elif isinstance(item, dict):
            for key, sub in reversed(list(item.items())):
                name = f"{path}.{key}" if path else str(key)
                bad = _BAD.search(key) if isinstance(key, str) else None
                if bad:
                    return printable(name), f"has a key with {_reason(bad.group())}"
                stack.append((sub, name))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{path}[{i}]") for i, sub in reversed(list(enumerate(item))))
    return None
