"""The scheduler inside the server process: its loop in a thread, fed the API's outcomes.

`Scheduler.apply` is not thread-safe (it updates the loop's own bookkeeping), so
the API hands outcomes over through a queue drained on the loop's thread after
every step. Stopping attempts cannot wait for that: the executor is thread-safe,
so a person's cancel or skip kills the process at once from the request thread.
"""

from __future__ import annotations

import logging
import queue
import threading

from stormflow.core import Outcome
from stormflow.engine.scheduler import Scheduler, job_token

log = logging.getLogger(__name__)


class EmbeddedScheduler:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self._inbox: queue.Queue[tuple[str, Outcome]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def apply(self, workflow_id: str, outcome: Outcome) -> None:
        for _node, token in outcome.stop:
            self.scheduler.executor.stop(job_token(workflow_id, token))
        self._inbox.put((workflow_id, outcome))
        self.scheduler.wake()

    def _drain(self) -> None:
        while True:
            try:
                workflow_id, outcome = self._inbox.get_nowait()
            except queue.Empty:
                return
            self.scheduler.apply(workflow_id, outcome)

    def _serve(self) -> None:
        try:
            self.scheduler.run_until(lambda: False, on_tick=self._drain)
        except BaseException as exc:  # the API keeps serving; health reports it
            self.error = exc
            log.exception("the embedded scheduler stopped")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="storm-scheduler", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stuck(self) -> bool:
        """Alive, but its loop has not turned for `Settings.stuck_after` seconds."""
        return self.alive and self.scheduler.stuck

    def stop(self, grace: float = 5.0) -> None:
        """Stop the loop, then stop running attempts and hand their leases back.

        Bounded however the loop is doing: it gets `grace` seconds to finish its step; a
        loop stuck in a statement is left behind (its thread is a daemon) and `close` does
        without it."""
        self.scheduler.stop()
        if self._thread is not None:
            self._thread.join(timeout=grace)
        self.scheduler.close(grace=grace if not self.alive else 0.1)
