"""The `upload` kind: the artist's files reach the farm's storage before the tasks reading them.

A node lists files, directories and globs (resolved when it runs, each file recorded with its
size and content hash) and a destination URL: `file:///mnt/projects/...` or
`s3://bucket/prefix` (with `endpoint_url` for MinIO, Ceph, Wasabi; credentials from the
environment or the named `profile`, never in the document). Only what is missing moves.

Where it runs: with `host` set, only that workstation's `storm uploader` serves it (the files
are there); without, the scheduler's executor runs it like any action.

Its rules: listed files that do not exist (error; fixer: remove them from the list), files
outside the project `root` (warning), huge files (warning), a destination that cannot be
parsed, reached or written (error; one cheap request, remembered for a minute), S3 parts
under 5 MiB (error; fixer: 8 MiB); and, for task nodes, files their commands read from this
machine that no upload upstream sends (warning; fixer: add them to an upload node).
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import socket
import time
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import Field

from stormflow.kinds.base import (
    LOST_RETRIES,
    RETRIES,
    RETRY_DELAY,
    ActionContext,
    ActionError,
    Kind,
    Param,
    params,
)
from stormflow.kinds.registry import register_kind
from stormflow.spec import fixers as fx
from stormflow.spec.entries import Entry, Fixer, RawDocument, error, warning
from stormflow.spec.validate import RawNode, RuleContext
from stormflow.uploads.destinations import DestinationError, destination_problem, parse_destination
from stormflow.uploads.hashing import DEFAULT_PART_SIZE, HashCache, MiB
from stormflow.uploads.ledger import Ledger, MemoryLedger
from stormflow.uploads.manifest import inside, is_glob, resolve
from stormflow.uploads.transfer import Options, Stopped, Transfer

KIND = "upload"
#: S3 refuses parts under 5 MiB (but the last).
S3_MIN_PART = 5 * MiB
#: Files above this size are worth a warning (an artist's stray cache, a wrong directory).
HUGE_FILE = 50 * 1000**3
#: Program directories: a command's binaries and libraries are not the artist's files.
SYSTEM_DIRS = ("/usr/", "/bin/", "/sbin/", "/lib", "/etc/", "/opt/", "/proc/", "/sys/", "/dev/")
#: How long a destination check is remembered (validation runs on every keystroke).
CHECK_TTL = 60.0

_checks: dict[tuple[str, str | None, str | None], tuple[float, str | None]] = {}


def _is_upload(node: RawNode) -> bool:
    return node.kind is not None and node.kind.name == KIND


def _entries(node: RawNode) -> list[str]:
    files = node.params.get("files")
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def _str(node: RawNode, key: str) -> str | None:
    value = node.params.get(key)
    return value if isinstance(value, str) and value else None


def _local(node: RawNode) -> bool:
    """Whether this machine can see the node's files (no host, or this host)."""
    host = _str(node, "host")
    return host is None or host == socket.gethostname()


def _absolute(entry: str, root: str | None) -> str:
    text = os.path.expanduser(entry)
    if not os.path.isabs(text) and root:
        text = os.path.join(os.path.expanduser(root), text)
    return os.path.normpath(os.path.abspath(text))


def _exists(entry: str, root: str | None) -> bool:
    """Cheap: a stat, or one glob; directories are not walked."""
    path = _absolute(entry, root)
    if is_glob(path):
        import glob

        return any(True for _ in glob.iglob(path, recursive=True))
    return os.path.exists(path)


# -- rules -------------------------------------------------------------------------------------


def upload_files(ctx: RuleContext) -> Iterator[Entry]:
    """Listed files exist (fixer: remove the missing ones); inside root; not huge."""
    for node in ctx.nodes:
        if not _is_upload(node) or not _local(node):
            continue
        root = _str(node, "root")
        entries = _entries(node)
        missing = [e for e in entries if not _exists(e, root)]
        if missing:

            def drop(raw: dict[str, Any], gone: frozenset[str] = frozenset(missing)) -> None:
                files = raw.get("files")
                if isinstance(files, list):
                    raw["files"] = [f for f in files if f not in gone]

            shown = ", ".join(repr(m) for m in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            yield error(
                "missing-file",
                f"upload {node.label!r}: {shown}{more} not found on this machine",
                nodes=node.names,
                field="files",
                fixers=(
                    fx.edit_node(
                        node.index,
                        node.label,
                        f"remove-missing:{node.label}",
                        f"remove the {len(missing)} missing file(s) from {node.label}'s list",
                        drop,
                    ),
                ),
            )
        if root:
            top = _absolute(root, None)
            outside = [e for e in entries if not inside(_absolute(e, root), top)]
            if outside:
                yield warning(
                    "outside-root",
                    f"upload {node.label!r}: {', '.join(map(repr, outside[:3]))} lie outside "
                    f"the project root {root!r} (they go under their absolute path)",
                    nodes=node.names,
                    field="files",
                )
        limit = node.params.get("warn_size", HUGE_FILE)
        if isinstance(limit, int) and not isinstance(limit, bool):
            for entry in entries:
                path = _absolute(entry, root)
                try:
                    size = os.stat(path).st_size if os.path.isfile(path) else 0
                except OSError:
                    continue
                if size > limit:
                    yield warning(
                        "huge-file",
                        f"upload {node.label!r}: {entry!r} is {size / 1000**3:.1f} GB "
                        f"(warn_size is {limit / 1000**3:.1f} GB)",
                        nodes=node.names,
                        field="files",
                    )


def check_destination(url: str, endpoint: str | None, profile: str | None) -> str | None:
    """One line when the destination is unusable; remembered for CHECK_TTL seconds."""
    key = (url, endpoint, profile)
    now = time.monotonic()
    found = _checks.get(key)
    if found is not None and now - found[0] < CHECK_TTL:
        return found[1]
    problem = destination_problem(url, endpoint, profile)
    _checks[key] = (now, problem)
    return problem


def upload_destination(ctx: RuleContext) -> Iterator[Entry]:
    """The destination parses, answers and takes a write; S3 parts are at least 5 MiB."""
    for node in ctx.nodes:
        url = _str(node, "destination")
        if not _is_upload(node) or url is None:
            continue
        endpoint, profile = _str(node, "endpoint_url"), _str(node, "profile")
        try:
            parse_destination(url, endpoint_url=endpoint, profile=profile)
        except DestinationError as exc:
            yield error("bad-destination", str(exc), nodes=node.names, field="destination")
            continue
        except Exception:
            pass  # not a parse problem: the check below names it
        problem = check_destination(url, endpoint, profile)
        if problem is not None:
            yield error("unreachable-destination", problem, nodes=node.names, field="destination")
        size = node.params.get("part_size")
        if url.startswith("s3:") and isinstance(size, int) and size < S3_MIN_PART:
            yield error(
                "part-too-small",
                f"upload {node.label!r}: S3 parts must be at least 5 MiB, part_size is {size}",
                nodes=node.names,
                field="part_size",
                fixers=(
                    fx.set_key(
                        node.index,
                        node.name,
                        "part_size",
                        DEFAULT_PART_SIZE,
                        f"set-part-size:{node.label}",
                    ),
                ),
            )


def _path_args(command: object) -> list[str]:
    if isinstance(command, list):
        args = [a for a in command[1:] if isinstance(a, str)]
    elif isinstance(command, str):
        try:
            args = shlex.split(command)[1:]
        except ValueError:
            args = command.split()[1:]
    else:
        return []
    found: list[str] = []
    for arg in args:
        for piece in (arg, arg.partition("=")[2]):
            if piece.startswith("/") and not piece.startswith(SYSTEM_DIRS):
                found.append(os.path.normpath(piece))
    return found


def _upstream(ctx: RuleContext, name: str) -> list[str]:
    """Every node upstream of `name`, nearest first."""
    ups: dict[str, list[str]] = {}
    for edge in ctx.edges:
        ups.setdefault(edge.downstream, []).append(edge.upstream)
    seen: list[str] = []
    frontier = list(ups.get(name, ()))
    while frontier:
        nxt: list[str] = []
        for up in frontier:
            if up not in seen:
                seen.append(up)
                nxt.extend(ups.get(up, ()))
        frontier = nxt
    return seen


def _covers(node: RawNode, path: str) -> bool:
    root = _str(node, "root")
    for entry in _entries(node):
        full = _absolute(entry, root)
        if full == path or inside(path, full) or (is_glob(full) and fnmatch.fnmatch(path, full)):
            return True
    url = _str(node, "destination") or ""
    if url.startswith("file://"):
        dest = os.path.normpath(url[len("file://") :])
        if inside(path, dest):
            return True  # read from where the upload puts it
    return False


def uncovered_paths(ctx: RuleContext) -> Iterator[Entry]:
    """Task commands reading files of this machine that no upload upstream sends."""
    uploads = [n for n in ctx.nodes if _is_upload(n) and n.name is not None]
    if not uploads:
        return  # a workflow without uploads runs where its files are
    by_name = {n.name: n for n in uploads}
    for node in ctx.nodes:
        commands = node.params.get("commands")
        if node.kind is None or node.kind.name != "task" or node.name is None:
            continue
        if not isinstance(commands, list):
            continue
        upstream = [by_name[u] for u in _upstream(ctx, node.name) if u in by_name]
        seen: set[str] = set()
        for command in commands:
            for path in _path_args(command):
                if path in seen or not os.path.isfile(path):
                    continue
                seen.add(path)
                if any(_covers(up, path) for up in upstream):
                    continue
                target = upstream[0] if upstream else uploads[0]
                yield warning(
                    "not-uploaded",
                    f"task {node.label!r} reads {path} but no upload upstream sends it",
                    nodes=node.names,
                    field="commands",
                    fixers=(_add_to_upload(target.name or "", node.name, path, bool(upstream)),),
                )


def _add_to_upload(upload: str, task: str, path: str, linked: bool) -> Fixer:
    def edit(doc: RawDocument) -> None:
        nodes = doc.get("nodes")
        if not isinstance(nodes, list):
            return
        for raw in nodes:
            if isinstance(raw, dict) and raw.get("name") == upload:
                files = raw.setdefault("files", [])
                if isinstance(files, list) and path not in files:
                    files.append(path)
        if not linked:
            edges = doc.setdefault("edges", [])
            if isinstance(edges, list) and [upload, task] not in edges:
                edges.append([upload, task])

    then = "" if linked else f" and run {task} after it"
    return Fixer(f"add-upload:{upload}:{path}", f"add {path} to {upload}{then}", edit)


# -- running it --------------------------------------------------------------------------------


def upload_payload(config: Mapping[str, Any], tokens: Mapping[str, str]) -> Mapping[str, Any]:
    keys = ("files", "destination", "endpoint_url", "profile", "root", "host")
    out: dict[str, Any] = {k: config[k] for k in keys if config.get(k) is not None}
    out["part_size"] = int(config.get("part_size") or DEFAULT_PART_SIZE)
    out["workers"] = int(config.get("workers") or 4)
    out["max_rate"] = float(config.get("max_rate") or 0)
    return out


def run_upload(payload: Mapping[str, Any], ctx: ActionContext) -> str:
    """Resolve the files now, send what is missing, return the summary line."""
    entries = [str(f) for f in payload.get("files") or ()]
    root = payload.get("root")
    resolved = resolve(entries, root=root, base=root)
    if resolved.missing:
        shown = ", ".join(resolved.missing[:3])
        raise ActionError(
            f"upload: not found: {shown}" + (" ..." if len(resolved.missing) > 3 else "")
        )
    cache = ctx.services.get("hash_cache")
    hashes = cache if isinstance(cache, HashCache) else HashCache(None)
    url = str(payload.get("destination", ""))
    try:
        dest = parse_destination(
            url,
            endpoint_url=payload.get("endpoint_url"),
            profile=payload.get("profile"),
            hashes=hashes,
            pool=int(payload.get("workers", 4)) * 2,
        )
    except DestinationError as exc:
        raise ActionError(str(exc)) from exc
    make = ctx.services.get("upload_ledger")
    ledger: Ledger = (
        make(ctx.workflow_id, ctx.node, ctx.token, url, payload.get("host"))
        if callable(make)
        else MemoryLedger()
    )
    transfer = Transfer(
        resolved.files,
        dest,
        ledger,
        hashes=hashes,
        options=Options(
            part_size=int(payload.get("part_size", DEFAULT_PART_SIZE)),
            workers=max(1, int(payload.get("workers", 4))),
            max_rate=float(payload.get("max_rate", 0)),
        ),
        stopped=ctx.stopped,
        on_progress=ctx.progress,
    )
    try:
        summary = transfer.run()
    except Stopped as exc:
        stopped = getattr(ledger, "stopped", None)
        if callable(stopped):
            stopped("stopped")
        raise ActionError("upload stopped") from exc
    except Exception as exc:
        raise ActionError(f"upload to {url} failed: {' '.join(str(exc).split())}") from exc
    if summary.failed:
        raise ActionError(summary.line())
    return summary.line()


PartSize = Annotated[int, Field(ge=64 * 1024, le=5 * 1024**3)]
Workers = Annotated[int, Field(ge=1, le=64)]

UPLOAD = register_kind(
    Kind(
        name="upload",
        description="sends files to the farm's storage (a directory or S3), only what is missing",
        runs="action",
        rules=(upload_files, upload_destination, uncovered_paths),
        payload=upload_payload,
        action=run_upload,
        params=params(
            Param(
                "files",
                list[str],
                "a list of paths",
                "files, directories and globs (resolved when the node runs)",
                required=True,
            ),
            Param(
                "destination",
                str,
                "a URL",
                "file:///mnt/projects/... or s3://bucket/prefix",
                required=True,
            ),
            Param("endpoint_url", str, "a URL", "S3 endpoint (MinIO, Ceph, Wasabi...)"),
            Param("profile", str, "a string", "named AWS profile holding the credentials"),
            Param(
                "root",
                str,
                "a path",
                "project root: keys are relative to it, relative entries start there",
            ),
            Param("host", str, "a host name", "the workstation whose `storm uploader` runs it"),
            Param("part_size", PartSize, "a whole number of bytes", "part size (default 8 MiB)"),
            Param("workers", Workers, "a whole number 1-64", "parallel parts (default 4)"),
            Param(
                "max_rate",
                Annotated[float, Field(ge=0, allow_inf_nan=False)],
                "a number of bytes per second >= 0",
                "bandwidth limit (0: none)",
            ),
            Param("warn_size", int, "a whole number of bytes", "warn about larger files"),
            RETRIES,
            RETRY_DELAY,
            LOST_RETRIES,
        ),
    )
)
