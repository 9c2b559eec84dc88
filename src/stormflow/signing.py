"""HMAC-SHA256 signatures of webhook bodies, the same both ways (inbound and outbound).

The signed message is `<unix timestamp>.<raw body>`; the header carries both:

    X-Storm-Signature: t=1764590000,v1=<hex hmac-sha256(secret, b"1764590000." + body)>

A receiver recomputes the HMAC with its copy of the secret, compares in constant time, and
refuses timestamps further than `tolerance` seconds from its clock (default 5 minutes), so
a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Storm-Signature"
TOLERANCE = 300.0


class SignatureError(ValueError):
    """The signature is missing, malformed, wrong or too old; the message says which."""


def signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body`, signed now (or at `timestamp`)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={signature(secret, ts, body)}"


def verify(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE,
) -> int:
    """Check a header against the body; returns its timestamp, raises SignatureError."""
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {HEADER} header")
        fields.setdefault(key, []).append(value)
    try:
        ts = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError(f"{HEADER} has no valid timestamp t=") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise SignatureError(f"{HEADER} timestamp is {int(current - ts)} s off (replay refused)")
    expected = signature(secret, ts, body)
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise SignatureError(f"{HEADER} does not match the body")
    return ts
