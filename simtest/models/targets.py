"""CenterPoint-style training targets and box decoding on the output BEV grid.

Each ground-truth box puts a Gaussian peak (its class channel) on the output
cell holding its centre; that cell regresses the sub-cell offset, the centre
height, the log size and the heading as (sin, cos). Decoding inverts this:
local maxima of the sigmoid heatmap above a score become boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from simtest.models.bev import BevGrid


@dataclass(frozen=True)
class Targets:
    """Targets of one frame: ``heatmap`` (classes, H, W) float32; per box the flat
    cell ``index`` (K,), its ``regression`` (K, 8) and ``labels`` (K,)."""

    heatmap: np.ndarray
    index: np.ndarray
    regression: np.ndarray
    labels: np.ndarray


def gaussian_sigma(length: np.ndarray, width: np.ndarray, cell: float, min_sigma: float = 0.6) -> np.ndarray:
    """Peak spread in output cells: a sixth of the smaller footprint side, at least ``min_sigma`` cells."""
    return np.maximum(min_sigma, np.minimum(length, width) / cell / 6.0)


def encode(boxes: np.ndarray, labels: np.ndarray, grid: BevGrid, num_classes: int) -> Targets:
    """Heatmap and regression targets for ego-frame ``boxes`` (N x 7) of class ``labels``.

    Boxes whose centre lies outside the grid are dropped. When two centres share
    a cell the later box's regression wins (the heatmap keeps both peaks).
    """
    h, w = grid.out_shape
    heat = np.zeros((num_classes, h, w), np.float32)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    labels = np.asarray(labels, np.int64)
    fr, fc = grid.out_cell_of(boxes[:, 0], boxes[:, 1])
    inside = (fr >= 0) & (fr < h) & (fc >= 0) & (fc < w)
    boxes, labels, fr, fc = boxes[inside], labels[inside], fr[inside], fc[inside]
    r, c = np.floor(fr).astype(np.int64), np.floor(fc).astype(np.int64)
    sigma = gaussian_sigma(boxes[:, 3], boxes[:, 4], grid.out_cell)
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    for k in range(len(boxes)):
        rad = int(np.ceil(3 * sigma[k]))
        r0, r1, c0, c1 = max(r[k] - rad, 0), min(r[k] + rad + 1, h), max(c[k] - rad, 0), min(c[k] + rad + 1, w)
        g = np.exp(-((rows[r0:r1] - r[k]) ** 2 + (cols[:, c0:c1] - c[k]) ** 2) / (2 * sigma[k] ** 2))
        np.maximum(heat[labels[k], r0:r1, c0:c1], g, out=heat[labels[k], r0:r1, c0:c1])
    reg = np.stack(
        [fr - r, fc - c, boxes[:, 2], np.log(boxes[:, 3]), np.log(boxes[:, 4]), np.log(boxes[:, 5]),
         np.sin(boxes[:, 6]), np.cos(boxes[:, 6])],
        axis=1,
    ).astype(np.float32)
    return Targets(heat, (r * w + c).astype(np.int64), reg.reshape(-1, 8), labels)


def decode(
    heatmap_logits: torch.Tensor,
    regression: torch.Tensor,
    grid: BevGrid,
    *,
    score_threshold: float = 0.1,
    max_boxes: int = 100,
    nms_radius: float = 1.0,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Boxes (K x 7, ego frame), scores and labels per batch item.

    Peaks are 3 x 3 local maxima of the sigmoid heatmap per class; then a
    class-agnostic circle NMS drops any peak within ``nms_radius`` metres
    (BEV centre distance) of a higher-scoring one, so one object does not come
    out as two classes.
    """
    heat = torch.sigmoid(heatmap_logits)
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)
    b, ncls, h, w = heat.shape
    out = []
    for i in range(b):
        flat = peaks[i].reshape(-1)
        k = min(max_boxes, flat.numel())
        scores, idx = flat.topk(k)
        keep = scores >= score_threshold
        scores, idx = scores[keep].cpu().numpy().astype(np.float64), idx[keep].cpu().numpy()
        labels, cell = idx // (h * w), idx % (h * w)
        r, c = cell // w, cell % w
        reg = regression[i].reshape(regression.shape[1], -1)[:, torch.as_tensor(cell, device=regression.device)]
        reg = reg.cpu().numpy().astype(np.float64).T.reshape(-1, 8)
        x, y = grid.out_centres(r + reg[:, 0], c + reg[:, 1])
        sizes = np.exp(np.clip(reg[:, 3:6], -3.0, 3.0))
        yaw = np.arctan2(reg[:, 6], reg[:, 7])
        boxes = np.column_stack([x, y, reg[:, 2], sizes, yaw])
        keep = circle_nms(boxes[:, :2], scores, nms_radius)
        out.append((boxes[keep], scores[keep], labels[keep].astype(np.int64)))
    return out


def circle_nms(centres: np.ndarray, scores: np.ndarray, radius: float) -> np.ndarray:
    """Indices kept by greedy NMS on BEV centre distance, highest score first (scores sorted or not)."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    for i in order:
        if all(np.hypot(*(centres[i] - centres[j])) > radius for j in kept):
            kept.append(int(i))
    return np.asarray(kept, np.int64)
