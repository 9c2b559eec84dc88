"""Sending the emails of "email" nodes over SMTP (smtplib; settings from STORM_SMTP_* variables).

An explicitly configured outbox directory (STORM_MAIL_OUTBOX) is the other transport: each
message is written there as an .eml file. It serves machines without a mail server (the demo,
a studio that collects notifications from disk); with neither configured, sending fails.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from stormflow.engine.jobs import EmailSpec

NOT_CONFIGURED = (
    "email not sent: no SMTP server configured "
    "(set STORM_SMTP_HOST, or STORM_MAIL_OUTBOX to keep messages as .eml files)"
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class EmailError(RuntimeError):
    """An email could not be sent; the message is one line fit for a JobResult error."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "storm@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # kept out of logs and reprs
    starttls: bool = False
    timeout: float = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
        """Settings from STORM_SMTP_*; None when STORM_SMTP_HOST is unset or empty."""
        env = os.environ if environ is None else environ
        host = env.get("STORM_SMTP_HOST", "").strip()
        if not host:
            return None
        port_text = env.get("STORM_SMTP_PORT", "").strip() or "25"
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"STORM_SMTP_PORT must be a port number, got {port_text!r}") from None
        starttls_text = env.get("STORM_SMTP_STARTTLS", "").strip().lower()
        if starttls_text not in _TRUE | _FALSE:
            raise ValueError(f"STORM_SMTP_STARTTLS must be true or false, got {starttls_text!r}")
        return cls(
            host=host,
            port=port,
            sender=env.get("STORM_SMTP_FROM", "").strip() or "storm@localhost",
            username=env.get("STORM_SMTP_USER") or None,
            password=env.get("STORM_SMTP_PASSWORD") or None,
            starttls=starttls_text in _TRUE,
        )


class EmailSender:
    """Sends EmailSpecs; without settings every send fails loudly rather than pretending."""

    def __init__(self, settings: SmtpSettings | None, outbox: Path | None = None) -> None:
        self.settings = settings
        self.outbox = outbox

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmailSender:
        env = os.environ if environ is None else environ
        outbox = env.get("STORM_MAIL_OUTBOX", "").strip()
        return cls(SmtpSettings.from_env(env), Path(outbox) if outbox else None)

    def send(self, spec: EmailSpec) -> None:
        settings = self.settings
        if settings is None and self.outbox is None:
            raise EmailError(NOT_CONFIGURED)
        recipients = [address.strip() for address in spec.to if address.strip()]
        if not recipients:
            raise EmailError("email not sent: no recipients")
        message = EmailMessage()
        message["From"] = settings.sender if settings else "storm@localhost"
        message["To"] = ", ".join(recipients)
        message["Subject"] = spec.subject
        message.set_content(spec.body)
        if settings is None:
            assert self.outbox is not None
            self._write(message)
            return
        where = f"{settings.host}:{settings.port}"
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username:
                    smtp.login(settings.username, settings.password or "")
                refused = smtp.send_message(message, to_addrs=recipients)
        except (smtplib.SMTPException, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            raise EmailError(f"email not sent via {where}: {detail}") from exc
        if refused:
            # Some recipients got it, some did not: still a failure, the node's job is not done.
            raise EmailError(f"email refused by {where} for: {', '.join(sorted(refused))}")

    def _write(self, message: EmailMessage) -> None:
        assert self.outbox is not None
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            (self.outbox / name).write_bytes(message.as_bytes())
        except OSError as exc:
            raise EmailError(f"email not written to outbox {self.outbox}: {exc}") from exc
