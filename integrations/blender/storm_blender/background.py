"""Network work off Blender's UI thread: one worker thread, results delivered by a timer.

Operators call `run(work, done)`: `work()` runs in the worker thread (it talks to the server
and must not touch bpy); `done(result, error)` runs later on Blender's main thread, from the
`bpy.app.timers` callback `deliver`, where it may change the scene and redraw the panel.
Tasks run one at a time in order, so a Validate queued after a fixer sees the fixed state.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Optional

#: How often the timer looks for finished work while some is pending (seconds).
POLL = 0.1

_tasks = queue.Queue()  # type: queue.Queue
_results = queue.Queue()  # type: queue.Queue
_lock = threading.Lock()
_worker = None  # type: Optional[threading.Thread]
_pending = 0


def _loop() -> None:
    while True:
        item = _tasks.get()
        if item is None:
            return
        work, done = item
        try:
            outcome = (work(), None)  # type: Any
        except Exception as exc:  # handed to `done` on the main thread, never lost
            outcome = (None, exc)
        _results.put((done, outcome))


def run(work: Callable[[], Any], done: Callable[[Any, Optional[BaseException]], None]) -> None:
    """Queue `work` for the worker thread; returns at once."""
    global _worker, _pending
    with _lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_loop, name="storm-addon", daemon=True)
            _worker.start()
        _pending += 1
    _tasks.put((work, done))
    _ensure_timer()


def pending() -> int:
    with _lock:
        return _pending


def deliver() -> Optional[float]:
    """The timer: hand finished results to their callbacks; again in POLL s while busy."""
    global _pending
    while True:
        try:
            done, (result, error) = _results.get_nowait()
        except queue.Empty:
            break
        with _lock:
            _pending -= 1
        try:
            done(result, error)
        except Exception as exc:  # a broken callback must not kill the timer
            print("storm: result handler failed: {!r}".format(exc))
    return POLL if pending() else None


def _ensure_timer() -> None:
    try:
        import bpy
    except ImportError:  # outside Blender (unit tests of the plain modules): call deliver()
        return
    if not bpy.app.timers.is_registered(deliver):
        bpy.app.timers.register(deliver, first_interval=POLL, persistent=True)


def stop() -> None:
    """On unregister: stop the timer and let the worker end after its current task."""
    global _worker
    try:
        import bpy

        if bpy.app.timers.is_registered(deliver):
            bpy.app.timers.unregister(deliver)
    except ImportError:
        pass
    with _lock:
        if _worker is not None:
            _tasks.put(None)
            _worker = None


def drain(timeout: float = 30.0) -> None:
    """Wait for pending work and deliver it, as the timer would (headless scripts and tests:
    without Blender's event loop no timer fires); TimeoutError if it is still pending."""
    import time

    deadline = time.monotonic() + timeout
    while pending():
        deliver()
        if not pending():
            break
        if time.monotonic() > deadline:
            raise TimeoutError("storm: work still pending after {} s".format(timeout))
        time.sleep(0.01)
