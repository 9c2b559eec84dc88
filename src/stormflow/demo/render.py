"""Render cached particles to renders/frame.NNNN.png for frames start..end by step."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stormflow.demo.image import Image, frame_path, write_png


def render(cache: Path, frame: int, out: Path) -> Path:
    particles = json.loads(frame_path(cache, frame, "json").read_text(encoding="utf-8"))
    image = Image()
    for i, (x, y) in enumerate(particles["particles"]):
        image.disc(x, y, 4, (255, 120 + (i * 37) % 136, 40 + (i * 53) % 200))
    target = frame_path(out, frame, "png")
    write_png(target, image)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--end", type=int, required=True)
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("renders"))
    args = parser.parse_args(argv)
    step = abs(args.step) or 1
    for frame in range(min(args.start, args.end), max(args.start, args.end) + 1, step):
        render(args.cache, frame, args.out)


if __name__ == "__main__":
    main()
