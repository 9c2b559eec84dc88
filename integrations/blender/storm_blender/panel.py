"""The Storm panel in Properties > Render: the job's settings, the buttons, the answers."""

from __future__ import annotations

from typing import Any

import bpy

from . import background, status

_ICONS = {"error": "ERROR", "warning": "INFO", "info": "INFO"}


class STORM_PT_render(bpy.types.Panel):
    bl_label = "Storm"
    bl_idname = "STORM_PT_render"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"

    def draw(self, context: Any) -> None:
        layout = self.layout
        scene = context.scene
        props = scene.storm
        layout.use_property_split = True
        layout.use_property_decorate = False

        layout.prop(props, "job_name")
        column = layout.column(align=True)
        column.prop(scene, "frame_start", text="Frames")  # the scene's own range
        column.prop(scene, "frame_end", text="End")
        column.prop(scene, "frame_step", text="Step")
        layout.prop(props, "chunk_size")
        layout.prop(props, "scout_frames")
        layout.prop(props, "instance_type")
        layout.prop(props, "retries")
        layout.prop(props, "output_path")
        layout.prop(props, "make_movie")
        layout.prop(props, "notify")
        layout.prop(props, "renderer")
        layout.prop(props, "upload")
        if props.upload:
            column = layout.column(align=True)
            column.prop(props, "upload_destination")
            if props.upload_destination.startswith("s3:"):
                column.prop(props, "upload_endpoint_url")

        row = layout.row(align=True)
        row.operator("storm.validate", icon="CHECKMARK")
        row.operator("storm.open_composer", icon="NODETREE")
        row.operator("storm.submit", icon="EXPORT")

        state = status.of(scene.name)
        if state.busy:
            layout.label(text=state.busy, icon="SORTTIME")
        elif state.message:
            icon = {"ERROR": "ERROR", "WARNING": "INFO"}.get(state.level, "CHECKMARK")
            layout.label(text=state.message, icon=icon)
        if state.workflow.get("monitor") and not state.busy:
            layout.operator("storm.open_monitor", icon="URL")
        for entry in state.entries:
            box = layout.box()
            box.label(text=entry.get("message", ""), icon=_ICONS.get(entry.get("severity"), "INFO"))
            for fixer in entry.get("fixers") or []:
                button = box.operator(
                    "storm.apply_fixer", text="Fix: " + fixer.get("description", fixer["name"])
                )
                button.fixer = fixer["name"]
        if background.pending():
            layout.label(text="Waiting for the Storm server...", icon="SORTTIME")


CLASSES = (STORM_PT_render,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
