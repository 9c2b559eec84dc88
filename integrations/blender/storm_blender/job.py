"""The workflow a scene's Storm settings describe, and fixed documents read back into them.

Plain Python (no bpy): the operators collect the settings on Blender's main thread into a
`JobSettings`, and everything here runs anywhere, the tests' Python included. Blender 4.2+
bundles Python 3.11, but keep to 3.7 syntax like the client this add-on vendors.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Sequence

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
        upload: "Optional[UploadSettings]" = None,
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
        self.upload = upload

    @property
    def frames(self) -> str:
        spec = "{}-{}".format(self.frame_start, self.frame_end)
        return spec + ("x{}".format(self.frame_step) if self.frame_step > 1 else "")


#: Blender's tile tokens in an image path (UDIM sets): uploaded as a glob of the tiles.
_TILE_TOKENS = ("<UDIM>", "<UVTILE>")
#: Upload node's name in the workflow.
UPLOAD_NODE = "upload_scene"


class UploadSettings:
    """Upload the saved .blend and what it reads to `destination` before the renders.

    `paths` are the dependencies Blender reports (`bpy.utils.blend_paths(absolute=True)`:
    textures, caches, linked libraries; packed files excluded, they travel inside the .blend),
    `packed` how many packed files there are. `resolve()` (file-system work: call it in the
    worker thread) keeps the ones that exist and notes the rest.
    """

    def __init__(
        self,
        destination: str,
        endpoint_url: str = "",
        profile: str = "",
        host: str = "",
        paths: Sequence[str] = (),
        packed: int = 0,
    ) -> None:
        self.destination = destination.strip()
        self.endpoint_url = endpoint_url.strip()
        self.profile = profile.strip()
        self.host = host
        self.paths = list(paths)
        self.packed = packed
        self.files = []  # type: List[str]  # set by resolve(): what the node sends
        self.missing = []  # type: List[str]
        self.root = ""

    def resolve(self, blend: str) -> List[Dict[str, Any]]:
        """Keep the dependencies found on disk; the root is the directory all files share,
        so every relative path the .blend holds (//textures/...) still holds at the
        destination. Returns the panel's notes (missing and packed files)."""
        files = [os.path.normpath(blend)]
        self.missing = []
        for path in self.paths:
            path = os.path.normpath(path)
            entry = path
            for token in _TILE_TOKENS:
                entry = entry.replace(token, "*")
            found = any(True for _ in _iglob(entry)) if entry != path else os.path.exists(path)
            if not found:
                self.missing.append(path)
            elif entry not in files:
                files.append(entry)
        self.files = files
        self.root = _common_dir(files)
        notes = []  # type: List[Dict[str, Any]]
        if self.missing:
            shown = ", ".join(self.missing[:3]) + (" ..." if len(self.missing) > 3 else "")
            notes.append(
                {
                    "severity": "warning",
                    "code": "dependency-missing",
                    "message": "{} file(s) the .blend reads are missing, not uploaded: {}".format(
                        len(self.missing), shown
                    ),
                    "fixers": [],
                }
            )
        if self.packed:
            notes.append(
                {
                    "severity": "info",
                    "code": "dependency-packed",
                    "message": "{} packed file(s) travel inside the .blend".format(self.packed),
                    "fixers": [],
                }
            )
        return notes

    def farm_path(self, path: str) -> str:
        """Where the farm reads `path` after the upload: under a file:// destination, at its
        key (the path relative to the root); for S3 the path stays (the farm syncs or mounts
        the bucket itself)."""
        if not self.destination.startswith("file://") or not self.root:
            return path
        base = self.destination[len("file://") :].rstrip("/")
        return base + "/" + os.path.relpath(os.path.normpath(path), self.root).replace("\\", "/")

    def node(self) -> Dict[str, Any]:
        node = {
            "name": UPLOAD_NODE,
            "kind": "upload",
            "files": list(self.files),
            "destination": self.destination,
            "root": self.root,
            "host": self.host,
        }  # type: Dict[str, Any]
        if self.endpoint_url:
            node["endpoint_url"] = self.endpoint_url
        if self.profile:
            node["profile"] = self.profile
        return node


def _iglob(pattern: str) -> Any:
    import glob

    return glob.iglob(pattern)


def _common_dir(files: List[str]) -> str:
    dirs = [os.path.dirname(f.split("*")[0]) if "*" in f else os.path.dirname(f) for f in files]
    try:
        return os.path.commonpath(dirs) if dirs else ""
    except ValueError:  # different drives (Windows): keys fall back to absolute paths
        return os.path.dirname(files[0])


def render_command(settings: JobSettings) -> List[str]:
    """One chunk's command; `{frames}` is the chunk's explicit frame list. With an upload,
    the scene is read where the upload puts it."""
    out = settings.output.rstrip("/") + "/frame.####.png"
    blend = settings.upload.farm_path(settings.blend) if settings.upload else settings.blend
    if settings.renderer == "blender":
        # Blender's own animation render: `-o` wants the #### pattern without the extension.
        return [
            "blender", "-b", blend, "-o", out[: -len(".png")], "-F", "PNG",
            "-s", "{start}", "-e", "{end}", "-j", "{step}", "-a",
        ]  # fmt: skip
    return [
        "python", "-m", "stormflow.demo.blender_render",
        "--scene", blend, "--frames", "{frames}", "--out", out,
    ]  # fmt: skip


def document(settings: JobSettings) -> Dict[str, Any]:
    """The workflow: [upload] -> render (chunked, scout frames first) -> encode a movie ->
    notify. With an upload, call `settings.upload.resolve()` first."""
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
    if settings.upload is not None:
        nodes.insert(0, settings.upload.node())
        edges.append([UPLOAD_NODE, "render"])  # every chunk waits for the scene
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
