"""The lidar input of a perturbation: points plus the per-point beam index.

``points`` is float32 N x 4 (x, y, z, intensity) in the vehicle (ego) frame;
``ring`` is the beam index of each point (0 = lowest beam); ``labels`` optionally
holds the ground-truth object id of each point (-1 background, -2 weather
particle), which incomplete-echo and ground truth use. ``origin`` is the sensor
position in the same frame (ranges are measured from it) and ``num_beams`` the
sensor's beam count. The array module of ``points`` (NumPy or CuPy) is the one
every lidar kernel uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from perturbations.xp import namespace


@dataclass(frozen=True)
class Scan:
    points: Any
    ring: Any
    labels: Any | None = None
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    num_beams: int = 64

    def __post_init__(self) -> None:
        p = self.points
        if not hasattr(p, "shape") or len(p.shape) != 2 or p.shape[1] != 4:
            got = f"shape {tuple(p.shape)}" if hasattr(p, "shape") else type(p).__name__
            raise ValueError(f"Scan.points: expected shape (N, 4) as x, y, z, intensity, got {got}")
        if p.dtype != namespace(p).float32:  # str(dtype) is "array_api_strict.float32" off NumPy
            raise ValueError(f"Scan.points: expected dtype float32, got {p.dtype}")
        n = p.shape[0]
        if not hasattr(self.ring, "shape") or tuple(self.ring.shape) != (n,):
            raise ValueError(f"Scan.ring: expected shape ({n},) to match points, got {getattr(self.ring, 'shape', None)}")
        if self.labels is not None and tuple(self.labels.shape) != (n,):
            raise ValueError(f"Scan.labels: expected shape ({n},) to match points, got {self.labels.shape}")
        if self.num_beams < 1:
            raise ValueError(f"Scan.num_beams: must be positive, got {self.num_beams}")
        namespace(p)  # raises on a non-array

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def take(self, keep: Any) -> Scan:
        """The points selected by a boolean mask or index array (same array module).

        A mask is turned into indices first: ``take`` with an index array is an
        order of magnitude faster than boolean indexing of an N x 4 array in NumPy.
        """
        xp = namespace(self.points)
        idx = xp.nonzero(keep)[0] if keep.dtype == xp.bool else keep
        return replace(
            self,
            points=xp.take(self.points, idx, axis=0),
            ring=xp.take(self.ring, idx),
            labels=None if self.labels is None else xp.take(self.labels, idx),
        )

    def with_points(self, points: Any) -> Scan:
        return replace(self, points=points)


def scan_from_numpy(points: np.ndarray, ring: np.ndarray, **kw: Any) -> Scan:
    """Convenience constructor that coerces dtypes (float32 points, int32 ring)."""
    return Scan(points=np.asarray(points, np.float32), ring=np.asarray(ring, np.int32), **kw)
