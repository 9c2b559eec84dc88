"""The transfer engine against a directory and a real S3-protocol server: only what is
missing moves, large files in parts, resumed from the parts stored; progress; pause."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from stormflow.uploads.destinations import DestinationError, parse_destination
from stormflow.uploads.hashing import HashCache, file_hash
from stormflow.uploads.ledger import DONE, SKIPPED, MemoryLedger
from stormflow.uploads.manifest import resolve
from stormflow.uploads.transfer import Options, Stopped, Transfer

from .conftest import S3, write_random

KiB = 1024
MiB = 1024 * KiB


def _project(tmp_path: Path) -> Path:
    src = tmp_path / "project"
    write_random(src / "scene.ma", 300 * KiB, 1)
    write_random(src / "tex" / "wood.exr", 40 * KiB, 2)
    write_random(src / "tex" / "metal.exr", 10, 3)
    return src


def test_directory_upload_then_nothing_moves_the_second_time(tmp_path: Path) -> None:
    src = _project(tmp_path)
    files = resolve([str(src)], root=str(src)).files
    hashes = HashCache(tmp_path / "hashes.sqlite")
    dest = parse_destination(f"file://{tmp_path}/farm", hashes=hashes)
    opts = Options(part_size=64 * KiB, workers=3)
    first = Transfer(files, dest, MemoryLedger(), hashes=hashes, options=opts).run()
    assert (first.sent_files, first.sent_bytes, first.skipped_files) == (3, 340 * KiB + 10, 0)
    for f in files:
        assert (tmp_path / "farm" / f.key).read_bytes() == Path(f.path).read_bytes()
    assert not list((tmp_path / "farm").rglob("*.storm-partial"))

    second = Transfer(files, dest, MemoryLedger(), hashes=hashes, options=opts).run()
    assert (second.sent_files, second.sent_bytes) == (0, 0)
    assert (second.skipped_files, second.saved_bytes) == (3, 340 * KiB + 10)
    assert "saved" in second.line()

    # one changed file moves again; a file with the same size but other content too
    write_random(src / "tex" / "wood.exr", 40 * KiB, 99)
    files = resolve([str(src)], root=str(src)).files
    third = Transfer(files, dest, MemoryLedger(), hashes=hashes, options=opts).run()
    assert (third.sent_files, third.sent_bytes) == (1, 40 * KiB)
    assert (tmp_path / "farm" / "tex" / "wood.exr").read_bytes() == (
        src / "tex" / "wood.exr"
    ).read_bytes()


def _stop_after(parts: int, ledger: MemoryLedger) -> threading.Event:
    """An event set once `parts` parts are stored (the stop flag of a killed attempt)."""
    flag = threading.Event()
    original = ledger.part_done

    def counting(path: str, number: int, part_hash: str, bytes_done: int) -> None:
        original(path, number, part_hash, bytes_done)
        if sum(len(s.parts) for s in ledger.files.values()) >= parts:
            flag.set()

    ledger.part_done = counting  # type: ignore[method-assign]
    return flag


@pytest.mark.parametrize("where", ["directory", "s3"])
def test_an_interrupted_file_resumes_from_the_stored_parts(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    part = 64 * KiB if where == "directory" else 5 * MiB
    big = write_random(tmp_path / "src" / "cache.bgeo", part * 2 + 123, 5)
    files = resolve([str(big)], root=str(tmp_path / "src")).files
    if where == "s3":
        s3: S3 = request.getfixturevalue("s3")
        url, endpoint = s3.url(), s3.endpoint
    else:
        url, endpoint = f"file://{tmp_path}/farm", None
    dest = parse_destination(url, endpoint_url=endpoint)
    ledger = MemoryLedger()
    stop = _stop_after(1, ledger)
    opts = Options(part_size=part, workers=1)
    with pytest.raises(Stopped):
        Transfer(files, dest, ledger, options=opts, stopped=stop.is_set).run()
    stored = dict(ledger.files[str(big)].parts)
    assert 1 <= len(stored) < 3

    summary = Transfer(files, dest, ledger, options=opts).run()
    assert summary.sent_files == 1
    assert summary.sent_bytes == big.stat().st_size - len(stored) * part  # only the rest moved
    assert ledger.files[str(big)].state == DONE
    assert ledger.files[str(big)].hash == file_hash(str(big), part, dest.algo)
    if where == "s3":
        body = dest.client.get_object(Bucket=s3.bucket, Key="proj/cache.bgeo")["Body"].read()  # type: ignore[attr-defined]
        assert body == big.read_bytes()
        again = Transfer(files, dest, MemoryLedger(), options=opts).run()
        assert (again.sent_bytes, again.skipped_files) == (0, 1)  # the ETag is the hash
    else:
        assert (tmp_path / "farm" / "cache.bgeo").read_bytes() == big.read_bytes()


def test_s3_upload_skips_what_the_bucket_holds(tmp_path: Path, s3: S3) -> None:
    src = _project(tmp_path)
    files = resolve([str(src / "scene.ma"), str(src / "tex" / "*.exr")], root=str(src)).files
    assert sorted(f.key for f in files) == ["scene.ma", "tex/metal.exr", "tex/wood.exr"]
    dest = parse_destination(s3.url("shows/sh010"), endpoint_url=s3.endpoint)
    dest.check()
    first = Transfer(files, dest, MemoryLedger()).run()
    assert first.sent_files == 3 and not first.failed
    ledger = MemoryLedger()
    second = Transfer(files, dest, ledger).run()
    assert (second.sent_files, second.skipped_files) == (0, 3)
    assert {s.state for s in ledger.files.values()} == {SKIPPED}


def test_progress_reports_bytes_rate_and_eta_per_file_and_node(tmp_path: Path) -> None:
    big = write_random(tmp_path / "src" / "plate.exr", 640 * KiB, 7)
    files = resolve([str(big)]).files
    dest = parse_destination(f"file://{tmp_path}/farm")
    seen: list[dict[str, object]] = []
    opts = Options(part_size=64 * KiB, workers=2, progress_every=0.05, max_rate=2 * MiB)
    Transfer(files, dest, MemoryLedger(), options=opts, on_progress=seen.append).run()
    moving = [s for s in seen if s["files"]]
    assert moving, "no progress while the file moved"
    done = [int(s["bytes_done"]) for s in seen]  # type: ignore[call-overload]
    assert done == sorted(done) and done[-1] == 640 * KiB
    assert any(float(s["rate"]) > 0 and s["eta"] is not None for s in moving)  # type: ignore[arg-type]
    file_figures = moving[-1]["files"][0]  # type: ignore[index]
    assert {"path", "key", "size", "done", "rate", "eta"} <= set(file_figures)
    assert seen[-1]["state"] == "done"


def test_pause_holds_the_transfer_and_resume_finishes_it(tmp_path: Path) -> None:
    big = write_random(tmp_path / "src" / "plate.exr", 512 * KiB, 8)
    files = resolve([str(big)]).files  # no root: the key is the absolute path
    farm = tmp_path / "farm" / str(big).lstrip("/")
    dest = parse_destination(f"file://{tmp_path}/farm")
    ledger = MemoryLedger()
    ledger.pause.set()
    opts = Options(part_size=64 * KiB, workers=1, pause_poll=0.02)
    result: list[object] = []
    thread = threading.Thread(
        target=lambda: result.append(Transfer(files, dest, ledger, options=opts).run())
    )
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive() and not result
    assert not any(s.parts for s in ledger.files.values())  # nothing moved while paused
    ledger.pause.clear()
    thread.join(10)
    assert result and farm.read_bytes() == big.read_bytes()


def test_bad_destinations_are_one_line_errors(tmp_path: Path) -> None:
    for url in ("ftp://host/x", "file://elsewhere/x", "s3:///nobucket", "s3://u:p@bucket/x"):
        with pytest.raises(DestinationError) as caught:
            parse_destination(url)
        assert "\n" not in str(caught.value) and url.split("/")[0] in str(caught.value)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(DestinationError):
        parse_destination(f"file://{blocked}/sub").check()


def test_missing_sources_are_reported_not_guessed(tmp_path: Path) -> None:
    found = resolve([str(tmp_path / "nope.ma"), str(tmp_path / "*.abc")])
    assert found.files == [] and len(found.missing) == 2
