"""Frame specs ("1-100", "1-100x2", "1-10,20-30", "-5-5") and chunking, on top of fileseq."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from fileseq.exceptions import MaxSizeException, ParseException
from fileseq.frameset import FrameSet

#: fileseq refuses larger ranges; we report that as a bad spec instead of crashing.
MAX_FRAMES = 10_000_000


class FrameSpecError(ValueError):
    """A frame spec that cannot be parsed (the message says why)."""


@dataclass(frozen=True)
class FrameRange:
    """An authored frame range: its spec string and its frames in authored order."""

    spec: str
    frames: tuple[int, ...]

    @property
    def step(self) -> int:
        """The range's step when it is one arithmetic progression, else 1."""
        return progression_step(self.frames) or 1

    def __len__(self) -> int:
        return len(self.frames)


def parse_frames(spec: object) -> FrameRange:
    """Parse a frame spec (a string, or an int for a single frame); integer frames only."""
    if isinstance(spec, bool) or not isinstance(spec, str | int):
        raise FrameSpecError(f"a frame spec must be a string like '1-100', not {type_name(spec)}")
    text = str(spec).strip()
    if not text:
        raise FrameSpecError("the frame spec is empty")
    if "." in text:
        raise FrameSpecError(f"frame spec {text!r} has fractional frames; use whole frames")
    if "#" in text or "@" in text:
        raise FrameSpecError(f"frame spec {text!r} uses padding characters; give frames only")
    try:
        frameset = FrameSet(text)
        frames = tuple(int(f) for f in frameset)
    except MaxSizeException:
        raise FrameSpecError(f"frame spec {text!r} has more than {MAX_FRAMES} frames") from None
    except (ParseException, ValueError, TypeError, OverflowError):
        raise FrameSpecError(_not_a_range(text)) from None
    if not frames:
        raise FrameSpecError(f"frame spec {text!r} has no frames")
    # Overlapping pieces ("1-10,5-15") would render frames twice; fileseq drops repeats.
    return FrameRange(spec=text, frames=frames)


def _not_a_range(text: str) -> str:
    """In our words, naming the piece of a comma list that is wrong (the library's own
    message names its parser's internals)."""
    example = "write frames like 1-100, 1-100x2 (every 2nd frame), 1-10,20-30 or 5"
    pieces = [p.strip() for p in text.split(",")]
    if len(pieces) > 1:
        for piece in pieces:
            try:
                FrameSet(piece)
            except (ParseException, ValueError, TypeError, OverflowError, MaxSizeException):
                return f"frame spec {text!r}: {piece!r} is not a frame range; {example}"
    return f"frame spec {text!r} is not a frame range; {example}"


def chunk_count(frame_count: int, chunk_size: int) -> int:
    return -(-frame_count // max(chunk_size, 1))


def chunks(frames: Sequence[int], chunk_size: int) -> list[tuple[int, ...]]:
    """Split frames, in authored order, into consecutive chunks of chunk_size frames."""
    size = max(chunk_size, 1)
    return [tuple(frames[i : i + size]) for i in range(0, len(frames), size)]


def progression_step(frames: Sequence[int]) -> int | None:
    """The common difference when frames are an arithmetic progression of 2+ frames."""
    if len(frames) < 2:
        return None
    step = frames[1] - frames[0]
    if step == 0:
        return None
    for a, b in itertools.pairwise(frames):
        if b - a != step:
            return None
    return step


def frames_string(frames: Sequence[int]) -> str:
    """The fileseq FrameSet string for these frames (fast path for the common shapes)."""
    n = len(frames)
    if n == 1:
        return str(frames[0])
    if n >= 2 and progression_step(frames) in (1, -1):
        # Matches FrameSet: "1-10", "10-1", "-5--1".
        return f"{frames[0]}-{frames[-1]}"
    return str(FrameSet(list(frames)))


def type_name(value: object) -> str:
    """A JSON-ish name for a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
