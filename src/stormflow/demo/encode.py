"""Encode comp/frame.NNNN.png into an mp4 with the ffmpeg that imageio-ffmpeg ships."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import imageio_ffmpeg


def encode(frames: list[Path], out: Path, fps: int = 24) -> Path:
    if not frames:
        raise SystemExit("encode: no input frames")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # ffmpeg wants consecutive numbers; link the frames in order whatever theirs are.
        for i, frame in enumerate(frames):
            (Path(tmp) / f"{i:06d}.png").symlink_to(frame.resolve())
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-loglevel", "error", "-y",
            "-framerate", str(fps),
            "-i", str(Path(tmp) / "%06d.png"),
            "-c:v", "libx264", "-pix_fmt", "yuv420p",
            str(out),
        ]  # fmt: skip
        subprocess.run(command, check=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=Path("comp"))
    parser.add_argument("--out", type=Path, default=Path("movie.mp4"))
    parser.add_argument("--fps", type=int, default=24)
    args = parser.parse_args(argv)
    frames = sorted(args.input.glob("frame.*.png"))
    try:
        encode(frames, args.out, args.fps)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"encode: ffmpeg failed with exit code {exc.returncode}")


if __name__ == "__main__":
    main()
