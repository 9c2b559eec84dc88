"""storm-ffmpeg: a Storm plugin adding the `ffmpeg` node kind.

The entry point (pyproject.toml, group `stormflow.plugins`) names `plugin` below: Storm
loads it at start-up and registers what it declares.
"""

from __future__ import annotations

from pathlib import Path

from storm_ffmpeg.kind import FFMPEG, task_calls_ffmpeg
from stormflow.plugins import API_VERSION, DccIntegration, Plugin

__version__ = "0.1.0"

#: The DCC-side script this plugin offers on the plugins page (a file inside the package).
SCRIPT = Path(__file__).with_name("storm_encode.py")

plugin = Plugin(
    name="storm-ffmpeg",
    version=__version__,
    api_version=API_VERSION,
    description="Encode a folder of frames into a movie with ffmpeg (the `ffmpeg` kind).",
    kinds=(FFMPEG,),
    # A validator for an existing kind: tasks that call ffmpeg by hand.
    rules=(task_calls_ffmpeg,),
    integrations=(
        DccIntegration(
            name="storm-encode-script",
            title="Storm encode script",
            version=__version__,
            description=(
                "A script for any DCC's Python console (Python 3.7+, standard library only): "
                "sends a folder of rendered frames to Storm as an `ffmpeg` encode."
            ),
            client="storm-encode",
            download=SCRIPT,
            filename="storm_encode.py",
            dcc_versions="any DCC with Python 3.7 or later",
            install=(
                "Download storm_encode.py into the DCC's scripts folder.",
                "In the DCC's Python console: import storm_encode; "
                "storm_encode.submit('/path/to/frames', 'shot.mp4').",
            ),
        ),
    ),
    about={"homepage": "examples/plugins/storm-ffmpeg/README.md"},
)
