"""Uploads: throughput against a plain copy of the same files, and a second upload of
unchanged files.

    .venv/bin/python -m bench.uploads            # 4 x 256 MB large files, 10,000 small files
    .venv/bin/python -m bench.uploads --quick    # 2 x 32 MB, 2,000 small files (~10 s)
    .venv/bin/python -m bench.uploads --s3       # also S3 (moto's server) vs boto3 upload_file

1. Large files to a directory: `Transfer` (8 MiB parts, 4 workers, hashing every part as it
   goes) against `shutil.copyfile` of the same files into the same destination filesystem
   (copy_file_range in the kernel, no hashing). Source files are written first, so both read
   them from the page cache; runs alternate and the medians are compared. Target: >= 90 % of
   the copy's throughput.
2. A second upload of unchanged small files (1 KB each): resolve, stat, the hash cache, the
   destination's listing and the ledger, nothing sent. Target: < 1 s per 10,000 files, with
   the ledger in memory and in the store (SQLite), which is what `storm uploader` uses.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Report, log, median, scratch_dir, sec
from stormflow.uploads.destinations import parse_destination
from stormflow.uploads.hashing import BLAKE3, DEFAULT_PART_SIZE, HashCache, file_hash
from stormflow.uploads.ledger import MemoryLedger
from stormflow.uploads.manifest import resolve
from stormflow.uploads.transfer import Options, Transfer

MB = 1000 * 1000


def _write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)


def _usage() -> float:
    """CPU seconds (user + system) of this process and of the children it waited for: less
    at the mercy of other sessions than wall time on a shared machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def large_files(report: Report, work: Path, count: int, size: int, repeats: int) -> None:
    src = work / "large"
    for n in range(count):
        _write(src / f"cache.{n:04d}.bgeo", size)
    files = resolve([str(src)], root=str(src)).files
    total = count * size
    times: dict[str, list[float]] = {"copyfile": [], "cp": [], "hash": [], "upload": []}
    cpu: dict[str, list[float]] = {name: [] for name in times}

    def copyfile(dest: Path) -> None:
        for f in files:
            shutil.copyfile(f.path, dest / f.key)

    def cp(dest: Path) -> None:
        subprocess.run(["cp", *[f.path for f in files], str(dest)], check=True)

    def hash_only(dest: Path) -> None:  # what recording a content hash costs at least
        for f in files:
            file_hash(f.path, DEFAULT_PART_SIZE, BLAKE3)

    def upload(dest: Path) -> None:
        transfer = Transfer(
            files, parse_destination(f"file://{dest}"), MemoryLedger(), options=Options(workers=4)
        )
        summary = transfer.run()
        assert summary.sent_bytes == total and not summary.failed

    runs = [("copyfile", copyfile), ("cp", cp), ("hash", hash_only), ("upload", upload)]
    for r in range(repeats):
        # Alternate the order; every run starts with no dirty pages (sync, untimed), reads
        # sources from the page cache and writes new files on the same filesystem.
        for name, run in runs if r % 2 == 0 else runs[::-1]:
            dest = work / f"{name}-{r}"
            dest.mkdir()
            os.sync()
            before = _usage()
            began = time.perf_counter()
            run(dest)
            times[name].append(time.perf_counter() - began)
            cpu[name].append(_usage() - before)
            shutil.rmtree(dest)
        log(
            f"large files run {r + 1}: "
            + ", ".join(
                f"{name} {took[-1]:.2f}s (cpu {cpu[name][-1]:.2f}s)" for name, took in times.items()
            )
        )
    rate = {name: total / median(took) for name, took in times.items()}
    hashed_rate = total / (median(times["copyfile"]) + median(times["hash"]))
    what = f"{count} x {size // MB} MB to a directory"
    section = "1. large files"
    report.info("file", section, f"shutil.copyfile ({what})", f"{rate['copyfile'] / MB:.0f} MB/s")
    report.info("file", section, f"cp ({what})", f"{rate['cp'] / MB:.0f} MB/s")
    report.info("file", section, "copyfile, then BLAKE3 of it", f"{hashed_rate / MB:.0f} MB/s")
    report.info("file", section, f"upload ({what})", f"{rate['upload'] / MB:.0f} MB/s")
    for name, label in (("copyfile", "shutil.copyfile"), ("cp", "cp"), ("upload", "upload")):
        per_gb = median(cpu[name]) / (total / 1e9)
        report.info("file", section, f"{label}: CPU seconds per GB", f"{per_gb:.2f} s")
    plain = max(rate["copyfile"], rate["cp"])
    ratio = rate["upload"] / plain
    report.check(
        "file", section, "upload / faster plain copy", f"{ratio:.0%}", ">= 90%", ratio >= 0.9
    )
    ratio = rate["upload"] / hashed_rate
    report.check(
        "file", section, "upload / (copy, then hash)", f"{ratio:.0%}", ">= 90%", ratio >= 0.9
    )
    report.note(f"load average after section 1: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def unchanged(report: Report, work: Path, count: int) -> None:
    from stormflow.store import Store
    from stormflow.uploads.storeledger import StoreLedger

    src = work / "small"
    for n in range(count):
        path = src / f"d{n // 1000:02d}" / f"tex.{n:05d}.tx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(n.to_bytes(4, "big") * 256)
    hashes = HashCache(work / "hashes.sqlite")
    url = f"file://{work / 'farm-small'}"
    files = resolve([str(src)], root=str(src)).files
    first = Transfer(files, parse_destination(url, hashes=hashes), MemoryLedger(), hashes=hashes)
    began = time.perf_counter()
    first.run()
    log(f"first upload of {count} small files: {time.perf_counter() - began:.2f}s")
    per = 10_000 / count

    def second() -> float:
        began = time.perf_counter()
        files = resolve([str(src)], root=str(src)).files  # the node resolves them as it runs
        cache = HashCache(work / "hashes.sqlite")
        summary = Transfer(
            files, parse_destination(url, hashes=cache), MemoryLedger(), hashes=cache
        ).run()
        took = time.perf_counter() - began
        assert summary.sent_files == 0 and summary.skipped_files == count
        return took

    took = median([second() for _ in range(3)])
    report.check(
        "file", "2. unchanged", f"second upload, {count} files (ledger in memory)",
        sec(took), f"< {1 / per:.2f} s", took * per < 1.0,
    )  # fmt: skip

    store = Store(f"sqlite:///{work / 'storm.db'}")
    try:
        ledger = StoreLedger(store, "wf", "upload", token="upload#1", destination=url)
        Transfer(files, parse_destination(url, hashes=hashes), ledger, hashes=hashes).run()

        def again(n: int) -> float:
            began = time.perf_counter()
            files = resolve([str(src)], root=str(src)).files
            ledger = StoreLedger(store, "wf", "upload", token=f"upload#{n}", destination=url)
            cache = HashCache(work / "hashes.sqlite")
            dest = parse_destination(url, hashes=cache)
            summary = Transfer(files, dest, ledger, hashes=cache).run()
            took = time.perf_counter() - began
            assert summary.skipped_files == count
            return took

        took = median([again(n) for n in range(2, 5)])
        report.check(
            "sqlite", "2. unchanged", f"second upload, {count} files (ledger in the store)",
            sec(took), f"< {1 / per:.2f} s", took * per < 1.0,
        )  # fmt: skip
    finally:
        store.close()


def s3_files(report: Report, work: Path, count: int, size: int) -> None:
    """S3 (moto's server, in memory): Transfer against boto3's transfer manager."""
    import socket

    import boto3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bench")
        src = work / "s3"
        for n in range(count):
            _write(src / f"plate.{n}.exr", size)
        files = resolve([str(src)], root=str(src)).files
        began = time.perf_counter()
        for f in files:
            client.upload_file(f.path, "bench", f"plain/{f.key}")
        plain = time.perf_counter() - began
        dest = parse_destination("s3://bench/storm", endpoint_url=endpoint)
        dest.client  # noqa: B018 -- made before the clock starts, as the baseline's was
        began = time.perf_counter()
        Transfer(files, dest, MemoryLedger(), options=Options(workers=4)).run()
        ours = time.perf_counter() - began
        total = count * size
        what = f"{count} x {size // MB} MB to S3 (moto)"
        report.info("s3", "3. s3", f"boto3 upload_file ({what})", f"{total / plain / MB:.0f} MB/s")
        report.info("s3", "3. s3", f"upload ({what})", f"{total / ours / MB:.0f} MB/s")
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--s3", action="store_true")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--large-only", action="store_true", help="section 1 alone")
    args = parser.parse_args(argv)
    report = Report()
    count, size, small, repeats = (2, 32 * MB, 2_000, 2) if args.quick else (4, 256 * MB, 10_000, 5)
    with scratch_dir("stormbench-uploads-", args.dir) as work:
        log(f"large files: {count} x {size // MB} MB")
        large_files(report, work, count, size, repeats)
        if args.large_only:
            print(report.table())
            return
        log(f"unchanged: {small} small files")
        unchanged(report, work, small)
        if args.s3:
            s3_files(report, work, 2, 16 * MB)
    print(report.table())


if __name__ == "__main__":
    main()
