"""Natural order of node names: render.2 before render.10, render.5-8 before render.13-16.

The one sort key for every list a person reads (API answers, the CLI; the web UI's
`natural.ts` follows the same rule). A name is read as runs of digits and runs of other
characters, compared run by run: two digit runs by their numeric value, two text runs by
code points, and where one name has digits and the other text (or ends), the digits (or
the end) come first. Names equal in that order (render.01, render.1) fall back to plain
code-point order, so the order is total and the same every time.

The key is one string: each digit run, without its leading zeros, becomes NUL, a character
counting its digits, then the digits; a shorter number then sorts first, equal lengths
compare digit by digit, and NUL sorts before any text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_DIGITS = re.compile(r"0*(\d+)")


def _number(match: re.Match[str]) -> str:
    digits = match.group(1)
    return "\0" + chr(len(digits)) + digits


def natural_key(name: str) -> tuple[str, str]:
    return _DIGITS.sub(_number, name), name


def natural_sorted(items: Iterable[T], key: Callable[[T], str] | None = None) -> list[T]:
    """`items` in natural order of their names (`key` gives an item's name; default: str)."""
    name = key if key is not None else str
    return sorted(items, key=lambda item: natural_key(name(item)))


__all__ = ["natural_key", "natural_sorted"]
