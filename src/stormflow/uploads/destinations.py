"""Where uploads go: a directory (`file:///mnt/projects/...`) or an S3-compatible bucket
(`s3://bucket/prefix`, with an endpoint URL for MinIO, Ceph, Wasabi...).

Credentials never come from the workflow document: boto3 reads them from the environment
(AWS_ACCESS_KEY_ID...) or from the named profile in ~/.aws.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from stormflow.uploads.hashing import (
    BLAKE3,
    MD5,
    HashCache,
    normalize_etag,
    part_digest,
)

PARTIAL_SUFFIX = ".storm-partial"


class DestinationError(Exception):
    """The destination is unusable; the message is one line naming it."""


@dataclass(frozen=True)
class Remote:
    """A file already at the destination: its size and, when the listing gives it, its hash."""

    size: int
    etag: str | None = None
    mtime_ns: int = 0  # a directory's file: its stat, the hash cache's key
    ino: int = 0


class Writer(Protocol):
    """One file being written in parts: parts may arrive in any order, from many threads."""

    done_parts: Mapping[int, str]  # parts already stored (resumed): number -> hash

    def write_part(self, number: int, offset: int, data: bytes, digest: bytes) -> str: ...
    def finish(self, parts: Mapping[int, str], file_hash: str) -> None: ...


class Destination(Protocol):
    url: str
    algo: str  # the hash its listing or cache compares: md5 (S3 ETags) or sha256

    def check(self) -> None: ...
    def existing(self, keys: Iterable[str]) -> dict[str, Remote]: ...
    def remote_hash(self, key: str, remote: Remote, part_size: int) -> str | None: ...
    def open(
        self, key: str, size: int, part_size: int, parts: Mapping[int, str], upload_id: str | None
    ) -> Writer: ...
    def upload_id(self, writer: Writer) -> str | None: ...
    def location(self, key: str) -> str: ...


def safe_key(key: str) -> str:
    if "\\" not in key and "/." not in key and not key.startswith((".", "/")) and "//" not in key:
        return key  # already clean: the common case, no list built
    parts = [p for p in key.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise DestinationError(f"refusing key {key!r}: it leaves the destination")
    return "/".join(parts)


# -- a directory -----------------------------------------------------------------------------


class _FileWriter:
    def __init__(self, final: Path, size: int, parts: Mapping[int, str]) -> None:
        self.final = final
        self.partial = final.with_name(final.name + PARTIAL_SUFFIX)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        resumable = bool(parts) and self.partial.is_file() and self.partial.stat().st_size == size
        self.done_parts: Mapping[int, str] = dict(parts) if resumable else {}
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
        if not resumable:
            # A new file rather than ftruncate(0) of a stale one: ext4 flushes a file that
            # was truncated to zero when it is closed (auto_da_alloc), which cost ~0.1 s of
            # synchronous writeback per 256 MB file on the hot path.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.partial)
            flags |= os.O_EXCL
        self.fd = os.open(self.partial, flags, 0o644)
        if not resumable:
            os.ftruncate(self.fd, size)  # grows: parts land at their offsets, in any order

    def write_part(self, number: int, offset: int, data: bytes, digest: bytes) -> str:
        view = memoryview(data)
        written = 0
        while written < len(view):
            written += os.pwrite(self.fd, view[written:], offset + written)
        return digest.hex()

    def copy_part(self, src_fd: int, offset: int, length: int, algo: str) -> bytes:
        """Copy one part in the kernel (copy_file_range: no pass through Python's memory),
        then hash it from the page cache through this thread's reused buffer."""
        done = 0
        while done < length:
            n = os.copy_file_range(src_fd, self.fd, length - done, offset + done, offset + done)
            if n == 0:
                raise OSError(f"source ended early at byte {offset + done}")
            done += n
        return part_digest(src_fd, offset, length, algo)

    def finish(self, parts: Mapping[int, str], file_hash: str) -> None:
        os.close(self.fd)
        os.replace(self.partial, self.final)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class FileDestination:
    algo = BLAKE3

    def __init__(self, url: str, root: Path, hashes: HashCache) -> None:
        self.url = url
        self.root = root
        self.hashes = hashes

    def location(self, key: str) -> str:
        return os.path.join(str(self.root), safe_key(key))

    def check(self) -> None:
        """Writable, or creatable under its nearest existing parent: a stat and an access()."""
        probe = self.root
        while not probe.exists():
            if probe.parent == probe:
                break
            probe = probe.parent
        if not probe.is_dir():
            raise DestinationError(f"destination {self.url}: {probe} is not a directory")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise DestinationError(f"destination {self.url}: {probe} is not writable")

    def existing(self, keys: Iterable[str]) -> dict[str, Remote]:
        found: dict[str, Remote] = {}
        top = str(self.root)
        for key in keys:
            try:
                st = os.stat(os.path.join(top, safe_key(key)))
            except OSError:
                continue
            found[key] = Remote(st.st_size, None, st.st_mtime_ns, st.st_ino)
        return found

    def remote_hash(self, key: str, remote: Remote, part_size: int) -> str | None:
        try:
            return self.hashes.hash_of(self.location(key), part_size, self.algo)
        except OSError:
            return None

    def open(
        self, key: str, size: int, part_size: int, parts: Mapping[int, str], upload_id: str | None
    ) -> Writer:
        return _FileWriter(self.root / safe_key(key), size, parts)

    def upload_id(self, writer: Writer) -> str | None:
        return None

    def remember(self, key: str, part_size: int, file_hash: str) -> None:
        """Cache the hash of a file just written, so the next upload need not read it."""
        path = str(self.root / safe_key(key))
        st = os.stat(path)
        self.hashes.put(path, st.st_size, st.st_mtime_ns, st.st_ino, part_size, file_hash)


# -- S3 and compatible -----------------------------------------------------------------------


def _client(endpoint_url: str | None, profile: str | None, pool: int) -> Any:
    import boto3
    from botocore.config import Config

    try:
        session = (
            boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
        )
    except Exception as exc:  # botocore's ProfileNotFound and friends
        raise DestinationError(f"AWS profile {profile!r}: {exc}") from exc
    config = Config(
        max_pool_connections=max(10, pool),
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
    )
    return session.client("s3", endpoint_url=endpoint_url or None, config=config)


@dataclass
class _S3Writer:
    dest: S3Destination
    key: str
    size: int
    part_size: int
    upload: str | None
    done_parts: Mapping[int, str] = field(default_factory=dict)
    single: bytes | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write_part(self, number: int, offset: int, data: bytes, digest: bytes) -> str:
        if self.upload is None:  # one part: put whole at finish (its ETag is the MD5)
            self.single = data
            return digest.hex()
        answer = self.dest.client.upload_part(
            Bucket=self.dest.bucket,
            Key=self.key,
            UploadId=self.upload,
            PartNumber=number,
            Body=data,
            ContentMD5=base64.b64encode(digest).decode(),
        )
        return normalize_etag(answer.get("ETag")) or digest.hex()

    def finish(self, parts: Mapping[int, str], file_hash: str) -> None:
        c = self.dest.client
        if self.upload is None:
            body = self.single if self.single is not None else b""
            c.put_object(Bucket=self.dest.bucket, Key=self.key, Body=body)
            return
        c.complete_multipart_upload(
            Bucket=self.dest.bucket,
            Key=self.key,
            UploadId=self.upload,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": f'"{parts[n]}"'} for n in sorted(parts)]
            },
        )


class S3Destination:
    algo = MD5

    def __init__(
        self,
        url: str,
        bucket: str,
        prefix: str,
        endpoint_url: str | None,
        profile: str | None,
        pool: int = 10,
    ) -> None:
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.profile = profile
        self.pool = pool
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """Made on first use: parsing a destination (validation) costs no session."""
        with self._client_lock:
            if self._client is None:
                self._client = _client(self.endpoint_url, self.profile, self.pool)
            return self._client

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{safe_key(key)}" if self.prefix else safe_key(key)

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def check(self) -> None:
        """The bucket answers and takes a write: a HEAD and a zero-byte put (then deleted)."""
        from botocore.exceptions import BotoCoreError, ClientError

        probe = self.object_key(".storm-write-check")
        try:
            self.client.head_bucket(Bucket=self.bucket)
            self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"")
            self.client.delete_object(Bucket=self.bucket, Key=probe)
        except (BotoCoreError, ClientError) as exc:
            raise DestinationError(f"destination {self.url}: {_one_line(exc)}") from exc

    def existing(self, keys: Iterable[str]) -> dict[str, Remote]:
        """One listing of the prefix (1,000 keys per request), not a HEAD per file."""
        wanted = {self.object_key(k): k for k in keys}
        if not wanted:
            return {}
        found: dict[str, Remote] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        start = f"{self.prefix}/" if self.prefix else ""
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            for item in page.get("Contents", ()):
                key = wanted.get(item["Key"])
                if key is not None:
                    found[key] = Remote(int(item["Size"]), normalize_etag(item.get("ETag")))
        return found

    def remote_hash(self, key: str, remote: Remote, part_size: int) -> str | None:
        return remote.etag

    def open(
        self, key: str, size: int, part_size: int, parts: Mapping[int, str], upload_id: str | None
    ) -> Writer:
        from botocore.exceptions import ClientError

        okey = self.object_key(key)
        if size <= part_size:
            return _S3Writer(self, okey, size, part_size, None)
        if upload_id:
            try:
                stored = self._stored_parts(okey, upload_id)
            except ClientError:
                stored = None  # gone (aborted, expired): start again
            if stored is not None:
                # Parts the server holds whose size is what this file's part would be.
                return _S3Writer(self, okey, size, part_size, upload_id, stored)
        answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=okey)
        return _S3Writer(self, okey, size, part_size, str(answer["UploadId"]))

    def _stored_parts(self, okey: str, upload_id: str) -> dict[int, str]:
        parts: dict[int, str] = {}
        paginator = self.client.get_paginator("list_parts")
        for page in paginator.paginate(Bucket=self.bucket, Key=okey, UploadId=upload_id):
            for part in page.get("Parts", ()):
                parts[int(part["PartNumber"])] = normalize_etag(part.get("ETag")) or ""
        return parts

    def upload_id(self, writer: Writer) -> str | None:
        return writer.upload if isinstance(writer, _S3Writer) else None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def parse_destination(
    url: str,
    *,
    endpoint_url: str | None = None,
    profile: str | None = None,
    hashes: HashCache | None = None,
    pool: int = 10,
) -> Destination:
    """A Destination for `file:///dir` or `s3://bucket/prefix`; DestinationError otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DestinationError(f"destination {url}: file URLs name a local path (file:///...)")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise DestinationError(f"destination {url}: needs an absolute path (file:///...)")
        return FileDestination(url, Path(os.path.normpath(path)), hashes or HashCache(None))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise DestinationError(f"destination {url}: names no bucket (s3://bucket/prefix)")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise DestinationError(
                f"destination {url}: credentials and options do not belong in the URL "
                "(use the environment or a named profile)"
            )
        return S3Destination(url, parts.netloc, parts.path, endpoint_url, profile, pool)
    raise DestinationError(f"destination {url!r}: use file:///path or s3://bucket/prefix")


def destination_problem(url: str, endpoint_url: str | None, profile: str | None) -> str | None:
    """One line when the destination cannot be parsed, reached or written; None when fine."""
    try:
        parse_destination(url, endpoint_url=endpoint_url, profile=profile).check()
    except DestinationError as exc:
        return str(exc)
    except Exception as exc:  # botocore raises many shapes; a check never crashes validation
        return f"destination {url}: {_one_line(exc)}"
    return None
