"""The Storm settings of a scene (Render properties > Storm) and the add-on's preferences."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty


class StormJobSettings(bpy.types.PropertyGroup):
    """Saved with the scene; the frame range is the scene's own (start, end, step)."""

    job_name: StringProperty(  # type: ignore[valid-type]
        name="Job name",
        description="Name of the workflow (empty: the .blend's file name)",
        default="",
    )
    chunk_size: IntProperty(  # type: ignore[valid-type]
        name="Chunk size",
        description="Frames per render task",
        default=10,
        min=1,
    )
    scout_frames: StringProperty(  # type: ignore[valid-type]
        name="Scout frames",
        description=(
            "Frames to render first, e.g. 1,50,100: only their chunks start; release the "
            "rest in the Monitor once they look right (empty: everything starts)"
        ),
        default="",
    )
    instance_type: StringProperty(  # type: ignore[valid-type]
        name="Instance type",
        description="Which machines run the render tasks (the farm's queue or hardware label)",
        default="cpu-8",
    )
    retries: IntProperty(  # type: ignore[valid-type]
        name="Retries",
        description="Automatic retries of a failed task before it stays failed",
        default=1,
        min=0,
        max=10,
    )
    output_path: StringProperty(  # type: ignore[valid-type]
        name="Output",
        description=(
            "Directory the frames are written to (frame.####.png); relative paths are "
            "inside the workflow's directory on the farm, where the Monitor shows previews"
        ),
        default="renders",
    )
    make_movie: BoolProperty(  # type: ignore[valid-type]
        name="Encode a movie",
        description="After the frames, encode them into movie.mp4",
        default=True,
    )
    notify: StringProperty(  # type: ignore[valid-type]
        name="Notify",
        description="E-mail addresses told when the job ends (comma-separated; empty: none)",
        default="",
    )
    renderer: EnumProperty(  # type: ignore[valid-type]
        name="Renderer",
        description="What renders a chunk on the farm",
        items=[
            ("storm", "Storm helper", "Cycles on CPU via Storm's render helper (bpy or blender)"),
            ("blender", "blender binary", "`blender -b file.blend -a` on the farm machine"),
        ],
        default="storm",
    )

    upload: BoolProperty(  # type: ignore[valid-type]
        name="Upload scene and dependencies",
        description=(
            "Before the renders, send the saved .blend and the files it reads (textures, "
            "caches, libraries) to the destination; this workstation's `storm uploader` "
            "sends them and the farm reads the scene from there"
        ),
        default=False,
    )
    upload_destination: StringProperty(  # type: ignore[valid-type]
        name="Destination",
        description=(
            "Where the files go: file:///mnt/farm/project (a directory the farm mounts) or "
            "s3://bucket/prefix"
        ),
        default="",
    )
    upload_endpoint_url: StringProperty(  # type: ignore[valid-type]
        name="Endpoint URL",
        description="S3 only: the endpoint of MinIO, Ceph... (empty: AWS)",
        default="",
    )


class StormPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    server_url: StringProperty(  # type: ignore[valid-type]
        name="Server URL",
        description="Storm server, e.g. http://127.0.0.1:8765 (empty: find the local server)",
        default="",
    )
    token: StringProperty(  # type: ignore[valid-type]
        name="Token",
        description="The server's token (empty: the local server's token file)",
        default="",
        subtype="PASSWORD",
    )

    upload_profile: StringProperty(  # type: ignore[valid-type]
        name="S3 profile",
        description=(
            "Uploads to S3: a profile of ~/.aws/credentials (empty: the environment or "
            "boto3's usual chain); credentials never go into the job"
        ),
        default="",
    )
    storm_command: StringProperty(  # type: ignore[valid-type]
        name="storm command",
        description="The `storm` program that runs the uploader (empty: `storm` on PATH)",
        default="",
        subtype="FILE_PATH",
    )

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.prop(self, "server_url")
        self.layout.prop(self, "token")
        self.layout.label(text="Empty: the local `storm server` found through server.json.")
        self.layout.prop(self, "upload_profile")
        self.layout.prop(self, "storm_command")


CLASSES = (StormJobSettings, StormPreferences)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.storm = bpy.props.PointerProperty(type=StormJobSettings)


def unregister() -> None:
    del bpy.types.Scene.storm
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
