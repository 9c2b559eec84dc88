"""The Storm client this add-on talks through, and which server it talks to.

The client is Storm's stdlib-only module (`stormflow/client.py`, Python 3.7+), vendored
into the add-on's zip as `storm_client.py` so it runs on Blender's bundled Python; from a
repository checkout it is imported from the installed `stormflow`. Every request says
`X-Storm-Client: blender-addon/<version>`, so the server's plugins page can tell when this
add-on is older than the one it serves.
"""

from __future__ import annotations

from typing import Any, Optional

try:
    from . import storm_client as client
except ImportError:  # running from the repository (integrations/blender), not the zip
    from stormflow import client  # type: ignore[no-redef]

StormError = client.StormError
#: The product name in X-Storm-Client; the version comes from bl_info.
AGENT = "blender-addon"
#: Seconds a request may take; the worker thread waits, never Blender's UI.
TIMEOUT = 30.0


class Target:
    """Where to connect, read on the main thread from the add-on's preferences.

    Empty url: find the local `storm server` as every Storm client does (STORM_SERVER and
    STORM_TOKEN, else server.json and the token file in STORM_HOME, default ~/.storm).
    """

    def __init__(
        self, url: str = "", token: str = "", version: str = "", storm_command: str = ""
    ) -> None:
        self.url = url.strip()
        self.token = token.strip()
        self.version = version
        self.storm_command = storm_command.strip()

    @property
    def agent(self) -> str:
        return "{}/{}".format(AGENT, self.version) if self.version else AGENT

    def describe(self) -> str:
        return self.url or "the local server (server.json)"


def connect(target: Target) -> Any:
    """A client for the target; raises StormError when no server can be found.

    Call it in the worker thread: discovery reads files."""
    return client.Client(
        url=target.url or None,
        token=target.token or None,
        timeout=TIMEOUT,
        agent=target.agent,
    )


def start_uploader(target: Target) -> str:
    """Start this workstation's `storm uploader` unless it runs (the client's
    `ensure_uploader`: it waits up to a few seconds for the daemon, so call it in the worker
    thread). "" when it runs, else what went wrong, for the panel: the job is stored all the
    same, its upload waits for an uploader of this host."""
    command = [target.storm_command, "uploader"] if target.storm_command else None
    try:
        client.ensure_uploader(command)
    except (StormError, OSError) as exc:
        return "the upload waits: `storm uploader` did not start ({})".format(message(exc))
    return ""


def message(error: Optional[BaseException]) -> str:
    if error is None:
        return ""
    if isinstance(error, StormError):
        return error.message
    return "{}: {}".format(type(error).__name__, error)
