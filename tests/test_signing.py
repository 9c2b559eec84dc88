"""Webhook signatures: what a receiver accepts and refuses."""

from __future__ import annotations

import pytest

from stormflow.signing import SignatureError, sign, verify

BODY = b'{"job": "j1", "state": "succeeded"}'


def test_a_signed_body_verifies() -> None:
    header = sign("s3cret", BODY, timestamp=1_000)
    assert verify("s3cret", header, BODY, now=1_010) == 1_000


@pytest.mark.parametrize(
    ("secret", "header", "body", "now", "message"),
    [
        ("s3cret", None, BODY, 1_000, "missing"),
        ("s3cret", "garbage", BODY, 1_000, "malformed"),
        ("s3cret", "v1=abc", BODY, 1_000, "timestamp"),
        ("other", sign("s3cret", BODY, 1_000), BODY, 1_000, "does not match"),
        ("s3cret", sign("s3cret", BODY, 1_000), BODY + b" ", 1_000, "does not match"),
        ("s3cret", sign("s3cret", BODY, 1_000), BODY, 1_000 + 301, "replay"),
    ],
)
def test_bad_signatures_are_refused(
    secret: str, header: str | None, body: bytes, now: float, message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(secret, header, body, now=now)
