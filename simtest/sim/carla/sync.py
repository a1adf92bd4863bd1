"""Sensor data gathered by world frame number.

CARLA sensors call back on the client's threads whenever their data arrive. A
:class:`FrameCollector` queues every message and hands out, for one world frame
number, exactly one message per sensor, or nothing: a frame with a sensor
missing after the timeout is *incomplete*, counted and dropped. Messages of an
older frame are discarded (counted as stale); messages of a newer frame wait
for their own frame. Data of two ticks are never mixed.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from typing import Any


class FrameCollector:
    """Collects one message per named sensor for a given world frame number."""

    def __init__(self, names: Sequence[str], timeout: float) -> None:
        if not timeout > 0:
            raise ValueError(f"sim.sensor_timeout: must be positive seconds, got {timeout}")
        if len(set(names)) != len(names):
            raise ValueError(f"sensor names must be unique, got {list(names)}")
        self.names = tuple(names)
        self.timeout = timeout
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._early: list[tuple[str, Any]] = []
        self.incomplete_frames = 0
        self.stale_messages = 0
        self.last_missing: tuple[str, ...] = ()

    def callback(self, name: str) -> Callable[[Any], None]:
        """The function to pass to ``sensor.listen`` for sensor ``name``."""
        if name not in self.names:
            raise ValueError(f"unknown sensor {name!r}; expected one of {list(self.names)}")

        def push(data: Any) -> None:
            self._queue.put((name, data))

        return push

    def collect(self, frame: int) -> dict[str, Any] | None:
        """One message per sensor for world frame ``frame``, or None when incomplete."""
        got: dict[str, Any] = {}
        pending, self._early = self._early, []
        for name, data in pending:
            self._file(name, data, frame, got)
        deadline = time.monotonic() + self.timeout
        while len(got) < len(self.names):
            remaining = deadline - time.monotonic()
            try:
                name, data = self._queue.get(timeout=max(remaining, 0.0)) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                self.incomplete_frames += 1
                self.last_missing = tuple(n for n in self.names if n not in got)
                return None
            self._file(name, data, frame, got)
        self.last_missing = ()
        return got

    def _file(self, name: str, data: Any, frame: int, got: dict[str, Any]) -> None:
        if data.frame < frame or name in got:
            self.stale_messages += 1
        elif data.frame > frame:
            self._early.append((name, data))
        else:
            got[name] = data

    def clear(self) -> None:
        """Forget queued messages (between episodes)."""
        self._early = []
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
