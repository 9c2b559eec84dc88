"""Sending the emails of "email" nodes over SMTP (smtplib; settings from STORM_SMTP_* variables)."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from stormflow.engine.jobs import EmailSpec

NOT_CONFIGURED = "email not sent: no SMTP server configured (set STORM_SMTP_HOST)"

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

    def __init__(self, settings: SmtpSettings | None) -> None:
        self.settings = settings

    def send(self, spec: EmailSpec) -> None:
        settings = self.settings
        if settings is None:
            raise EmailError(NOT_CONFIGURED)
        recipients = [address.strip() for address in spec.to if address.strip()]
        if not recipients:
            raise EmailError("email not sent: no recipients")
        message = EmailMessage()
        message["From"] = settings.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = spec.subject
        message.set_content(spec.body)
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
