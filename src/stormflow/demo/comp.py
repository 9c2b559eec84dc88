"""Composite rendered frames over a gradient background with a title and frame counter."""

from __future__ import annotations

import argparse
from pathlib import Path

from stormflow.demo.image import Image, frame_path, read_png, write_png


def background(width: int, height: int) -> bytearray:
    pixels = bytearray()
    for y in range(height):
        shade = (20 + y * 60 // height, 30 + y * 40 // height, 70 + y * 80 // height)
        pixels += bytes(shade) * width
    return pixels


def comp(renders: Path, frame: int, out: Path, title: str) -> Path:
    layer = read_png(frame_path(renders, frame, "png"))
    image = Image(layer.width, layer.height, background(layer.width, layer.height))
    src, dst = layer.pixels, image.pixels
    # Black is the render's empty background: take every other pixel from the render.
    for i in range(0, len(src), 3):
        if src[i] or src[i + 1] or src[i + 2]:
            dst[i : i + 3] = src[i : i + 3]
    image.text(8, 8, title, (240, 240, 240))
    image.text(8, image.height - 18, f"{frame:04d}", (255, 230, 120))
    target = frame_path(out, frame, "png")
    write_png(target, image)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=Path, default=Path("renders"))
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--end", type=int, required=True)
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("comp"))
    parser.add_argument("--title", default="STORM")
    args = parser.parse_args(argv)
    step = abs(args.step) or 1
    for frame in range(min(args.start, args.end), max(args.start, args.end) + 1, step):
        comp(args.renders, frame, args.out, args.title)


if __name__ == "__main__":
    main()
