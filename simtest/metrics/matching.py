"""Match detections to ground truth and turn a frame into result rows.

Matching follows the nuScenes detection evaluation: per frame and class,
detections are taken in descending score order and each takes the closest
still-unmatched ground-truth object of its class within the gate (BEV centre
distance ``<=`` the class threshold, default 2 m), or the one with the highest
BEV IoU (``>=`` the class threshold) in ``method="iou"``. Matching is one-to-one
and classes never match across. Only detections at or above the class score
threshold (the operating point) take part; ``best_score`` additionally records,
for every ground-truth object, the highest same-class score within the gate at
any threshold, so a report can sweep the operating point afterwards.

Ties are broken deterministically: equal scores by detection index, equal
distances (or IoUs) by ground-truth index.

The core is :func:`match_batch`, a vectorised greedy matcher over many frames at
once; :func:`match_frame` and :func:`result_rows` are its one-frame front ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from simtest.metrics.geometry import bev_iou_pairs
from simtest.types import CLASSES, Detections, Frame, Objects

METHODS = ("center", "iou")
DEFAULT_CENTER_THRESHOLD = 2.0
"""nuScenes-style BEV centre-distance gate (m)."""
DEFAULT_IOU_THRESHOLD: Mapping[str, float] = MappingProxyType({"vehicle": 0.5, "pedestrian": 0.3, "cyclist": 0.3})
"""BEV IoU gates; classes not listed use 0.5."""
DEFAULT_SCORE_THRESHOLD = 0.3
"""Operating point: detections scoring below this are discarded by the model."""


def _per_class(
    name: str, value: float | Mapping[str, float], classes: tuple[str, ...], default: float | Mapping[str, float]
) -> Mapping[str, float]:
    """Expand a scalar or a partial ``{class: value}`` mapping to every class; reject unknown classes."""
    if isinstance(default, Mapping):
        out = {c: float(default.get(c, 0.5)) for c in classes}
    else:
        out = {c: float(default) for c in classes}
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(classes))
        if unknown:
            raise ValueError(f"MatchConfig.{name}: unknown class(es) {unknown}; known classes are {list(classes)}")
        items = value.items()
    else:
        items = ((c, value) for c in classes)
    for c, v in items:
        try:
            out[c] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"MatchConfig.{name}: expected a number or a {{class: number}} mapping, got {v!r}") from None
    return MappingProxyType(out)


@dataclass(frozen=True)
class MatchConfig:
    """How detections are matched to ground truth.

    Thresholds may be given as one number for every class or as a
    ``{class: value}`` mapping (unlisted classes keep their default).

    ``center_threshold``: BEV centre distance gate in metres (method ``center``).
    ``iou_threshold``: BEV IoU gate in (0, 1] (method ``iou``).
    ``score_threshold``: per-class operating point in [0, 1].
    """

    method: str = "center"
    center_threshold: float | Mapping[str, float] = DEFAULT_CENTER_THRESHOLD
    iou_threshold: float | Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_IOU_THRESHOLD))
    score_threshold: float | Mapping[str, float] = DEFAULT_SCORE_THRESHOLD
    class_names: tuple[str, ...] = CLASSES
    _arrays: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"MatchConfig.method: {self.method!r} is not one of {list(METHODS)}")
        classes = tuple(self.class_names)
        if not classes or len(set(classes)) != len(classes):
            raise ValueError(f"MatchConfig.class_names: need unique class names, got {list(classes)}")
        object.__setattr__(self, "class_names", classes)
        center = _per_class("center_threshold", self.center_threshold, classes, DEFAULT_CENTER_THRESHOLD)
        iou = _per_class("iou_threshold", self.iou_threshold, classes, DEFAULT_IOU_THRESHOLD)
        score = _per_class("score_threshold", self.score_threshold, classes, DEFAULT_SCORE_THRESHOLD)
        for c in classes:
            if not (np.isfinite(center[c]) and center[c] > 0):
                raise ValueError(f"MatchConfig.center_threshold[{c!r}]: must be a positive distance in metres, got {center[c]}")
            if not (0 < iou[c] <= 1):
                raise ValueError(f"MatchConfig.iou_threshold[{c!r}]: must lie in (0, 1], got {iou[c]}")
            if not (0 <= score[c] <= 1):
                raise ValueError(f"MatchConfig.score_threshold[{c!r}]: must lie in [0, 1], got {score[c]}")
        object.__setattr__(self, "center_threshold", center)
        object.__setattr__(self, "iou_threshold", iou)
        object.__setattr__(self, "score_threshold", score)
        arrays = {k: np.array([m[c] for c in classes]) for k, m in (("center", center), ("iou", iou), ("score", score))}
        object.__setattr__(self, "_arrays", arrays)

    def __hash__(self) -> int:
        return hash((self.method, self.class_names, *(tuple(m.items()) for m in
                     (self.center_threshold, self.iou_threshold, self.score_threshold))))

    def thresholds(self, kind: str) -> np.ndarray:
        """Per-label threshold array (``kind`` = "center", "iou" or "score"), indexed by class label."""
        return self._arrays[kind]

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "center_threshold": dict(self.center_threshold),
            "iou_threshold": dict(self.iou_threshold),
            "score_threshold": dict(self.score_threshold),
            "class_names": list(self.class_names),
        }


@dataclass(frozen=True)
class BatchMatch:
    """Result of matching many frames at once (indices are positions in the inputs).

    ``gt_det``: matched detection of each ground-truth object, or -1.
    ``det_gt``: matched ground-truth object of each detection, or -1.
    ``det_active``: detection at or above its class's operating point.
    ``gt_best_score``: highest same-class score within the gate at any threshold (NaN if none).
    ``gt_center_error``: BEV centre distance to the matched detection (m, NaN if missed).
    ``gt_iou``: BEV IoU with the matched detection (NaN if missed).
    """

    gt_det: np.ndarray
    det_gt: np.ndarray
    det_active: np.ndarray
    gt_best_score: np.ndarray
    gt_center_error: np.ndarray
    gt_iou: np.ndarray

    @property
    def detected(self) -> np.ndarray:
        return self.gt_det >= 0

    @property
    def false_positive(self) -> np.ndarray:
        """Detections at the operating point that matched nothing."""
        return self.det_active & (self.det_gt < 0)


FrameMatch = BatchMatch
"""The match of a single frame has the same fields as a batch."""


def _check_batch(name: str, frame: np.ndarray, labels: np.ndarray, boxes: np.ndarray, n_classes: int) -> None:
    n = len(frame)
    if frame.ndim != 1 or labels.shape != (n,) or boxes.shape != (n, 7):
        raise ValueError(
            f"match_batch: {name} arrays disagree: frame {frame.shape}, labels {labels.shape}, boxes {boxes.shape}; "
            "expected (N,), (N,) and (N, 7)"
        )
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"match_batch: {name} labels must index MatchConfig.class_names (0..{n_classes - 1})")
    if n and not np.isfinite(boxes).all():
        raise ValueError(f"match_batch: {name} boxes contain NaN or infinite values")


def _candidate_pairs(gkey: np.ndarray, dkey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (gt, det) index pairs sharing a group key (frame and class)."""
    g_order = np.argsort(gkey, kind="stable")
    d_order = np.argsort(dkey, kind="stable")
    gs, ds = gkey[g_order], dkey[d_order]
    keys = np.intersect1d(gs, ds)
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    g_lo, g_hi = np.searchsorted(gs, keys, "left"), np.searchsorted(gs, keys, "right")
    d_lo, d_hi = np.searchsorted(ds, keys, "left"), np.searchsorted(ds, keys, "right")
    ng, nd = g_hi - g_lo, d_hi - d_lo
    per_group = ng * nd
    total = int(per_group.sum())
    grp = np.repeat(np.arange(len(keys)), per_group)
    k = np.arange(total) - np.repeat(np.cumsum(per_group) - per_group, per_group)
    gi = g_lo[grp] + k // nd[grp]
    di = d_lo[grp] + k % nd[grp]
    return g_order[gi], d_order[di]


def _greedy(
    pg: np.ndarray, pd_: np.ndarray, cost: np.ndarray, rank: np.ndarray, n_gt: int, n_det: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one assignment over gated pairs, resolved in parallel rounds.

    Detections are served in ``rank`` order, each taking its lowest-cost free gt
    (ties: lowest gt index). In every round each unresolved detection that is
    the best-ranked claimant of *all* its remaining candidates is resolved: no
    better-ranked detection can take any of them any more, so its choice is the
    one the sequential greedy would make. The best-ranked unresolved detection
    always qualifies, so the loop ends.
    """
    gt_det = np.full(n_gt, -1, np.int64)
    det_gt = np.full(n_det, -1, np.int64)
    # Order pairs once by (detection rank, cost, gt index): each detection's first pair is its choice.
    order = np.lexsort((pg, cost, rank[pd_]))
    pg, pd_ = pg[order], pd_[order]
    while len(pg):
        r = rank[pd_]
        best_claim = np.full(n_gt, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(best_claim, pg, r)
        conflict = best_claim[pg] != r  # a better-ranked detection still wants this gt
        blocked = np.zeros(n_det, bool)
        blocked[pd_[conflict]] = True
        first = np.ones(len(pd_), bool)
        first[1:] = pd_[1:] != pd_[:-1]
        take = first & ~blocked[pd_]
        gt_det[pg[take]] = pd_[take]
        det_gt[pd_[take]] = pg[take]
        keep = blocked[pd_] & (gt_det[pg] < 0)  # unresolved detections, free gts
        pg, pd_ = pg[keep], pd_[keep]
    return gt_det, det_gt


def match_batch(
    gt_frame: np.ndarray,
    gt_labels: np.ndarray,
    gt_boxes: np.ndarray,
    det_frame: np.ndarray,
    det_labels: np.ndarray,
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    cfg: MatchConfig,
) -> BatchMatch:
    """Match detections to ground truth over many frames at once.

    ``*_frame`` are integer frame keys (any unique id per frame), ``*_labels``
    class indices into ``cfg.class_names``, ``*_boxes`` (N, 7) ego-frame boxes,
    ``det_scores`` in [0, 1]. Returns a :class:`BatchMatch` indexed like the inputs.
    """
    gt_frame, gt_labels = np.asarray(gt_frame, np.int64), np.asarray(gt_labels, np.int64)
    det_frame, det_labels = np.asarray(det_frame, np.int64), np.asarray(det_labels, np.int64)
    gt_boxes, det_boxes = np.asarray(gt_boxes, np.float64), np.asarray(det_boxes, np.float64)
    det_scores = np.asarray(det_scores, np.float64)
    n_cls = len(cfg.class_names)
    _check_batch("ground-truth", gt_frame, gt_labels, gt_boxes, n_cls)
    _check_batch("detection", det_frame, det_labels, det_boxes, n_cls)
    if det_scores.shape != det_frame.shape:
        raise ValueError(f"match_batch: det_scores has shape {det_scores.shape}, expected {det_frame.shape}")
    if det_scores.size and not np.isfinite(det_scores).all():
        raise ValueError("match_batch: det_scores contain NaN or infinite values")
    n_gt, n_det = len(gt_frame), len(det_frame)

    pg, pd_ = _candidate_pairs(gt_frame * n_cls + gt_labels, det_frame * n_cls + det_labels)
    dist = np.hypot(gt_boxes[pg, 0] - det_boxes[pd_, 0], gt_boxes[pg, 1] - det_boxes[pd_, 1])
    if cfg.method == "center":
        gate = dist <= cfg.thresholds("center")[gt_labels[pg]]
        pg, pd_, cost = pg[gate], pd_[gate], dist[gate]
    else:
        # Footprints cannot overlap when centres are further apart than the sum of half-diagonals.
        reach = 0.5 * (np.hypot(gt_boxes[pg, 3], gt_boxes[pg, 4]) + np.hypot(det_boxes[pd_, 3], det_boxes[pd_, 4]))
        pg, pd_ = pg[dist < reach], pd_[dist < reach]
        iou = bev_iou_pairs(gt_boxes[pg], det_boxes[pd_])
        gate = iou >= cfg.thresholds("iou")[gt_labels[pg]]
        pg, pd_, cost = pg[gate], pd_[gate], -iou[gate]

    best = np.full(n_gt, -np.inf)
    np.maximum.at(best, pg, det_scores[pd_])
    gt_best_score = np.where(np.isfinite(best), best, np.nan)

    det_active = det_scores >= cfg.thresholds("score")[det_labels] if n_det else np.zeros(0, bool)
    active_pair = det_active[pd_]
    # Rank: descending score, ties by detection index.
    rank = np.empty(n_det, np.int64)
    rank[np.lexsort((np.arange(n_det), -det_scores))] = np.arange(n_det)
    gt_det, det_gt = _greedy(pg[active_pair], pd_[active_pair], cost[active_pair], rank, n_gt, n_det)

    hit = gt_det >= 0
    center_error = np.full(n_gt, np.nan)
    gt_iou = np.full(n_gt, np.nan)
    if hit.any():
        gi, di = np.nonzero(hit)[0], gt_det[hit]
        center_error[gi] = np.hypot(gt_boxes[gi, 0] - det_boxes[di, 0], gt_boxes[gi, 1] - det_boxes[di, 1])
        gt_iou[gi] = bev_iou_pairs(gt_boxes[gi], det_boxes[di])
    return BatchMatch(gt_det, det_gt, det_active, gt_best_score, center_error, gt_iou)


def _check_classes(gt: Objects, det: Detections, cfg: MatchConfig) -> None:
    if tuple(gt.class_names) != cfg.class_names or tuple(det.class_names) != cfg.class_names:
        raise ValueError(
            f"match_frame: class_names differ: ground truth {list(gt.class_names)}, detections "
            f"{list(det.class_names)}, MatchConfig {list(cfg.class_names)}; use the same class list everywhere"
        )


def match_frame(gt: Objects, det: Detections, cfg: MatchConfig) -> FrameMatch:
    """Match one frame's detections to its ground-truth objects (see module docstring)."""
    _check_classes(gt, det, cfg)
    return match_batch(
        np.zeros(len(gt), np.int64), gt.labels, gt.boxes,
        np.zeros(len(det), np.int64), det.labels, det.boxes, det.scores, cfg,
    )


def rows_from_match(
    m: BatchMatch,
    gt: Mapping[str, np.ndarray],
    det: Mapping[str, np.ndarray],
    cfg: MatchConfig,
    *,
    path_half_width: float = 1.75,
) -> pd.DataFrame:
    """Result rows (every ``RESULT_SCHEMA`` column except ``cell``) from a match, column-wise.

    ``gt`` holds per-object arrays ``episode, frame, seed, timestamp, ego_speed,
    object_id, labels, boxes, visible_fraction, lidar_points, in_path,
    critical``; ``det`` holds ``episode, frame, seed, timestamp, ego_speed,
    labels, boxes, scores`` for the same detections that were matched. One
    ``gt`` row per object and one ``fp`` row per detection at the operating
    point that matched nothing; a false positive is ``in_path`` when it lies
    ahead (x >= 0) within ``path_half_width`` metres of the ego's centre line and
    is never ``critical``.
    """
    names = np.asarray(cfg.class_names, dtype=object)
    n_gt = len(m.gt_det)
    fp = np.flatnonzero(m.false_positive)
    n_fp = len(fp)
    gb, fb = np.asarray(gt["boxes"], np.float64).reshape(-1, 7), np.asarray(det["boxes"], np.float64)[fp]
    det_scores = np.asarray(det["scores"], np.float64)
    hit = m.gt_det >= 0
    score = np.full(n_gt, np.nan)
    score[hit] = det_scores[m.gt_det[hit]]

    def both(key: str, gt_dtype: type, det_dtype: type | None = None) -> np.ndarray:
        return np.concatenate([np.asarray(gt[key], gt_dtype), np.asarray(det[key], det_dtype or gt_dtype)[fp]])

    def gt_only(values: np.ndarray, dtype: type, fill: float) -> np.ndarray:
        return np.concatenate([np.asarray(values, dtype), np.full(n_fp, fill, dtype)])

    fp_null = np.r_[np.zeros(n_gt, bool), np.ones(n_fp, bool)]
    return pd.DataFrame(
        {
            "episode": both("episode", np.int32),
            "frame": both("frame", np.int32),
            "seed": both("seed", np.int64),
            "timestamp": both("timestamp", np.float64),
            "row_type": np.r_[np.full(n_gt, "gt", dtype=object), np.full(n_fp, "fp", dtype=object)],
            "object_id": np.r_[np.asarray(gt["object_id"], np.int64), np.full(n_fp, -1, np.int64)],
            "cls": names[np.r_[np.asarray(gt["labels"], np.int64), np.asarray(det["labels"], np.int64)[fp]]],
            "detected": pd.arrays.BooleanArray(np.r_[hit, np.zeros(n_fp, bool)], fp_null),
            "score": np.r_[score, det_scores[fp]].astype(np.float32),
            "best_score": gt_only(m.gt_best_score, np.float32, np.nan),
            "center_error": gt_only(m.gt_center_error, np.float32, np.nan),
            "bev_iou": gt_only(m.gt_iou, np.float32, np.nan),
            "x": np.r_[gb[:, 0], fb[:, 0]].astype(np.float32),
            "y": np.r_[gb[:, 1], fb[:, 1]].astype(np.float32),
            "distance": np.r_[np.hypot(gb[:, 0], gb[:, 1]), np.hypot(fb[:, 0], fb[:, 1])].astype(np.float32),
            "visible_fraction": gt_only(gt["visible_fraction"], np.float32, np.nan),
            "lidar_points": pd.arrays.IntegerArray(gt_only(gt["lidar_points"], np.int32, 0), fp_null),
            "in_path": np.r_[np.asarray(gt["in_path"], bool), (fb[:, 0] >= 0) & (np.abs(fb[:, 1]) <= path_half_width)],
            "critical": np.r_[np.asarray(gt["critical"], bool), np.zeros(n_fp, bool)],
            "ego_speed": both("ego_speed", np.float32),
        }
    )


def result_rows(
    frame: Frame,
    det: Detections,
    cfg: MatchConfig,
    *,
    episode: int,
    seed: int,
    path_half_width: float = 1.75,
) -> pd.DataFrame:
    """Result rows of one frame: every column of ``RESULT_SCHEMA`` except ``cell`` (see :func:`rows_from_match`)."""
    gt = frame.objects
    m = match_frame(gt, det, cfg)
    common = {"episode": episode, "frame": frame.index, "seed": seed, "timestamp": frame.timestamp,
              "ego_speed": frame.ego.speed}
    gt_cols = {k: np.full(len(gt), v) for k, v in common.items()}
    gt_cols.update(object_id=gt.ids, labels=gt.labels, boxes=gt.boxes, visible_fraction=gt.visible_fraction,
                   lidar_points=gt.lidar_points, in_path=gt.in_path, critical=gt.critical)
    det_cols = {k: np.full(len(det), v) for k, v in common.items()}
    det_cols.update(labels=det.labels, boxes=det.boxes, scores=det.scores)
    return rows_from_match(m, gt_cols, det_cols, cfg, path_half_width=path_half_width)
