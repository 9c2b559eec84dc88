"""What an upload node lists (files, directories, globs) resolved into files when it runs.

Each file gets a key: its path relative to the node's `root` when it is inside it, else its
absolute path without the leading slash, so the destination mirrors the workstation's tree and
a render finds `<destination>/<key>` without being told a mapping.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass

GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class SourceFile:
    path: str  # absolute, normalized
    key: str  # where it goes under the destination
    size: int
    mtime_ns: int
    ino: int


@dataclass(frozen=True)
class Resolved:
    files: list[SourceFile]
    missing: list[str]  # entries that matched nothing


def is_glob(entry: str) -> bool:
    return any(c in entry for c in GLOB_CHARS)


def key_for(path: str, root: str | None) -> str:
    """Both normalized absolute paths: string work only (10,000 files resolve in ~0.1 s)."""
    if root:
        top = root.rstrip("/") + "/"
        if path.startswith(top):
            return path[len(top) :]
    return path.lstrip("/")


def inside(path: str, root: str) -> bool:
    """Whether `path` is `root` or below it (both absolute, normalized)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def _expand(entry: str, base: str | None) -> list[str]:
    """The file paths one entry names now: a file, every file under a directory, glob hits."""
    text = os.path.expanduser(entry)
    if not os.path.isabs(text):
        text = os.path.join(base or os.getcwd(), text)
    text = os.path.normpath(text)
    names = sorted(glob.glob(text, recursive=True)) if is_glob(text) else [text]
    found: list[str] = []
    for name in names:
        if os.path.isdir(name):
            for top, dirs, files in os.walk(name):
                dirs.sort()
                found.extend(os.path.join(top, f) for f in sorted(files))
        elif os.path.isfile(name):
            found.append(name)
    return found


def resolve(entries: Iterable[str], root: str | None = None, base: str | None = None) -> Resolved:
    """Every file the entries name (each once, in order), and the entries that named none."""
    root_path = os.path.abspath(os.path.expanduser(root)) if root else None
    seen: set[str] = set()
    files: list[SourceFile] = []
    missing: list[str] = []
    for entry in entries:
        paths = _expand(entry, base)
        if not paths:
            missing.append(entry)
            continue
        for path in paths:
            if path in seen:
                continue
            seen.add(path)
            try:
                st = os.stat(path)
            except OSError:
                missing.append(path)
                continue
            files.append(
                SourceFile(path, key_for(path, root_path), st.st_size, st.st_mtime_ns, st.st_ino)
            )
    return Resolved(files, missing)
