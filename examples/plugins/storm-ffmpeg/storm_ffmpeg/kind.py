"""The `ffmpeg` kind: encodes the frames in a folder into a movie, on a worker.

It runs commands, like `task`, but renders them itself from its parameters (`commands`
hook): the node says what to encode, not how to call ffmpeg.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import Field

from stormflow.kinds import Kind, Param
from stormflow.kinds.base import LOST_RETRIES, RETRIES, RETRY_DELAY, Command, params
from stormflow.spec import Entry, RuleContext
from stormflow.spec import fixers as fx
from stormflow.spec.entries import error, info
from stormflow.spec.tokens import render_text

#: Containers ffmpeg writes H.264 into.
MOVIE_SUFFIXES = (".mp4", ".mov", ".mkv")


def encode_commands(config: Mapping[str, Any], tokens: Mapping[str, str]) -> list[Command]:
    """One command: this package's encoder, run by the worker's Python."""
    return [
        [
            "python", "-m", "storm_ffmpeg.encode",
            "--input", render_text(str(config["input"]), tokens),
            "--pattern", str(config.get("pattern", "*.png")),
            "--out", render_text(str(config["output"]), tokens),
            "--fps", str(config.get("fps", 24)),
            "--crf", str(config.get("crf", 18)),
        ]
    ]  # fmt: skip


def output_suffix(ctx: RuleContext) -> Iterator[Entry]:
    """The output is a movie file ffmpeg can name a container for (fixer: add .mp4)."""
    for node in ctx.nodes:
        output = node.params.get("output")
        if node.kind is None or node.kind.name != "ffmpeg" or not isinstance(output, str):
            continue
        if output.lower().endswith(MOVIE_SUFFIXES):
            continue

        def add_mp4(raw: dict[str, Any], output: str = output) -> None:
            raw["output"] = f"{output}.mp4"

        yield error(
            "ffmpeg-output",
            f"ffmpeg {node.label!r}: output {output!r} does not end with "
            f"{', '.join(MOVIE_SUFFIXES)}, so ffmpeg cannot pick a container",
            nodes=node.names,
            field="output",
            fixers=(
                fx.edit_node(
                    node.index,
                    node.label,
                    f"ffmpeg-output-mp4:{node.label}",
                    f"write {node.label}'s movie to {output}.mp4",
                    add_mp4,
                ),
            ),
        )


def task_calls_ffmpeg(ctx: RuleContext) -> Iterator[Entry]:
    """Tasks that run ffmpeg by hand: the `ffmpeg` kind says the same in two fields."""
    for node in ctx.nodes:
        commands = node.params.get("commands")
        if node.kind is None or node.kind.name != "task" or not isinstance(commands, list):
            continue
        if any(_program(c).rsplit("/", 1)[-1] == "ffmpeg" for c in commands):
            yield info(
                "ffmpeg-by-hand",
                f"task {node.label!r} runs ffmpeg itself; the ffmpeg kind "
                "(storm-ffmpeg) needs only input and output",
                nodes=node.names,
                field="commands",
            )


def _program(command: object) -> str:
    """The program a command runs ("" when it is not a well-formed command: other rules
    report those, and a rule must not raise on them)."""
    if isinstance(command, str):
        words = command.split()
        return words[0] if words else ""
    if isinstance(command, list) and command and isinstance(command[0], str):
        return command[0]
    return ""


FFMPEG = Kind(
    name="ffmpeg",
    description="encodes a folder of frames into a movie (H.264)",
    runs="commands",
    commands=encode_commands,
    rules=(output_suffix,),
    params=params(
        Param(
            "input", str, "a string", "folder of frames, relative to the workflow's", required=True
        ),
        Param("output", str, "a string", "the movie: .mp4, .mov or .mkv", required=True),
        Param(
            "pattern", str, "a string", "which files of the folder, in name order", default="*.png"
        ),
        Param(
            "fps",
            Annotated[int, Field(ge=1, le=240)],
            "a whole number from 1 to 240",
            "frames per second",
            default=24,
        ),
        Param(
            "crf",
            Annotated[int, Field(ge=0, le=51)],
            "a whole number from 0 to 51",
            "quality (lower is better; 18 looks lossless)",
            default=18,
        ),
        Param("instance_type", str, "a string", "hardware / queue routing"),
        RETRIES,
        RETRY_DELAY,
        LOST_RETRIES,
    ),
)
