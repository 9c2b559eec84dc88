"""Frame previews: images under a node's output, contact sheets, thumbnails, full images, and
no path that leaves the workflow's directory."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import OpenEXR
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from stormflow.api.app import create_app
from stormflow.store import Store
from tests.api.helpers import API, TOKEN, live_server, run_node, submit

DOC: dict[str, Any] = {
    "schema": 1,
    "name": "previews",
    "nodes": [
        {"name": "render", "frames": "1-8", "chunk_size": 4, "commands": [["true"]],
         "output": "renders/"},
        {"name": "plate", "commands": [["true"]], "output": "plates/beauty.####.exr"},
        {"name": "still", "commands": [["true"]], "output": "still.tif"},
        {"name": "escape", "commands": [["true"]], "output": "../"},
        {"name": "notes", "commands": [["true"]]},
    ],
    "edges": [],
}  # fmt: skip


def png(path: Path, size: tuple[int, int] = (320, 180), colour: int = 200) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (colour, 40, 40)).save(path)
    return path.read_bytes()


def exr(path: Path, width: int = 64, height: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.zeros((height, width, 3), dtype=np.float32)
    rgb[..., 0] = 4.0  # over-bright red: clipped to 255
    rgb[..., 1] = 0.18  # middle grey in linear light: ~118 in sRGB
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": rgb}) as f:
        f.write(str(path))


def workflow(api: TestClient, data_dir: Path) -> tuple[str, Path]:
    wf = submit(api, DOC)
    root = data_dir / "work" / wf
    for frame in (1, 2, 3, 4, 5, 6, 8):  # frame 7 not rendered yet
        png(root / "renders" / f"frame.{frame:04d}.png", colour=frame * 20)
    (root / "renders" / "frame.0001.json").write_text("{}")  # not an image
    Image.new("RGB", (40, 30)).save(root / "renders" / "frame.0010.jpg")  # beyond the range
    exr(root / "plates" / "beauty.0001.exr")
    exr(root / "plates" / "beauty.0002.exr")
    exr(root / "plates" / "other.0003.exr")  # not the pattern
    deep = (np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20).astype(np.uint16)
    Image.fromarray(deep).save(root / "still.tif")
    return wf, root


def listed(api: TestClient, wf: str, name: str) -> dict[str, Any]:
    answer = api.get(f"{API}/workflows/{wf}/nodes/{name}/previews")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_chunk_lists_the_images_of_its_frames(
    api: TestClient, store: Store, data_dir: Path
) -> None:
    wf, root = workflow(api, data_dir)
    run_node(store, wf, "render.1-4")
    os.utime(root / "renders" / "frame.0003.png", (time.time() + 5,) * 2)  # written last
    first = listed(api, wf, "render.1-4")
    assert [i["path"] for i in first["images"]] == [
        f"renders/frame.{f:04d}.png" for f in (1, 2, 3, 4)
    ]
    assert [i["frame"] for i in first["images"]] == [1, 2, 3, 4]
    assert first["latest"]["path"] == "renders/frame.0003.png"
    assert first["status"] == "succeeded" and first["attempt"]["number"] == 1
    assert first["attempt"]["result"] == "succeeded" and first["output"] == "renders/"
    image = first["images"][0]
    assert image["format"] == "png" and image["bytes"] > 0
    assert image["thumb"].startswith(f"{API}/workflows/{wf}/thumbs?path=renders/frame.0001.png")
    second = listed(api, wf, "render.5-8")
    assert [i["frame"] for i in second["images"]] == [5, 6, 8]
    assert second["attempt"] is None and second["status"] == "open"
    plate = listed(api, wf, "plate")
    assert [i["path"] for i in plate["images"]] == [
        "plates/beauty.0001.exr",
        "plates/beauty.0002.exr",
    ]
    assert [i["format"] for i in listed(api, wf, "still")["images"]] == ["tiff"]
    assert listed(api, wf, "notes")["images"] == []  # no output
    assert listed(api, wf, "escape")["images"] == []  # an output outside lists nothing
    assert api.get(f"{API}/workflows/{wf}/nodes/ghost/previews").status_code == 404
    assert api.get(f"{API}/workflows/zzzzzzzz/nodes/render.1-4/previews").status_code == 404


def test_a_contact_sheet_lists_every_frame_with_its_chunk(
    api: TestClient, store: Store, data_dir: Path
) -> None:
    wf, _root = workflow(api, data_dir)
    run_node(store, wf, "render.5-8", ok=False)
    sheet = api.get(f"{API}/workflows/{wf}/groups/render/previews").json()
    assert (sheet["group"], sheet["total"], sheet["with_image"]) == ("render", 8, 7)
    frames = sheet["frames"]
    assert [f["frame"] for f in frames] == list(range(1, 9))
    assert frames[0] | {"image": None} == {
        "frame": 1, "node": "render.1-4", "status": "open", "attempt": None, "image": None
    }  # fmt: skip
    assert frames[6]["image"] is None  # frame 7
    assert (frames[7]["node"], frames[7]["status"], frames[7]["attempt"]) == (
        "render.5-8",
        "failed",
        1,
    )
    assert frames[7]["image"]["path"] == "renders/frame.0008.png"
    page = api.get(f"{API}/workflows/{wf}/groups/render/previews", params={"offset": 6, "limit": 1})
    assert [f["frame"] for f in page.json()["frames"]] == [7]
    for group in ("nothing", "plate", "render.1-4"):  # plate is not frame-ranged
        missing = api.get(f"{API}/workflows/{wf}/groups/{group}/previews")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown-group"


def decoded(answer: httpx.Response) -> Image.Image:
    assert answer.status_code == 200, answer.text
    return Image.open(io.BytesIO(answer.content))


@pytest.mark.parametrize(
    "path", ["renders/frame.0001.png", "renders/frame.0010.jpg", "still.tif",
             "plates/beauty.0001.exr"],
)  # fmt: skip
def test_thumbnails_of_every_format_are_small_jpegs_made_once(
    api: TestClient, data_dir: Path, path: str
) -> None:
    wf, root = workflow(api, data_dir)
    url = f"{API}/workflows/{wf}/thumbs"
    answer = api.get(url, params={"path": path})
    thumb = decoded(answer)
    assert answer.headers["content-type"] == "image/jpeg" and thumb.format == "JPEG"
    source = Image.open(root / path) if not path.endswith(".exr") else None
    longest = max(source.size) if source else 64
    assert max(thumb.size) == min(256, longest)
    small = decoded(api.get(url, params={"path": path, "size": 16}))
    assert max(small.size) == 16
    cached = list((data_dir / "thumbs" / wf).glob("*.jpg"))
    assert len(cached) == 2
    before = {p: p.stat().st_mtime_ns for p in cached}
    again = api.get(url, params={"path": path})
    assert again.content == answer.content and again.headers["etag"] == answer.headers["etag"]
    assert {p: p.stat().st_mtime_ns for p in cached} == before  # served from the cache
    unchanged = api.get(
        url, params={"path": path}, headers={"If-None-Match": answer.headers["etag"]}
    )
    assert unchanged.status_code == 304
    os.utime(root / path, (time.time() + 10,) * 2)  # re-rendered
    assert api.get(url, params={"path": path}).headers["etag"] != answer.headers["etag"]


def test_exr_is_shown_through_the_srgb_curve(api: TestClient, data_dir: Path) -> None:
    wf, root = workflow(api, data_dir)
    full = api.get(f"{API}/workflows/{wf}/images", params={"path": "plates/beauty.0001.exr"})
    shown = decoded(full).convert("RGB")
    assert full.headers["content-type"] == "image/png" and shown.size == (64, 32)
    red, green, _blue = shown.getpixel((10, 10))
    assert red == 255 and 110 <= green <= 125
    raw = api.get(
        f"{API}/workflows/{wf}/images", params={"path": "plates/beauty.0001.exr", "raw": True}
    )
    assert raw.status_code == 200 and raw.headers["content-type"] == "image/x-exr"
    assert raw.content == (root / "plates" / "beauty.0001.exr").read_bytes()
    same = api.get(f"{API}/workflows/{wf}/images", params={"path": "renders/frame.0002.png"})
    assert same.content == (root / "renders" / "frame.0002.png").read_bytes()


def test_no_request_path_leaves_the_workflows_directory(
    api: TestClient, data_dir: Path, tmp_path: Path
) -> None:
    wf, root = workflow(api, data_dir)
    other, _ = workflow(api, data_dir)
    secret = tmp_path / "secret.png"
    png(secret)
    (root / "renders" / "leak.png").symlink_to(secret)
    (root / "renders" / "outside").symlink_to(tmp_path, target_is_directory=True)
    (root / "loop.png").symlink_to(root / "loop.png")
    cases = {
        "../secret.png": 403,
        f"../{other}/renders/frame.0001.png": 403,
        "renders/../../x.png": 403,
        str(secret): 403,
        "/etc/passwd.png": 403,
        "C:/Windows/x.png": 403,
        "..\\..\\x.png": 403,
        "renders/leak.png": 403,  # a symlink to a file outside
        "renders/outside/secret.png": 403,  # through a symlinked directory
        "renders/frame.0001.json": 422,
        "renders/frame.0099.png": 404,
        "loop.png": 404,
        "renders/\0.png": 422,
        "x" * 2000 + ".png": 422,
    }
    for endpoint in ("thumbs", "images"):
        for path, status in cases.items():
            for raw in (False, True) if endpoint == "images" else (False,):
                params: dict[str, Any] = {"path": path} | ({"raw": True} if raw else {})
                answer = api.get(f"{API}/workflows/{wf}/{endpoint}", params=params)
                assert answer.status_code == status, (endpoint, path, answer.text)
                assert "error" in answer.json()
    names = [i["path"] for i in listed(api, wf, "render.1-4")["images"]]
    assert "renders/leak.png" not in names and not any("outside" in n for n in names)
    assert not (data_dir / "thumbs" / wf).exists()  # nothing was made for a refused path
    broken = root / "renders" / "frame.0002.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    bad = api.get(f"{API}/workflows/{wf}/thumbs", params={"path": "renders/frame.0002.png"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unreadable-image"
    assert api.get(f"{API}/workflows/zzzzzzzz/thumbs", params={"path": "a.png"}).status_code == 404
    assert api.get(f"{API}/workflows/{wf}/thumbs").status_code == 422
    assert (
        api.get(f"{API}/workflows/{wf}/thumbs", params={"path": "a.png", "size": 0}).status_code
        == 422
    )


@pytest.mark.slow
def test_concurrent_thumbnails_beyond_the_pool_are_all_whole(store: Store, data_dir: Path) -> None:
    app = create_app(store, data_dir=data_dir, token=TOKEN)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        wf, root = workflow(api, data_dir)
    for frame in range(1, 9):  # larger frames: each thumbnail takes a moment
        png(root / "renders" / f"frame.{frame:04d}.png", size=(1920, 1080), colour=frame * 20)
    paths = [f"renders/frame.{(i % 8) + 1:04d}.png" for i in range(48)]
    with live_server(app) as url:

        def fetch(path: str) -> tuple[str, bytes]:
            with httpx.Client(base_url=url, timeout=60,
                              headers={"Authorization": f"Bearer {TOKEN}"}) as c:  # fmt: skip
                got = c.get(f"{API}/workflows/{wf}/thumbs", params={"path": path})
            assert got.status_code == 200, got.text
            return path, got.content

        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(fetch, paths))
    by_path: dict[str, set[bytes]] = {}
    for path, content in answers:
        by_path.setdefault(path, set()).add(content)
        assert Image.open(io.BytesIO(content)).size == (256, 144)
    assert all(len(v) == 1 for v in by_path.values())  # every caller got the same whole file
    cache = data_dir / "thumbs" / wf
    assert len(list(cache.glob("*.jpg"))) == 8 and not list(cache.glob("*.part"))


def test_a_thumbnail_killed_while_written_is_never_served_half(
    api: TestClient, data_dir: Path
) -> None:
    """kill -9 during a cache write leaves at most a hidden part file, never a cached half."""
    wf, root = workflow(api, data_dir)
    cache = data_dir / "thumbs" / wf
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from stormflow.api import images\n"
        "def stuck(src, dst):\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "os.replace = stuck\n"
        "images.thumbnail(Path(sys.argv[1]), 'renders/frame.0001.png', Path(sys.argv[2]), 256)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(root / "renders" / "frame.0001.png"), str(cache)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert list(cache.glob("*.part")) and not list(cache.glob("*.jpg"))
    answer = api.get(f"{API}/workflows/{wf}/thumbs", params={"path": "renders/frame.0001.png"})
    assert decoded(answer).size == (256, 144)
    assert len(list(cache.glob("*.jpg"))) == 1


def test_an_image_too_large_to_decode_is_refused(api: TestClient, data_dir: Path) -> None:
    """A PNG header claiming 30,000 x 30,000 pixels (a decompression bomb) is a 422."""
    import struct
    import zlib

    wf, root = workflow(api, data_dir)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
    (root / "renders" / "bomb.png").write_bytes(bomb + chunk(b"IEND", b""))
    answer = api.get(f"{API}/workflows/{wf}/thumbs", params={"path": "renders/bomb.png"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "unreadable-image"


def test_the_scanner_reads_patterns_depths_and_symlinks_inside(tmp_path: Path) -> None:
    from stormflow.api.previews import Scanner, frame_of

    root = (tmp_path / "wf").resolve()
    for rel in ("r/a.0001.png", "r/a.0002.png", "r/sub/a.0003.png", "r/1/2/3/deep.0004.png"):
        png(root / rel, size=(8, 8))
    (root / "r" / "link.0005.png").symlink_to(root / "r" / "a.0001.png")  # inside: listed
    scanner = Scanner(root)
    assert [f.path for f in scanner.images("r/a.####.png")] == ["r/a.0001.png", "r/a.0002.png"]
    assert [f.path for f in scanner.images("r/a.%04d.png", [2])] == ["r/a.0002.png"]
    everything = [f.path for f in scanner.images("r/")]
    assert everything == [
        "r/a.0001.png",
        "r/a.0002.png",
        "r/link.0005.png",
        "r/sub/a.0003.png",
    ]  # fmt: skip  (r/1/2/3 is deeper than 3 levels)
    assert [f.frame for f in scanner.images("r", [3, 5])] == [5, 3]  # natural order of paths
    assert scanner.images("/etc/") == [] and scanner.images("r/../../") == []
    assert scanner.images(None) == [] and scanner.images("missing/") == []
    assert (frame_of("shot-0005.exr"), frame_of("f.-005.exr"), frame_of("x.png")) == (5, -5, None)
