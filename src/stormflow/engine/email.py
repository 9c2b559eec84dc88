"""Sending the emails of "email" nodes: over SMTP when STORM_SMTP_HOST is set, else into an outbox.

The outbox is a directory where each message is written as an .eml file: STORM_MAIL_OUTBOX
when set, else `<data dir>/outbox/` (the embedded default: a machine without a mail server
still runs every example, and the run's summary and the node's log say where the message
went). A sender built with neither an SMTP server nor an outbox fails every send.
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

#: The embedded default outbox, inside the data directory.
OUTBOX = "outbox"

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
    def from_env(
        cls, environ: Mapping[str, str] | None = None, data_dir: Path | None = None
    ) -> EmailSender:
        """SMTP from STORM_SMTP_*; else the outbox STORM_MAIL_OUTBOX, else `data_dir/outbox`."""
        env = os.environ if environ is None else environ
        settings = SmtpSettings.from_env(env)
        outbox = env.get("STORM_MAIL_OUTBOX", "").strip()
        if outbox:
            return cls(settings, Path(outbox))
        if settings is None and data_dir is not None:
            return cls(None, Path(data_dir) / OUTBOX)
        return cls(settings)

    def send(self, spec: EmailSpec) -> str:
        """Send (or write) the message; returns one line saying where it went."""
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
            path = self._write(message)
            return (
                f"email to {message['To']} written to {path} "
                "(no SMTP server configured: set STORM_SMTP_HOST to send it)"
            )
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
        return f"email to {message['To']} sent via {where}"

    def _write(self, message: EmailMessage) -> Path:
        assert self.outbox is not None
        path = self.outbox / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            path.write_bytes(message.as_bytes())
        except OSError as exc:
            raise EmailError(f"email not written to outbox {self.outbox}: {exc}") from exc
        return path
