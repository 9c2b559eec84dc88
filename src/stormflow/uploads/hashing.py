"""Content hashes in the S3 ETag form, and a cache so unchanged files are not read again.

A file up to one part long hashes to its MD5; a longer one to the MD5 of its parts' MD5s
followed by "-<parts>", which is what S3 (and MinIO, Ceph, moto) report as the ETag of an
object uploaded in parts of that size. So a listing of the bucket is enough to know which
files are already there, and the parts of one file hash in parallel.

The cache is a small SQLite file keyed by (path, size, mtime_ns, inode, part size): editing
a file changes its mtime, so a stale hash is never used.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from stormflow.paths import PRIVATE_FILE, tighten

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB  # boto3's default multipart chunk size
FLUSH_EVERY = 1000  # cached hashes written per commit
#: Hashing reads through one reused buffer per thread, a block at a time while it is in the
#: CPU cache: reading into fresh 4 MiB bytes objects cost ~0.6 s of page faults per GB beside
#: ~0.2 s of hashing (BLAKE3 of 1 GB from the page cache: 0.8 -> 0.26 CPU seconds).
BLOCK = 128 * 1024

_buffers = threading.local()


def block_buffer() -> memoryview:
    """This thread's reused read buffer (no allocation, no page faults per block)."""
    buf: memoryview | None = getattr(_buffers, "block", None)
    if buf is None:
        buf = _buffers.block = memoryview(bytearray(BLOCK))
    return buf


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


#: S3 lists MD5-based ETags, so S3 destinations hash with MD5. Directories hash with BLAKE3:
#: cryptographic too, and SIMD-fast (about 1.7 GB/s per core here, MD5 0.5, SHA-256 0.8), so
#: hashing every part costs little beside the copy itself.
MD5, SHA256, BLAKE3 = "md5", "sha256", "blake3"


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> object: ...
    def digest(self) -> bytes: ...


def new_hash(algo: str, data: bytes = b"") -> Hasher:
    if algo == BLAKE3:
        from blake3 import blake3

        h: Hasher = blake3(data)
        return h
    return hashlib.new(algo, data)


def combine(part_digests: list[bytes], algo: str = MD5) -> str:
    """The file's hash from its parts' digests, in order (SHA-256 ones say so)."""
    if len(part_digests) == 1:
        text = part_digests[0].hex()
    else:
        whole = new_hash(algo, b"".join(part_digests)).digest().hex()
        text = f"{whole}-{len(part_digests)}"
    return text if algo == MD5 else f"{algo}:{text}"


def part_digest(fd: int, offset: int, length: int, algo: str = MD5) -> bytes:
    h = new_hash(algo)
    buf = block_buffer()
    done = 0
    while done < length:
        n = os.preadv(fd, [buf[: min(len(buf), length - done)]], offset + done)
        if not n:
            break
        h.update(buf[:n])
        done += n
    return h.digest()


def file_hash(path: str, part_size: int = DEFAULT_PART_SIZE, algo: str = MD5) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        digests = [
            part_digest(fd, n * part_size, min(part_size, size - n * part_size), algo)
            for n in range(part_count(size, part_size))
        ]
    finally:
        os.close(fd)
    return combine(digests, algo)


def normalize_etag(etag: str | None) -> str | None:
    return etag.strip('"').lower() if etag else None


class HashCache:
    """(path, size, mtime_ns, inode, part size) -> hash, kept in one SQLite file. The hash
    says its algorithm (SHA-256 ones start with "sha256:"): lookups ask for one."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._memory: dict[tuple[str, int, int, int, int, str], str] = {}
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, int, int, int, int, str, str]] = []
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
                tighten(path, PRIVATE_FILE)  # it names the artist's files: theirs alone
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS hashes (path TEXT, size INTEGER, mtime_ns INTEGER,"
                    " ino INTEGER, part_size INTEGER, algo TEXT, hash TEXT NOT NULL,"
                    " PRIMARY KEY (path, size, mtime_ns, ino, part_size, algo))"
                )
                self._db.commit()
            except sqlite3.Error:
                self._db = None  # a cache: without it files are read again, nothing breaks

    def preload(self, paths: Iterable[str]) -> None:
        """Read the cached hashes of these paths in a few queries (a second upload of 10,000
        unchanged files must not pay one query per file): many paths under one directory
        are read as one range of the primary key, a few by name."""
        if self._db is None:
            return
        wanted = sorted(set(paths))
        if not wanted:
            return
        if len(wanted) > 1000:
            # sorted: the common prefix of all is that of the first and the last
            top = os.path.commonpath([wanted[0], wanted[-1]]).rstrip("/") + "/"
            # "/" + 1 is "0": every path below `top` sorts inside [top, top-with-"0")
            self._load("path >= ? AND path < ?", [top, top[:-1] + "0"])
            return
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            self._load(f"path IN ({','.join('?' * len(batch))})", batch)

    def _load(self, where: str, params: list[str]) -> None:
        assert self._db is not None
        with self._lock:
            try:
                columns = "path, size, mtime_ns, ino, part_size, algo, hash"
                rows = self._db.execute(
                    f"SELECT {columns} FROM hashes WHERE {where}", params
                ).fetchall()
            except sqlite3.Error:
                return
            for p, s, m, i, ps, a, h in rows:
                self._memory[(p, s, m, i, ps, a)] = h

    def get(
        self, path: str, size: int, mtime_ns: int, ino: int, part_size: int, algo: str = MD5
    ) -> str | None:
        key = (path, size, mtime_ns, ino, part_size, algo)
        with self._lock:
            found = self._memory.get(key)
            if found is not None or self._db is None:
                return found
            try:
                row = self._db.execute(
                    "SELECT hash FROM hashes WHERE path=? AND size=? AND mtime_ns=? AND ino=?"
                    " AND part_size=? AND algo=?",
                    key,
                ).fetchone()
            except sqlite3.Error:
                return None
        return str(row[0]) if row else None

    def put(self, path: str, size: int, mtime_ns: int, ino: int, part_size: int, h: str) -> None:
        self.put_many([(path, size, mtime_ns, ino, part_size, h)])

    def put_many(self, rows: list[tuple[str, int, int, int, int, str]]) -> None:
        """Remember hashes (their algorithm read from the hash itself)."""
        if not rows:
            return
        full = [(p, s, m, i, ps, algo_of(h), h) for p, s, m, i, ps, h in rows]
        with self._lock:
            for p, s, m, i, ps, a, h in full:
                self._memory[(p, s, m, i, ps, a)] = h
            if self._db is None:
                return
            # Written in batches: a commit per file cost 2 ms each (10,000 small files: 20 s).
            self._pending.extend(full)
            if len(self._pending) >= FLUSH_EVERY:
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._db is None or not self._pending:
            return
        rows, self._pending = self._pending, []
        try:
            self._db.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.commit()
        except sqlite3.Error:
            pass

    def hash_of(self, path: str, part_size: int, algo: str = MD5) -> str:
        """The file's hash, from the cache when its stat matches, else read (and cached)."""
        st = os.stat(path)
        found = self.get(path, st.st_size, st.st_mtime_ns, st.st_ino, part_size, algo)
        if found is not None:
            return found
        h = file_hash(path, part_size, algo)
        self.put(path, st.st_size, st.st_mtime_ns, st.st_ino, part_size, h)
        return h

    def close(self) -> None:
        with self._lock:
            self._flush()
            if self._db is not None:
                self._db.close()
                self._db = None


def algo_of(file_hash_text: str) -> str:
    head, sep, _ = file_hash_text.partition(":")
    return head if sep else MD5
