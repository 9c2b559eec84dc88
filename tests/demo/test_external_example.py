"""examples/external_render.yaml end to end, as the README runs it: the demo farm and a real
`storm server` as subprocesses, the provider added with `storm providers add`, the workflow
submitted with `storm submit`; the render comes back by the farm's signed webhook (http
provider), or by polling the farm's command-line client when every callback is lost
(command provider), and the pipeline goes on to the movie."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from tests.client.serverproc import BIN, free_port, run_server
from tests.demo.farm_helpers import running_farm

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "external_render.yaml"
PROVIDERS = ROOT / "examples" / "providers"
SECRET = "example-secret"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("provider_file", "farm_args", "delivered_by"),
    [
        ("demo_farm.yaml", (), "webhook"),
        ("demo_farm_cli.yaml", ("--lose-callbacks", "1"), "poll"),
    ],
    ids=["http-webhook", "command-poll"],
)
def test_external_render_example(
    tmp_path: Path, provider_file: str, farm_args: tuple[str, ...], delivered_by: str
) -> None:
    farm_url = f"http://127.0.0.1:{free_port()}"
    env = {
        "STORM_FARM_SECRET": SECRET,
        "STORM_FARM_URL": farm_url,
        # As with an activated venv: the command provider's `python` is the one with Storm.
        "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
    }
    server_run = run_server(tmp_path / "home", extra_env=env)
    server = next(server_run)
    try:
        hook = f"{server.url}/api/v1/hooks/demo-farm"
        with running_farm(
            tmp_path / "farm",
            "--port",
            farm_url.rsplit(":", 1)[1],
            "--frame-seconds",
            "0.02",
            "--secret",
            SECRET,
            "--callback-url",
            hook,
            *farm_args,
        ) as farm:
            config = yaml.safe_load((PROVIDERS / provider_file).read_text())
            if "base_url" in config:
                config["base_url"] = farm_url
            config["name"] = "demo-farm"  # the example names this provider
            config["poll"] = [0.5]
            (tmp_path / "provider.yaml").write_text(yaml.safe_dump(config))
            added = server.storm("providers", "add", str(tmp_path / "provider.yaml"))
            assert added.returncode == 0, added.stdout + added.stderr

            submitted = server.storm("submit", str(EXAMPLE))
            assert submitted.returncode == 0, submitted.stdout + submitted.stderr
            found = re.search(r" as (\w+) ", submitted.stdout)
            assert found, submitted.stdout
            workflow_id = found.group(1)

            watched = server.storm("watch", workflow_id, timeout=120)
            shown = server.storm("show", workflow_id).stdout
            assert watched.returncode == 0, watched.stdout + shown
            movie = tmp_path / "home" / "work" / workflow_id / "movie.mp4"
            assert movie.stat().st_size > 0
            assert len(list((movie.parent / "comp").glob("frame.*.png"))) == 24

            events = server.storm("events", workflow_id).stdout
            assert f"external-result render by {delivered_by}" in events, events
            _, stats = farm.call("GET", "/stats")
            assert stats["jobs"] == 1  # submitted once, never again
            if delivered_by == "webhook":
                assert stats["callbacks_sent"] == 1
            else:
                assert stats["callbacks_lost"] == 1
            (job,) = farm.call("GET", f"/jobs?name={workflow_id}")[1]["jobs"]
            assert job["state"] == "succeeded" and len(job["outputs"]) == 24
            listed = json.loads(server.storm("providers", "ls", "--json").stdout)
            assert "demo-farm" in json.dumps(listed)
    finally:
        server_run.close()
