"""Run inside Blender (a Python with bpy) by tests/blender: one scenario per process.

    python tests/blender/inside.py SCENARIO '{"json": "arguments"}'

Installs the add-on as a user does (the zip downloaded from the server, Install from Disk,
enable), builds the demo scene, drives the add-on's operators headless and prints one line
`RESULT {...}` for the test to check. Without Blender's event loop no timer fires, so the
scenarios deliver the worker's answers with `background.drain()`, as the timer would.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
import webbrowser
from pathlib import Path
from typing import Any

opened: list[str] = []


def install(args: dict[str, Any]) -> Any:
    """Download the add-on from the server, install it from the zip and enable it."""
    import bpy  # first: addon_utils is on the path once bpy is imported
    import addon_utils  # isort: skip

    request = urllib.request.Request(
        args["server"] + "/api/v1/integrations/blender/addon.zip",
        headers={"Authorization": "Bearer " + args["token"]},
    )
    zip_path = Path(args["tmp"]) / "storm_blender.zip"
    with urllib.request.urlopen(request, timeout=10) as response:
        zip_path.write_bytes(response.read())
    assert bpy.ops.preferences.addon_install(filepath=str(zip_path)) == {"FINISHED"}
    module = addon_utils.enable("storm_blender", default_set=True, handle_error=None)
    assert module is not None, "the add-on did not enable"
    webbrowser.open = lambda url, *a, **k: bool(opened.append(url))  # type: ignore[assignment]
    return module


def scene(args: dict[str, Any], frames: str = "1-48") -> Any:
    import bpy

    from stormflow.demo.blender_scene import build

    first, last = (int(x) for x in frames.split("-"))
    path = build(Path(args["tmp"]) / args.get("blend", "shot.blend"), first, last)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    return bpy.context.scene


def set_props(sc: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(sc if key.startswith("frame_") else sc.storm, key, value)


def timed(operator: Any) -> tuple[set[str], float]:
    began = time.perf_counter()
    answer = operator()
    return answer, time.perf_counter() - began


def snapshot(sc: Any) -> dict[str, Any]:
    from storm_blender import status

    state = status.of(sc.name)
    props = sc.storm
    return {
        "message": state.message,
        "level": state.level,
        "busy": state.busy,
        "codes": [e.get("code") for e in state.entries],
        "messages": [e.get("message") for e in state.entries],
        "fixers": [f["name"] for e in state.entries for f in e.get("fixers") or []],
        "workflow": state.workflow,
        "draft": state.draft,
        "props": {
            "job_name": props.job_name,
            "chunk_size": props.chunk_size,
            "scout_frames": props.scout_frames,
            "instance_type": props.instance_type,
            "retries": props.retries,
            "frame_start": sc.frame_start,
            "frame_end": sc.frame_end,
            "upload": props.upload,
            "upload_destination": props.upload_destination,
        },
    }


class Layout:
    """Stands in for Blender's UILayout (headless there is no window to draw into): records
    what the panel's draw() puts in it, one line per widget, nested boxes indented."""

    def __init__(self, lines: list[str], depth: int = 0) -> None:
        self.lines = lines
        self.depth = depth
        self.use_property_split = False
        self.use_property_decorate = True

    def _add(self, text: str) -> None:
        self.lines.append("  " * self.depth + text)

    def prop(self, data: Any, name: str, text: str | None = None) -> None:
        label = text or data.bl_rna.properties[name].name
        self._add(f"[{label}: {getattr(data, name)}]")

    def label(self, text: str = "", icon: str = "NONE") -> None:
        self._add(f"({icon}) {text}")

    def operator(self, idname: str, text: str | None = None, icon: str = "NONE") -> Any:
        self._add(f"<button {idname}{': ' + text if text else ''}>")
        record = type("OperatorProperties", (), {})()
        self.lines.append(record)  # type: ignore[arg-type]  # its properties, set after
        return record

    def column(self, align: bool = False) -> Layout:
        return Layout(self.lines, self.depth)

    def row(self, align: bool = False) -> Layout:
        return Layout(self.lines, self.depth)

    def box(self) -> Layout:
        self._add("box:")
        return Layout(self.lines, self.depth + 1)


def draw_panel(context: Any) -> list[str]:
    from storm_blender.panel import STORM_PT_render

    lines: list[Any] = []
    panel = type("Panel", (), {"layout": Layout(lines)})()
    STORM_PT_render.draw(panel, context)  # type: ignore[arg-type]
    out = []
    for line in lines:
        if isinstance(line, str):
            out.append(line)
        elif vars(line):  # an operator's properties, e.g. fixer=...
            out[-1] = out[-1][:-1] + " " + " ".join(f"{k}={v}" for k, v in vars(line).items())
            out[-1] += ">"
    return out


def scenario_validate_and_fix(args: dict[str, Any]) -> dict[str, Any]:
    import bpy

    install(args)
    from storm_blender import background

    sc = scene(args)
    set_props(sc, {"job_name": "my shot", "scout_frames": "1,24,99", "chunk_size": 100})
    answer, seconds = timed(bpy.ops.storm.validate)
    timer = bpy.app.timers.is_registered(background.deliver)
    background.drain()
    result: dict[str, Any] = {"answer": sorted(answer), "seconds": seconds, "timer": timer}
    result["validated"] = snapshot(sc)
    result["panel"] = draw_panel(bpy.context)
    for fixer in args["fixers"]:
        bpy.ops.storm.apply_fixer(fixer=fixer)
        background.drain()
    result["fixed"] = snapshot(sc)
    bpy.ops.storm.validate()
    background.drain()
    result["revalidated"] = snapshot(sc)
    saved = Path(bpy.data.filepath).stat().st_mtime_ns
    time.sleep(0.01)
    bpy.ops.storm.apply_fixer(fixer="storm-save-blend")  # the add-on's own fixer
    background.drain()
    result["saved"] = snapshot(sc)
    result["resaved"] = Path(bpy.data.filepath).stat().st_mtime_ns > saved
    return result


def scenario_composer(args: dict[str, Any]) -> dict[str, Any]:
    import bpy

    install(args)
    from storm_blender import background

    sc = scene(args)
    set_props(sc, args["props"])
    answer, seconds = timed(bpy.ops.storm.open_composer)
    background.drain()
    return {"answer": sorted(answer), "seconds": seconds, "opened": opened, **snapshot(sc)}


def scenario_submit(args: dict[str, Any]) -> dict[str, Any]:
    import bpy

    install(args)
    from storm_blender import background

    sc = scene(args, args.get("frames", "1-48"))
    set_props(sc, args["props"])
    bpy.ops.wm.save_mainfile()
    results = []
    for _ in range(args.get("presses", 1)):
        answer, seconds = timed(bpy.ops.storm.submit)
        results.append({"answer": sorted(answer), "seconds": seconds})
    background.drain(args.get("timeout", 30))
    state = snapshot(sc)
    bpy.ops.storm.open_monitor()  # the panel's button once the answer is in
    background.drain()
    return {"presses": results, "blend": bpy.data.filepath, "opened": opened, **state}


def textured_scene(args: dict[str, Any], frames: str = "1-48") -> Any:
    """The demo scene with a texture beside the .blend (//textures/wood.png, read by the
    ball's material), an image whose file is gone and a packed one; saved."""
    import bpy

    sc = scene(args, frames)
    textures = Path(args["tmp"]) / "textures"
    textures.mkdir()
    images = []
    for name in ("wood", "logo"):
        image = bpy.data.images.new(name, 16, 16)
        image.filepath_raw = str(textures / f"{name}.png")
        image.file_format = "PNG"
        image.save()
        image.filepath = f"//textures/{name}.png"  # relative, as artists keep them
        images.append(image)
    images[1].pack()
    gone = bpy.data.images.new("gone", 4, 4)
    gone.source = "FILE"
    gone.filepath = "//textures/gone.png"
    material = bpy.data.materials["ball"]
    tex = material.node_tree.nodes.new("ShaderNodeTexImage")
    tex.image = images[0]
    shader = material.node_tree.nodes["Principled BSDF"]
    material.node_tree.links.new(tex.outputs["Color"], shader.inputs["Roughness"])
    bpy.ops.wm.save_mainfile()
    return sc


def _record_uploader_thread() -> list[str]:
    """Which thread starts the uploader (it must not be Blender's main thread)."""
    import threading

    from storm_blender import connection

    threads: list[str] = []
    real = connection.client.ensure_uploader

    def recording(*a: Any, **k: Any) -> int:
        threads.append(threading.current_thread().name)
        return real(*a, **k)  # type: ignore[no-any-return]

    connection.client.ensure_uploader = recording
    return threads


def scenario_upload(args: dict[str, Any]) -> dict[str, Any]:
    import bpy

    install(args)
    from storm_blender import background

    prefs = bpy.context.preferences.addons["storm_blender"].preferences
    prefs.storm_command = args["storm"]
    threads = _record_uploader_thread()
    sc = textured_scene(args, args.get("frames", "1-48"))
    set_props(sc, args["props"])
    bpy.ops.wm.save_mainfile()
    out: dict[str, Any] = {"blend": bpy.data.filepath}
    bpy.ops.storm.validate()
    background.drain()
    out["validated"] = snapshot(sc)
    out["panel"] = draw_panel(bpy.context)
    bpy.ops.storm.open_composer()
    background.drain(60)
    out["draft"] = snapshot(sc)["draft"]
    answer, seconds = timed(bpy.ops.storm.submit)
    background.drain(60)
    out.update(answer=sorted(answer), seconds=seconds, threads=threads, **snapshot(sc))
    return out


def scenario_upload_refusals(args: dict[str, Any]) -> dict[str, Any]:
    """No destination, one Storm cannot parse, one it cannot write: messages, no job."""
    import bpy

    install(args)
    from storm_blender import background

    threads = _record_uploader_thread()
    sc = textured_scene(args)
    out: dict[str, Any] = {}
    set_props(sc, {"upload": True, "upload_destination": ""})
    try:
        out["empty"] = sorted(bpy.ops.storm.submit())
    except RuntimeError as exc:  # operators reporting ERROR raise in background mode
        out["empty"] = ["CANCELLED", str(exc).strip()]
    out["empty_state"] = snapshot(sc)
    for key, url in args["destinations"].items():
        set_props(sc, {"upload_destination": url, "upload_endpoint_url": args.get(key, "")})
        bpy.ops.storm.submit()
        background.drain(60)
        out[key] = snapshot(sc)
    out["threads"] = threads
    return out


def scenario_refusals(args: dict[str, Any]) -> dict[str, Any]:
    """Unsaved file, unreachable server, wrong token: each a message in the panel."""
    import bpy

    install(args)
    from storm_blender import background

    prefs = bpy.context.preferences.addons["storm_blender"].preferences
    out: dict[str, Any] = {}
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)  # an unsaved file
    sc = bpy.context.scene
    try:
        out["unsaved"] = sorted(bpy.ops.storm.submit())
    except RuntimeError as exc:  # operators reporting ERROR raise in background mode
        out["unsaved"] = ["CANCELLED", str(exc).strip()]
    out["unsaved_state"] = snapshot(sc)
    sc = scene(args)
    prefs.server_url, prefs.token = args["dead_url"], "x"
    bpy.ops.storm.submit()
    background.drain()
    out["unreachable"] = snapshot(sc)
    prefs.server_url, prefs.token = args["server"], "wrong-token"
    bpy.ops.storm.validate()
    background.drain()
    out["wrong_token"] = snapshot(sc)
    prefs.server_url, prefs.token = args["server"], args["token"]
    set_props(sc, {"frame_start": 10, "frame_end": 20, "scout_frames": "5"})
    bpy.ops.storm.submit()
    background.drain()
    out["invalid"] = snapshot(sc)
    return out


def scenario_agent(args: dict[str, Any]) -> dict[str, Any]:
    """Preferences URL + token (no discovery): the requests go there, saying who sent them."""
    import bpy

    install(args)
    from storm_blender import background

    prefs = bpy.context.preferences.addons["storm_blender"].preferences
    sc = scene(args)
    prefs.server_url, prefs.token = args["capture_url"], "capture-token"
    bpy.ops.storm.validate()
    background.drain()
    return snapshot(sc)


def scenario_unregister(args: dict[str, Any]) -> dict[str, Any]:
    import bpy  # first: addon_utils is on the path once bpy is imported
    import addon_utils  # isort: skip

    install(args)
    from storm_blender import background

    sc = scene(args)
    bpy.ops.storm.validate()
    background.drain()
    registered = hasattr(bpy.types, "STORM_PT_render") and hasattr(sc, "storm")
    addon_utils.disable("storm_blender", default_set=True)
    return {
        "registered": registered,
        "panel_after": hasattr(bpy.types, "STORM_PT_render"),
        "operator_after": hasattr(bpy.ops.storm, "submit") and _callable(bpy.ops.storm.submit),
        "timer_after": bpy.app.timers.is_registered(background.deliver),
    }


def _callable(op: Any) -> bool:
    try:
        op.get_rna_type()
    except (KeyError, RuntimeError):
        return False
    return True


def main() -> None:
    name, raw = sys.argv[1], sys.argv[2]
    args = json.loads(raw)
    try:
        result = globals()["scenario_" + name](args)
        print("RESULT " + json.dumps(result), flush=True)
        code = 0
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        print("RESULT " + json.dumps({"crashed": repr(exc)}), flush=True)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # bpy's exit handlers can deadlock once its file-closing thread ran: leave at once
    os._exit(code)


if __name__ == "__main__":
    main()
