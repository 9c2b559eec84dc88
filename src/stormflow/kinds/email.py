"""The `email` kind: a message sent when the node's upstream is ready.

Sent over SMTP when STORM_SMTP_HOST is set, else written into an outbox: a directory where
each message is an .eml file, STORM_MAIL_OUTBOX when set, else `<data dir>/outbox/` (the
embedded default: a machine without a mail server still runs every example, and the run's
summary and the node's log say where the message went). A sender built with neither an SMTP
server nor an outbox fails every send.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from stormflow.kinds.base import (
    LOST_RETRIES,
    RETRIES,
    RETRY_DELAY,
    ActionContext,
    ActionError,
    Kind,
    Param,
    params,
)
from stormflow.kinds.registry import register_kind
from stormflow.paths import PRIVATE_DIR, write_private
from stormflow.spec.entries import Entry, error, warning
from stormflow.spec.tokens import TEXT_TOKENS, render_text, text_tokens_in
from stormflow.spec.validate import RuleContext, suggest

#: The embedded default outbox, inside the data directory.
OUTBOX = "outbox"

NOT_CONFIGURED = (
    "email not sent: no SMTP server configured "
    "(set STORM_SMTP_HOST, or STORM_MAIL_OUTBOX to keep messages as .eml files)"
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class EmailSpec:
    """An already rendered email: sent as is."""

    to: tuple[str, ...]
    subject: str
    body: str

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> EmailSpec:
        return cls(
            to=tuple(str(a) for a in payload.get("to") or ()),
            subject=str(payload.get("subject", "")),
            body=str(payload.get("body", "")),
        )

    def payload(self) -> dict[str, Any]:
        return {"to": list(self.to), "subject": self.subject, "body": self.body}


class EmailError(ActionError):
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
            self.outbox.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
            write_private(path, message.as_bytes())
        except OSError as exc:
            raise EmailError(f"email not written to outbox {self.outbox}: {exc}") from exc
        return path


# -- the kind ------------------------------------------------------------------------------------


def email_payload(config: Mapping[str, Any], tokens: Mapping[str, str]) -> Mapping[str, Any]:
    """The attempt's message: recipients as written, subject and body with tokens filled."""
    return EmailSpec(
        to=tuple(str(a) for a in config.get("addresses") or ()),
        subject=render_text(str(config.get("subject", "")), tokens),
        body=render_text(str(config.get("body", "")), tokens),
    ).payload()


def send_email(payload: Mapping[str, Any], ctx: ActionContext) -> str:
    """Send with the executor's sender (SMTP or outbox); one line saying where it went."""
    if not payload:
        raise EmailError("email job has no email to send")
    sender = ctx.services.get("email_sender")
    if not isinstance(sender, EmailSender):
        sender = EmailSender.from_env(data_dir=ctx.data_dir)
    return sender.send(EmailSpec.of(payload))


def text_tokens(ctx: RuleContext) -> Iterator[Entry]:
    """Email subject/body may only use the tokens Storm fills in."""
    for node in ctx.nodes:
        if node.kind is None or node.kind.name != "email":
            continue
        for key in ("subject", "body"):
            text = node.params.get(key)
            if not isinstance(text, str):
                continue
            for token in sorted(text_tokens_in(text) - set(TEXT_TOKENS)):
                guess = suggest(token, TEXT_TOKENS)
                hint = f"; did you mean {'${' + guess + '}'!r}?" if guess else ""
                yield warning(
                    "unknown-token",
                    f"node {node.label!r}: {key} uses unknown token ${{{token}}}{hint}",
                    nodes=node.names,
                    field=key,
                )


def email_addresses(ctx: RuleContext) -> Iterator[Entry]:
    for node in ctx.nodes:
        addresses = node.params.get("addresses")
        if node.kind is None or node.kind.name != "email" or not isinstance(addresses, list):
            continue
        if not addresses:
            yield error(
                "missing-param",
                f"email {node.label!r} has no addresses",
                nodes=node.names,
                field="addresses",
            )
        bad = [a for a in addresses if isinstance(a, str) and not _looks_like_address(a)]
        if bad:
            yield error(
                "bad-address",
                f"email {node.label!r}: {', '.join(map(repr, bad))} do not look like addresses",
                nodes=node.names,
                field="addresses",
            )


def _looks_like_address(text: str) -> bool:
    local, _, domain = text.partition("@")
    return bool(local) and bool(domain) and " " not in text


EMAIL = register_kind(
    Kind(
        name="email",
        description="sends an email when its upstream nodes are ready",
        runs="action",
        rules=(text_tokens, email_addresses),
        payload=email_payload,
        action=send_email,
        params=params(
            Param(
                "addresses",
                list[str],
                "a list of email addresses",
                "recipients",
                required=True,
            ),
            Param(
                "subject",
                str,
                "a string",
                "subject; ${workflow-name} ${workflow-id} ${node-name} ${status} are filled",
                default="${workflow-name}: ${status}",
            ),
            Param(
                "body",
                str,
                "a string",
                "body; same tokens as subject",
                default="Workflow ${workflow-name} (${workflow-id}): ${node-name} ${status}.",
            ),
            RETRIES,
            RETRY_DELAY,
            LOST_RETRIES,
        ),
    )
)
