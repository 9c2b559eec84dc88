"""Which image files a node's `output` left, and the one rule for serving files at all.

A node's `output` is a path relative to its workflow's directory (`work/<id>/` under
the data directory): a directory (`renders/`), a frame pattern (`renders/beauty.####.exr`,
`%04d`, `$F4` or `@`), or one file. Images found there belong to a chunk when their
frame number (the digits just before the extension) is one of the chunk's frames.

Only files inside the workflow's directory are ever listed or served: a request's path
is refused if it is absolute, climbs with `..`, or resolves (through any symlink)
outside; an `output` that points outside lists nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stormflow.engine.render import workflow_dir
from stormflow.spec.natural import natural_key

from .errors import ApiError
from .images import image_format

#: Files looked at per output directory, and the levels read (the directory and two below).
MAX_FILES = 100_000
MAX_DEPTH = 3

_FRAME = re.compile(r"(-?\d+)$")
#: Frame placeholders in an output pattern: ####, @@@, %04d, $F4.
_PLACEHOLDER = re.compile(r"#+|@+|%0?\d*d|\$F\d?")


@dataclass(frozen=True, slots=True)
class Found:
    """An image file: its path relative to the workflow's directory, frame, size, time."""

    path: str
    frame: int | None
    format: str
    size: int
    mtime: float


def root_of(data_dir: Path, workflow_id: str) -> Path:
    """The workflow's own directory, resolved (it may not exist yet)."""
    return workflow_dir(data_dir, workflow_id).resolve()


def checked_file(root: Path, relative: str) -> Path:
    """The file a request names, inside `root`; ApiError otherwise (403 outside, 404 absent,
    422 not an image or a malformed path)."""
    if not relative or len(relative) > 1000 or "\0" in relative:
        raise ApiError(422, "invalid-path", "path must be 1-1000 characters", where="path")
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, "invalid-path", "path is not valid text", where="path") from None
    pure = PurePosixPath(relative.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", relative):
        raise ApiError(
            403,
            "outside-workflow-dir",
            "paths are relative to the workflow's directory and may not climb out of it",
            where=relative,
        )
    if image_format(relative) is None:
        raise ApiError(
            422,
            "not-an-image",
            "only PNG, JPEG, TIFF and OpenEXR files are served",
            where=relative,
        )
    try:
        path = (root / pure).resolve()
        inside = path.is_relative_to(root)
        exists = inside and path.is_file()
    except (OSError, ValueError, RuntimeError):  # too long, a symlink loop...
        raise ApiError(404, "unknown-file", "no such file", where=relative) from None
    if not inside:
        raise ApiError(
            403,
            "outside-workflow-dir",
            "the file resolves outside the workflow's directory; refusing to serve it",
            where=relative,
        )
    if not exists:
        raise ApiError(404, "unknown-file", "no such file", where=relative)
    return path


def frame_of(name: str) -> int | None:
    """The frame number of a file name: the digits just before its extension."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    match = _FRAME.search(stem)
    if match is None:
        return None
    digits = match.group(1)
    # "frame.-005" is frame -5; "shot-0005" is frame 5 (the dash is a separator)
    if digits.startswith("-") and not stem[: match.start()].endswith((".", "_")):
        digits = digits[1:]
    return int(digits)


class Scanner:
    """Finds the images of outputs under one workflow's directory; each directory is read
    once per scanner (a contact sheet of 5,000 chunks sharing `renders/` reads it once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: dict[Path, list[Found]] = {}
        self._outputs: dict[str, tuple[list[Found], dict[int, list[Found]]]] = {}

    def images(self, output: object, frames: Iterable[int] | None = None) -> list[Found]:
        """Images of an `output` value, those of `frames` only if given, in natural order."""
        if not isinstance(output, str):
            return []
        known = self._outputs.get(output)
        if known is None:
            found = self._of(output)
            by_frame: dict[int, list[Found]] = {}
            for f in found:
                if f.frame is not None:
                    by_frame.setdefault(f.frame, []).append(f)
            known = self._outputs[output] = (found, by_frame)
        if frames is None:
            return known[0]
        picked = [f for frame in dict.fromkeys(frames) for f in known[1].get(frame, ())]
        picked.sort(key=lambda f: natural_key(f.path))
        return picked

    def _of(self, output: object) -> list[Found]:
        if not isinstance(output, str) or not output.strip() or "\0" in output:
            return []
        text = output.strip().replace("\\", "/")
        pure = PurePosixPath(text)
        if pure.is_absolute() or ".." in pure.parts:
            return []
        if _PLACEHOLDER.search(pure.name):
            parent = self._inside(pure.parent)
            if parent is None:
                return []
            pattern = _pattern(pure.name)
            where = parent.relative_to(self.root).as_posix()
            prefix = "" if where == "." else where + "/"
            return [
                f
                for f in self._dir(parent)
                if f.path.startswith(prefix)
                and "/" not in f.path[len(prefix) :]
                and pattern.match(f.path[len(prefix) :])
            ]
        target = self._inside(pure)
        if target is None:
            return []
        if target.is_dir():
            return self._dir(target)
        fmt = image_format(target)
        if fmt is None or not target.is_file():
            return []
        stat = target.stat()
        rel = target.relative_to(self.root).as_posix()
        return [Found(rel, frame_of(target.name), fmt, stat.st_size, stat.st_mtime)]

    def _inside(self, pure: PurePosixPath) -> Path | None:
        try:
            path = (self.root / pure).resolve()
        except (OSError, ValueError, RuntimeError):
            return None
        return path if path.is_relative_to(self.root) else None

    def _dir(self, directory: Path | None) -> list[Found]:
        if directory is None:
            return []
        cached = self._dirs.get(directory)
        if cached is None:
            cached = self._dirs[directory] = self._walk(directory)
        return cached

    def _walk(self, top: Path) -> list[Found]:
        """Image files under `top` (itself resolved inside the root), a few levels deep.
        Symlinked directories are not entered; a symlinked file counts only if it resolves
        inside the root (the common case, a plain file, costs no resolve)."""
        found: list[Found] = []
        seen = 0
        pending = [(top, 0)]
        while pending and seen <= MAX_FILES:
            directory, depth = pending.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                seen += 1
                if seen > MAX_FILES:
                    break
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if depth + 1 < MAX_DEPTH:
                            pending.append((Path(entry.path), depth + 1))
                        continue
                    fmt = image_format(entry.name)
                    if fmt is None:
                        continue
                    if entry.is_symlink():
                        real = Path(entry.path).resolve()
                        if not real.is_relative_to(self.root) or not real.is_file():
                            continue  # a symlink out of the workflow's directory
                    stat = entry.stat()
                except (OSError, ValueError, RuntimeError):
                    continue
                rel = Path(entry.path).relative_to(self.root).as_posix()
                found.append(Found(rel, frame_of(entry.name), fmt, stat.st_size, stat.st_mtime))
        found.sort(key=lambda f: natural_key(f.path))
        return found


def _pattern(name: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(name)
    body = r"(-?\d+)".join(re.escape(p) for p in parts)
    return re.compile(f"^{body}$")
