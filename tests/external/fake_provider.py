"""A tiny but real job service for the external-job tests, run as its own process.

    python fake_provider.py PORT [SECRET]

POST /jobs            submit (body: {"job": {"seconds": 0.3, "fail": false, "callbacks": mode},
                      "callback": url}); the
                      Idempotency-Key header makes a repeated submit answer the same job
GET  /jobs/<id>       {"id", "state", "progress", "outputs"}
POST /jobs/<id>/cancel
GET  /stats           what it saw: submits, jobs, cancels, idempotent repeats, peak running
POST /mode            {"callbacks": "send|lose|duplicate|delay:<s>|first", "status": "ok|down"}

"first": the job finishes at once and its callback is sent, and answered, before the submit
is answered (a provider faster than its own API: the webhook comes before the job id).

When a job finishes and it has a callback URL, the service POSTs a signed event
(X-Storm-Signature with SECRET) {"event_id", "id", "state", "outputs"} to it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from stormflow.signing import HEADER, sign

LOCK = threading.Lock()
JOBS: dict[str, dict] = {}
KEYS: dict[str, str] = {}
STATS = {"submits": 0, "repeats": 0, "cancels": [], "peak": 0, "status_calls": 0}
MODE = {"callbacks": "send", "status": "ok"}
SECRET = sys.argv[2] if len(sys.argv) > 2 else ""


def running() -> int:
    return sum(1 for j in JOBS.values() if j["state"] == "running")


def state_of(job: dict) -> dict:
    if job["state"] == "running" and time.time() >= job["done_at"]:
        job["state"] = "failed" if job["fail"] else "succeeded"
        if job["state"] == "succeeded":
            job["outputs"] = {"movie": f"/renders/{job['id']}.mp4", "frames": 3}
        threading.Thread(target=callback, args=(dict(job),), daemon=True).start()
    total = max(job["done_at"] - job["created"], 1e-6)
    progress = (
        1.0 if job["state"] != "running" else min(0.99, (time.time() - job["created"]) / total)
    )
    return {
        "id": job["id"],
        "state": job["state"],
        "progress": round(progress, 3),
        "outputs": job.get("outputs", {}),
        "error": "the fake farm failed it" if job["state"] == "failed" else None,
    }


def callback(job: dict) -> None:
    url = job.get("callback")
    mode = job.get("callbacks") or MODE["callbacks"]
    if not url or mode == "lose" or job["state"] == "canceled":
        return
    if mode.startswith("delay:"):
        time.sleep(float(mode.split(":", 1)[1]))
    body = json.dumps(
        {
            "event_id": f"ev-{job['id']}-{job['state']}",
            "id": job["id"],
            "state": job["state"],
            "outputs": job.get("outputs", {}),
        }
    ).encode()
    for _ in range(2 if mode == "duplicate" else 1):
        req = urllib.request.Request(url, data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header(HEADER, sign(SECRET, body))
        try:
            urllib.request.urlopen(req, timeout=5).read()
        except Exception as exc:  # a callback is best effort, like a real provider's
            print("callback failed:", exc, file=sys.stderr, flush=True)


def ticker() -> None:
    """Finishes jobs on time (and sends their callbacks) even if nobody polls."""
    while True:
        time.sleep(0.02)
        with LOCK:
            for job in JOBS.values():
                state_of(job)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def answer(self, code: int, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        with LOCK:
            if self.path == "/stats":
                self.answer(200, {**STATS, "jobs": len(JOBS), "running": running()})
                return
            if self.path.startswith("/jobs/"):
                STATS["status_calls"] += 1
                if MODE["status"] == "down":
                    self.answer(503, {"error": "down"})
                    return
                job = JOBS.get(self.path.split("/")[2])
                if job is None:
                    self.answer(404, {"error": "no such job"})
                    return
                self.answer(200, state_of(job))
                return
        self.answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        data = self.body()
        with LOCK:
            if self.path == "/mode":
                MODE.update(data)
                self.answer(200, MODE)
                return
            if self.path == "/jobs":
                key = self.headers.get("Idempotency-Key")
                if key and key in KEYS:
                    STATS["repeats"] += 1
                    self.answer(200, {"id": KEYS[key]})
                    return
                STATS["submits"] += 1
                callback_url = data.get("callback") or None
                data = data.get("job", data)
                job_id = f"j{len(JOBS) + 1}"
                now = time.time()
                JOBS[job_id] = {
                    "id": job_id,
                    "state": "running",
                    "created": now,
                    "done_at": now + float(data.get("seconds", 0.3)),
                    "fail": bool(data.get("fail")),
                    "callback": callback_url,
                    "callbacks": data.get("callbacks"),
                    "key": key,
                }
                if key:
                    KEYS[key] = job_id
                STATS["peak"] = max(STATS["peak"], running())
                if (data.get("callbacks") or MODE["callbacks"]) == "first":
                    job = JOBS[job_id]
                    job["state"] = "succeeded"
                    job["outputs"] = {"movie": f"/renders/{job_id}.mp4", "frames": 3}
                    callback({**job, "callbacks": "send"})  # answered before the submit is
                self.answer(201, {"id": job_id})
                return
            parts = self.path.split("/")
            if len(parts) == 4 and parts[1] == "jobs" and parts[3] == "cancel":
                job = JOBS.get(parts[2])
                if job is None:
                    self.answer(404, {"error": "no such job"})
                    return
                STATS["cancels"].append(parts[2])
                if job["state"] == "running":
                    job["state"] = "canceled"
                self.answer(200, {"id": parts[2], "state": job["state"]})
                return
        self.answer(404, {"error": "not found"})


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    threading.Thread(target=ticker, daemon=True).start()
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
