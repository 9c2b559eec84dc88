"""Bouncing-particle "simulation": writes cache/frame.NNNN.json for each frame."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from stormflow.demo.image import HEIGHT, WIDTH, frame_path


def simulate(first: int, last: int, out: Path, count: int = 40, seed: int = 7) -> None:
    rng = random.Random(seed)
    particles = [
        [rng.uniform(10, WIDTH - 10), rng.uniform(10, HEIGHT / 2), rng.uniform(-3, 3), 0.0]
        for _ in range(count)
    ]
    out.mkdir(parents=True, exist_ok=True)
    for frame in range(first, last + 1):
        for p in particles:
            p[3] += 0.6  # gravity
            p[0] += p[2]
            p[1] += p[3]
            if p[1] > HEIGHT - 6:
                p[1], p[3] = HEIGHT - 6, -abs(p[3]) * 0.85
            if not 6 <= p[0] <= WIDTH - 6:
                p[2] = -p[2]
        cache = {"frame": frame, "particles": [[round(p[0], 2), round(p[1], 2)] for p in particles]}
        frame_path(out, frame, "json").write_text(json.dumps(cache), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--end", type=int, required=True)
    parser.add_argument("--out", type=Path, default=Path("cache"))
    parser.add_argument(
        "--scene", type=Path, help="scene file (JSON: particles, seed), e.g. an uploaded one"
    )
    args = parser.parse_args(argv)
    scene = json.loads(args.scene.read_text(encoding="utf-8")) if args.scene else {}
    simulate(
        args.start,
        args.end,
        args.out,
        count=int(scene.get("particles", 40)),
        seed=int(scene.get("seed", 7)),
    )


if __name__ == "__main__":
    main()
