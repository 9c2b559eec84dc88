"""Cut shots together: the frame.NNNN.png of each input directory, in the order given, copied
into one directory as consecutive frames 1, 2, 3... (what encode then makes a movie of)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from stormflow.demo.image import frame_path


def cut(inputs: list[Path], out: Path) -> int:
    """Copy every input's frames, in order, into `out` renumbered from 1; returns how many."""
    frames = [f for directory in inputs for f in sorted(directory.glob("frame.*.png"))]
    if not frames:
        raise SystemExit(f"edit: no frames in {', '.join(str(d) for d in inputs)}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("frame.*.png"):  # a rerun starts from an empty cut
        old.unlink()
    for number, frame in enumerate(frames, start=1):
        shutil.copyfile(frame, frame_path(out, number, "png"))
    return len(frames)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("inputs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    print(f"edit: {cut(args.inputs, args.out)} frames into {args.out}")


if __name__ == "__main__":
    main()
