"""Cheap per-workflow reads: answers cached by the workflow's `last_seq`, with ETags.

Every change of a workflow appends an event, which moves its `last_seq` (the one
exception, time running past `expires_at`, is part of the tag). So a read first asks
the database one indexed question, the workflow's `last_seq`; a client that sends the
ETag it already holds gets 304 with no other work, and a hundred clients polling the
same unchanged workflow share one computed answer. The cache is in memory, per server
process, bounded; an entry of an older `last_seq` is never served.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections import OrderedDict
from typing import Any

from fastapi import Request, Response

from .errors import ApiError

#: Workflow summaries kept (a few hundred bytes each).
SUMMARIES = 4096
#: Bytes of serialized pages (node lists, event pages) kept.
PAGE_BYTES = 32 * 2**20


def etag(workflow_id: str, seq: int, *parts: Any) -> str:
    """A weak validator: the workflow, its last event, and what else shapes the answer."""
    if parts:
        digest = hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()
        return f'W/"{workflow_id}.{seq}.{digest}"'
    return f'W/"{workflow_id}.{seq}"'


def not_modified(request: Request, tag: str) -> Response | None:
    """304 when `If-None-Match` holds `tag` (weak comparison, RFC 9110 13.1.2), else None."""
    header = request.headers.get("if-none-match")
    if header is None:
        return None
    wanted = tag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return Response(status_code=304, headers=headers(tag))
    return None


def headers(tag: str) -> dict[str, str]:
    return {"ETag": tag, "Cache-Control": "no-cache"}  # keep it, but ask each time


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise ApiError(
            422,
            "invalid-input",
            "cursor: not a cursor this server gave (use `next`)",
            where="cursor",
        ) from None


class ReadCache:
    """Summaries and serialized pages by (workflow, what) -> (last_seq, answer). Thread-safe."""

    def __init__(self, summaries: int = SUMMARIES, page_bytes: int = PAGE_BYTES) -> None:
        self._lock = threading.Lock()
        self._summaries: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        self._pages: OrderedDict[tuple[Any, ...], tuple[int, bytes]] = OrderedDict()
        self._max_summaries = summaries
        self._max_bytes = page_bytes
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def summary(self, workflow_id: str, seq: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._summaries.get(workflow_id)
            if found is None or found[0] != seq:
                self.misses += 1
                return None
            self._summaries.move_to_end(workflow_id)
            self.hits += 1
            return dict(found[1])

    def keep_summary(self, workflow_id: str, seq: int, summary: dict[str, Any]) -> None:
        with self._lock:
            self._summaries[workflow_id] = (seq, dict(summary))
            self._summaries.move_to_end(workflow_id)
            while len(self._summaries) > self._max_summaries:
                self._summaries.popitem(last=False)

    def page(self, key: tuple[Any, ...], seq: int) -> bytes | None:
        with self._lock:
            found = self._pages.get(key)
            if found is None or found[0] != seq:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return found[1]

    def keep_page(self, key: tuple[Any, ...], seq: int, body: bytes) -> None:
        if len(body) > self._max_bytes // 4:
            return  # one huge page would push out everything else
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._pages[key] = (seq, body)
            self._bytes += len(body)
            while self._bytes > self._max_bytes:
                _, (_, dropped) = self._pages.popitem(last=False)
                self._bytes -= len(dropped)


def cache_of(state: Any) -> ReadCache:
    """The app's cache (`app.state.read_cache`), made on first use."""
    cache: ReadCache | None = getattr(state, "read_cache", None)
    if cache is None:
        cache = state.read_cache = ReadCache()
    return cache
