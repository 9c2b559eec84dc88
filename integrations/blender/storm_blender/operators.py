"""Validate, Apply fixer, Open in Composer and Submit: each returns at once.

An operator reads the scene on Blender's main thread (it may not be read from another),
builds the workflow document, and hands the network part to `background`; the answer comes
back on the main thread through a timer and lands in `status`, which the panel draws.
"""

from __future__ import annotations

import functools
import socket
import urllib.parse
import uuid
import webbrowser
from typing import Any, Callable, Dict, List, Optional

import bpy

from . import background, connection, job, status


def addon_version() -> str:
    from . import bl_info

    return ".".join(str(v) for v in bl_info["version"])


def _prefs(context: Any) -> Any:
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def target(context: Any) -> connection.Target:
    prefs = _prefs(context)
    url = getattr(prefs, "server_url", "") if prefs is not None else ""
    token = getattr(prefs, "token", "") if prefs is not None else ""
    command = getattr(prefs, "storm_command", "") if prefs is not None else ""
    return connection.Target(url, token, addon_version(), storm_command=command)


def upload_settings(context: Any) -> Optional[job.UploadSettings]:
    """The upload the panel asks for, with the .blend's dependencies as Blender reports
    them (main thread: bpy); None when "Upload scene and dependencies" is off."""
    props = context.scene.storm
    if not props.upload:
        return None
    prefs = _prefs(context)
    deps = bpy.utils.blend_paths(absolute=True, packed=False, local=False)
    with_packed = bpy.utils.blend_paths(absolute=True, packed=True, local=False)
    return job.UploadSettings(
        destination=props.upload_destination,
        endpoint_url=props.upload_endpoint_url,
        profile=getattr(prefs, "upload_profile", "") if prefs is not None else "",
        host=socket.gethostname(),
        paths=deps,
        packed=max(0, len(with_packed) - len(deps)),
    )


def settings(context: Any) -> job.JobSettings:
    scene = context.scene
    props = scene.storm
    blend = bpy.data.filepath
    output = props.output_path.strip() or "renders"
    if output.startswith("//"):  # Blender's "relative to the .blend"
        output = bpy.path.abspath(output)
    return job.JobSettings(
        name=props.job_name.strip() or job.default_name(blend),
        blend=blend,
        scene=scene.name,
        frame_start=scene.frame_start,
        frame_end=scene.frame_end,
        frame_step=scene.frame_step,
        chunk_size=props.chunk_size,
        scout_frames=props.scout_frames,
        instance_type=props.instance_type,
        retries=props.retries,
        output=output,
        movie=props.make_movie,
        notify=props.notify,
        renderer=props.renderer,
        addon_version=addon_version(),
        upload=upload_settings(context),
    )


def redraw() -> None:
    """Panels redraw when their area is tagged; headless there are no windows."""
    manager = getattr(bpy.context, "window_manager", None)
    for window in getattr(manager, "windows", []):
        for area in window.screen.areas:
            if area.type == "PROPERTIES":
                area.tag_redraw()


class Prepared:
    """The job's document, built in the worker thread: with an upload, finding which of the
    .blend's dependencies exist is file-system work (a network share may be slow). Its
    notes (missing, packed files) join `local`, the entries the panel shows with the
    server's; the worker writes them before its result is delivered."""

    def __init__(self, job_settings: job.JobSettings, local: List[Dict[str, Any]]) -> None:
        self.settings = job_settings
        self.local = local

    def document(self) -> Dict[str, Any]:
        if self.settings.upload is not None:
            self.local.extend(self.settings.upload.resolve(self.settings.blend))
        return job.document(self.settings)


def _begin(operator: Any, context: Any, what: str) -> Optional[tuple]:
    """(status, local entries, Prepared, target), or None when the .blend is not saved or
    the upload has no destination."""
    scene_status = status.of(context.scene.name)
    # Headless (background mode) Blender reports every file as dirty: no warning there.
    dirty = bpy.data.is_dirty and not bpy.app.background
    local = status.local_entries(bpy.data.filepath, dirty)
    props = context.scene.storm
    local += status.upload_entries(props.upload, props.upload_destination)
    errors = [e for e in local if e["severity"] == "error"]
    if errors:
        scene_status.entries = local
        scene_status.finish(errors[0]["message"], "ERROR")
        operator.report({"ERROR"}, "Storm: " + errors[0]["message"])
        redraw()
        return None
    scene_status.start(what)
    redraw()
    return scene_status, local, Prepared(settings(context), local), target(context)


def _counts(entries: List[Dict[str, Any]]) -> str:
    errors = sum(e.get("severity") == "error" for e in entries)
    warnings = sum(e.get("severity") == "warning" for e in entries)
    if not errors and not warnings:
        return "no problems found"
    return "{} error(s), {} warning(s)".format(errors, warnings)


def _delivered(
    scene_name: str,
    handle: Callable[[Any, status.SceneStatus], None],
    local: Optional[List[Dict[str, Any]]] = None,
) -> Any:
    """A `done` callback for background.run: errors go to the panel, answers to `handle`."""

    def done(answer: Any, error: Optional[BaseException]) -> None:
        scene_status = status.of(scene_name)
        if error is not None:
            details = getattr(error, "details", None)
            if isinstance(details, dict) and isinstance(details.get("entries"), list):
                scene_status.entries = list(local or []) + details["entries"]
            scene_status.finish(connection.message(error), "ERROR")
        else:
            handle(answer, scene_status)
        redraw()

    return done


class STORM_OT_validate(bpy.types.Operator):
    """Ask the Storm server to validate this job; its entries and fixers appear below"""

    bl_idname = "storm.validate"
    bl_label = "Validate"

    def execute(self, context: Any) -> set:
        begun = _begin(self, context, "Validating...")
        if begun is None:
            return {"CANCELLED"}
        _status, local, prepared, where = begun

        def handle(answer: Dict[str, Any], scene_status: status.SceneStatus) -> None:
            scene_status.entries = local + list(answer["entries"])
            worst = "ERROR" if answer["errors"] else ("WARNING" if answer["warnings"] else "INFO")
            scene_status.finish("Validated: " + _counts(scene_status.entries), worst)

        background.run(
            lambda: connection.connect(where).validate(prepared.document()),
            _delivered(context.scene.name, handle, local),
        )
        return {"FINISHED"}


class STORM_OT_apply_fixer(bpy.types.Operator):
    """Apply this fix to the job's settings (the server edits the document, the add-on
    writes the result back into the panel)"""

    bl_idname = "storm.apply_fixer"
    bl_label = "Apply fix"

    fixer: bpy.props.StringProperty(name="Fixer")  # type: ignore[valid-type]

    def execute(self, context: Any) -> set:
        if self.fixer == status.SAVE_FIXER:
            if not bpy.data.filepath:
                self.report({"ERROR"}, "Storm: save the .blend under a name first")
                return {"CANCELLED"}
            bpy.ops.wm.save_mainfile()
            return bpy.ops.storm.validate()  # type: ignore[no-any-return]
        begun = _begin(self, context, "Applying {}...".format(self.fixer))
        if begun is None:
            return {"CANCELLED"}
        _status, local, prepared, where = begun
        scene_name, fixer, blend = context.scene.name, self.fixer, bpy.data.filepath

        def handle(answer: Dict[str, Any], scene_status: status.SceneStatus) -> None:
            scene = bpy.data.scenes.get(scene_name)
            if scene is not None:
                write_back(scene, job.read_back(answer["document"]), blend)
            scene_status.entries = local + list(answer["entries"])
            scene_status.finish("Applied {}: {}".format(fixer, _counts(scene_status.entries)))

        background.run(
            lambda: connection.connect(where).fix(prepared.document(), fixer),
            _delivered(scene_name, handle, local),
        )
        return {"FINISHED"}


def write_back(scene: Any, values: Dict[str, Any], blend: str) -> None:
    """Put what a fixer changed into the scene's frame range and Storm settings."""
    props = scene.storm
    name = values.get("name")
    if isinstance(name, str) and name != job.default_name(blend):
        props.job_name = name
    if "frame_start" in values:
        start, end = values["frame_start"], values["frame_end"]
        if start > scene.frame_end:  # keep start <= end while moving both
            scene.frame_end = end
            scene.frame_start = start
        else:
            scene.frame_start = start
            scene.frame_end = end
        scene.frame_step = values["frame_step"]
    if "chunk_size" in values:
        props.chunk_size = max(1, values["chunk_size"])
    if "retries" in values:
        props.retries = min(10, max(0, values["retries"]))
    if "scout_frames" in values:
        props.scout_frames = values["scout_frames"]
    if "instance_type" in values:
        props.instance_type = values["instance_type"]


class STORM_OT_open_composer(bpy.types.Operator):
    """Send this job to Storm's Composer as a draft and open it in the web browser"""

    bl_idname = "storm.open_composer"
    bl_label = "Open in Composer"

    def execute(self, context: Any) -> set:
        begun = _begin(self, context, "Creating a draft...")
        if begun is None:
            return {"CANCELLED"}
        _status, local, prepared, where = begun
        uploads = prepared.settings.upload is not None

        def work() -> Dict[str, Any]:
            answer = dict(connection.connect(where).draft(prepared.document()))
            webbrowser.open(answer["url"])  # may take a moment: not on the UI thread
            if uploads:  # ready when the draft is submitted from the web UI
                answer["uploader"] = connection.start_uploader(where)
            return answer

        def handle(answer: Dict[str, Any], scene_status: status.SceneStatus) -> None:
            scene_status.draft = answer
            scene_status.entries = local + list(answer.get("entries") or [])
            message = "Draft {} opened in the Composer".format(answer["id"])
            problem = answer.get("uploader") or ""
            level = "WARNING" if problem else "INFO"
            scene_status.finish(message + ("; " + problem if problem else ""), level)

        background.run(work, _delivered(context.scene.name, handle, local))
        return {"FINISHED"}


class STORM_OT_submit(bpy.types.Operator):
    """Submit this job to Storm; returns at once, follow it in the Monitor"""

    bl_idname = "storm.submit"
    bl_label = "Submit"

    def execute(self, context: Any) -> set:
        begun = _begin(self, context, "Submitting...")
        if begun is None:
            return {"CANCELLED"}
        _status, local, prepared, where = begun
        # One key per press: a retried request after a lost answer cannot submit twice.
        key = uuid.uuid4().hex
        if local:
            self.report({"WARNING"}, "Storm: " + local[0]["message"])
        uploads = prepared.settings.upload is not None
        name = prepared.settings.name

        def work() -> Dict[str, Any]:
            client = connection.connect(where)
            answer = dict(client.submit(prepared.document(), idempotency_key=key))
            if uploads:  # the upload node is bound to this host: its uploader sends it
                answer["uploader"] = connection.start_uploader(where)
            if client.token and answer.get("url"):
                token = urllib.parse.quote(client.token, safe="")
                answer["monitor"] = "{}?token={}".format(answer["url"], token)
            else:
                answer["monitor"] = answer.get("url", "")
            return answer

        def handle(answer: Dict[str, Any], scene_status: status.SceneStatus) -> None:
            scene_status.workflow = answer
            scene_status.entries = list(local)
            message = "Submitted {} ({}): follow it in the Monitor".format(
                answer["name"], answer["id"]
            )
            problem = answer.get("uploader") or ""
            level = "WARNING" if problem else "INFO"
            scene_status.finish(message + ("; " + problem if problem else ""), level)

        background.run(work, _delivered(context.scene.name, handle, local))
        self.report({"INFO"}, "Storm: submitting {}".format(name))
        return {"FINISHED"}


class STORM_OT_open_monitor(bpy.types.Operator):
    """Open the last submitted job in Storm's Monitor"""

    bl_idname = "storm.open_monitor"
    bl_label = "Open in Monitor"

    def execute(self, context: Any) -> set:
        url = status.of(context.scene.name).workflow.get("monitor")
        if not url:
            self.report({"ERROR"}, "Storm: nothing submitted from this scene yet")
            return {"CANCELLED"}
        background.run(functools.partial(webbrowser.open, url), lambda _a, _e: None)
        return {"FINISHED"}


CLASSES = (
    STORM_OT_validate,
    STORM_OT_apply_fixer,
    STORM_OT_open_composer,
    STORM_OT_submit,
    STORM_OT_open_monitor,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
