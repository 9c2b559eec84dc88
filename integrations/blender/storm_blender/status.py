"""What the panel shows per scene: the last message, validation entries, the last job.

Kept in Python (not in the .blend): entries are fresh answers of the server, not part of the
scene. Written on the main thread only (operators and result callbacks).
"""

from __future__ import annotations

from typing import Any, Dict, List

#: A fixer the add-on applies itself: saving the .blend (the server cannot know about it).
SAVE_FIXER = "storm-save-blend"


class SceneStatus:
    def __init__(self) -> None:
        self.busy = ""  # what is running ("Validating..."), "" when idle
        self.message = ""
        self.level = "INFO"  # INFO | WARNING | ERROR
        self.entries = []  # type: List[Dict[str, Any]]
        self.workflow = {}  # type: Dict[str, Any]  # the last submission's answer
        self.draft = {}  # type: Dict[str, Any]  # the last draft's answer

    def start(self, what: str) -> None:
        self.busy = what
        self.message = ""
        self.level = "INFO"

    def finish(self, message: str, level: str = "INFO") -> None:
        self.busy = ""
        self.message = message
        self.level = level


_by_scene = {}  # type: Dict[str, SceneStatus]


def of(scene_name: str) -> SceneStatus:
    found = _by_scene.get(scene_name)
    if found is None:
        found = _by_scene[scene_name] = SceneStatus()
    return found


def clear() -> None:
    _by_scene.clear()


def local_entries(blend_path: str, dirty: bool) -> List[Dict[str, Any]]:
    """Entries only Blender knows: the farm renders the saved .blend, not the open one."""
    if not blend_path:
        return [
            {
                "severity": "error",
                "code": "blend-not-saved",
                "message": "save the .blend first: the farm renders the saved file",
                "fixers": [],
            }
        ]
    if dirty:
        return [
            {
                "severity": "warning",
                "code": "blend-has-unsaved-changes",
                "message": "the .blend has unsaved changes; the farm renders the saved file",
                "fixers": [{"name": SAVE_FIXER, "description": "save the .blend now"}],
            }
        ]
    return []


def upload_entries(enabled: bool, destination: str) -> List[Dict[str, Any]]:
    """The upload needs somewhere to go; the server checks that it can be reached."""
    if enabled and not destination.strip():
        return [
            {
                "severity": "error",
                "code": "upload-no-destination",
                "message": "set the upload destination (file:///mnt/farm/... or s3://bucket/prefix)",
                "fixers": [],
            }
        ]
    return []
