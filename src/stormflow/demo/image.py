"""Minimal RGB images: write/read 8-bit PNGs with zlib, and a 3x5 pixel font."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

WIDTH, HEIGHT = 320, 180


class Image:
    def __init__(self, width: int = WIDTH, height: int = HEIGHT, pixels: bytearray | None = None):
        self.width, self.height = width, height
        self.pixels = pixels if pixels is not None else bytearray(width * height * 3)

    def fill_rect(self, x0: int, y0: int, x1: int, y1: int, rgb: tuple[int, int, int]) -> None:
        x0, x1 = max(x0, 0), min(x1, self.width)
        if x1 <= x0:
            return
        row = bytes(rgb) * (x1 - x0)
        for y in range(max(y0, 0), min(y1, self.height)):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def disc(self, cx: float, cy: float, r: float, rgb: tuple[int, int, int]) -> None:
        ri = int(r) + 1
        for dy in range(-ri, ri + 1):
            span = int((r * r - dy * dy) ** 0.5) if r * r >= dy * dy else -1
            if span >= 0:
                y = int(cy) + dy
                self.fill_rect(int(cx) - span, y, int(cx) + span + 1, y + 1, rgb)

    def text(self, x: int, y: int, text: str, rgb: tuple[int, int, int], scale: int = 2) -> None:
        for ch in text.upper():
            glyph = _FONT.get(ch, _FONT[" "])
            for gy, bits in enumerate(glyph):
                for gx in range(3):
                    if bits >> (2 - gx) & 1:
                        px, py = x + gx * scale, y + gy * scale
                        self.fill_rect(px, py, px + scale, py + scale, rgb)
            x += 4 * scale


def write_png(path: str | Path, image: Image) -> None:
    stride = image.width * 3
    raw = b"".join(
        b"\x00" + bytes(image.pixels[y * stride : (y + 1) * stride]) for y in range(image.height)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 2, 0, 0, 0)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def read_png(path: str | Path) -> Image:
    """Read PNGs written by write_png (8-bit RGB, filter 0 on every row)."""
    data = Path(path).read_bytes()
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if tag == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 3
    pixels = bytearray()
    for y in range(height):
        row = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        if row[0] != 0:
            raise ValueError(f"{path}: only unfiltered PNG rows are supported")
        pixels += row[1:]
    return Image(width, height, pixels)


def frame_path(directory: str | Path, frame: int, ext: str) -> Path:
    return Path(directory) / f"frame.{frame:04d}.{ext}"


_FONT: dict[str, tuple[int, ...]] = {
    " ": (0, 0, 0, 0, 0),
    "0": (7, 5, 5, 5, 7),
    "1": (2, 6, 2, 2, 7),
    "2": (7, 1, 7, 4, 7),
    "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1),
    "5": (7, 4, 7, 1, 7),
    "6": (7, 4, 7, 5, 7),
    "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7),
    "9": (7, 5, 7, 1, 7),
    "-": (0, 0, 7, 0, 0),
    ":": (0, 2, 0, 2, 0),
    "A": (2, 5, 7, 5, 5),
    "E": (7, 4, 6, 4, 7),
    "F": (7, 4, 6, 4, 4),
    "K": (5, 5, 6, 5, 5),
    "L": (4, 4, 4, 4, 7),
    "M": (5, 7, 7, 5, 5),
    "N": (7, 5, 5, 5, 5),
    "O": (7, 5, 5, 5, 7),
    "R": (6, 5, 6, 5, 5),
    "S": (7, 4, 7, 1, 7),
    "T": (7, 2, 2, 2, 2),
    "I": (7, 2, 2, 2, 7),
    "B": (6, 5, 6, 5, 6),
    "C": (7, 4, 4, 4, 7),
    "D": (6, 5, 5, 5, 6),
    "G": (7, 4, 5, 5, 7),
    "H": (5, 5, 7, 5, 5),
    "J": (1, 1, 1, 5, 7),
    "P": (7, 5, 7, 4, 4),
    "Q": (7, 5, 5, 7, 1),
    "U": (5, 5, 5, 5, 7),
    "V": (5, 5, 5, 5, 2),
    "W": (5, 5, 7, 7, 5),
    "X": (5, 5, 2, 5, 5),
    "Z": (7, 1, 2, 4, 7),
    "_": (0, 0, 0, 0, 7),
    ".": (0, 0, 0, 0, 2),
    "/": (1, 1, 2, 4, 4),
    "Y": (5, 5, 2, 2, 2),
}
