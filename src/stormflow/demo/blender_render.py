"""Render frames of a .blend with Cycles on the CPU, headless, one numbered image per frame.

    python -m stormflow.demo.blender_render --scene scene.blend --frames 1-10 \\
        --out renders/frame.####.png

Runs in Blender's Python: the `bpy` module when it imports (`make blender`), else the
`blender` binary (--blender, $STORM_BLENDER or `blender` on PATH) runs this same file. Each
frame prints one progress line (`frame 3 done in 1.2 s (2/10) -> renders/frame.0003.png`),
so a node's log shows how far a chunk got. The standard library only outside Blender: this
file must also run as a plain script inside the binary, where stormflow is not importable.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_RANGE = re.compile(r"^(-?\d+)(?:-(-?\d+)(?:x(\d+))?)?$")


class RenderError(Exception):
    """A failure the user can fix (bad frames, missing scene, no Blender): one line."""


def parse_frames(spec: str) -> list[int]:
    """`1-10`, `1-10x2`, `5` and comma lists of them, in the order given, each frame once."""
    frames: list[int] = []
    for part in spec.replace(" ", "").split(","):
        match = _RANGE.match(part)
        if not match:
            raise RenderError(f"--frames: cannot read {part!r} (use 1-10, 1-10x2 or 1,5,9)")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        step = int(match.group(3) or 1)
        if last < first or step < 1:
            raise RenderError(f"--frames: {part!r} is an empty range")
        frames.extend(f for f in range(first, last + 1, step) if f not in frames)
    return frames


def frame_file(pattern: str, frame: int) -> Path:
    """`renders/frame.####.png` with frame 7 -> renders/frame.0007.png (padding = #s)."""
    hashes = re.search(r"#+", pattern)
    if hashes is None:
        raise RenderError(f"--out: {pattern!r} needs #### where the frame number goes")
    width = len(hashes.group(0))
    return Path(pattern[: hashes.start()] + f"{frame:0{width}d}" + pattern[hashes.end() :])


def render_frames(
    scene_path: Path,
    frames: list[int],
    pattern: str,
    samples: int | None = None,
    threads: int | None = None,
) -> list[Path]:
    """Render `frames` of the .blend inside this Python (which must have bpy)."""
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(scene_path))
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    if samples is not None:
        scene.cycles.samples = samples
    if threads is not None:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = threads
    scene.render.image_settings.file_format = "PNG"
    written: list[Path] = []
    began = time.monotonic()
    for done, frame in enumerate(frames, 1):
        target = frame_file(pattern, frame).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        scene.frame_set(frame)
        scene.render.filepath = str(target)
        with _without_progress_lines():
            bpy.ops.render.render(write_still=True)
        if not target.is_file():
            raise RenderError(f"frame {frame}: Blender wrote no image at {target}")
        written.append(target)
        print(
            f"frame {frame} done in {time.monotonic() - started:.2f} s "
            f"({done}/{len(frames)}) -> {target}",
            flush=True,
        )
    print(f"rendered {len(written)} frames in {time.monotonic() - began:.1f} s", flush=True)
    return written


@contextlib.contextmanager
def _without_progress_lines() -> Iterator[None]:
    """Blender's C code prints ~30 `Fra:` status lines per frame to fd 1; keep the rest."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not line.startswith("Fra:"):
                    print(line, flush=True)


def has_bpy() -> bool:
    try:
        import bpy  # noqa: F401
    except ImportError:
        return False
    return True


def blender_binary(given: str | None) -> str | None:
    name = given or os.environ.get("STORM_BLENDER") or "blender"
    return shutil.which(name)


def binary_command(binary: str, argv: list[str]) -> list[str]:
    """Blender runs this very file on the same arguments (there, bpy imports)."""
    here = str(Path(__file__).resolve())
    blender = [binary, "-b", "--factory-startup", "--python-exit-code", "1", "--python", here]
    return [*blender, "--", *argv]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", type=Path, required=True, help="the .blend file")
    parser.add_argument("--frames", required=True, help="1-10, 1-10x2 or 1,5,9")
    parser.add_argument("--out", default="renders/frame.####.png", help="#### = frame number")
    parser.add_argument("--samples", type=int, help="Cycles samples (default: the scene's)")
    parser.add_argument("--threads", type=int, help="render threads (default: all cores)")
    parser.add_argument("--blender", help="the Blender binary when bpy is not installed")
    return parser


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    frames = parse_frames(args.frames)
    frame_file(args.out, frames[0])  # a bad pattern fails before Blender starts
    if not args.scene.is_file():
        raise RenderError(f"--scene: no file {args.scene}")
    if args.samples is not None and args.samples < 1:
        raise RenderError("--samples: must be at least 1")
    if has_bpy():
        render_frames(args.scene.resolve(), frames, args.out, args.samples, args.threads)
        return 0
    binary = blender_binary(args.blender)
    if binary is None:
        raise RenderError(
            "no Blender: install the bpy module (`make blender`) or put `blender` on PATH "
            "(or pass --blender / set STORM_BLENDER)"
        )
    return subprocess.run(binary_command(binary, argv)).returncode


def main(argv: list[str] | None = None) -> None:
    if argv is None:
        # inside `blender -b --python this.py -- args`, Blender's own arguments come first
        argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    try:
        code = run(argv)
    except RenderError as exc:  # bad input: one line, exit 2, nothing rendered
        print(f"blender_render: {exc}", file=sys.stderr)
        sys.exit(2)
    except RuntimeError as exc:  # bpy's operator errors (unreadable .blend, render failure)
        message = str(exc).strip().splitlines()
        sys.exit(f"blender_render: {message[-1] if message else exc}")
    sys.exit(code)


if __name__ == "__main__":
    main()
