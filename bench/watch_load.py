"""The watchers of `python -m bench --watchers`: one process, asyncio, raw HTTP/1.1.

`python -m bench.watch_load URL TOKEN WORKFLOW --sse N --poll M [--period 2]` opens N event
streams (from the first event) and M pollers (GET the workflow and its node list every
`period` seconds, sending back their ETags as a script using `stormflow.client` does).
It prints `ready` once every stream is open, then runs until a line `stop <final seq>` on
stdin; then it waits (up to 60 s) for every stream to reach that seq and prints one JSON
line: per stream the events received, lost (never received), duplicated or out of order,
reconnections; GET latencies and status codes per kind.

Kept cheap, so the load measures the server and not this process: ids are found with one
regular expression per received chunk, node lists are not parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ID = re.compile(rb"^id: (\d+)$", re.M)
RECONNECT = b"event: reconnect"


@dataclass
class Stream:
    last: int = 0
    received: int = 0
    duplicated: int = 0
    gaps: int = 0
    reconnects: int = 0


@dataclass
class Polls:
    latency: dict[str, list[float]] = field(default_factory=lambda: {"summary": [], "nodes": []})
    codes: dict[str, int] = field(default_factory=dict)


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: bench", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    writer.write(_head(path, headers))
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *rest = head.decode("latin-1").split("\r\n")
    got = {}
    for line in rest:
        if ":" in line:
            key, _, value = line.partition(":")
            got[key.strip().lower()] = value.strip()
    length = int(got.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return int(status_line.split()[1]), got, body


class Load:
    def __init__(self, url: str, token: str, workflow: str, period: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.auth = {"Authorization": f"Bearer {token}"}
        self.workflow = workflow
        self.period = period
        self.final: int | None = None
        self.stopping = asyncio.Event()
        self.streams: list[Stream] = []
        self.polls = Polls()

    async def stream(self, state: Stream, opened: asyncio.Event) -> None:
        path = f"/api/v1/workflows/{self.workflow}/events/stream"
        while True:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=2**20)
            headers = self.auth | {"Last-Event-ID": str(state.last)}
            lines = [
                f"GET {path} HTTP/1.1",
                "Host: bench",
                *(f"{k}: {v}" for k, v in headers.items()),
            ]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
            opened.set()
            buffer = b""
            ended = False
            try:
                while self.final is None or state.last < self.final:
                    chunk = await reader.read(65536)
                    if not chunk:
                        ended = True
                        break
                    buffer += chunk
                    cut = buffer.rfind(b"\n\n")
                    if cut < 0:
                        continue
                    whole, buffer = buffer[: cut + 2], buffer[cut + 2 :]
                    for raw in ID.findall(whole):
                        seq = int(raw)
                        state.received += 1
                        if seq <= state.last:
                            state.duplicated += 1
                            continue
                        state.gaps += seq - state.last - 1
                        state.last = seq
                    if RECONNECT in whole:
                        ended = True
                        break
            finally:
                writer.close()
            if not ended:
                return
            state.reconnects += 1  # dropped for falling behind (or the server went): resume

    async def poll(self, phase: float) -> None:
        await asyncio.sleep(phase)
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=2**22)
        tags: dict[str, str] = {}
        paths = {
            "summary": f"/api/v1/workflows/{self.workflow}",
            "nodes": f"/api/v1/workflows/{self.workflow}/nodes",
        }
        loop = asyncio.get_running_loop()
        try:
            while not self.stopping.is_set():
                began = loop.time()
                for kind, path in paths.items():
                    headers = dict(self.auth)
                    if kind in tags:
                        headers["If-None-Match"] = tags[kind]
                    t0 = time.perf_counter()
                    status, got, body = await _request(reader, writer, path, headers)
                    self.polls.latency[kind].append(time.perf_counter() - t0)
                    key = f"{kind} {status}"
                    self.polls.codes[key] = self.polls.codes.get(key, 0) + 1
                    if status == 200 and "etag" in got:
                        tags[kind] = got["etag"]
                        if kind == "summary":
                            json.loads(body)  # what a script does with it
                try:
                    wait = max(0.0, self.period - (loop.time() - began))
                    await asyncio.wait_for(self.stopping.wait(), wait)
                except TimeoutError:
                    pass
        finally:
            writer.close()

    async def run(self, sse: int, pollers: int) -> dict[str, object]:
        self.streams = [Stream() for _ in range(sse)]
        opened = [asyncio.Event() for _ in range(sse)]
        streams = [
            asyncio.create_task(self.stream(s, o))
            for s, o in zip(self.streams, opened, strict=True)
        ]
        await asyncio.gather(*(o.wait() for o in opened))
        polls = [
            asyncio.create_task(self.poll(random.uniform(0, self.period))) for _ in range(pollers)
        ]
        print("ready", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        self.final = int(line.split()[1])
        self.stopping.set()
        await asyncio.gather(*polls)
        with contextlib.suppress(TimeoutError):  # counted as lost
            await asyncio.wait_for(asyncio.gather(*streams), 60)
        return {
            "streams": len(self.streams),
            "received": sum(s.received for s in self.streams),
            "lost": sum(self.final - s.last for s in self.streams),
            "duplicated": sum(s.duplicated for s in self.streams),
            "gaps": sum(s.gaps for s in self.streams),
            "reconnects": sum(s.reconnects for s in self.streams),
            "latency": self.polls.latency,
            "codes": self.polls.codes,
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.watch_load")
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("workflow")
    parser.add_argument("--sse", type=int, default=0)
    parser.add_argument("--poll", type=int, default=0)
    parser.add_argument("--period", type=float, default=2.0)
    args = parser.parse_args()
    load = Load(args.url, args.token, args.workflow, args.period)
    result = asyncio.run(load.run(args.sse, args.poll))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
