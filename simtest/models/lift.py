"""Camera-to-BEV lifting geometry (lift-splat): where each frustum cell lands in the BEV grid.

The image network predicts, for every feature pixel, a distribution over
``depth_bins`` depths along the pixel's ray and a context vector; their outer
product is splatted (summed) into the output BEV cell that holds each
(pixel, depth) point. That cell index depends only on the camera's
intrinsics and mount, so it is computed here once per rig, in NumPy, and fed
to the network as an input (which keeps the network ONNX-exportable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simtest.models.bev import BevGrid
from simtest.types import transform_points


@dataclass(frozen=True)
class DepthBins:
    """Depth bin centres along the optical axis (camera z, metres): ``count`` bins over [near, far]."""

    near: float = 2.0
    far: float = 58.0
    count: int = 28

    def __post_init__(self) -> None:
        if not (0 < self.near < self.far) or self.count < 2:
            raise ValueError(f"DepthBins: need 0 < near < far and count >= 2, got {self.near}, {self.far}, {self.count}")

    def centres(self) -> np.ndarray:
        step = (self.far - self.near) / self.count
        return self.near + step * (np.arange(self.count) + 0.5)


def scale_intrinsics(K: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Intrinsics of an image resized by ``sx`` horizontally and ``sy`` vertically (pixel-edge convention)."""
    Ks = np.array(K, dtype=np.float64)
    Ks[0] *= sx
    Ks[1] *= sy
    return Ks


def frustum_cells(
    K: np.ndarray,
    T_ego_from_cam: np.ndarray,
    feature_shape: tuple[int, int],
    feature_stride: int,
    depths: DepthBins,
    grid: BevGrid,
    z_range: tuple[float, float] = (-1.0, 4.0),
) -> np.ndarray:
    """Flat output-grid cell of every (depth, row, column) frustum point, int64 of shape (D * Hf * Wf,).

    ``K`` are the intrinsics of the network's input image; feature pixel
    ``(i, j)`` looks along the ray through image pixel
    ``((j + 0.5) * stride, (i + 0.5) * stride)``. Points outside the grid or the
    height range ``z_range`` (ego frame, m) map to the extra "dump" cell
    ``H_out * W_out``, which the network discards.
    """
    hf, wf = feature_shape
    u = (np.arange(wf) + 0.5) * feature_stride
    v = (np.arange(hf) + 0.5) * feature_stride
    uu, vv = np.meshgrid(u, v)  # (hf, wf)
    rays = np.stack([uu, vv, np.ones_like(uu)], -1) @ np.linalg.inv(K).T  # camera frame, z = 1
    d = depths.centres()[:, None, None, None]
    pts = transform_points(T_ego_from_cam, (rays[None] * d).reshape(-1, 3))
    h, w = grid.out_shape
    r = np.floor((pts[:, 0] - grid.x_min) / grid.out_cell).astype(np.int64)
    c = np.floor((pts[:, 1] - grid.y_min) / grid.out_cell).astype(np.int64)
    ok = (r >= 0) & (r < h) & (c >= 0) & (c < w) & (pts[:, 2] >= z_range[0]) & (pts[:, 2] <= z_range[1])
    return np.where(ok, r * w + c, h * w)
