"""The workflow a scene's Storm settings describe, and fixed documents read back into them.

Plain Python (no bpy): the operators collect the settings on Blender's main thread into a
`JobSettings`, and everything here runs anywhere, the tests' Python included. Blender 4.2+
bundles Python 3.11, but keep to 3.7 syntax like the client this add-on vendors.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

#: The render command per renderer: `storm` runs Storm's helper (Cycles on CPU through the bpy
#: module or a `blender` binary, one progress line per frame); `blender` runs the binary.
RENDERERS = ("storm", "blender")

_FRAMES = re.compile(r"^(-?\d+)(?:-(-?\d+)(?:x(\d+))?)?$")


class JobSettings:
    """What the panel holds, as plain values (see properties.py for each field's meaning)."""

    def __init__(
        self,
        name: str,
        blend: str,
        scene: str,
        frame_start: int,
        frame_end: int,
        frame_step: int = 1,
        chunk_size: int = 10,
        scout_frames: str = "",
        instance_type: str = "",
        retries: int = 1,
        output: str = "renders",
        movie: bool = True,
        notify: str = "",
        renderer: str = "storm",
        addon_version: str = "",
    ) -> None:
        self.name = name
        self.blend = blend
        self.scene = scene
        self.frame_start = frame_start
        self.frame_end = frame_end
        self.frame_step = frame_step
        self.chunk_size = chunk_size
        self.scout_frames = scout_frames
        self.instance_type = instance_type
        self.retries = retries
        self.output = output
        self.movie = movie
        self.notify = notify
        self.renderer = renderer
        self.addon_version = addon_version

    @property
    def frames(self) -> str:
        spec = "{}-{}".format(self.frame_start, self.frame_end)
        return spec + ("x{}".format(self.frame_step) if self.frame_step > 1 else "")


def render_command(settings: JobSettings) -> List[str]:
    """One chunk's command; `{frames}` is the chunk's explicit frame list."""
    out = settings.output.rstrip("/") + "/frame.####.png"
    if settings.renderer == "blender":
        # Blender's own animation render: `-o` wants the #### pattern without the extension.
        return [
            "blender", "-b", settings.blend, "-o", out[: -len(".png")], "-F", "PNG",
            "-s", "{start}", "-e", "{end}", "-j", "{step}", "-a",
        ]  # fmt: skip
    return [
        "python", "-m", "stormflow.demo.blender_render",
        "--scene", settings.blend, "--frames", "{frames}", "--out", out,
    ]  # fmt: skip


def document(settings: JobSettings) -> Dict[str, Any]:
    """The workflow: render (chunked, scout frames first) -> encode a movie -> notify."""
    render = {
        "name": "render",
        "kind": "task",
        "frames": settings.frames,
        "chunk_size": settings.chunk_size,
        "retries": settings.retries,
        "commands": [render_command(settings)],
        "output": settings.output.rstrip("/") + "/",
    }  # type: Dict[str, Any]
    if settings.scout_frames.strip():
        render["scout"] = settings.scout_frames.strip()
    if settings.instance_type.strip():
        render["instance_type"] = settings.instance_type.strip()
    nodes = [render]
    edges = []  # type: List[List[str]]
    last = "render"
    if settings.movie:
        encode = ["python", "-m", "stormflow.demo.encode", "--input", settings.output.rstrip("/")]
        nodes.append(
            {
                "name": "encode",
                "kind": "task",
                "retries": settings.retries,
                "commands": [[*encode, "--out", "movie.mp4"]],
                "output": "movie.mp4",
            }
        )
        edges.append([last, "encode"])
        last = "encode"
    addresses = [a.strip() for a in settings.notify.split(",") if a.strip()]
    if addresses:
        nodes.append(
            {
                "name": "notify",
                "kind": "email",
                "addresses": addresses,
                "subject": "Done: ${workflow-name} ${status}",
                "body": "Blender render ${workflow-id} finished with ${status}.",
            }
        )
        edges.append([last, "notify"])
    return {
        "schema": 1,
        "name": settings.name,
        "metadata": {
            "source": "blender",
            "blend": settings.blend,
            "scene": settings.scene,
            "addon": settings.addon_version,
        },
        "nodes": nodes,
        "edges": edges,
    }


def read_back(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The panel's fields a (fixed) document sets: what a fixer changed, to write back.

    Only what the panel can show: the name, and the render node's frames, chunk size,
    scout frames, instance type and retries. A frame spec the panel cannot hold (a list
    with gaps) is left out.
    """
    values = {}  # type: Dict[str, Any]
    if isinstance(doc.get("name"), str):
        values["name"] = doc["name"]
    render = _node(doc, "render")
    if render is None:
        return values
    frames = _frame_range(render.get("frames"))
    if frames is not None:
        values["frame_start"], values["frame_end"], values["frame_step"] = frames
    for key, field in (("chunk_size", "chunk_size"), ("retries", "retries")):
        if isinstance(render.get(key), int) and not isinstance(render.get(key), bool):
            values[field] = render[key]
    scout = render.get("scout")
    if isinstance(scout, list):
        scout = ",".join(str(f) for f in scout)
    values["scout_frames"] = scout if isinstance(scout, str) else ""
    kind = render.get("instance_type")
    values["instance_type"] = kind if isinstance(kind, str) else ""
    return values


def _node(doc: Dict[str, Any], name: str) -> Optional[Dict[str, Any]]:
    for node in doc.get("nodes") or []:
        if isinstance(node, dict) and node.get("name") == name:
            return node
    return None


def _frame_range(spec: Any) -> Optional[tuple]:
    if not isinstance(spec, str):
        return None
    match = _FRAMES.match(spec.replace(" ", ""))
    if not match:
        return None
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    return first, last, int(match.group(3) or 1)


def default_name(blend_path: str) -> str:
    """The workflow's name: the .blend's file name without `.blend` (the server says when
    it is not a valid name, and its fixer offers one)."""
    base = re.split(r"[\\/]", blend_path)[-1] if blend_path else ""
    return base[: -len(".blend")] if base.endswith(".blend") else (base or "untitled")
