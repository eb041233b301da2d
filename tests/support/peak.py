"""The highest value a measure reaches while a block of work runs, sampled on a thread of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Peak:
    def __init__(self, measure: Callable[[], int], *, every_seconds: float) -> None:
        self.measure, self.every_seconds = measure, every_seconds
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.most = max(self.most, self.measure())
            self._stop.wait(self.every_seconds)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
