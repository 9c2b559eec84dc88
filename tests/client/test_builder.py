"""The DCC client's builder: the same document as YAML, and it runs on Python 3.7."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stormflow import client
from stormflow.spec import Workflow as SpecWorkflow
from stormflow.spec import dump_document, parse_document

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "src" / "stormflow" / "client.py"

PIPELINE_YAML = """
schema: 1
name: shot010_render
metadata: {shot: sh010, project: slinky}
nodes:
  - name: simulate
    commands: [[python, sim.py]]
    instance_type: cpu-8
    env: {HOUDINI: "19.5"}
  - name: render
    frames: "1-100"
    chunk_size: 10
    scout: "1,50"
    retries: 2
    commands: [[render, "{start}", "{end}"]]
  - name: comp
    status: holding
    frames: "1-100"
    chunk_size: 10
    commands: ["comp {start} {end}"]
    limits: [nuke_license]
  - name: notify
    kind: email
    addresses: [a@b.c]
    subject: "Done: ${workflow-name}"
edges:
  - [simulate, render]
  - {from: render, to: comp, mode: frames}
  - [comp, notify]
"""


def build_pipeline() -> client.Workflow:
    wf = client.Workflow("shot010_render", metadata={"shot": "sh010", "project": "slinky"})
    sim = wf.task(
        "simulate", [["python", "sim.py"]], instance_type="cpu-8", env={"HOUDINI": "19.5"}
    )
    render = wf.task(
        "render",
        [["render", "{start}", "{end}"]],
        frames="1-100",
        chunk_size=10,
        scout="1,50",
        retries=2,
    )
    comp = wf.task(
        "comp",
        ["comp {start} {end}"],
        status="holding",
        frames="1-100",
        chunk_size=10,
        limits=["nuke_license"],
    )
    notify = wf.email("notify", ["a@b.c"], subject="Done: ${workflow-name}")
    sim >> render
    wf.edge(render, comp, mode="frames")
    comp >> notify
    return wf


def test_to_dict_is_the_yaml_document() -> None:
    built = dump_document(parse_document(build_pipeline().to_dict()))
    authored = dump_document(parse_document(yaml.safe_load(PIPELINE_YAML)))
    assert built == authored


def test_to_dict_equals_the_spec_builder() -> None:
    ours = client.Workflow("w", metadata={"a": "1"})
    theirs = SpecWorkflow("w", metadata={"a": "1"})
    for wf in (ours, theirs):
        a = wf.task("a", [["echo", "a"]], retries=1, cwd=None)
        b = wf.task("b", ["echo b"], frames="1-4", chunk_size=2)
        c = wf.email("c", ["x@y.z"], body="hi")
        d = wf.webhook("d", "https://h.example.com/x", format="slack", secret_env="HOOK_SECRET")
        a >> [b, c]
        c >> d
    assert ours.to_dict() == theirs.to_dict()


def test_rshift_chains_and_returns_the_right_hand_side() -> None:
    wf = client.Workflow("w")
    a, b, c = (wf.task(n, [["true"]]) for n in "abc")
    assert (a >> b >> c) is c
    assert wf.to_dict()["edges"] == [["a", "b"], ["b", "c"]]
    json.dumps(wf.to_dict())  # plain JSON data


def test_vermin_says_python_3_7() -> None:
    vermin = Path(sys.executable).parent / "vermin"
    result = subprocess.run(
        [str(vermin), "--target=3.7-", "--no-tips", "--violations", str(CLIENT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _python37() -> str | None:
    """A working python3.7: on PATH, or a pyenv install (the pyenv shim may not select it)."""
    candidates = [shutil.which("python3.7")]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    pattern = os.path.join(pyenv_root, "versions", "3.7*", "bin", "python3.7")
    candidates += sorted(glob.glob(pattern))
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 7)"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return candidate
    return None


SMOKE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import client
wf = client.Workflow("shot010", metadata={"shot": "sh010"})
sim = wf.task("simulate", [["python", "sim.py"]])
render = wf.task("render", [["render", "{start}", "{end}"]], frames="1-100", chunk_size=10)
sim >> render
wf.edge(render, wf.email("notify", ["a@b.c"], subject="done"), mode="all")
try:
    client.Client(url=None)
except client.StormError as exc:
    assert exc.code == "no-server", exc.code
print(json.dumps(wf.to_dict()))
"""


def test_python_3_7_imports_the_module_and_builds(tmp_path: Path) -> None:
    python = _python37()
    if python is None:
        pytest.skip("python3.7 is not installed here; vermin is the required check")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    env["STORM_HOME"] = str(tmp_path)  # empty: no server.json, so Client() must refuse
    result = subprocess.run(
        [python, "-c", SMOKE, str(CLIENT.parent)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert dump_document(parse_document(doc))["edges"][1] == {
        "from": "render",
        "to": "notify",
        "mode": "all",
    }
