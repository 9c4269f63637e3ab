"""A single-thread timer queue: callbacks run in due-time order, so events never reorder."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Timer:
    """A cancellable callback queued on a ``Scheduler``."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run it (if it has not run yet)."""
        self.cancelled = True


class Scheduler:
    """One worker thread running callbacks in due-time order."""

    def __init__(self, name: str = "scheduler") -> None:
        self._name = name
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        """Run ``fn`` on the scheduler's thread ``delay`` seconds from now."""
        timer = Timer(fn)
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), timer))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cv.notify()
        return timer

    def stop(self) -> None:
        """Cancel everything pending and stop the thread."""
        with self._cv:
            for _, _, timer in self._heap:
                timer.cancel()
            self._heap.clear()
            self._stopping = True
            self._cv.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        with self._cv:
            self._stopping = False
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cv:
                while True:
                    if self._stopping:
                        return
                    if not self._heap:
                        self._cv.wait()
                        continue
                    due = self._heap[0][0]
                    now = time.monotonic()
                    if due <= now:
                        timer = heapq.heappop(self._heap)[2]
                        break
                    self._cv.wait(due - now)
            if timer.cancelled:
                continue
            try:
                timer.fn()
            except Exception:
                log.exception("%s callback failed", self._name)
