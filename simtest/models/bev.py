"""Bird's-eye-view grids of the reference model and the lidar raster.

The ego frame is x forward, y left, z up (metres). A :class:`BevGrid` covers
``[x_min, x_max) x [y_min, y_max)``; raster rows run along x (row 0 at
``x_min``) and columns along y (column 0 at ``y_min``). Three resolutions:
the lidar raster has ``cell`` metre cells; the network's BEV features (camera
splat, fusion CNN) have ``bev_cell = cell * stride``; its output (heatmap, box
regression) has ``out_cell = bev_cell / upsample``, fine enough that two
pedestrians a metre apart fall into different output cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Z_EDGES: tuple[float, ...] = (-0.4, 0.25, 0.7, 1.2, 1.8, 2.6, 4.0)
"""Height slices (m, ego frame, ground at z = 0) whose point counts form the raster's first channels."""

MAX_Z_RANGE: tuple[float, float] = (-0.4, 4.0)
"""Heights (m) quantised into the max-height channel."""


@dataclass(frozen=True)
class BevGrid:
    """A metric BEV grid in the ego frame: ``stride`` raster cells per BEV feature cell, ``upsample``
    output cells per BEV feature cell (along each axis)."""

    x_min: float = -40.0
    x_max: float = 56.0
    y_min: float = -40.0
    y_max: float = 40.0
    cell: float = 0.5
    stride: int = 2
    upsample: int = 2
    z_edges: tuple[float, ...] = Z_EDGES

    def __post_init__(self) -> None:
        if self.cell <= 0 or self.stride < 1:
            raise ValueError(f"BevGrid: cell must be positive metres and stride >= 1, got {self.cell}, {self.stride}")
        if isinstance(self.upsample, bool) or not isinstance(self.upsample, int) or self.upsample < 1:
            raise ValueError(f"BevGrid.upsample: output cells per BEV cell must be an integer >= 1, got {self.upsample!r}")
        for lo, hi, axis in ((self.x_min, self.x_max, "x"), (self.y_min, self.y_max, "y")):
            n = (hi - lo) / (self.cell * self.stride)
            if hi <= lo or abs(n - round(n)) > 1e-6:
                raise ValueError(
                    f"BevGrid.{axis}_min/{axis}_max: extent [{lo}, {hi}) must be positive and a whole number "
                    f"of BEV feature cells ({self.cell * self.stride} m)"
                )
        z = np.asarray(self.z_edges)
        if len(z) < 2 or np.any(np.diff(z) <= 0):
            raise ValueError(f"BevGrid.z_edges: need at least two increasing heights, got {list(self.z_edges)}")

    @property
    def shape(self) -> tuple[int, int]:
        """Raster (rows along x, columns along y)."""
        return round((self.x_max - self.x_min) / self.cell), round((self.y_max - self.y_min) / self.cell)

    @property
    def bev_cell(self) -> float:
        """BEV feature cell (m): where the camera is splatted and the fusion CNN runs."""
        return self.cell * self.stride

    @property
    def bev_shape(self) -> tuple[int, int]:
        h, w = self.shape
        return h // self.stride, w // self.stride

    @property
    def out_cell(self) -> float:
        """Output cell (m) of the heatmap and the box regression."""
        return self.bev_cell / self.upsample

    @property
    def out_shape(self) -> tuple[int, int]:
        h, w = self.bev_shape
        return h * self.upsample, w * self.upsample

    @property
    def lidar_channels(self) -> int:
        """Point counts per height slice, max height, mean intensity."""
        return len(self.z_edges) - 1 + 2

    def out_cell_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Output-grid (row, column) as floats for ego-frame positions."""
        return (np.asarray(x) - self.x_min) / self.out_cell, (np.asarray(y) - self.y_min) / self.out_cell

    def out_centres(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ego-frame (x, y) of fractional output-grid coordinates."""
        return self.x_min + np.asarray(rows) * self.out_cell, self.y_min + np.asarray(cols) * self.out_cell

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["z_edges"] = list(self.z_edges)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BevGrid:
        d = dict(data)
        if "z_edges" in d:
            d["z_edges"] = tuple(float(v) for v in d["z_edges"])
        return cls(**d)


def lidar_raster(points: Sequence[np.ndarray] | np.ndarray, grid: BevGrid) -> np.ndarray:
    """Rasterise ego-frame lidar points (N x 4: x, y, z, intensity) to uint8 (C, H, W).

    Channels: one per height slice of ``grid.z_edges`` holding the point count
    (saturating at 255), then the maximum height quantised over
    :data:`MAX_Z_RANGE` (0 = empty cell), then the mean intensity x 255.
    Several point sets (several lidars) are merged. Points outside the grid or
    the height slices are ignored.
    """
    pts = np.concatenate(list(points), axis=0) if isinstance(points, (list, tuple)) else np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] < 4:
        raise ValueError(f"lidar_raster: points must be (N, 4) x, y, z, intensity, got shape {pts.shape}")
    h, w = grid.shape
    nz = len(grid.z_edges) - 1
    out = np.zeros((grid.lidar_channels, h, w), np.uint8)
    r = np.floor((pts[:, 0] - grid.x_min) / grid.cell).astype(np.int64)
    c = np.floor((pts[:, 1] - grid.y_min) / grid.cell).astype(np.int64)
    zb = np.searchsorted(np.asarray(grid.z_edges), pts[:, 2], side="right") - 1
    keep = (r >= 0) & (r < h) & (c >= 0) & (c < w) & (zb >= 0) & (zb < nz)
    if not keep.any():
        return out
    r, c, zb, z, inten = r[keep], c[keep], zb[keep], pts[keep, 2], pts[keep, 3]
    cellid = r * w + c
    counts = np.bincount(zb * (h * w) + cellid, minlength=nz * h * w).reshape(nz, h, w)
    out[:nz] = np.minimum(counts, 255)
    zlo, zhi = MAX_Z_RANGE
    zq = np.clip(np.round(1 + (z - zlo) / (zhi - zlo) * 254), 1, 255)
    zmax = np.zeros(h * w)
    np.maximum.at(zmax, cellid, zq)
    out[nz] = zmax.reshape(h, w)
    total = np.bincount(cellid, minlength=h * w)
    isum = np.bincount(cellid, weights=np.clip(inten, 0.0, 1.0), minlength=h * w)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, isum / np.maximum(total, 1), 0.0)
    out[nz + 1] = np.round(mean * 255).reshape(h, w)
    return out
