"""Frame images for people: decode PNG, JPEG, TIFF and OpenEXR, make thumbnails, cache them.

Pillow reads PNG, JPEG and TIFF; OpenEXR files go through the `OpenEXR` bindings (a
wheel on PyPI) into numpy and are shown as a display image: linear light through the
sRGB curve, clipped to [0, 1]. Deep or float TIFFs are scaled the same way. What is
made once (a thumbnail, a display PNG of an EXR or TIFF) is cached under the data
directory, keyed by the file's path, size and modification time, and written
atomically, so a crash never leaves a half file that would be served.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: Extensions read, and the format each means.
FORMATS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".exr": "exr",
}
#: Formats a browser shows as they are; the others are converted to PNG to be seen.
SHOWN_AS_IS = {"png": "image/png", "jpeg": "image/jpeg"}
RAW_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "tiff": "image/tiff", "exr": "image/x-exr"}

#: Larger images are refused rather than decoded (a 16k x 16k frame is 256 Mpx).
MAX_PIXELS = 16384 * 16384
THUMB_QUALITY = 82
BACKGROUND = (32, 32, 32)  # what transparent pixels are shown over


class ImageError(ValueError):
    """The file cannot be read as an image (the message says why)."""


@dataclass(frozen=True, slots=True)
class Made:
    """A cached file to send, with its media type and a tag that changes with its source."""

    path: Path
    media_type: str
    etag: str


def image_format(path: Path | str) -> str | None:
    return FORMATS.get(os.path.splitext(str(path))[1].lower())


def _to_srgb(linear: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Linear light to 8-bit sRGB, clipped; NaN and infinities shown as 0 and 1."""
    x = np.nan_to_num(linear.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    x = np.clip(x, 0.0, 1.0)
    srgb = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    out: np.ndarray[Any, Any] = (srgb * 255.0 + 0.5).astype(np.uint8)
    return out


def _exr(path: Path) -> Image.Image:
    import OpenEXR  # the bindings load a native library: only when an EXR is asked for

    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            window = exr.header().get("dataWindow")
            if window is not None:
                (x0, y0), (x1, y1) = (tuple(p) for p in window)
                if (x1 - x0 + 1) * (y1 - y0 + 1) > MAX_PIXELS:
                    raise ImageError(f"{path.name} is larger than {MAX_PIXELS} pixels")
            channels = {name: ch.pixels for name, ch in exr.channels().items()}
    except ImageError:
        raise
    except Exception as exc:  # the bindings raise plain Exceptions for bad files
        raise ImageError(f"{path.name} is not a readable OpenEXR file: {exc}") from None
    if not channels:
        raise ImageError(f"{path.name} has no channels")
    # the beauty pass: R, G, B (any layer prefix, e.g. "beauty.R"), else luminance Y,
    # else the first channel as grey
    picked = [_channel(channels, c) for c in "RGB"]
    if all(p is not None for p in picked):
        rgb = np.stack([p for p in picked if p is not None], axis=-1)
    else:
        grey = _channel(channels, "Y")
        if grey is None:
            grey = channels[sorted(channels)[0]]
        if grey.ndim == 3:  # an interleaved "RGB"/"RGBA" channel
            rgb = grey[..., :3] if grey.shape[-1] >= 3 else np.repeat(grey[..., :1], 3, axis=-1)
        else:
            rgb = np.stack([grey] * 3, axis=-1)
    image = Image.fromarray(_to_srgb(rgb), "RGB")
    alpha = _channel(channels, "A")
    if alpha is not None and alpha.ndim == 2 and alpha.shape == rgb.shape[:2]:
        image.putalpha(Image.fromarray(_to_srgb_alpha(alpha), "L"))
    return image


def _to_srgb_alpha(alpha: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    a = np.clip(np.nan_to_num(alpha.astype(np.float32)), 0.0, 1.0)
    out: np.ndarray[Any, Any] = (a * 255.0 + 0.5).astype(np.uint8)
    return out


def _channel(channels: dict[str, Any], name: str) -> np.ndarray[Any, Any] | None:
    for key in (name, name.lower()):
        if key in channels:
            return np.asarray(channels[key])
    for key in sorted(channels):
        if key.rsplit(".", 1)[-1] in (name, name.lower()):
            return np.asarray(channels[key])
    return None


def _pillow(path: Path) -> Image.Image:
    try:
        image = Image.open(path)  # reads the header only; Pillow refuses decompression bombs
        if image.width * image.height > MAX_PIXELS:
            raise ImageError(f"{path.name} is larger than {MAX_PIXELS} pixels")
        image.load()
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{path.name} is too large to decode") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"{path.name} is not a readable image: {exc}") from None
    if image.mode in ("RGB", "RGBA", "L", "LA", "P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
        return image
    # 16-bit and float images (deep TIFFs): scale integers to [0, 1]; floats are linear
    data = np.asarray(image)
    if np.issubdtype(data.dtype, np.integer):
        top = float(np.iinfo(data.dtype).max) if data.dtype != np.int32 else 65535.0
        shown = (np.clip(data.astype(np.float32) / top, 0, 1) * 255 + 0.5).astype(np.uint8)
    else:
        shown = _to_srgb(data)
    return Image.fromarray(shown)


def decode(path: Path) -> Image.Image:
    """The image at `path` as a Pillow image a browser format can hold (8-bit)."""
    if image_format(path) == "exr":
        return _exr(path)
    return _pillow(path)


def _flat(image: Image.Image) -> Image.Image:
    """RGB, transparent pixels over the background (JPEG has no alpha)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGB", rgba.size, BACKGROUND)
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return image.convert("RGB")


def _key(source: Path, relative: str, what: str) -> str:
    stat = source.stat()
    text = f"{relative}\0{stat.st_mtime_ns}\0{stat.st_size}\0{what}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def thumbnail(source: Path, relative: str, cache: Path, size: int) -> Made:
    """A JPEG whose longer side is at most `size` (never enlarged), made once per version
    of the source file and kept in `cache`."""
    key = _key(source, relative, f"thumb{size}")
    target = cache / f"{key}.jpg"
    if not target.is_file():
        image = decode(source)
        if image.mode == "P":
            image = image.convert("RGBA")
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        _flat(image).save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
        _write_atomically(target, out.getvalue())
    return Made(target, "image/jpeg", key)


def display(source: Path, relative: str, cache: Path) -> Made:
    """The full image as a browser shows it: PNG and JPEG as they are, TIFF and OpenEXR
    converted to PNG once per version of the file (kept in `cache`)."""
    fmt = image_format(source)
    key = _key(source, relative, "display")
    if fmt in SHOWN_AS_IS:
        return Made(source, SHOWN_AS_IS[fmt], key)
    target = cache / f"{key}.png"
    if not target.is_file():
        out = io.BytesIO()
        decode(source).save(out, "PNG", compress_level=4)
        _write_atomically(target, out.getvalue())
    return Made(target, "image/png", key)
