"""Send a folder of rendered frames to Storm as an `ffmpeg` encode, from any DCC's Python.

Python 3.7+, standard library plus Storm's DCC client (`stormflow/client.py`, itself standard
library only: copy it beside this file, or put Storm's `src` on the DCC's sys.path).

    import storm_encode
    storm_encode.submit("/shots/sh010/renders", "sh010.mp4", fps=24)
"""

import os

from stormflow.client import Client

VERSION = "0.1.0"
#: Tells the server which integration is talking and its version (the plugins page shows
#: "update available" when this is older than the one the server offers).
CLIENT_HEADER = {"X-Storm-Client": "storm-encode/" + VERSION}


def document(frames, output, fps=24, name="encode"):
    return {
        "schema": 1,
        "name": name,
        "nodes": [
            {
                "name": "encode",
                "kind": "ffmpeg",
                "input": os.path.abspath(frames),
                "output": os.path.abspath(output),
                "fps": fps,
            }
        ],
        "edges": [],
    }


def submit(frames, output, fps=24, name="encode", client=None):
    """Submit the encode; returns the workflow's id, name, status and URL (for the Monitor)."""
    client = client or Client()
    doc = document(frames, output, fps, name)
    return client.request("POST", "/workflows", body=doc, headers=CLIENT_HEADER)
