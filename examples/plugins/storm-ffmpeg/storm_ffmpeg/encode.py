"""Encode the frames matching a pattern in a folder into a movie (run by `ffmpeg` nodes)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import imageio_ffmpeg


def encode(frames: list[Path], out: Path, fps: int, crf: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # ffmpeg reads numbered inputs: link the frames in name order, whatever their numbers.
        suffix = frames[0].suffix
        for i, frame in enumerate(frames):
            (Path(tmp) / f"{i:06d}{suffix}").symlink_to(frame.resolve())
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y",
            "-framerate", str(fps), "-i", str(Path(tmp) / f"%06d{suffix}"),
            "-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p",
            # H.264 in yuv420p wants even sizes: pad odd ones by a pixel.
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            str(out),
        ]  # fmt: skip
        subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--pattern", default="*.png")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--crf", type=int, default=18)
    args = parser.parse_args(argv)
    frames = sorted(p for p in args.input.glob(args.pattern) if p.is_file())
    if not frames:
        sys.exit(f"ffmpeg: no frames matching {args.pattern} in {args.input}")
    try:
        encode(frames, args.out, args.fps, args.crf)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"ffmpeg: encoding failed with exit code {exc.returncode}")
    print(f"ffmpeg: {len(frames)} frames -> {args.out}")


if __name__ == "__main__":
    main()
