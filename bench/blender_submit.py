"""What the Blender add-on's Submit costs inside Blender (issue 17): the time until the
operator returns control to Blender, for a 1,000-frame job in chunks of 1 (1,000 render
tasks plus the encode), against a real `storm server` (API only: nothing renders).

Also: Validate's return time, the time until the server's answer reaches the panel (the
worker thread's round trip, delivered as Blender's timer would), and the longest gap in
the main thread's loop while answers were pending (what an artist would feel as a stall).

Then the same with "Upload scene and dependencies" on, the .blend reading TEXTURES image
files: Submit's return (the dependencies are listed on the main thread by
`bpy.utils.blend_paths`; which exist is checked in the worker) and the answer in the panel
(which includes starting `storm uploader`, the first time).

The parent starts the server; this same file then runs inside Blender's Python (the bpy
module) with `--inside`, installs the add-on from its zip, builds the demo scene and times
the operators there.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from .common import Report, Unavailable, log, median, ms

TARGET_RETURN = 0.2  # seconds until Submit gives Blender back control
FRAMES = 1000
TEXTURES = 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(report: Report, work: Path, quick: bool) -> None:
    import importlib.util

    if importlib.util.find_spec("bpy") is None:
        raise Unavailable("no bpy module: `make blender`")
    presses = 5 if quick else 20
    home = work / "blender-home"
    home.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    env["STORM_HOME"] = str(home)
    storm = str(Path(sys.executable).parent / "storm")
    server = subprocess.Popen(
        [storm, "server", "--port", str(port), "--data-dir", str(home), "--no-scheduler"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise Unavailable("storm server did not start") from None
                time.sleep(0.1)
        env["BLENDER_USER_RESOURCES"] = str(work / "blender-user")
        args = {"tmp": str(work), "presses": presses, "frames": FRAMES, "storm": storm}
        log(f"blender: {presses} Submit presses of a {FRAMES}-frame job inside Blender")
        done = subprocess.run(
            [sys.executable, "-m", "bench.blender_submit", "--inside", json.dumps(args)],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            raise Unavailable(f"the Blender run failed: {done.stderr[-500:]}")
        result = json.loads(lines[-1][len("RESULT ") :])
    finally:
        uploader = (
            (home / "uploader.pid").read_text().split() if (home / "uploader.pid").exists() else []
        )
        if uploader:  # the one the add-on started
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(uploader[0]), signal.SIGTERM)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    section = f"blender add-on ({FRAMES} frames, chunk 1)"
    returns = result["submit_returns"]
    report.check(
        "-",
        section,
        f"Submit returns control (median of {len(returns)})",
        ms(median(returns)),
        f"< {ms(TARGET_RETURN)}",
        median(returns) < TARGET_RETURN,
    )
    report.check(
        "-",
        section,
        "Submit returns control (slowest)",
        ms(max(returns)),
        f"< {ms(TARGET_RETURN)}",
        max(returns) < TARGET_RETURN,
    )
    report.info("-", section, "Validate returns control", ms(median(result["validate_returns"])))
    report.info("-", section, "Submit answer in the panel (median)", ms(median(result["answers"])))
    report.info("-", section, "longest main-loop gap while waiting", ms(result["longest_gap"]))
    report.info("-", section, "workflows stored", str(result["stored"]))
    section = f"blender add-on with upload ({TEXTURES} textures)"
    returns = result["upload_returns"]
    report.check(
        "-",
        section,
        f"Submit returns control (median of {len(returns)})",
        ms(median(returns)),
        f"< {ms(TARGET_RETURN)}",
        median(returns) < TARGET_RETURN,
    )
    report.info("-", section, "Submit returns control (slowest)", ms(max(returns)))
    answers = result["upload_answers"]
    report.info("-", section, "first answer in the panel (starts the uploader)", ms(answers[0]))
    report.info("-", section, "later answers in the panel (median)", ms(median(answers[1:])))
    report.info("-", section, "longest main-loop gap while waiting", ms(result["upload_gap"]))


# ----------------------------------------------------------------- inside Blender


def _inside(args: dict[str, Any]) -> dict[str, Any]:
    import bpy  # first: addon_utils is on the path once bpy is imported
    import addon_utils  # isort: skip

    from stormflow.demo.blender_scene import build
    from stormflow.integrations import blender_addon_zip

    zip_path = Path(args["tmp"]) / "storm_blender.zip"
    zip_path.write_bytes(blender_addon_zip())
    bpy.ops.preferences.addon_install(filepath=str(zip_path))
    addon_utils.enable("storm_blender", default_set=True, handle_error=None)
    from storm_blender import background, status

    blend = build(Path(args["tmp"]) / "bench.blend", 1, args["frames"])
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    scene.storm.chunk_size = 1
    scene.storm.scout_frames = "1"

    def wait_answer() -> tuple[float, float]:
        """Deliver as the timer would; (seconds until the answer, longest loop gap)."""
        began = last = time.perf_counter()
        gap = 0.0
        while background.pending():
            background.deliver()
            now = time.perf_counter()
            gap, last = max(gap, now - last), now
            time.sleep(0.005)
        return time.perf_counter() - began, gap

    validate_returns = []
    for _ in range(3):
        began = time.perf_counter()
        bpy.ops.storm.validate()
        validate_returns.append(time.perf_counter() - began)
        wait_answer()
    submit_returns, answers, gaps, ids = [], [], [], set()
    for _ in range(args["presses"]):
        began = time.perf_counter()
        bpy.ops.storm.submit()
        returned = time.perf_counter()
        submit_returns.append(returned - began)
        answer, gap = wait_answer()
        answers.append(returned - began + answer)
        gaps.append(gap)
        state = status.of(scene.name)
        if state.level == "ERROR":
            raise RuntimeError(state.message)
        ids.add(state.workflow["id"])
    prefs = bpy.context.preferences.addons["storm_blender"].preferences
    prefs.storm_command = args["storm"]
    textures = Path(args["tmp"]) / "textures"
    textures.mkdir()
    first = bpy.data.images.new("t0", 16, 16)
    first.filepath_raw = str(textures / "t0.png")
    first.file_format = "PNG"
    first.save()
    for i in range(1, TEXTURES):
        (textures / f"t{i}.png").write_bytes((textures / "t0.png").read_bytes())
        bpy.data.images.load(str(textures / f"t{i}.png"))
    scene.storm.upload = True
    scene.storm.upload_destination = "file://" + str(Path(args["tmp"]) / "farm")
    bpy.ops.wm.save_mainfile()
    upload_returns, upload_answers, upload_gaps = [], [], []
    for _ in range(args["presses"]):
        began = time.perf_counter()
        bpy.ops.storm.submit()
        returned = time.perf_counter()
        upload_returns.append(returned - began)
        answer, gap = wait_answer()
        upload_answers.append(returned - began + answer)
        upload_gaps.append(gap)
        state = status.of(scene.name)
        if state.level != "INFO":
            raise RuntimeError(state.message)
    return {
        "upload_returns": upload_returns,
        "upload_answers": upload_answers,
        "upload_gap": max(upload_gaps),
        "submit_returns": submit_returns,
        "validate_returns": validate_returns,
        "answers": answers,
        "longest_gap": max(gaps),
        "stored": len(ids),
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--inside"]:
    try:
        print("RESULT " + json.dumps(_inside(json.loads(sys.argv[2]))), flush=True)
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)  # bpy's exit handlers can deadlock after its file-closing thread ran
