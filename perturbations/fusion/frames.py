"""Frame-history plumbing shared by the fusion-level faults."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from simtest.types import Frame

HISTORY_FRAMES = 10
"""Frames of history (before the current one) the largest temporal fault uses."""

SLOTS = 8
"""Per-sensor parameter slots in a Params tuple (sensors beyond this reuse slots cyclically)."""


def as_frames(frames: Frame | Sequence[Frame], where: str) -> list[Frame]:
    """The history as a non-empty list of frames, current last; a single frame is a history of one."""
    if isinstance(frames, Frame):
        return [frames]
    if not isinstance(frames, Sequence) or isinstance(frames, (str, bytes)):
        raise ValueError(
            f"{where}: expected a Frame or a sequence of Frames (current last), got {type(frames).__name__}"
        )
    out = list(frames)
    if not out:
        raise ValueError(f"{where}: the frame sequence is empty; pass at least the current frame")
    for i, f in enumerate(out):
        if not isinstance(f, Frame):
            raise ValueError(f"{where}: frames[{i}] is a {type(f).__name__}, expected simtest.types.Frame")
    return out


def history_length(shape: tuple[int, ...]) -> int:
    """Number of frames handed to ``apply`` (current included), from the sampler's ``shape``."""
    return int(shape[0]) if shape else 1


def slot(i: int) -> int:
    """Params slot of the ``i``-th sensor in sorted name order."""
    return i % SLOTS


def with_sensors(current: Frame, cameras: Any = None, lidars: Any = None) -> Frame:
    """The current frame with its camera and/or lidar mappings replaced (truth, ego and meta kept)."""
    kw = {}
    if cameras is not None:
        kw["cameras"] = dict(cameras)
    if lidars is not None:
        kw["lidars"] = dict(lidars)
    return replace(current, **kw)
