"""Token substitution: `${workflow-id}`-style text tokens and `{start}`-style frame tokens.

Unknown tokens are left untouched on purpose: shell lines may contain `${HOME}` or `{}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stormflow.spec.frames import frames_string, parse_frames, progression_step

#: Text tokens the engine provides (email subject/body, and commands).
TEXT_TOKENS = ("workflow-id", "workflow-name", "node-name", "status")
#: Frame tokens, filled from a chunk's `frames` (and the range's `step`).
FRAME_TOKENS = ("start", "end", "step", "frames", "chunk")

_TEXT_TOKEN = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_-]*)\}")
_FRAME_TOKEN = re.compile(r"(?<!\$)\{(" + "|".join(FRAME_TOKENS) + r")\}")

Command = list[str] | str


def render_text(text: str, tokens: Mapping[str, object]) -> str:
    """Replace `${name}` with tokens[name]; names not in tokens stay as written."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(tokens[name]) if name in tokens else match.group(0)

    return _TEXT_TOKEN.sub(replace, text)


def text_tokens_in(text: str) -> set[str]:
    return set(_TEXT_TOKEN.findall(text))


def frame_tokens_in(text: str) -> set[str]:
    return set(_FRAME_TOKEN.findall(text))


def frame_token_values(config: Mapping[str, Any]) -> dict[str, str]:
    """`{start} {end} {step} {frames} {chunk}` for a chunk config; empty without frames.

    start/end are the chunk's first and last frames in authored order; step is the
    authored range's step (stored as config["step"]), falling back to the chunk's own;
    frames is the explicit comma-separated list (right even for chunks spanning gaps);
    chunk is the chunk's frame spec string.
    """
    spec = config.get("frames")
    if spec is None:
        return {}
    frames = parse_frames(spec).frames
    step = config.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step == 0:
        step = progression_step(frames) or 1
    return {
        "start": str(frames[0]),
        "end": str(frames[-1]),
        "step": str(step),
        "frames": ",".join(str(f) for f in frames),
        "chunk": frames_string(frames),
    }


def render_frame_tokens(text: str, values: Mapping[str, str]) -> str:
    return _FRAME_TOKEN.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def render_commands(
    config: Mapping[str, Any], context: Mapping[str, object] | None = None
) -> list[Command]:
    """The node's commands with frame tokens (from config) and text tokens (context) filled."""
    values = frame_token_values(config)
    tokens = context or {}

    def render(text: str) -> str:
        return render_text(render_frame_tokens(text, values), tokens)

    rendered: list[Command] = []
    for command in config.get("commands", []):
        if isinstance(command, str):
            rendered.append(render(command))
        else:
            rendered.append([render(str(arg)) for arg in command])
    return rendered
