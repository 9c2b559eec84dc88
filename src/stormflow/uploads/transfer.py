"""The transfer: only what is missing moves, large files in parallel parts, resumable.

For every file: when the destination already holds its key with the same size and content
hash, it is skipped (its bytes count as saved). Otherwise it goes part by part, every part
hashed (a directory: copied by the kernel into `<name>.storm-partial` at its offset, hashed
from the page cache, renamed when whole; S3: read once, `upload_part` of a multipart upload,
the MD5 checked by the server). Every stored part is recorded in the ledger, so an attempt
after a kill sends only the parts that were not stored.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from stormflow.uploads.destinations import Destination, FileDestination
from stormflow.uploads.hashing import (
    DEFAULT_PART_SIZE,
    HashCache,
    combine,
    new_hash,
    part_count,
)
from stormflow.uploads.ledger import DONE, SKIPPED, FileState, Ledger
from stormflow.uploads.manifest import SourceFile


class Stopped(Exception):
    """The attempt was asked to stop (cancel, skip, timeout) between two parts."""


@dataclass(frozen=True)
class Options:
    part_size: int = DEFAULT_PART_SIZE
    workers: int = 4
    progress_every: float = 0.5
    pause_poll: float = 0.25
    #: Bytes per second at most over the whole transfer (0: no limit): an artist's uplink
    #: is shared with their session.
    max_rate: float = 0.0


@dataclass
class Summary:
    destination: str
    files: int = 0
    sent_files: int = 0
    sent_bytes: int = 0
    skipped_files: int = 0
    saved_bytes: int = 0
    total_bytes: int = 0
    seconds: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        rate = self.sent_bytes / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"uploaded {self.sent_files} of {self.files} file(s) ({human(self.sent_bytes)}) to "
            f"{self.destination} in {self.seconds:.1f}s ({human(rate)}/s)"
        )
        if self.skipped_files:
            text += (
                f"; {self.skipped_files} already there with the same content: "
                f"{human(self.saved_bytes)} saved"
            )
        if self.failed:
            path, error = self.failed[0]
            more = f" (and {len(self.failed) - 1} more)" if len(self.failed) > 1 else ""
            text += f"; {len(self.failed)} failed: {path}: {error}{more}"
        return text


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Meter:
    """Bytes per second over the last few seconds (a stall shows as a falling rate)."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()
        self.total = 0

    def add(self, n: int, now: float) -> None:
        self.total += n
        self.samples.append((now, self.total))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()

    def rate(self, now: float) -> float:
        if not self.samples:
            return 0.0
        t0, b0 = self.samples[0]
        if len(self.samples) == 1:
            t0, b0 = now - self.window, 0
        span = max(now - t0, 0.25)
        return (self.total - b0) / span if now - self.samples[-1][0] < self.window else 0.0


@dataclass
class _InFlight:
    key: str
    size: int
    done: int
    began: float


class Transfer:
    def __init__(
        self,
        files: list[SourceFile],
        destination: Destination,
        ledger: Ledger,
        *,
        hashes: HashCache | None = None,
        options: Options | None = None,
        stopped: Callable[[], bool] = lambda: False,
        on_progress: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.files = files
        self.dest = destination
        self.ledger = ledger
        self.hashes = hashes or HashCache(None)
        self.opts = options or Options()
        self.stopped = stopped
        self.on_progress = on_progress
        self.summary = Summary(destination.url, files=len(files))
        self.summary.total_bytes = sum(f.size for f in files)
        self._lock = threading.Lock()
        self._meter = Meter()
        self._inflight: dict[str, _InFlight] = {}
        self._done_bytes = 0
        self._done_files = 0
        self._paused = False
        self._paused_at = 0.0
        self._held = 0.0  # seconds spent paused
        self._began = time.monotonic()
        self._state = "checking"

    # -- progress --------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            rate = self._meter.rate(now)
            total = self.summary.total_bytes
            done = self._done_bytes
            files: list[dict[str, Any]] = [
                {
                    "path": path,
                    "key": f.key,
                    "size": f.size,
                    "done": f.done,
                    "rate": f.done / max(now - f.began, 0.25) if f.done else 0.0,
                }
                for path, f in sorted(self._inflight.items())
            ]
            for item in files:
                left = int(item["size"]) - int(item["done"])
                item["eta"] = left / rate if rate > 0 else None
            return {
                "state": "paused" if self._paused else self._state,
                "destination": self.dest.url,
                "files_total": self.summary.files,
                "files_done": self._done_files,
                "files_skipped": self.summary.skipped_files,
                "files_failed": len(self.summary.failed),
                "bytes_total": total,
                "bytes_done": done,
                "bytes_saved": self.summary.saved_bytes,
                "bytes_sent": self.summary.sent_bytes,
                "rate": rate,
                "eta": (total - done) / rate if rate > 0 else None,
                "elapsed": now - self._began,
                "files": files,
            }

    def _report(self) -> None:
        snap = self.snapshot()
        inflight = {f["path"]: int(f["done"]) for f in snap["files"]}
        with contextlib.suppress(Exception):  # a view: a busy store must not fail the upload
            self.ledger.progress(snap, inflight)
        if self.on_progress is not None:
            self.on_progress(snap)

    def _ticker(self, stop: threading.Event) -> None:
        while not stop.wait(self.opts.progress_every):
            self._report()

    # -- pause and stop ----------------------------------------------------------------------
    def _gate(self) -> None:
        """Between parts: stop when asked; wait while paused (the lease is still renewed)."""
        while True:
            if self.stopped():
                raise Stopped("stopped")
            now = time.monotonic()
            if now - self._paused_at >= self.opts.pause_poll:
                self._paused_at = now
                try:
                    self._paused = self.ledger.paused()
                except Exception:
                    self._paused = False
            if not self._paused:
                return
            time.sleep(self.opts.pause_poll)
            with self._lock:  # a pause is no credit: the rate limit holds after it too
                self._held += self.opts.pause_poll

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> Summary:
        ps = self.opts.part_size
        states = self.ledger.plan(self.files, ps)
        stop_ticker = threading.Event()
        ticker = threading.Thread(target=self._ticker, args=(stop_ticker,), daemon=True)
        ticker.start()
        try:
            self._gate()
            remotes = self.dest.existing(f.key for f in self.files)
            self.hashes.preload(f.path for f in self.files if f.key in remotes)
            if isinstance(self.dest, FileDestination):
                self.hashes.preload(self.dest.location(k) for k in remotes)
            self._state = "sending"
            with (
                ThreadPoolExecutor(self.opts.workers, "storm-upload-file") as files_pool,
                ThreadPoolExecutor(self._part_workers(), "storm-upload-part") as parts_pool,
            ):
                settled: list[FileState] = []
                to_check = [f for f in self.files if _same_size(remotes.get(f.key), f.size)]
                # Cached hashes on both sides decide here; the others are read in the pool.
                unchanged: dict[str, str | None] = {}
                to_read: list[SourceFile] = []
                for f in to_check:
                    known = self._cached_match(f, remotes[f.key])
                    if known is None:
                        to_read.append(f)
                    else:
                        unchanged[f.path] = known or None
                read = files_pool.map(lambda f: self._unchanged(f, remotes), to_read)
                unchanged.update(zip([f.path for f in to_read], read, strict=True))
                to_send: list[SourceFile] = []
                for f in self.files:
                    found = unchanged.get(f.path)
                    if found is None:
                        to_send.append(f)
                        continue
                    state = states[f.path]
                    already = state.state == DONE and state.hash == found
                    state.state = DONE if already else SKIPPED
                    state.hash, state.bytes_done = found, f.size
                    settled.append(state)
                    with self._lock:
                        self._done_files += 1
                        self._done_bytes += f.size
                        self.summary.skipped_files += 1
                        self.summary.saved_bytes += f.size
                self.ledger.settle(settled)
                futures = [
                    files_pool.submit(self._send, f, states[f.path], parts_pool) for f in to_send
                ]
                for future in futures:
                    exc = future.exception()
                    if isinstance(exc, Stopped):
                        for other in futures:
                            other.cancel()
                        raise exc
        finally:
            stop_ticker.set()
            ticker.join()
            self.hashes.flush()
            self.summary.seconds = time.monotonic() - self._began
        self._state = "failed" if self.summary.failed else "done"
        snap = self.snapshot()
        self.ledger.finished(snap, self.summary.line() if self.summary.failed else None)
        if self.on_progress is not None:
            self.on_progress(snap)
        return self.summary

    def _part_workers(self) -> int:
        """Parts copied at once. A directory: no more than the cores. The copy and the
        hash are CPU and memory bound, and ext4 serialises writes to one file on its inode
        lock: threads beyond the cores only wait on each other."""
        if isinstance(self.dest, FileDestination):
            return max(1, min(self.opts.workers, os.cpu_count() or 1))
        return self.opts.workers

    def _throttle(self) -> None:
        """Sleep so that the bytes sent so far took at least bytes / max_rate seconds."""
        if self.opts.max_rate <= 0:
            return
        with self._lock:
            due = self._began + self._held + self.summary.sent_bytes / self.opts.max_rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _cached_match(self, f: SourceFile, remote: Any) -> str | None:
        """From cached hashes alone: the hash when both sides match, "" when they differ,
        None when a side is not cached (read it)."""
        ps, algo = self.opts.part_size, self.dest.algo
        ours = self.hashes.get(f.path, f.size, f.mtime_ns, f.ino, ps, algo)
        if ours is None:
            return None
        if isinstance(self.dest, FileDestination):
            where = self.dest.location(f.key)
            theirs = self.hashes.get(where, remote.size, remote.mtime_ns, remote.ino, ps, algo)
        else:
            theirs = self.dest.remote_hash(f.key, remote, ps)
        if theirs is None:
            return None
        return ours if ours == theirs else ""

    def _unchanged(self, f: SourceFile, remotes: Mapping[str, Any]) -> str | None:
        """The file's hash when the destination holds the same content under its key."""
        self._gate()
        remote = remotes[f.key]
        try:
            theirs = self.dest.remote_hash(f.key, remote, self.opts.part_size)
            if theirs is None:
                return None
            # stat now: edited since it was resolved?
            ours = self.hashes.hash_of(f.path, self.opts.part_size, self.dest.algo)
        except OSError:
            return None
        return ours if ours == theirs else None

    def _send(self, f: SourceFile, state: FileState, parts_pool: ThreadPoolExecutor) -> None:
        try:
            self._send_file(f, state, parts_pool)
        except Stopped:
            raise
        except Exception as exc:
            error = " ".join(str(exc).split()) or type(exc).__name__
            with self._lock:
                self.summary.failed.append((f.path, error))
                self._inflight.pop(f.path, None)
            with contextlib.suppress(Exception):
                self.ledger.file_failed(f.path, error)

    def _send_file(self, f: SourceFile, state: FileState, parts_pool: ThreadPoolExecutor) -> None:
        self._gate()
        ps = self.opts.part_size
        algo = self.dest.algo
        count = part_count(f.size, ps)
        # Keep the parts the ledger recorded for an unchanged source (S3: those the server
        # still holds; a directory: those in the partial file).
        writer = self.dest.open(f.key, f.size, ps, state.parts, state.upload_id)
        parts: dict[int, str] = {n: h for n, h in writer.done_parts.items() if 1 <= n <= count}
        self.ledger.begin(f.path, self.dest.upload_id(writer), parts)
        kept = sum(min(ps, f.size - (n - 1) * ps) for n in parts)
        with self._lock:
            self._inflight[f.path] = _InFlight(f.key, f.size, kept, time.monotonic())
            self._done_bytes += kept
            self.summary.saved_bytes += kept
        fd = os.open(f.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if os.fstat(fd).st_size != f.size:
                raise OSError(f"{f.path} changed size while uploading")

            def one(number: int) -> None:
                self._gate()
                offset = (number - 1) * ps
                length = min(ps, f.size - offset)
                copy = getattr(writer, "copy_part", None)
                if copy is not None:  # a directory: one pass, hashed as it is copied
                    stored = copy(fd, offset, length, algo).hex()
                else:
                    data = os.pread(fd, length, offset) if length else b""
                    if len(data) != length:
                        raise OSError(f"{f.path} shrank while uploading")
                    digest = new_hash(algo, data).digest()
                    stored = writer.write_part(number, offset, data, digest)
                with self._lock:
                    parts[number] = stored
                    flight = self._inflight[f.path]
                    flight.done += length
                    done = flight.done
                    self._done_bytes += length
                    self.summary.sent_bytes += length
                    self._meter.add(length, time.monotonic())
                self.ledger.part_done(f.path, number, stored, done)
                self._throttle()

            todo = [n for n in range(1, count + 1) if n not in parts]
            if len(todo) <= 1:
                for n in todo:
                    one(n)
            else:
                futures: list[Future[None]] = [parts_pool.submit(one, n) for n in todo]
                wait(futures, return_when=FIRST_EXCEPTION)
                failure = next(
                    (x.exception() for x in futures if x.done() and x.exception() is not None),
                    None,
                )
                if failure is not None:
                    for other in futures:
                        other.cancel()
                    wait(futures)  # no part still writes into a file we give up on
                    raise failure
        finally:
            os.close(fd)
        file_hash = combine([bytes.fromhex(parts[n]) for n in range(1, count + 1)], algo)
        writer.finish(parts, file_hash)
        self.hashes.put(f.path, f.size, f.mtime_ns, f.ino, ps, file_hash)
        if isinstance(self.dest, FileDestination):
            self.dest.remember(f.key, ps, file_hash)
        self.ledger.file_done(f.path, file_hash, f.size)
        with self._lock:
            self._inflight.pop(f.path, None)
            self._done_files += 1
            self.summary.sent_files += 1


def _same_size(remote: Any, size: int) -> bool:
    return remote is not None and int(remote.size) == size
