"""The demo farm, run as a real process on a free port: jobs, idempotency, cancel, signed
callbacks, every switch, the client mode, bad input, and a kill -9 in the middle of a job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stormflow.demo.image import read_png
from stormflow.signing import HEADER, SignatureError, verify
from tests.demo.farm_helpers import receiver, running_farm, start_farm, stop

SECRET = "farm-test-secret"
FAST = ("--frame-seconds", "0.02", "--secret", SECRET)


def test_job_renders_frames_and_calls_back_signed(tmp_path: Path) -> None:
    with receiver(SECRET) as hook, running_farm(tmp_path / "farm", *FAST) as farm:
        status, job = farm.call(
            "POST", "/jobs", {"frames": "1-6", "scene": {"count": 5}, "callback": hook.url}
        )
        assert status == 201 and job["state"] in ("queued", "running")
        done = farm.wait(job["id"])
        assert done["state"] == "succeeded" and done["progress"] == 1.0
        assert [Path(p).name for p in done["outputs"]] == [
            f"frame.{f:04d}.png" for f in range(1, 7)
        ]
        image = read_png(done["outputs"][0])
        assert (image.width, image.height) == (320, 180) and any(image.pixels)
        (call,) = hook.wait_for(1)
        assert call["verified"]
        assert call["body"]["type"] == "job.succeeded"
        assert call["body"]["id"] == job["id"] and call["body"]["state"] == "succeeded"
        assert len(call["body"]["event_id"]) == 32
        # The signature covers this very body: altered by one byte it no longer verifies.
        header = call["headers"][HEADER]
        verify(SECRET, header, call["raw"])
        with pytest.raises(SignatureError):
            verify(SECRET, header, call["raw"].replace(b"succeeded", b"succeedeD"))


def test_idempotency_key_returns_the_same_job(tmp_path: Path) -> None:
    with running_farm(tmp_path / "farm", *FAST) as farm:
        key = {"Idempotency-Key": "wf1/attempt-7"}
        first = farm.call("POST", "/jobs", {"frames": "1-3"}, key)
        again = farm.call("POST", "/jobs", {"frames": "1-3"}, key)
        other = farm.call("POST", "/jobs", {"frames": "1-3"}, {"Idempotency-Key": "wf1/attempt-8"})
        assert first[0] == 201 and again[0] == 200 and other[0] == 201
        assert first[1]["id"] == again[1]["id"] != other[1]["id"]
        _, stats = farm.call("GET", "/stats")
        assert stats["jobs"] == 2 and stats["replayed"] == 1


def test_cancel_stops_a_running_job(tmp_path: Path) -> None:
    with running_farm(tmp_path / "farm", "--frame-seconds", "0.2") as farm:
        _, job = farm.call("POST", "/jobs", {"frames": "1-50"})
        deadline = time.monotonic() + 10
        while farm.call("GET", f"/jobs/{job['id']}")[1]["progress"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status, canceled = farm.call("POST", f"/jobs/{job['id']}/cancel")
        assert canceled["id"] == job["id"]
        assert status == 200
        done = farm.wait(job["id"])
        assert done["state"] == "canceled" and len(done["outputs"]) < 50
        # A finished job stays as it was.
        assert farm.call("POST", f"/jobs/{job['id']}/cancel")[1]["state"] == "canceled"


def test_switches_lose_duplicate_delay_and_fail(tmp_path: Path) -> None:
    with receiver(SECRET) as hook:
        with running_farm(tmp_path / "lose", *FAST, "--lose-callbacks", "1") as farm:
            _, job = farm.call("POST", "/jobs", {"frames": "1", "callback": hook.url})
            assert farm.wait(job["id"])["state"] == "succeeded"
            time.sleep(0.3)
            assert hook.received == [] and farm.call("GET", "/stats")[1]["callbacks_lost"] == 1
        with running_farm(
            tmp_path / "dup", *FAST, "--duplicate-callbacks", "2", "--delay-callbacks", "0.5"
        ) as farm:
            _, job = farm.call("POST", "/jobs", {"frames": "1", "callback": hook.url})
            finished = farm.wait(job["id"])["finished"]
            calls = hook.wait_for(3)
            assert len(calls) == 3 and all(c["verified"] for c in calls)
            assert len({c["body"]["event_id"] for c in calls}) == 1  # one event, three deliveries
            assert calls[0]["at"] >= finished + 0.45  # delayed by 0.5 s
    with (
        receiver(SECRET) as hook,
        running_farm(tmp_path / "prog", *FAST, "--progress-every", "2") as farm,
    ):
        _, job = farm.call("POST", "/jobs", {"frames": "1-5", "callback": hook.url})
        farm.wait(job["id"])
        calls = hook.wait_for(3)
        time.sleep(0.2)
        kinds = sorted(c["body"]["type"] for c in hook.received)
        assert kinds == ["job.progress", "job.progress", "job.succeeded"]
        assert sorted(c["body"]["progress"] for c in calls) == [0.4, 0.8, 1.0]
    with running_farm(tmp_path / "fail", *FAST, env={"STORM_FARM_FAIL_FRAMES": "3"}) as farm:
        _, job = farm.call("POST", "/jobs", {"frames": "1-5"})
        _, clean = farm.call("POST", "/jobs", {"frames": "4-5"})
        failed = farm.wait(job["id"])
        assert failed["state"] == "failed" and "frame 3" in failed["error"]
        assert len(failed["outputs"]) == 2
        assert farm.wait(clean["id"])["state"] == "succeeded"
    with running_farm(tmp_path / "all", *FAST, "--fail-jobs", "1") as farm:
        _, job = farm.call("POST", "/jobs", {"frames": "1-4"})
        assert farm.wait(job["id"])["state"] == "failed"


def test_client_mode_submit_status_cancel_fetch(tmp_path: Path) -> None:
    with running_farm(tmp_path / "farm", *FAST) as farm:
        out = farm.cli("submit", "--frames", "1-3", "--key", "k1", "--name", "shot")
        assert out.returncode == 0, out.stderr
        job_id = json.loads(out.stdout)["id"]
        assert (
            json.loads(farm.cli("submit", "--frames", "1-3", "--key", "k1").stdout)["id"] == job_id
        )
        farm.wait(job_id)
        status = json.loads(farm.cli("status", job_id).stdout)
        assert status["state"] == "succeeded" and status["progress"] == 1.0
        assert len(status["outputs"]["frames"]) == 3
        assert Path(status["outputs"]["directory"]) == farm.root / "jobs" / job_id
        # As a `command` provider calls it: the request on stdin, the key in the environment.
        piped = [sys.executable, "-m", "stormflow.demo.farm", "submit"]
        env = {**os.environ, "STORM_FARM_URL": farm.url, "STORM_IDEMPOTENCY_KEY": "k2"}
        first, again = (
            subprocess.run(
                piped,
                input=json.dumps({"frames": "1-2", "name": "piped"}),
                capture_output=True,
                text=True,
                env=env,
                timeout=30,
            )
            for _ in range(2)
        )
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["id"] == json.loads(again.stdout)["id"] != job_id
        bad = subprocess.run(piped, input="[1]", capture_output=True, text=True, env=env)
        assert bad.returncode == 1 and "JSON request object" in bad.stderr
        fetched = farm.cli("fetch", job_id, "--out", str(tmp_path / "renders"))
        assert fetched.returncode == 0, fetched.stderr
        assert sorted(p.name for p in (tmp_path / "renders").iterdir()) == [
            "frame.0001.png",
            "frame.0002.png",
            "frame.0003.png",
        ]
        by_name = farm.cli("fetch", "--name", "shot", "--out", str(tmp_path / "named"))
        assert (
            json.loads(by_name.stdout)["id"] == job_id
            and len(list((tmp_path / "named").iterdir())) == 3
        )
        nameless = farm.cli("fetch", "--name", "other", "--out", str(tmp_path / "x"))
        assert nameless.returncode == 1 and "no succeeded job named 'other'" in nameless.stderr
        assert json.loads(farm.cli("cancel", job_id).stdout)["state"] == "succeeded"
        assert farm.call("GET", "/jobs?name=shot")[1]["jobs"][0]["id"] == job_id
        missing = farm.cli("status", "0123456789ab")
        assert missing.returncode == 1 and "404" in missing.stderr and not missing.stdout
    gone = farm.cli("status", job_id)
    assert gone.returncode == 1 and "unreachable" in gone.stderr


def test_bad_input_is_refused_and_nothing_stored(tmp_path: Path) -> None:
    with running_farm(tmp_path / "nosecret", "--frame-seconds", "0.02", "--token", "t0k") as farm:
        assert farm.call("GET", "/jobs")[0] == 401
        auth = {"Authorization": "Bearer t0k"}
        for body, field in (
            ({"frames": "zz"}, "frames"),
            ({}, "frames"),
            ({"frames": "1-5000"}, "frames"),
            ({"frames": "1", "scene": {"count": "many"}}, "scene.count"),
            ({"frames": "1", "scene": {"shots": 2}}, "scene.shots"),
            ({"frames": "1", "callback": "file:///etc/passwd"}, "callback"),
            ({"frames": "1", "callback": "http://127.0.0.1:1/x"}, "callback"),  # no secret to sign
            ({"frames": "1", "color": "red"}, "unknown"),
            ([1, 2], "object"),
        ):
            status, answer = farm.call("POST", "/jobs", body, auth)
            assert status == 400 and field in answer["error"], (body, answer)
        assert farm.call("GET", "/jobs/../../etc/passwd", None, auth)[0] == 404
        assert farm.call("DELETE", "/jobs", None, auth)[0] == 405
        assert farm.call("POST", "/jobs/0123456789ab/cancel", None, auth)[0] == 404
        _, job = farm.call("POST", "/jobs", {"frames": "1"}, auth)
        assert (
            farm.call("GET", f"/jobs/{job['id']}/files/..%2F..%2Fjobs.json", None, auth)[0] == 404
        )
        _, listing = farm.call("GET", "/jobs", None, auth)
        assert [j["id"] for j in listing["jobs"]] == [job["id"]]
    bad = farm.cli("status", "x", env={"STORM_FARM_LOSE_CALLBACKS": "2"})
    assert bad.returncode == 2 and "fraction" in bad.stderr


def test_kill_9_keeps_jobs_and_keys(tmp_path: Path) -> None:
    root = tmp_path / "farm"
    farm = start_farm(root, "--frame-seconds", "0.1")
    key = {"Idempotency-Key": "attempt-1"}
    _, job = farm.call("POST", "/jobs", {"frames": "1-20"}, key)
    deadline = time.monotonic() + 10
    while farm.call("GET", f"/jobs/{job['id']}")[1]["progress"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stop(farm, signal.SIGKILL)
    with running_farm(root, "--frame-seconds", "0.01") as again:
        status, replay = again.call("POST", "/jobs", {"frames": "1-20"}, key)
        assert status == 200 and replay["id"] == job["id"]
        done = again.wait(job["id"])
        assert done["state"] == "succeeded" and len(done["outputs"]) == 20
        assert again.call("GET", "/stats")[1]["jobs"] == 1


def test_concurrent_submits_with_one_key_make_one_job(tmp_path: Path) -> None:
    """Retries racing each other (as two schedulers resuming one wait might): one job."""
    with running_farm(tmp_path / "farm", "--frame-seconds", "0.01") as farm:
        with ThreadPoolExecutor(max_workers=16) as pool:
            same = list(
                pool.map(
                    lambda _: farm.call("POST", "/jobs", {"frames": "1"}, {"Idempotency-Key": "k"}),
                    range(32),
                )
            )
            distinct = list(
                pool.map(
                    lambda i: farm.call(
                        "POST", "/jobs", {"frames": "1"}, {"Idempotency-Key": f"k{i}"}
                    ),
                    range(16),
                )
            )
        assert sorted(status for status, _ in same) == [200] * 31 + [201]
        assert len({job["id"] for _, job in same}) == 1
        assert len({job["id"] for _, job in distinct}) == 16
        _, stats = farm.call("GET", "/stats")
        assert stats["jobs"] == 17 and stats["submits"] == 48
