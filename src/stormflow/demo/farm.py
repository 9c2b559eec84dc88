"""A small but real render service to hand external jobs to: the demo farm.

Serve it (binds 127.0.0.1; `--port 0` takes a free port; the first stdout line is JSON
`{"url": ..., "port": ..., "root": ...}` so a test or a script can read where it listens):

    python -m stormflow.demo.farm --port 8766 --root farm     (the secret: STORM_FARM_SECRET)

HTTP API (JSON in, JSON out; errors are 4xx with `{"error": "..."}`):

    POST /jobs                  {"frames": "1-24", "scene": {"count": 40, "seed": 7},
                                 "callback": "http://.../api/v1/hooks/farm", "name": "..."}
                                An `Idempotency-Key` header makes a retried submit return the
                                job made the first time (200) instead of a second job (201).
    GET  /jobs[?name=N]         {"jobs": [...]}
    GET  /jobs/{id}             {"id", "state": queued|running|succeeded|failed|canceled,
                                 "progress": 0..1, "outputs": [frame files], "error", ...}
    POST /jobs/{id}/cancel      stops it (a finished job stays as it is)
    GET  /jobs/{id}/files/{f}   one output frame (PNG), for clients on another machine
    GET  /stats                 counters: jobs, submits, callbacks sent / lost / failed

A job simulates its particles and renders each frame with the demo's image code into
`<root>/jobs/<id>/`, `--frame-seconds` per frame at least, `--slots` jobs at once. When it
ends it POSTs `{"event_id", "type": "job.succeeded", <the job's fields>}` to its callback, signed
with `stormflow.signing` (header X-Storm-Signature) with the farm's secret; deliveries are
retried on connection errors and 5xx. Job records live in `<root>/jobs/<id>.json`: after a
crash (kill -9) a restarted farm knows every job and key, and renders unfinished ones again.

`--callback-url URL` [STORM_FARM_CALLBACK_URL] is where jobs without a callback of their own
report (one endpoint for the farm, e.g. Storm's /api/v1/hooks/<provider>);
`--progress-every N` [STORM_FARM_PROGRESS_EVERY] adds a `job.progress` callback every N frames.

Switches to exercise a client's failure handling (flags, or the env vars in brackets):
`--lose-callbacks F` drop that fraction of callbacks (1 = all) [STORM_FARM_LOSE_CALLBACKS],
`--delay-callbacks S` [STORM_FARM_DELAY_CALLBACKS], `--duplicate-callbacks N` send each one
N more times, same event id [STORM_FARM_DUPLICATE_CALLBACKS], `--fail-jobs F` fail that
fraction of jobs [STORM_FARM_FAIL_JOBS], `--fail-frames 5,7` fail a job when it reaches one
of those frames [STORM_FARM_FAIL_FRAMES]. `--token` [STORM_FARM_TOKEN] requires
`Authorization: Bearer <token>` on every request.

Client mode, as a Deadline or OpenCue CLI would be driven by a `command` provider (farm URL
from `--url` or STORM_FARM_URL; each prints one JSON object; exit 1 when the farm answers an
error or cannot be reached, 2 on bad arguments):

    python -m stormflow.demo.farm submit --frames 1-24 [--key K] [--callback URL] ...
                                          (or the JSON request on stdin, without --frames)
    python -m stormflow.demo.farm status ID
    python -m stormflow.demo.farm cancel ID
    python -m stormflow.demo.farm fetch ID --out renders      (or --name N: its newest job)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import queue
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stormflow.demo.render import render
from stormflow.demo.simulate import simulate
from stormflow.signing import HEADER, sign

HOST = "127.0.0.1"
#: A job renders at most this many frames (a demo: bigger requests are refused, not queued).
MAX_FRAMES = 1000
MAX_BODY = 64 * 1024
STATES = ("queued", "running", "succeeded", "failed", "canceled")
FINISHED = frozenset({"succeeded", "failed", "canceled"})
_JOB_ID = re.compile(r"^[0-9a-f]{12}$")
_PNG = re.compile(r"^frame\.-?\d{4,}\.png$")
#: Callback delivery: attempts and the pause before each retry (seconds).
CALLBACK_RETRIES = (0.5, 1.0, 2.0)
CALLBACK_TIMEOUT = 5.0


class BadRequest(ValueError):
    """A request the farm refuses; the message names the field."""


@dataclass
class Switches:
    """How the farm misbehaves on purpose; all off by default."""

    lose_callbacks: float = 0.0
    delay_callbacks: float = 0.0
    duplicate_callbacks: int = 0
    fail_jobs: float = 0.0
    fail_frames: frozenset[int] = frozenset()


@dataclass
class Job:
    id: str
    frames: list[int]
    scene: dict[str, int]
    callback: str | None = None
    name: str | None = None
    key: str | None = None
    state: str = "queued"
    progress: float = 0.0
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    directory: str = ""  # where its frames are written: <root>/jobs/<id>
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "progress": round(self.progress, 4),
            "frames": len(self.frames),
            "outputs": list(self.outputs),
            # The same as a mapping, for readers that take outputs as named values.
            "files": {"directory": self.directory, "frames": list(self.outputs)},
            "error": self.error,
            "created": self.created,
            "finished": self.finished,
        }

    def record(self) -> dict[str, Any]:
        return {
            **self.public(),
            "directory": self.directory,
            "frames": self.frames,
            "scene": self.scene,
            "callback": self.callback,
            "key": self.key,
        }

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            id=str(data["id"]),
            frames=[int(f) for f in data["frames"]],
            scene={str(k): int(v) for k, v in dict(data.get("scene") or {}).items()},
            callback=data.get("callback"),
            name=data.get("name"),
            key=data.get("key"),
            state=str(data.get("state", "queued")),
            progress=float(data.get("progress", 0.0)),
            outputs=[str(o) for o in data.get("outputs") or ()],
            error=data.get("error"),
            created=float(data.get("created", time.time())),
            finished=data.get("finished"),
            directory=str(data.get("directory") or ""),
        )


def parse_request(
    body: Mapping[str, Any],
) -> tuple[list[int], dict[str, int], str | None, str | None]:
    """(frames, scene, callback, name) of a submit, or BadRequest naming the field."""
    # Here, not at the top: `stormflow.spec` takes ~0.3 s to import, and the client mode
    # (run by a command provider at every poll) never parses frames.
    from stormflow.spec.frames import FrameSpecError, parse_frames

    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - {"frames", "scene", "params", "callback", "name"})
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}")
    if "frames" not in body:
        raise BadRequest("frames: required (a frame spec like '1-24')")
    try:
        frames = list(parse_frames(body["frames"]).frames)
    except FrameSpecError as exc:
        raise BadRequest(f"frames: {exc}") from None
    if len(frames) > MAX_FRAMES:
        raise BadRequest(f"frames: {len(frames)} frames; this farm renders at most {MAX_FRAMES}")
    scene_in = body.get("scene", body.get("params", {}))
    if not isinstance(scene_in, Mapping):
        raise BadRequest("scene: must be an object like {'count': 40, 'seed': 7}")
    scene = {"count": 40, "seed": 7}
    for name, value in scene_in.items():
        if name not in scene:
            raise BadRequest(f"scene.{name}: unknown (the scene takes count and seed)")
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest(f"scene.{name}: must be a whole number")
        scene[name] = value
    if not 1 <= scene["count"] <= 500:
        raise BadRequest("scene.count: must be between 1 and 500")
    callback = body.get("callback")
    if callback is not None:
        if not isinstance(callback, str):
            raise BadRequest("callback: must be an http(s) URL")
        url = urllib.parse.urlsplit(callback)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise BadRequest(f"callback: {callback!r} is not an http(s) URL")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise BadRequest("name: must be a string of at most 200 characters")
    return frames, scene, callback, name


class Farm:
    """Jobs, their renderers and their callbacks; the HTTP handler only translates."""

    def __init__(
        self,
        root: Path,
        *,
        secret: str | None = None,
        switches: Switches | None = None,
        slots: int = 2,
        frame_seconds: float = 0.25,
        callback_url: str | None = None,
        progress_every: int = 0,
    ) -> None:
        self.root = root
        self.secret = secret
        #: Where jobs without their own callback report (one endpoint for the whole farm, as
        #: services configured once per account do).
        self.callback_url = callback_url
        #: A `job.progress` callback every this many frames (0: only when the job ends).
        self.progress_every = max(0, progress_every)
        self.switches = switches or Switches()
        self.frame_seconds = frame_seconds
        self.jobs: dict[str, Job] = {}
        self.keys: dict[str, str] = {}
        self.stats = {
            "submits": 0,
            "replayed": 0,
            "callbacks_sent": 0,
            "callbacks_lost": 0,
            "callbacks_failed": 0,
        }
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job] = queue.Queue()
        self._random = random.Random()
        (root / "jobs").mkdir(parents=True, exist_ok=True)
        self._load()
        for _ in range(max(1, slots)):
            threading.Thread(target=self._work, name="farm-slot", daemon=True).start()

    # -- records --------------------------------------------------------------------------------

    def _load(self) -> None:
        """Jobs of an earlier run of this farm; the unfinished ones are queued again."""
        for path in sorted((self.root / "jobs").glob("*.json")):
            try:
                job = Job.of(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a record cut short by a crash mid-write cannot be: writes replace
            self.jobs[job.id] = job
            if job.key:
                self.keys[job.key] = job.id
            if job.state not in FINISHED:
                job.state, job.progress, job.outputs = "queued", 0.0, []
                self._queue.put(job)

    def _save(self, job: Job) -> None:
        path = self.root / "jobs" / f"{job.id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(job.record()), encoding="utf-8")
        os.replace(tmp, path)

    # -- API ------------------------------------------------------------------------------------

    def submit(self, body: Mapping[str, Any], key: str | None) -> tuple[Job, bool]:
        """(job, created): an Idempotency-Key already seen returns its job, created False."""
        if key is not None and (not key.strip() or len(key) > 200):
            raise BadRequest("Idempotency-Key: must be 1 to 200 characters")
        frames, scene, callback, name = parse_request(body)
        callback = callback or self.callback_url
        if callback and not self.secret:
            raise BadRequest(
                "callback: this farm has no webhook secret (--secret or STORM_FARM_SECRET), "
                "so it cannot sign callbacks"
            )
        with self._lock:
            self.stats["submits"] += 1
            if key is not None and key in self.keys:
                self.stats["replayed"] += 1
                return self.jobs[self.keys[key]], False
            job = Job(uuid.uuid4().hex[:12], frames, scene, callback, name, key)
            job.directory = str(self.root / "jobs" / job.id)
            self.jobs[job.id] = job
            if key is not None:
                self.keys[key] = job.id
            self._save(job)
        self._queue.put(job)
        return job, True

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id) if _JOB_ID.match(job_id) else None

    def listing(self, name: str | None) -> list[Job]:
        with self._lock:
            jobs = list(self.jobs.values())
        return [j for j in jobs if name is None or j.name == name]

    def cancel(self, job: Job) -> Job:
        with self._lock:
            if job.state in FINISHED:
                return job
            job.cancel.set()
            if job.state == "queued":  # its slot skips it; no render ever starts
                self._finish(job, "canceled", "canceled before it started")
        return job

    def output_file(self, job: Job, name: str) -> Path | None:
        if not _PNG.match(name):
            return None
        path = self.root / "jobs" / job.id / name
        return path if str(path) in job.outputs and path.is_file() else None

    # -- rendering ------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            with self._lock:
                if job.state != "queued" or job.cancel.is_set():
                    continue
                job.state = "running"
                self._save(job)
            try:
                self._render(job)
            except Exception as exc:  # a broken render fails its job, never the farm
                with self._lock:
                    self._finish(job, "failed", f"render error: {type(exc).__name__}: {exc}")

    def _render(self, job: Job) -> None:
        out = self.root / "jobs" / job.id
        cache = out / "cache"
        first, last = min(job.frames), max(job.frames)
        simulate(first, last, cache, count=job.scene["count"], seed=job.scene["seed"])
        doomed = self._doomed(job)
        for index, frame in enumerate(job.frames):
            began = time.monotonic()
            if job.cancel.is_set():
                with self._lock:
                    self._finish(job, "canceled", f"canceled at frame {frame}")
                return
            if frame in self.switches.fail_frames or (doomed and index == len(job.frames) // 2):
                with self._lock:
                    self._finish(job, "failed", f"frame {frame} failed to render")
                return
            target = render(cache, frame, out)
            # Paced like a farm: a frame takes frame_seconds, however fast the host is.
            job.cancel.wait(max(0.0, self.frame_seconds - (time.monotonic() - began)))
            with self._lock:
                job.outputs.append(str(target))
                job.progress = (index + 1) / len(job.frames)
                self._save(job)
                every = self.progress_every
                if every and (index + 1) % every == 0 and index + 1 < len(job.frames):
                    self._notify(job, "progress")
        with self._lock:
            self._finish(job, "succeeded", None)

    def _doomed(self, job: Job) -> bool:
        """Whether `--fail-jobs` picks this job: stable for a job id, so a restart agrees."""
        rate = self.switches.fail_jobs
        draw = int(hashlib.sha256(job.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return rate >= 1 or draw < rate

    def _finish(self, job: Job, state: str, error: str | None) -> None:
        """Under the lock: the job's last state, saved, then its callback on its way."""
        job.state, job.error, job.finished = state, error, time.time()
        self._save(job)
        self._notify(job, state)

    def _notify(self, job: Job, what: str) -> None:
        """Under the lock: the job's callback (if any) on its way, from its own thread."""
        if not job.callback:
            return
        # The job's fields at the top, as GET /jobs/{id} has them: one reading serves both.
        event = {"event_id": uuid.uuid4().hex, "type": f"job.{what}", "sent": time.time()}
        event.update(job.public())
        threading.Thread(
            target=self._deliver, args=(job.callback, event), name="farm-callback", daemon=True
        ).start()

    # -- callbacks ------------------------------------------------------------------------------

    def _deliver(self, url: str, event: dict[str, Any]) -> None:
        sw = self.switches
        if sw.lose_callbacks >= 1 or self._random.random() < sw.lose_callbacks:
            with self._lock:
                self.stats["callbacks_lost"] += 1
            return
        if sw.delay_callbacks > 0:
            time.sleep(sw.delay_callbacks)
        body = json.dumps(event).encode()
        for _ in range(1 + max(0, sw.duplicate_callbacks)):
            self._post(url, body)

    def _post(self, url: str, body: bytes) -> None:
        assert self.secret is not None  # submit refuses callbacks on a farm without one
        for pause in (*CALLBACK_RETRIES, None):
            # Signed per delivery: a retry minutes later must not look like a replay.
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", HEADER: sign(self.secret, body)},
            )
            try:
                with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT) as answer:
                    answer.read()
                with self._lock:
                    self.stats["callbacks_sent"] += 1
                return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:  # refused (bad signature, unknown job): retrying won't help
                    break
            except (OSError, ValueError):
                pass
            if pause is None:
                break
            time.sleep(pause)
        with self._lock:
            self.stats["callbacks_failed"] += 1


# -- HTTP ---------------------------------------------------------------------------------------


def handler_for(farm: Farm, token: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "StormDemoFarm/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # stdout is the address line; a test reading it wants nothing else

        def _send(self, status: int, data: Mapping[str, Any]) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": message})

        def _authorized(self) -> bool:
            if token is None:
                return True
            given = self.headers.get("Authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return True
            self._error(401, "missing or wrong bearer token")
            return False

        def _route(self, method: str) -> None:
            try:
                if self._authorized():
                    self._dispatch(method)
            except BadRequest as exc:
                self._error(400, str(exc))
            except Exception as exc:  # never a 500 without a JSON body saying why
                self._error(500, f"farm error: {type(exc).__name__}: {exc}")

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def _not_allowed(self) -> None:
            self._error(405, f"{self.command} is not served here (GET and POST only)")

        do_PUT = do_PATCH = do_DELETE = _not_allowed

        def _dispatch(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
            if method == "GET" and parts == ["health"]:
                return self._send(200, {"ok": True})
            if method == "GET" and parts == ["stats"]:
                return self._send(200, {"jobs": len(farm.jobs), **farm.stats})
            if parts == ["jobs"]:
                if method == "POST":
                    job, created = farm.submit(self._json(), self.headers.get("Idempotency-Key"))
                    return self._send(201 if created else 200, job.public())
                names = urllib.parse.parse_qs(url.query).get("name")
                return self._send(
                    200, {"jobs": [j.public() for j in farm.listing(names[0] if names else None)]}
                )
            if len(parts) >= 2 and parts[0] == "jobs":
                found = farm.get(parts[1])
                if found is None:
                    return self._error(404, f"no job {parts[1]!r}")
                if method == "GET" and len(parts) == 2:
                    return self._send(200, found.public())
                if method == "POST" and parts[2:] == ["cancel"]:
                    return self._send(200, farm.cancel(found).public())
                if method == "GET" and len(parts) == 4 and parts[2] == "files":
                    return self._file(found, parts[3])
            return self._error(404, f"no route {method} {url.path}")

        def _json(self) -> Any:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadRequest("Content-Length is not a number") from None
            if length > MAX_BODY:
                raise BadRequest(f"body larger than {MAX_BODY} bytes")
            raw = self.rfile.read(length) if length > 0 else b""
            try:
                return json.loads(raw or b"null")
            except (ValueError, UnicodeDecodeError):
                raise BadRequest("the body is not JSON") from None

        def _file(self, job: Job, name: str) -> None:
            path = farm.output_file(job, name)
            if path is None:
                return self._error(404, f"job {job.id} has no output {name!r}")
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class FarmServer(ThreadingHTTPServer):
    #: socketserver's default backlog of 5 resets connections when a few dozen clients
    #: (schedulers resubmitting, pollers) connect at once.
    request_queue_size = 128


def serve(args: argparse.Namespace) -> None:
    switches = Switches(
        lose_callbacks=args.lose_callbacks,
        delay_callbacks=args.delay_callbacks,
        duplicate_callbacks=args.duplicate_callbacks,
        fail_jobs=args.fail_jobs,
        fail_frames=frozenset(args.fail_frames),
    )
    if args.callback_url:
        url = urllib.parse.urlsplit(args.callback_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise BadRequest(f"--callback-url {args.callback_url!r} is not an http(s) URL")
        if not args.secret:
            raise BadRequest("--callback-url needs --secret (or STORM_FARM_SECRET) to sign with")
    farm = Farm(
        args.root.resolve(),
        secret=args.secret or None,
        switches=switches,
        slots=args.slots,
        frame_seconds=args.frame_seconds,
        callback_url=args.callback_url or None,
        progress_every=args.progress_every,
    )
    server = FarmServer((HOST, args.port), handler_for(farm, args.token or None))
    server.daemon_threads = True
    port = server.server_address[1]
    print(json.dumps({"url": f"http://{HOST}:{port}", "port": port, "root": str(farm.root)}))
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# -- client mode --------------------------------------------------------------------------------


class ClientError(RuntimeError):
    """The farm answered an error or could not be reached; one line."""


def call(
    base: str, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base.rstrip("/") + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    token = os.environ.get("STORM_FARM_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except (ValueError, AttributeError):
            message = exc.reason
        raise ClientError(f"farm answered {exc.code}: {message}") from None
    except (OSError, ValueError) as exc:
        raise ClientError(f"farm at {base} unreachable: {exc}") from None
    return json.loads(raw) if raw[:1] in (b"{", b"[") else raw


def _client(args: argparse.Namespace) -> dict[str, Any]:
    base = args.url
    if args.command == "submit":
        body: dict[str, Any]
        if args.frames is None:  # the request on stdin, as a `command` provider passes it
            try:
                body = json.loads(sys.stdin.read() or "null")
            except ValueError:
                raise ClientError("the request on stdin is not JSON") from None
            if not isinstance(body, dict):
                raise ClientError("give --frames, or a JSON request object on stdin")
        else:
            body = {"frames": args.frames, "scene": {"count": args.count, "seed": args.seed}}
        if args.callback:
            body["callback"] = args.callback
        if args.name:
            body["name"] = args.name
        key = args.key or os.environ.get("STORM_IDEMPOTENCY_KEY")
        headers = {"Idempotency-Key": key} if key else {}
        job = call(base, "POST", "/jobs", body, headers)
        return {"id": job["id"], "state": job["state"]}
    if args.command == "fetch" and args.id is None:
        args.id = _newest_succeeded(base, args.name)
    job_path = f"/jobs/{urllib.parse.quote(args.id, safe='')}"
    if args.command == "cancel":
        job = call(base, "POST", f"{job_path}/cancel")
        return {"id": job["id"], "state": job["state"]}
    job = call(base, "GET", job_path)
    if args.command == "status":
        return {
            "state": job["state"],
            "progress": job["progress"],
            "outputs": job["files"],
            "error": job["error"],
        }
    # fetch: copy the outputs here over HTTP, as from a farm on another machine
    if job["state"] != "succeeded":
        raise ClientError(f"job {job['id']} is {job['state']}, not succeeded: nothing to fetch")
    args.out.mkdir(parents=True, exist_ok=True)
    fetched = []
    for output in job["outputs"]:
        name = Path(output).name
        data = call(base, "GET", f"{job_path}/files/{urllib.parse.quote(name)}")
        (args.out / name).write_bytes(data)
        fetched.append(str(args.out / name))
    return {"id": job["id"], "fetched": len(fetched), "out": str(args.out)}


def _newest_succeeded(base: str, name: str | None) -> str:
    """The id of the last job named `name` that succeeded: how a later step finds the render
    a workflow's earlier step sent (its request named the job after the workflow)."""
    if not name:
        raise ClientError("fetch needs a job id or --name")
    query = urllib.parse.urlencode({"name": name})
    jobs = [j for j in call(base, "GET", f"/jobs?{query}")["jobs"] if j["state"] == "succeeded"]
    if not jobs:
        raise ClientError(f"no succeeded job named {name!r}")
    return str(max(jobs, key=lambda j: j["finished"] or 0)["id"])


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _frames(text: str) -> list[int]:
    try:
        return [int(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list") from None


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m stormflow.demo.farm",
        description="The demo render farm: serve, or talk to one.",
    )
    top.add_argument("--port", type=int, default=int(_env("STORM_FARM_PORT", "8766")))
    top.add_argument("--root", type=Path, default=Path(_env("STORM_FARM_ROOT", "farm")))
    top.add_argument("--secret", default=os.environ.get("STORM_FARM_SECRET", ""))
    top.add_argument("--token", default=os.environ.get("STORM_FARM_TOKEN", ""))
    top.add_argument(
        "--callback-url",
        default=os.environ.get("STORM_FARM_CALLBACK_URL", ""),
        help="where jobs without their own callback report, e.g. Storm's /api/v1/hooks/<provider>",
    )
    top.add_argument(
        "--progress-every",
        type=int,
        default=int(_env("STORM_FARM_PROGRESS_EVERY", "0")),
        help="also call back with job.progress every N frames (0: only when a job ends)",
    )
    top.add_argument("--slots", type=int, default=2, help="jobs rendering at once")
    top.add_argument("--frame-seconds", type=_non_negative, default=0.25)
    top.add_argument(
        "--lose-callbacks",
        type=_fraction,
        default=_fraction(_env("STORM_FARM_LOSE_CALLBACKS", "0")),
    )
    top.add_argument(
        "--delay-callbacks",
        type=_non_negative,
        default=_non_negative(_env("STORM_FARM_DELAY_CALLBACKS", "0")),
    )
    top.add_argument(
        "--duplicate-callbacks", type=int, default=int(_env("STORM_FARM_DUPLICATE_CALLBACKS", "0"))
    )
    top.add_argument(
        "--fail-jobs", type=_fraction, default=_fraction(_env("STORM_FARM_FAIL_JOBS", "0"))
    )
    top.add_argument(
        "--fail-frames", type=_frames, default=_frames(_env("STORM_FARM_FAIL_FRAMES", ""))
    )
    sub = top.add_subparsers(dest="command")
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument("--url", default=_env("STORM_FARM_URL", f"http://{HOST}:8766"))
    submit = sub.add_parser("submit", parents=[url], help="submit a job; prints {id, state}")
    submit.add_argument("--frames", help="else the request (JSON) is read from stdin")
    submit.add_argument("--count", type=int, default=40)
    submit.add_argument("--seed", type=int, default=7)
    submit.add_argument("--callback")
    submit.add_argument("--name")
    submit.add_argument(
        "--key",
        help="Idempotency-Key (default $STORM_IDEMPOTENCY_KEY): a key never makes a second job",
    )
    for command, text in (
        ("status", "prints {state, progress, outputs, error}"),
        ("cancel", "cancels a job; prints {id, state}"),
        ("fetch", "copies a succeeded job's frames into --out"),
    ):
        one = sub.add_parser(command, parents=[url], help=text)
        if command == "fetch":
            one.add_argument("id", nargs="?", help="the job; or --name")
            one.add_argument("--name", help="the newest succeeded job of this name")
            one.add_argument("--out", type=Path, required=True)
        else:
            one.add_argument("id")
    return top


def main(argv: Sequence[str] | None = None) -> None:
    try:
        args = parser().parse_args(argv)
    except (
        ValueError,
        argparse.ArgumentTypeError,
    ) as exc:  # a bad STORM_FARM_* value read as a default
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.command is None:
        try:
            serve(args)
        except BadRequest as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        return
    try:
        answer = _client(args)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
