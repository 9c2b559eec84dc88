"""Build the Blender demo scene (a bouncing ball by a spinning torus) and save it as a .blend.

Made by code so the repository holds no binary assets. Small and quick on purpose: a
320x180 image, 16 Cycles samples, no denoiser, so a frame renders in a second or two on a
laptop's CPU. Needs Blender's Python: the `bpy` module (`make blender`) or run inside the
binary as `blender -b --python blender_scene.py -- --out scene.blend`.

    python -m stormflow.demo.blender_scene --out scene.blend --frames 1-48
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

RESOLUTION = (320, 180)
SAMPLES = 16


def _material(bpy: Any, name: str, color: tuple[float, float, float], rough: float) -> Any:
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    shader = mat.node_tree.nodes.get("Principled BSDF")
    shader.inputs["Base Color"].default_value = (*color, 1.0)
    shader.inputs["Roughness"].default_value = rough
    return mat


def _bounce_height(t: float) -> float:
    """Height of a ball bouncing once per 12 frames, losing a little each bounce."""
    period = 12.0
    phase = (t % period) / period
    damping: float = 0.85 ** (t // period)
    return 0.5 + 2.5 * damping * 4 * phase * (1 - phase)


def build(out: Path, start: int = 1, end: int = 48) -> Path:
    import bpy  # Blender's own module: imported here so `--help` works without it

    # a fresh, empty file from the factory startup; the preferences (add-ons) are kept
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    scene.name = "storm_demo"
    scene.frame_start, scene.frame_end = start, end
    scene.render.fps = 24
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = SAMPLES
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 4
    scene.render.resolution_x, scene.render.resolution_y = RESOLUTION
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = "//renders/frame.####"

    world = bpy.data.worlds.new("sky")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.05, 0.07, 0.12, 1)
    scene.world = world

    bpy.ops.mesh.primitive_plane_add(size=20)
    ground = bpy.context.object
    ground.name = "ground"
    ground.data.materials.append(_material(bpy, "ground", (0.35, 0.38, 0.42), 0.6))

    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.5, location=(0, 0, 0.5), segments=24)
    ball = bpy.context.object
    ball.name = "ball"
    bpy.ops.object.shade_smooth()
    ball.data.materials.append(_material(bpy, "ball", (0.9, 0.35, 0.1), 0.25))
    for frame in range(start, end + 1):
        t = frame - start
        ball.location = (-3 + 6 * t / max(1, end - start), 0, _bounce_height(t))
        ball.keyframe_insert("location", frame=frame)

    bpy.ops.mesh.primitive_torus_add(location=(0, 2.5, 1.2), major_radius=1, minor_radius=0.25)
    torus = bpy.context.object
    torus.name = "torus"
    bpy.ops.object.shade_smooth()
    torus.data.materials.append(_material(bpy, "torus", (0.2, 0.5, 0.95), 0.15))
    torus.rotation_euler = (math.radians(90), 0, 0)
    torus.keyframe_insert("rotation_euler", frame=start)
    torus.rotation_euler = (math.radians(90), math.radians(360), 0)
    torus.keyframe_insert("rotation_euler", frame=end)
    for curve in torus.animation_data.action.fcurves:
        for point in curve.keyframe_points:
            point.interpolation = "LINEAR"

    bpy.ops.object.light_add(type="SUN", rotation=(math.radians(50), 0, math.radians(30)))
    bpy.context.object.data.energy = 3.0
    bpy.ops.object.light_add(type="AREA", location=(-3, -3, 4))
    bpy.context.object.data.energy = 300.0
    bpy.context.object.data.size = 3.0

    bpy.ops.object.camera_add(location=(0, -9, 3.2), rotation=(math.radians(78), 0, 0))
    scene.camera = bpy.context.object

    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out), compress=False)
    return out


def main(argv: list[str] | None = None) -> None:
    if argv is None and "--" in sys.argv:  # inside `blender -b --python this.py -- args`
        argv = sys.argv[sys.argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("scene.blend"))
    parser.add_argument("--frames", default="1-48", help="first-last, e.g. 1-48")
    args = parser.parse_args(argv)
    first, _, last = args.frames.partition("-")
    try:
        start, end = int(first), int(last or first)
    except ValueError:
        parser.error(f"--frames: expected first-last, got {args.frames!r}")
    if end < start:
        parser.error(f"--frames: {args.frames!r} ends before it starts")
    try:
        import bpy  # noqa: F401
    except ImportError:
        sys.exit("blender_scene: needs Blender's Python (`make blender` installs the bpy module)")
    path = build(args.out, start, end)
    print(f"saved {path} (frames {start}-{end})", flush=True)


if __name__ == "__main__":
    main()
