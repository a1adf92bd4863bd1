"""Camera-to-BEV lifting geometry (lift-splat): where each frustum cell lands in the BEV grid.

The image network predicts, for every feature pixel, a distribution over
``depth_bins`` depths along the pixel's ray and a context vector; their outer
product is splatted (summed) into the BEV feature cell that holds each
(pixel, depth) point. That cell index depends only on the camera's
intrinsics and mount, so it is computed here once per rig, in NumPy, and fed
to the network as an input (which keeps the network ONNX-exportable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simtest.models.bev import BevGrid
from simtest.types import project_points, transform_points


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
    """Flat BEV feature cell (``grid.bev_shape``) of every (depth, row, column) frustum point, int64 of shape
    (D * Hf * Wf,).

    ``K`` are the intrinsics of the network's input image; feature pixel
    ``(i, j)`` looks along the ray through image pixel
    ``((j + 0.5) * stride, (i + 0.5) * stride)``. Points outside the grid or the
    height range ``z_range`` (ego frame, m) map to the extra "dump" cell
    ``H_bev * W_bev``, which the network discards.
    """
    hf, wf = feature_shape
    u = (np.arange(wf) + 0.5) * feature_stride
    v = (np.arange(hf) + 0.5) * feature_stride
    uu, vv = np.meshgrid(u, v)  # (hf, wf)
    rays = np.stack([uu, vv, np.ones_like(uu)], -1) @ np.linalg.inv(K).T  # camera frame, z = 1
    d = depths.centres()[:, None, None, None]
    pts = transform_points(T_ego_from_cam, (rays[None] * d).reshape(-1, 3))
    h, w = grid.bev_shape
    r = np.floor((pts[:, 0] - grid.x_min) / grid.bev_cell).astype(np.int64)
    c = np.floor((pts[:, 1] - grid.y_min) / grid.bev_cell).astype(np.int64)
    ok = (r >= 0) & (r < h) & (c >= 0) & (c < w) & (pts[:, 2] >= z_range[0]) & (pts[:, 2] <= z_range[1])
    return np.where(ok, r * w + c, h * w)


def depth_bin_targets(
    points_ego: np.ndarray,
    K: np.ndarray,
    T_ego_from_cam: np.ndarray,
    feature_shape: tuple[int, int],
    feature_stride: int,
    depths: DepthBins,
) -> np.ndarray:
    """Depth-bin training target of every feature pixel from lidar points (lift-splat depth supervision).

    ``points_ego`` (N, >=3) are lidar returns in the ego frame; ``K`` are the
    intrinsics of the network's input image. Each point is projected into the
    image; feature pixel ``(i, j)`` (covering ``stride`` x ``stride`` input
    pixels) takes the bin of the **nearest** point that lands in it (the
    visible surface), as in BEVDepth. Returns int16 (Hf, Wf): the bin index,
    or -1 where no point lands or the depth lies outside ``[near, far)``.
    """
    hf, wf = feature_shape
    out = np.full(hf * wf, -1, np.int16)
    pts = np.asarray(points_ego, np.float64)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise ValueError(f"depth_bin_targets: points_ego must be (N, >=3) ego-frame points, got shape {pts.shape}")
    if len(pts) == 0:
        return out.reshape(hf, wf)
    uv, z = project_points(np.asarray(K, np.float64), np.asarray(T_ego_from_cam, np.float64), pts[:, :3])
    step = (depths.far - depths.near) / depths.count
    ok = (z >= depths.near) & (z < depths.far)
    col = np.floor(uv[:, 0] / feature_stride)
    row = np.floor(uv[:, 1] / feature_stride)
    ok &= (col >= 0) & (col < wf) & (row >= 0) & (row < hf)
    cell = (row[ok] * wf + col[ok]).astype(np.int64)
    zb = z[ok]
    order = np.lexsort((zb, cell))  # by cell, nearest first
    cell, zb = cell[order], zb[order]
    first = np.ones(len(cell), bool)
    first[1:] = cell[1:] != cell[:-1]
    out[cell[first]] = np.floor((zb[first] - depths.near) / step).astype(np.int16)
    return out.reshape(hf, wf)
