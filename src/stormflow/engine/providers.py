"""Providers: the outside systems `external` nodes hand work to, and how Storm talks to them.

A provider is configured once per store (`storm providers add farm.yaml`), in one of two ways:

- `http`: `submit` (method, URL, headers, a JSON body with `${...}` tokens; where the answer
  holds the job id, a JSON pointer), `status` (a URL with `${id}`; JSON pointers to the state,
  progress, outputs and error), optionally `cancel`.
- `command`: a submit command that reads the request (JSON) on stdin and prints `{"id": ...}`,
  a status command printing `{"state": ..., "progress": ..., "outputs": {...}}`, optionally a
  cancel command: how a Deadline or OpenCue farm is driven, through its CLI.

Secrets never enter the configuration: headers and command environments name environment
variables (`${env:FARM_TOKEN}`), read when a call is made; the webhook secret likewise
(`webhook.secret_env`). What the store keeps and the API shows is therefore safe to show.

The calls are plain blocking calls (urllib, subprocess) with a timeout: the waits module makes
them from a small thread pool, never from the scheduler's loop.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_TOKEN = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_:-]*)\}")

#: Tokens a provider's templates may use (besides `${env:NAME}` in headers, URLs, env).
TEMPLATE_TOKENS = (
    "id",
    "idempotency-key",
    "callback-url",
    "workflow-id",
    "workflow-name",
    "node-name",
    "attempt",
)

#: The default polling schedule (seconds after submit, then between polls; the last repeats).
DEFAULT_POLL = (30.0, 60.0, 120.0)

#: A submit may answer in at most this many bytes; a status likewise.
MAX_ANSWER = 1 << 20

States = Literal["running", "succeeded", "failed"]


class ProviderError(RuntimeError):
    """A call to a provider failed; the message is one line naming the provider and call."""


def _pointer(value: str) -> str:
    if value and not value.startswith("/"):
        raise ValueError(f"{value!r} is not a JSON pointer (it must start with '/')")
    return value


class Reading(BaseModel):
    """Where a status answer (or a webhook body) holds what Storm needs: JSON pointers."""

    model_config = ConfigDict(extra="forbid")

    id: str = "/id"
    state: str = "/state"
    progress: str | None = "/progress"
    outputs: str | None = "/outputs"
    error: str | None = "/error"
    succeeded: list[str] = Field(default_factory=lambda: ["succeeded", "done", "completed"])
    failed: list[str] = Field(default_factory=lambda: ["failed", "error", "canceled", "cancelled"])

    @field_validator("id", "state", "progress", "outputs", "error")
    @classmethod
    def _pointers(cls, value: str | None) -> str | None:
        return None if value is None else _pointer(value)


class Call(BaseModel):
    """One call: an HTTP request (method, url, headers, body) or a command (argv, env)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None  # a JSON template; the string "${request}" stands for the node's request
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("command")
    @classmethod
    def _argv(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or not value[0].strip()):
            raise ValueError("a command needs at least a program name")
        return value


class Submit(Call):
    id: str = "/id"  # where the answer holds the external job id

    @field_validator("id")
    @classmethod
    def _id_pointer(cls, value: str) -> str:
        return _pointer(value)


class Status(Call, Reading):
    pass


class Webhook(Reading):
    secret_env: str  # the environment variable holding the shared secret
    event_id: str | None = "/event_id"  # absent: the body's hash stands for it

    @field_validator("secret_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @field_validator("event_id")
    @classmethod
    def _event_pointer(cls, value: str | None) -> str | None:
        return None if value is None else _pointer(value)


class ProviderConfig(BaseModel):
    """A provider as configured (and stored, and shown: it holds no secret)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["http", "command"]
    base_url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # sent with every HTTP call
    submit: Submit
    status: Status
    cancel: Call | None = None
    webhook: Webhook | None = None
    callback_url: str | None = None  # filled in as ${callback-url}: where the provider calls back
    poll: list[float] = Field(default_factory=lambda: list(DEFAULT_POLL), min_length=1)
    jitter: float = Field(0.1, ge=0, le=0.5)  # each delay is moved by up to this fraction
    give_up_after: float = Field(86400.0, gt=0)  # seconds after submit: the attempt fails
    max_concurrent: int | None = Field(None, ge=1)  # jobs submitted at once, all schedulers
    rate: float = Field(10.0, gt=0)  # calls per second at most, per scheduler
    timeout: float = Field(10.0, gt=0, le=600)  # one call

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(
                f"{value!r}: use lowercase letters, digits, '-' and '_' (at most 64 characters)"
            )
        return value

    @field_validator("poll")
    @classmethod
    def _poll(cls, value: list[float]) -> list[float]:
        if any(not (0 < v <= 86400) for v in value):
            raise ValueError("every polling delay must be > 0 and at most 86400 seconds")
        return value

    @model_validator(mode="after")
    def _calls(self) -> ProviderConfig:
        calls = {"submit": self.submit, "status": self.status}
        if self.cancel is not None:
            calls["cancel"] = self.cancel
        for what, call in calls.items():
            if self.kind == "http" and not call.url:
                raise ValueError(f"{what}: an http provider's calls need a url")
            if self.kind == "http" and call.command:
                raise ValueError(f"{what}: an http provider's calls have no command")
            if self.kind == "command" and not call.command:
                raise ValueError(f"{what}: a command provider's calls need a command")
            if self.kind == "command" and (call.url or call.method or call.headers):
                raise ValueError(f"{what}: a command provider's calls have no url/method/headers")
            for text in [*call.headers.values(), *call.env.values(), call.url or ""]:
                _check_tokens(what, text)
        if self.kind == "http":
            for text in self.headers.values():
                _check_tokens("headers", text)
            if self.base_url is None and not all(_absolute(c.url or "") for c in calls.values()):
                raise ValueError("relative urls need base_url")
        return self

    def public(self) -> dict[str, Any]:
        """The configuration as stored and shown (env variable names only, never values)."""
        return self.model_dump(mode="json", exclude_none=True)


def _absolute(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _check_tokens(where: str, text: str) -> None:
    for token in _TOKEN.findall(text):
        if token.startswith("env:"):
            if not ENV_NAME.match(token[4:]):
                raise ValueError(f"{where}: ${{{token}}} does not name an environment variable")
        elif token not in TEMPLATE_TOKENS:
            known = ", ".join(TEMPLATE_TOKENS)
            raise ValueError(f"{where}: unknown token ${{{token}}} (known: {known}, env:NAME)")


def parse_config(data: object) -> ProviderConfig:
    """A checked configuration; ValueError with one line naming the field otherwise."""
    try:
        return ProviderConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "provider"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ValueError(f"{where}: {err['msg']}{more}") from None


# -- reading answers ---------------------------------------------------------------------------


def resolve(document: object, pointer: str) -> object:
    """RFC 6901: the value at `pointer`, or None when it is absent."""
    if pointer == "":
        return document
    current = document
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict):
            if part not in current:
                return None
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


@dataclass(frozen=True)
class Report:
    """What a status answer or a webhook says about one external job."""

    state: States
    external_id: str | None = None
    progress: float | None = None
    outputs: Mapping[str, Any] | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state != "running"


def read_report(
    document: object, reading: Reading, outputs: Mapping[str, str] | None = None
) -> Report:
    """A Report from a JSON document; `outputs` (name -> pointer) picks outputs per node."""
    raw_state = resolve(document, reading.state)
    state_text = str(raw_state).lower() if raw_state is not None else ""
    state: States = "running"
    if state_text in {s.lower() for s in reading.succeeded}:
        state = "succeeded"
    elif state_text in {s.lower() for s in reading.failed}:
        state = "failed"
    external = resolve(document, reading.id)
    progress = resolve(document, reading.progress) if reading.progress else None
    if isinstance(progress, bool) or not isinstance(progress, int | float):
        progress = None
    found: Mapping[str, Any] | None = None
    if outputs:
        found = {name: resolve(document, pointer) for name, pointer in outputs.items()}
    elif reading.outputs:
        value = resolve(document, reading.outputs)
        found = value if isinstance(value, dict) else None
    error = resolve(document, reading.error) if reading.error else None
    if state == "failed" and not error:
        error = f"the provider reports the job {state_text}"
    return Report(
        state=state,
        external_id=None if external is None else str(external),
        progress=None if progress is None else float(progress),
        outputs=found,
        error=None if error is None else str(error)[:500],
    )


# -- templates ---------------------------------------------------------------------------------


def fill(text: str, tokens: Mapping[str, str], environ: Mapping[str, str] | None = None) -> str:
    """`${name}` from tokens; `${env:NAME}` from the environment when `environ` is given."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("env:") and environ is not None:
            if name[4:] not in environ:
                raise ProviderError(f"environment variable {name[4:]} is not set")
            return environ[name[4:]]
        return tokens.get(name, match.group(0))

    return _TOKEN.sub(replace, text)


def fill_body(template: object, request: object, tokens: Mapping[str, str]) -> object:
    """The JSON body: the template with "${request}" replaced by the request, tokens filled
    in its strings (never environment values: bodies end up in providers' logs)."""
    if template == "${request}":
        return request
    if isinstance(template, str):
        return fill(template, tokens)
    if isinstance(template, list):
        return [fill_body(v, request, tokens) for v in template]
    if isinstance(template, dict):
        return {str(k): fill_body(v, request, tokens) for k, v in template.items()}
    return template


class RateLimit:
    """Calls per second at most (a token bucket holding one second's worth), thread-safe."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = max(rate, 1.0)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(max(self.rate, 1.0), self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True


# -- calls ------------------------------------------------------------------------------------


class Provider:
    """Calls to one provider. Blocking, with the configured timeout: run off the loop."""

    def __init__(self, config: ProviderConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.limit = RateLimit(config.rate)

    @property
    def name(self) -> str:
        return self.config.name

    def submit(self, request: object, tokens: Mapping[str, str]) -> str:
        """Start the job; returns its external id. `tokens` carries `idempotency-key`."""
        call = self.config.submit
        tokens = {"callback-url": self.config.callback_url or "", **tokens}
        template = call.body if call.body is not None else "${request}"
        body = fill_body(template, request, tokens)
        answer = self._call("submit", call, tokens, body, default_method="POST")
        external = resolve(answer, call.id)
        if external is None or isinstance(external, dict | list) or str(external) == "":
            raise ProviderError(
                f"provider {self.name}: submit answered without a job id at {call.id or '/'}"
            )
        return str(external)

    def status(
        self, external_id: str, tokens: Mapping[str, str], outputs: Mapping[str, str] | None = None
    ) -> Report:
        tokens = {**tokens, "id": external_id}
        answer = self._call("status", self.config.status, tokens, None, default_method="GET")
        report = read_report(answer, self.config.status, outputs)
        return Report(report.state, external_id, report.progress, report.outputs, report.error)

    def cancel(self, external_id: str, tokens: Mapping[str, str]) -> bool:
        """Ask the provider to stop the job; False when the provider has no cancel call."""
        call = self.config.cancel
        if call is None:
            return False
        self._call("cancel", call, {**tokens, "id": external_id}, None, default_method="POST")
        return True

    def _call(
        self, what: str, call: Call, tokens: Mapping[str, str], body: object, default_method: str
    ) -> object:
        if self.config.kind == "http":
            return self._http(what, call, tokens, body, call.method or default_method)
        return self._command(what, call, tokens, body)

    def _http(
        self, what: str, call: Call, tokens: Mapping[str, str], body: object, method: str
    ) -> object:
        assert call.url is not None
        url = fill(
            call.url, {k: urllib.parse.quote(v, safe="") for k, v in tokens.items()}, self.environ
        )
        if not _absolute(url):
            url = urllib.parse.urljoin(
                (self.config.base_url or "").rstrip("/") + "/", url.lstrip("/")
            )
        headers = {"Accept": "application/json"}
        for source in (self.config.headers, call.headers):
            headers.update({k: fill(v, tokens, self.environ) for k, v in source.items()})
        if "idempotency-key" in tokens:
            headers["Idempotency-Key"] = tokens["idempotency-key"]
        data = None
        if body is not None and method != "GET":
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        where = f"provider {self.name}: {what} {method} {_redact(url)}"
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as answer:
                text = answer.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            raise ProviderError(f"{where} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderError(f"{where} failed: {reason}") from None
        if len(text) > MAX_ANSWER:
            raise ProviderError(f"{where} answered more than {MAX_ANSWER} bytes")
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError:
            raise ProviderError(f"{where} did not answer JSON") from None

    def _command(self, what: str, call: Call, tokens: Mapping[str, str], body: object) -> object:
        assert call.command is not None
        argv = [fill(part, tokens) for part in call.command]
        env = dict(os.environ)
        env.update({k: fill(v, tokens, self.environ) for k, v in call.env.items()})
        if "idempotency-key" in tokens:
            env["STORM_IDEMPOTENCY_KEY"] = tokens["idempotency-key"]
        where = f"provider {self.name}: {what} command {argv[0]}"
        try:
            done = subprocess.run(
                argv,
                input=json.dumps(body).encode() if body is not None else b"",
                capture_output=True,
                env=env,
                timeout=self.config.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProviderError(f"{where} ran longer than {self.config.timeout:g}s") from None
        except OSError as exc:
            raise ProviderError(f"{where} could not start: {exc.strerror or exc}") from None
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise ProviderError(f"{where} exited with {done.returncode}: {tail[0][:200]}")
        text = done.stdout[:MAX_ANSWER]
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError:
            raise ProviderError(f"{where} did not print JSON") from None


def _redact(url: str) -> str:
    """A URL fit for a message: no query string (it may carry a key)."""
    return url.split("?", 1)[0]
