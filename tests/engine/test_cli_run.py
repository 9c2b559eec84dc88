"""`storm run` and `storm resume` as real processes: exit codes, output, files written."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from stormflow.core import Status
from stormflow.store import Store
from tests.engine.helpers import lines, storm_argv, wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "render_pipeline.yaml"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    env.update(extra)
    return env


def storm(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*storm_argv(), *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        timeout=timeout,
        cwd=ROOT,
    )


def workflow_id(stdout: str) -> str:
    found = re.search(r"^workflow (\w+) \(data: ", stdout, re.MULTILINE)
    assert found, stdout
    return found.group(1)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_run_render_pipeline_example(tmp_path: Path) -> None:
    """As the README says it: no mail server configured, the email lands in the outbox."""
    data = tmp_path / "data"
    outbox = data / "outbox"
    done = storm("run", str(EXAMPLE), "--data-dir", str(data), "--quiet", env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    wf = workflow_id(done.stdout)
    movie = data / "work" / wf / "movie.mp4"
    # the path is printed whole on one line, even when stdout is not a terminal
    assert f"output of encode: {movie}\n" in done.stdout, done.stdout
    assert movie.stat().st_size > 0
    assert re.search(r"^succeeded in [\d.]+s$", done.stdout, re.MULTILINE), done.stdout
    (eml,) = outbox.glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Done: render_pipeline succeeded"
    assert message["To"] == "artist@example.com"
    said = f"notify: email to artist@example.com written to {eml} (no SMTP server configured"
    assert said in done.stdout, done.stdout
    (log,) = (data / "logs" / wf).glob("notify*.log")
    assert f"email to artist@example.com written to {eml}" in log.read_text()


def test_run_failing_task_exits_1_with_the_log_tail(tmp_path: Path) -> None:
    doc = write(
        tmp_path / "broken.yaml",
        """\
        schema: 1
        name: broken
        nodes:
          - name: prep
            kind: task
            commands: ["true"]
          - name: bake
            kind: task
            commands: ["echo diagnostic-line-42; exit 3"]
          - name: after
            kind: task
            commands: ["true"]
        edges:
          - [prep, bake]
          - [bake, after]
        """,
    )
    done = storm("run", str(doc), "--data-dir", str(tmp_path / "data"), "--quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "failed: bake: command 1/1 `echo diagnostic-line-42; exit 3` exited with code 3" in out
    assert "    diagnostic-line-42" in out  # the log tail
    assert "broken" in out and "failed" in out.splitlines()[-1]


def test_run_invalid_document_exits_2_with_one_line(tmp_path: Path) -> None:
    doc = write(
        tmp_path / "bad.yaml",
        """\
        schema: 1
        name: bad
        nodes:
          - name: a
            kind: task
            commands: ["true"]
        edges:
          - [a, ghost]
        """,
    )
    done = storm("run", str(doc), "--data-dir", str(tmp_path / "data"), "--quiet")
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("storm: error: ") and "ghost" in done.stderr
    assert not (tmp_path / "data" / "storm.db").exists()  # nothing was submitted


@pytest.mark.parametrize("with_store", [False, True], ids=["no-data", "unknown-id"])
def test_resume_unknown_workflow_exits_2(tmp_path: Path, with_store: bool) -> None:
    data = tmp_path / "data"
    if with_store:
        Store.default(data).close()
    done = storm("resume", "nope", "--data-dir", str(data), "--quiet")
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("storm: error: ")


def test_interrupted_run_resumes_without_failing_anything(tmp_path: Path) -> None:
    """Ctrl-C hands the running attempts back; `storm resume` reruns them (as lost)."""
    data, runs = tmp_path / "data", tmp_path / "runs.txt"
    step = f'echo "$STORM_NODE $STORM_ATTEMPT" >> {runs}; sleep 1'
    doc = write(
        tmp_path / "chain.yaml",
        f"""\
        schema: 1
        name: chain
        nodes:
          - {{name: one, kind: task, commands: ['{step}']}}
          - {{name: two, kind: task, commands: ['{step}']}}
        edges:
          - [one, two]
        """,
    )
    argv = [*storm_argv(), "run", str(doc), "--data-dir", str(data), "--quiet"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
    )
    try:
        wait_until(lambda: lines(runs), timeout=30, what="the first task to start")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    wf = workflow_id(out)
    assert f"storm resume {wf}" in out

    done = storm("resume", wf, "--data-dir", str(data), "--quiet", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store.default(data)
    try:
        assert store.node(wf, "one").status is Status.SUCCEEDED
        results = [r.attempt.result for r in store.attempts(wf, "one")]
        assert results == ["lost", "succeeded"]  # handed back, not failed
        assert [r.attempt.result for r in store.attempts(wf, "two")] == ["succeeded"]
    finally:
        store.close()
    assert [line.split()[0] for line in lines(runs)] == ["one", "one", "two"]
