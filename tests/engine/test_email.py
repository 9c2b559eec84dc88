"""Email jobs against a real SMTP server (aiosmtpd on 127.0.0.1), and SMTP settings from env."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from stormflow.engine.jobs import Job, JobResult
from stormflow.engine.local import LocalExecutor
from stormflow.kinds.email import NOT_CONFIGURED, EmailError, EmailSender, EmailSpec, SmtpSettings


class Inbox:
    """aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def run_job(sender: EmailSender, job: Job) -> JobResult:
    results: list[JobResult] = []
    done = threading.Event()

    def on_result(result: JobResult) -> None:
        results.append(result)
        done.set()

    executor = LocalExecutor(on_result, slots=1, email_sender=sender)
    try:
        executor.submit(job)
        assert done.wait(10), "no result"
        time.sleep(0.05)  # a second report would land now
    finally:
        executor.close(0.5)
    assert len(results) == 1
    return results[0]


def email_job(spec: EmailSpec | None) -> Job:
    return Job(
        workflow_id="wf1",
        node="notify",
        token="e1",
        kind="email",
        payload=spec.payload() if spec else {},
    )


SPEC = EmailSpec(
    to=("lead@example.com", "wrangler@example.com"),
    subject="shot010 rendered: 240 frames",
    body="All frames of shot010 are done.\nOutput: /renders/shot010/\n",
)


def test_email_job_is_delivered(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    sender = EmailSender(SmtpSettings(host="127.0.0.1", port=port, sender="storm@farm.example"))
    result = run_job(sender, email_job(SPEC))
    assert (result.ok, result.error, result.exit_code) == (True, None, None)

    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "storm@farm.example"
    assert envelope.rcpt_tos == ["lead@example.com", "wrangler@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == SPEC.subject
    assert message["To"] == "lead@example.com, wrangler@example.com"
    assert message["From"] == "storm@farm.example"
    assert message.get_content().replace("\r\n", "\n") == SPEC.body  # CRLF on the wire


def test_no_smtp_configured_fails_the_job() -> None:
    result = run_job(EmailSender(None), email_job(SPEC))
    assert (result.ok, result.error) == (False, NOT_CONFIGURED)
    assert NOT_CONFIGURED.startswith(
        "email not sent: no SMTP server configured (set STORM_SMTP_HOST"
    )


def test_default_sender_comes_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORM_SMTP_HOST", raising=False)
    monkeypatch.delenv("STORM_MAIL_OUTBOX", raising=False)
    results: list[JobResult] = []
    done = threading.Event()

    def on_result(result: JobResult) -> None:
        results.append(result)
        done.set()

    executor = LocalExecutor(on_result, slots=1)
    try:
        executor.submit(email_job(SPEC))
        assert done.wait(10)
    finally:
        executor.close(0.5)
    assert results[0].error == NOT_CONFIGURED


def test_unreachable_server_fails_the_job() -> None:
    port = free_port()  # nothing listens there
    result = run_job(EmailSender(SmtpSettings(host="127.0.0.1", port=port)), email_job(SPEC))
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(f"email not sent via 127.0.0.1:{port}: ")


def test_email_job_without_spec_fails() -> None:
    result = run_job(EmailSender(None), email_job(None))
    assert (result.ok, result.error) == (False, "email job has no email to send")


def test_send_without_recipients_raises(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    sender = EmailSender(SmtpSettings(host="127.0.0.1", port=port))
    with pytest.raises(EmailError, match="no recipients"):
        sender.send(EmailSpec(to=(), subject="s", body="b"))
    assert inbox.envelopes == []


def test_settings_from_env() -> None:
    assert SmtpSettings.from_env({}) is None
    assert SmtpSettings.from_env({"STORM_SMTP_HOST": "  "}) is None
    assert SmtpSettings.from_env({"STORM_SMTP_HOST": "mail"}) == SmtpSettings(host="mail")
    settings = SmtpSettings.from_env(
        {
            "STORM_SMTP_HOST": "smtp.studio.example",
            "STORM_SMTP_PORT": "587",
            "STORM_SMTP_FROM": "farm@studio.example",
            "STORM_SMTP_USER": "farm",
            "STORM_SMTP_PASSWORD": "s3cret",
            "STORM_SMTP_STARTTLS": "yes",
        }
    )
    assert settings == SmtpSettings(
        host="smtp.studio.example",
        port=587,
        sender="farm@studio.example",
        username="farm",
        password="s3cret",
        starttls=True,
    )
    assert "s3cret" not in repr(settings)


def test_settings_from_env_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="STORM_SMTP_PORT"):
        SmtpSettings.from_env({"STORM_SMTP_HOST": "mail", "STORM_SMTP_PORT": "smtp"})
    with pytest.raises(ValueError, match="STORM_SMTP_STARTTLS"):
        SmtpSettings.from_env({"STORM_SMTP_HOST": "mail", "STORM_SMTP_STARTTLS": "maybe"})


def test_an_outbox_keeps_each_message_as_an_eml_file(tmp_path: Path) -> None:
    sender = EmailSender.from_env({"STORM_MAIL_OUTBOX": str(tmp_path / "outbox")})
    sender.send(EmailSpec(to=("a@example.com",), subject="Done: shot", body="all frames"))
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    text = eml.read_text()
    assert "Subject: Done: shot" in text and "To: a@example.com" in text and "all frames" in text


def test_without_smtp_the_data_directory_outbox_is_the_default(tmp_path: Path) -> None:
    sender = EmailSender.from_env({}, data_dir=tmp_path)
    job = Job(
        workflow_id="wf1",
        node="notify",
        token="e1",
        kind="email",
        payload=SPEC.payload(),
        log_path=str(tmp_path / "logs" / "e1.log"),
    )
    result = run_job(sender, job)
    assert (result.ok, result.error) == (True, None)
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == SPEC.subject
    logged = (tmp_path / "logs" / "e1.log").read_text()
    assert f"email to lead@example.com, wrangler@example.com written to {eml}" in logged
    assert "no SMTP server configured: set STORM_SMTP_HOST to send it" in logged


def test_an_explicit_outbox_wins_over_the_default(tmp_path: Path) -> None:
    env = {"STORM_MAIL_OUTBOX": str(tmp_path / "elsewhere")}
    said = EmailSender.from_env(env, data_dir=tmp_path / "data").send(SPEC)
    (eml,) = (tmp_path / "elsewhere").glob("*.eml")
    assert said.startswith("email to lead@example.com") and str(eml) in said
    assert not (tmp_path / "data").exists()


def test_smtp_host_sends_even_with_a_data_directory(
    smtp_server: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp_server
    env = {"STORM_SMTP_HOST": "127.0.0.1", "STORM_SMTP_PORT": str(port)}
    said = EmailSender.from_env(env, data_dir=tmp_path).send(SPEC)
    assert said == f"email to lead@example.com, wrangler@example.com sent via 127.0.0.1:{port}"
    assert len(inbox.envelopes) == 1 and not (tmp_path / "outbox").exists()


def test_a_failed_send_is_logged_too(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    job = Job(
        workflow_id="wf1",
        node="notify",
        token="e1",
        kind="email",
        payload=SPEC.payload(),
        log_path=str(tmp_path / "e1.log"),
    )
    result = run_job(EmailSender(SmtpSettings(host="127.0.0.1", port=port)), job)
    assert not result.ok and result.error is not None
    assert result.error in (tmp_path / "e1.log").read_text()
