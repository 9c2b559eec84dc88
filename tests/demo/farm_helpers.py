"""The demo farm as a real subprocess on a free port, and a local webhook receiver that
verifies signatures: shared by the farm's tests, the webhook kind's and the example's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stormflow.signing import HEADER, SignatureError, verify


@dataclass
class FarmProcess:
    proc: subprocess.Popen[str]
    url: str
    root: Path

    def call(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def wait(self, job_id: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, job = self.call("GET", f"/jobs/{job_id}")
            assert status == 200, job
            if job["state"] in ("succeeded", "failed", "canceled"):
                return dict(job)
            assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
            time.sleep(0.05)

    def cli(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stormflow.demo.farm", *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "STORM_FARM_URL": self.url, **(env or {})},
        )


def start_farm(root: Path, *args: str, env: Mapping[str, str] | None = None) -> FarmProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stormflow.demo.farm", "--port", "0", "--root", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=5)
        raise AssertionError(f"farm did not start: {proc.stderr.read() if proc.stderr else ''}")
    address = json.loads(line)
    return FarmProcess(proc, address["url"], Path(address["root"]))


@contextmanager
def running_farm(
    root: Path, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[FarmProcess]:
    farm = start_farm(root, *args, env=env)
    try:
        yield farm
    finally:
        stop(farm)


def stop(farm: FarmProcess, sig: int = signal.SIGTERM) -> None:
    if farm.proc.poll() is None:
        farm.proc.send_signal(sig)
        farm.proc.wait(timeout=10)
    for stream in (farm.proc.stdout, farm.proc.stderr):
        if stream is not None:
            stream.close()


@dataclass
class Receiver:
    """An HTTP server that keeps every POST, and whether its signature verified."""

    secret: str
    status: int = 200
    signed: bool = True  # answer 401 to a POST whose signature does not verify
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many notices at once: the default backlog of 5 resets some


@contextmanager
def receiver(secret: str, status: int = 200, signed: bool = True) -> Iterator[Receiver]:
    kept = Receiver(secret, status, signed)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                verify(kept.secret, self.headers.get(HEADER), body)
                verified = True
            except SignatureError:
                verified = False
            with kept.arrived:
                kept.received.append(
                    {
                        "path": self.path,
                        "verified": verified,
                        "body": json.loads(body),
                        "raw": body,
                        "at": time.time(),
                        "headers": dict(self.headers),
                    }
                )
                kept.arrived.notify_all()
            answer = kept.status if verified or not kept.signed else 401
            self.send_response(answer)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    kept.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield kept
    finally:
        server.shutdown()
        server.server_close()
