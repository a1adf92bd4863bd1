"""Which cell a worker runs next: keep cell groups together, biggest first, steal only when it pays.

A worker keeps the simulated frames of the group it ran last
(:func:`simtest.runner.frame_group`), so a cell of that group costs only its
perturbation, inference and matching, while a cell of another group first
simulates the group's episodes again. :class:`CellQueue` therefore hands a
worker, in this order:

1. the next cell of the group it is on;
2. a cell of the group with the most cells that no worker is on (so the
   biggest groups start first and single cells fill the tail);
3. a cell of the group with the most cells left, if splitting that group pays:
   its owner alone needs ``left x c`` seconds, two workers about
   ``S + left x c / 2`` (``S`` = simulating the group, ``c`` = the rest of a
   cell), so the worker steals when ``left > 2 S / c``; else it waits.

``S`` and ``c`` are learnt from the finished cells' timings (:meth:`record`).
Results do not depend on the order: every random stream is keyed by the cell.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")

STEAL_AFTER = 4.0
"""Cells a group must have left before an idle worker joins it, until timings are known (S = 2 c)."""


class CellQueue(Generic[T]):
    """Cells grouped by ``group_of``; see the module docstring for the order they are handed out in."""

    def __init__(self, cells: Iterable[T], group_of: Callable[[T], Hashable]) -> None:
        self.group_of = group_of
        self.groups: dict[Hashable, deque[T]] = {}
        for cell in cells:
            self.groups.setdefault(group_of(cell), deque()).append(cell)
        self.on: dict[Hashable, Hashable] = {}  # worker -> the group whose frames it holds
        self.sim_seconds: list[float] = []  # per simulated group
        self.rest_seconds: list[float] = []  # per cell, all but simulation

    def __len__(self) -> int:
        return sum(len(q) for q in self.groups.values())

    def steal_after(self) -> float:
        """Cells a group must have left for a second worker to join it (2 S / c)."""
        if not self.sim_seconds or not self.rest_seconds:
            return STEAL_AFTER
        s = sum(self.sim_seconds) / len(self.sim_seconds)
        c = max(sum(self.rest_seconds) / len(self.rest_seconds), 1e-6)
        return 2.0 * s / c

    def take(self, worker: Hashable) -> T | None:
        """The next cell for ``worker``, or None if it should wait (or nothing is left)."""
        mine = self.on.get(worker)
        if mine is not None and self.groups.get(mine):
            return self.groups[mine].popleft()
        left = {g: q for g, q in self.groups.items() if q}
        if not left:
            return None
        held = {g for w, g in self.on.items() if w != worker}
        free = [g for g in left if g not in held]
        if free:
            group = max(free, key=lambda g: len(left[g]))  # first of the biggest (dicts keep plan order)
            self.on[worker] = group
            return left[group].popleft()
        group = max(left, key=lambda g: len(left[g]))
        if len(left[group]) > self.steal_after():
            self.on[worker] = group
            return left[group].pop()  # from the far end: the owner goes on from the front
        return None

    def put_back(self, cell: T) -> None:
        """Return a cell to the front of its group (a retry after its worker died)."""
        self.groups.setdefault(self.group_of(cell), deque()).appendleft(cell)

    def release(self, worker: Hashable) -> None:
        """Forget a worker (it died; its replacement holds no frames)."""
        self.on.pop(worker, None)

    def record(self, timing: Mapping[str, float], episodes: int) -> None:
        """Learn S and c from a finished cell's timing (``sim``, ``total``, ``simulated`` episodes)."""
        sim, total, simulated = timing.get("sim", 0.0), timing.get("total", 0.0), timing.get("simulated", 0.0)
        self.rest_seconds.append(max(total - sim, 0.0))
        if simulated > 0:
            self.sim_seconds.append(sim / simulated * episodes)
