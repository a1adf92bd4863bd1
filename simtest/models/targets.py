"""CenterPoint-style training targets and box decoding on the output BEV grid.

Each ground-truth box puts a Gaussian peak (its class channel) on the output
cell holding its centre. That cell and its eight neighbours regress the offset
from the cell to the centre, the centre height, the log size and the heading
as (sin, cos); a cell near two objects regresses the nearer one. Decoding
inverts this: every cell whose sigmoid score passes the threshold proposes a
box, and circle NMS (per-class radii) keeps the best of the proposals that
point to the same place. Regressing from the neighbours lets two pedestrians
in adjacent output cells come out as two boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from simtest.models.bev import BevGrid


@dataclass(frozen=True)
class Targets:
    """Targets of one frame: ``heatmap`` (classes, H, W) float32; per box the flat
    cell ``index`` (K,), its ``regression`` (K, 8) and ``labels`` (K,)."""

    heatmap: np.ndarray
    index: np.ndarray
    regression: np.ndarray
    labels: np.ndarray


MIN_SIGMA = 0.4
"""Smallest heatmap peak spread (m): sharp enough that two pedestrians a metre apart keep two peaks."""


def gaussian_sigma(length: np.ndarray, width: np.ndarray, cell: float, min_sigma: float = MIN_SIGMA) -> np.ndarray:
    """Peak spread in output cells: a sixth of the smaller footprint side, at least ``min_sigma`` metres."""
    return np.maximum(min_sigma, np.minimum(length, width) / 6.0) / cell


def encode(boxes: np.ndarray, labels: np.ndarray, grid: BevGrid, num_classes: int) -> Targets:
    """Heatmap and regression targets for ego-frame ``boxes`` (N x 7) of class ``labels``.

    Boxes whose centre lies outside the grid are dropped. Regression targets
    cover the 3 x 3 cells around each centre; a cell claimed by several boxes
    regresses the one whose centre is nearest (the heatmap keeps every peak).
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
    best: dict[int, tuple[float, int, int, int]] = {}  # cell -> (distance, box, row, col)
    for k in range(len(boxes)):
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                rr, cc = r[k] + dr, c[k] + dc
                if 0 <= rr < h and 0 <= cc < w:
                    d = float(np.hypot(fr[k] - rr - 0.5, fc[k] - cc - 0.5))
                    cell = int(rr * w + cc)
                    if cell not in best or d < best[cell][0]:
                        best[cell] = (d, k, rr, cc)
    cells = np.array(sorted(best), np.int64)
    owner = np.array([best[i][1] for i in cells], np.int64)
    rows_, cols_ = np.array([best[i][2] for i in cells]), np.array([best[i][3] for i in cells])
    b = boxes[owner] if len(cells) else np.zeros((0, 7))
    reg = np.stack(
        [fr[owner] - rows_, fc[owner] - cols_, b[:, 2], np.log(b[:, 3]), np.log(b[:, 4]), np.log(b[:, 5]),
         np.sin(b[:, 6]), np.cos(b[:, 6])],
        axis=1,
    ).astype(np.float32) if len(cells) else np.zeros((0, 8), np.float32)
    return Targets(heat, cells, reg.reshape(-1, 8), labels[owner] if len(cells) else labels[:0])


NMS_RADIUS: dict[int, float] = {0: 1.2, 1: 0.4, 2: 0.6}
"""Circle-NMS radius (m) per class label (vehicle, pedestrian, cyclist); two proposals suppress each other
within the smaller of their classes' radii. Labels not listed use 0.6 m."""


def decode(
    heatmap_logits: torch.Tensor,
    regression: torch.Tensor,
    grid: BevGrid,
    *,
    score_threshold: float = 0.1,
    max_boxes: int = 100,
    max_proposals: int = 1000,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Boxes (K x 7, ego frame), scores and labels per batch item.

    Every (class, cell) whose sigmoid score reaches ``score_threshold`` (the
    best ``max_proposals``) proposes a box from its regression; circle NMS on
    the BEV centres (:data:`NMS_RADIUS`, across classes, so one object does not
    come out as two classes) keeps at most ``max_boxes``.
    """
    heat = torch.sigmoid(heatmap_logits)
    b, ncls, h, w = heat.shape
    out = []
    for i in range(b):
        flat = heat[i].reshape(-1)
        scores, idx = flat.topk(min(max_proposals, flat.numel()))
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
        radius = np.array([NMS_RADIUS.get(int(k), 0.6) for k in labels])
        kept = circle_nms(boxes[:, :2], scores, radius)[:max_boxes]
        out.append((boxes[kept], scores[kept], labels[kept].astype(np.int64)))
    return out


def circle_nms(centres: np.ndarray, scores: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
    """Indices kept by greedy NMS on BEV centre distance, highest score first.

    ``radius`` is one distance (m) or one per proposal; two proposals clash
    within the smaller of their radii.
    """
    n = len(scores)
    radius = np.broadcast_to(np.asarray(radius, np.float64), (n,))
    order = np.argsort(-scores, kind="stable")
    d = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1)) if n else np.zeros((0, 0))
    clash = d <= np.minimum(radius[:, None], radius[None, :])
    suppressed = np.zeros(n, bool)
    kept = []
    for i in order:
        if not suppressed[i]:
            kept.append(int(i))
            suppressed |= clash[i]
    return np.asarray(kept, np.int64)
