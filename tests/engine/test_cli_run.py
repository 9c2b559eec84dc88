"""`storm run` and `storm resume` as real processes: exit codes, output, files written."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import subprocess
import sys
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
    assert_demo_previews(data, wf)


def assert_demo_previews(data: Path, wf: str) -> None:
    """The demo's frames show up as previews: every frame of render and comp has an image."""
    from fastapi.testclient import TestClient

    from stormflow.api.app import create_app

    store = Store.default(data)
    try:
        app = create_app(store, data_dir=data, token="t" * 32)
        with TestClient(app, headers={"Authorization": "Bearer " + "t" * 32}) as api:
            for group in ("render", "comp"):
                sheet = api.get(f"/api/v1/workflows/{wf}/groups/{group}/previews").json()
                assert (sheet["total"], sheet["with_image"]) == (24, 24), sheet
                assert sheet["frames"][0]["node"] == f"{group}.1-4"
            chunk = api.get(f"/api/v1/workflows/{wf}/nodes/render.5-8/previews").json()
            assert [i["frame"] for i in chunk["images"]] == [5, 6, 7, 8]
            thumb = api.get(chunk["images"][0]["thumb"])
            assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    finally:
        store.close()


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


def test_run_and_resume_use_storm_db_and_db(tmp_path: Path, store_url: str) -> None:
    """The database named by STORM_DB (or --db), not SQLite in the data directory."""
    doc = write(tmp_path / "wf.yaml", "name: wf\nnodes: [{name: a, commands: [[echo, hi]]}]\n")
    data = tmp_path / "data"
    done = storm("run", str(doc), "--data-dir", str(data), "-q", env=clean_env(STORM_DB=store_url))
    assert done.returncode == 0, done.stdout + done.stderr
    wf = workflow_id(done.stdout)
    assert not (data / "storm.db").exists()
    store = Store(store_url)
    try:
        assert store.counts(wf) == {Status.SUCCEEDED: 1}
    finally:
        store.close()
    again = storm("resume", wf, "--data-dir", str(data), "--db", store_url, "-q", env=clean_env())
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r"^succeeded in [\d.]+s$", again.stdout, re.MULTILINE), again.stdout
    lost = storm("resume", wf, "--data-dir", str(data), env=clean_env())  # not in SQLite there
    assert (lost.returncode, lost.stderr) == (2, f"storm: error: no Storm data in {data}\n")


@pytest.mark.parametrize(
    ("db", "said"),
    [
        ("nonsense", "storm: error: --db 'nonsense' is not a database URL"),
        (
            "postgresql+psycopg://ann:s3cret@127.0.0.1:1/storm",
            "storm: error: cannot open the database postgresql+psycopg://ann:***@127.0.0.1:1/storm",
        ),
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path, db: str, said: str) -> None:
    doc = write(tmp_path / "wf.yaml", "name: wf\nnodes: [{name: a, commands: [['true']]}]\n")
    for args in (["run", str(doc)], ["resume", "abcdefgh"]):
        done = storm(*args, "--data-dir", str(tmp_path / "d"), "--db", db, env=clean_env())
        assert done.returncode == 2 and done.stderr.startswith(said), done.stderr
        assert len(done.stderr.splitlines()) == 1 and "s3cret" not in done.stderr


def test_quiet_prints_only_the_summary(tmp_path: Path) -> None:
    doc = write(tmp_path / "wf.yaml", "name: wf\nnodes: [{name: a, commands: [['true']]}]\n")
    done = storm("run", str(doc), "--data-dir", str(tmp_path / "d"), "-q", env=clean_env())
    assert done.returncode == 0, done.stderr
    wf = workflow_id(done.stdout)
    lines = done.stdout.splitlines()
    assert "━" not in done.stdout  # no progress bar
    assert lines[0] == f"workflow {wf} (data: {tmp_path / 'd'})"
    assert re.fullmatch(rf"wf \({wf}\) succeeded  1/1 ready  [\d.]+s", lines[1]), lines
    assert lines[2] == "succeeded 1"
    assert re.fullmatch(r"succeeded in [\d.]+s", lines[3]) and len(lines) == 4, lines


def test_run_of_a_sequence_shows_its_children_and_where_their_outputs_are(
    tmp_path: Path,
) -> None:
    py = sys.executable
    doc = write(
        tmp_path / "seq.yaml",
        f"""\
        schema: 1
        name: seq
        nodes:
          - name: shots
            kind: workflow
            template:
              schema: 1
              name: shot
              params: {{shot: {{type: string}}}}
              nodes:
                - name: comp
                  commands: [["{py}", -c, "open('${{shot}}.txt', 'w').write('x')"]]
                  output: "${{shot}}.txt"
            for_each: [{{shot: sh010}}, {{shot: sh020}}]
            key: shot
          - {{name: edit, commands: [["{py}", -c, "pass"]]}}
        edges: [[shots, edit]]
        """,
    )
    data = tmp_path / "d"
    done = storm("run", str(doc), "--data-dir", str(data), "-q", env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    wf = workflow_id(done.stdout)
    store = Store.default(data)
    try:
        children = {c.node: c.child_id for c in store.children(wf)}
    finally:
        store.close()
    assert sorted(children) == ["shots.sh010", "shots.sh020"]
    out = [line.rstrip() for line in done.stdout.splitlines()]
    # the display: the totals of every depth (edit and each child's comp), a line per child
    assert "with 2 child workflows: 3/3 ready  succeeded 3" in out, out
    for node, child in children.items():
        assert f"{node} ({child})  succeeded  1/1    succeeded 1" in out, out
        # the summary: where each child's outputs are
        workdir = data / "work" / child
        shot = node.split(".")[1]
        assert f"child seq/{node} ({child}) succeeded: outputs in {workdir}" in out, out
        assert f"output of seq/{node}/comp: {workdir / (shot + '.txt')}" in out, out
        assert (workdir / f"{shot}.txt").read_text() == "x"
    assert out[-1].startswith("succeeded in ")


def test_the_display_sums_up_the_children_beyond_its_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    from stormflow.cli import progress
    from stormflow.core import WorkflowStatus
    from stormflow.store.children import ChildRow

    def child(i: int, status: str, counts: dict[Status, int]) -> ChildRow:
        return ChildRow("p", f"shots.sh{i}", f"t{i}", f"c{i}", 0.0, status=status, counts=counts)

    snap = progress.Snapshot(
        name="seq",
        workflow_id="p",
        status=WorkflowStatus.RUNNING,
        counts={Status.RUNNING: 3},
        elapsed=1.0,
        children=[
            child(1, "succeeded", {Status.SUCCEEDED: 2}),
            child(2, "running", {Status.SUCCEEDED: 1, Status.RUNNING: 1}),
            child(3, "failed", {Status.FAILED: 1, Status.OPEN: 1}),
        ],
        rollup={Status.SUCCEEDED: 3, Status.RUNNING: 1, Status.FAILED: 1, Status.OPEN: 1},
    )
    monkeypatch.setattr(progress, "MAX_CHILD_LINES", 2)
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(progress.render(snap, bar=False))
    out = [line.rstrip() for line in console.export_text().splitlines()]
    assert "with 3 child workflows: 3/6 ready  open 1  running 1  succeeded 3  failed 1" in out
    rows = [line for line in out if line.startswith("shots.")]
    # the failed child first, then the running one; the succeeded one summed up
    assert rows[0] == "shots.sh3 (c3)  failed   0/2    open 1  failed 1"
    assert rows[1] == "shots.sh2 (c2)  running  1/2    running 1  succeeded 1"
    assert out[-1] == "... and 1 more child workflows (1 succeeded)"
