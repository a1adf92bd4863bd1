"""Matching against hand-worked cases and a sequential reference greedy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from simtest.metrics.geometry import bev_iou_matrix
from simtest.metrics.matching import MatchConfig, match_batch, match_frame, result_rows
from simtest.store import RESULT_SCHEMA
from simtest.types import Detections, EgoState, Frame, Objects

VEH, PED, CYC = 0, 1, 2


def box(x: float, y: float, l: float = 0.6, w: float = 0.6, yaw: float = 0.0) -> list[float]:
    return [x, y, 0.9, l, w, 1.7, yaw]


def objects(labels: list[int], boxes: list[list[float]], **kw: np.ndarray) -> Objects:
    n = len(labels)
    return Objects(ids=np.arange(10, 10 + n), labels=np.array(labels, np.int64),
                   boxes=np.array(boxes, float).reshape(n, 7), **kw)


def dets(labels: list[int], boxes: list[list[float]], scores: list[float]) -> Detections:
    n = len(labels)
    return Detections(boxes=np.array(boxes, float).reshape(n, 7), scores=np.array(scores, float),
                      labels=np.array(labels, np.int64))


CFG = MatchConfig(score_threshold=0.3)


def test_one_to_one_highest_score_takes_the_closest_gt():
    # Two pedestrians 1 m apart; the best detection sits between them but closer to B.
    gt = objects([PED, PED], [box(10, 0), box(11, 0)])
    det = dets([PED, PED], [box(10.6, 0), box(10.55, 0)], [0.9, 0.8])
    m = match_frame(gt, det, CFG)
    # Detection 0 (0.9) is 0.6 m from A and 0.4 m from B: takes B. Detection 1 takes A (0.55 m).
    assert m.gt_det.tolist() == [1, 0]
    assert m.det_gt.tolist() == [1, 0]
    np.testing.assert_allclose(m.gt_center_error, [0.55, 0.4])


def test_each_gt_matched_at_most_once_extra_detection_is_false_positive():
    gt = objects([PED], [box(10, 0)])
    det = dets([PED, PED], [box(10.1, 0), box(10.2, 0)], [0.5, 0.7])
    m = match_frame(gt, det, CFG)
    assert m.gt_det.tolist() == [1]  # higher score wins although farther
    assert m.false_positive.tolist() == [True, False]


def test_classes_are_kept_apart():
    gt = objects([PED, VEH], [box(10, 0), box(20, 0, 4.5, 1.9)])
    det = dets([VEH, PED], [box(10, 0, 4.5, 1.9), box(20, 0)], [0.9, 0.9])
    m = match_frame(gt, det, CFG)
    assert m.gt_det.tolist() == [-1, -1]
    assert m.false_positive.tolist() == [True, True]
    assert np.isnan(m.gt_best_score).all()


def test_score_threshold_is_the_operating_point_and_best_score_ignores_it():
    gt = objects([PED, CYC], [box(10, 0), box(15, 2)])
    det = dets([PED, CYC], [box(10.5, 0), box(15, 2.5)], [0.29, 0.31])
    m = match_frame(gt, det, CFG)
    assert m.gt_det.tolist() == [-1, 1]
    np.testing.assert_allclose(m.gt_best_score, [0.29, 0.31])
    assert m.det_active.tolist() == [False, True]
    assert not m.false_positive.any()  # a sub-threshold box is not a false positive


def test_per_class_thresholds():
    cfg = MatchConfig(center_threshold={"pedestrian": 0.5}, score_threshold={"cyclist": 0.8})
    gt = objects([PED, VEH, CYC], [box(10, 0), box(20, 0, 4.5, 1.9), box(30, 0)])
    det = dets([PED, VEH, CYC], [box(10.7, 0), box(21.5, 0, 4.5, 1.9), box(30, 0)], [0.9, 0.9, 0.7])
    m = match_frame(gt, det, cfg)
    assert m.gt_det.tolist() == [-1, 1, -1]  # ped 0.7 m > 0.5 m gate; vehicle 1.5 m <= 2 m; cyclist below 0.8


def test_gate_boundary_is_inclusive():
    gt = objects([PED], [box(10, 0)])
    det = dets([PED], [box(12, 0)], [0.5])
    assert match_frame(gt, det, CFG).gt_det.tolist() == [0]
    det = dets([PED], [box(12.001, 0)], [0.5])
    assert match_frame(gt, det, CFG).gt_det.tolist() == [-1]


def test_ties_are_deterministic():
    # Equal scores: the lower detection index goes first; equal distances: the lower gt index wins.
    gt = objects([PED, PED], [box(10, -0.5), box(10, 0.5)])
    det = dets([PED, PED], [box(10, 0), box(10, 0)], [0.6, 0.6])
    m = match_frame(gt, det, CFG)
    assert m.det_gt.tolist() == [0, 1]
    # Reversing the order of the detections swaps who is first, not the outcome pattern.
    m2 = match_frame(gt, dets([PED, PED], [box(10, 0.1), box(10, 0)], [0.6, 0.6]), CFG)
    assert m2.det_gt.tolist() == [1, 0]  # det 0 at y=0.1 is closer to gt 1


def test_empty_sides():
    none_gt, none_det = objects([], []), dets([], [], [])
    gt = objects([PED], [box(10, 0)])
    det = dets([PED], [box(10, 0)], [0.9])
    m = match_frame(none_gt, none_det, CFG)
    assert m.gt_det.shape == (0,) and m.det_gt.shape == (0,)
    m = match_frame(gt, none_det, CFG)
    assert m.gt_det.tolist() == [-1] and np.isnan(m.gt_best_score[0])
    m = match_frame(none_gt, det, CFG)
    assert m.false_positive.tolist() == [True]


def test_iou_mode_matches_by_overlap():
    cfg = MatchConfig(method="iou", iou_threshold=0.5, score_threshold=0.3)
    gt = objects([VEH, VEH], [box(10, 0, 4, 2), box(20, 0, 4, 2)])
    # Shifted 1 m along x: IoU = 6/10 = 0.6 (match). Rotated 90 deg: 4/12 = 1/3 (no match).
    det = dets([VEH, VEH], [box(11, 0, 4, 2), box(20, 0, 4, 2, np.pi / 2)], [0.9, 0.9])
    m = match_frame(gt, det, cfg)
    assert m.gt_det.tolist() == [0, -1]
    np.testing.assert_allclose(m.gt_iou[0], 0.6)
    # The same pairs in centre mode both match (1 m and 0 m apart).
    assert match_frame(gt, det, CFG).gt_det.tolist() == [0, 1]


def test_iou_mode_prefers_higher_iou():
    cfg = MatchConfig(method="iou", iou_threshold=0.1)
    gt = objects([VEH, VEH], [box(10, 0, 4, 2), box(12.5, 0, 4, 2)])
    det = dets([VEH], [box(12, 0, 4, 2)], [0.9])  # IoU 2/6 with gt 0, 3.5/4.5 with gt 1
    assert match_frame(gt, det, cfg).gt_det.tolist() == [-1, 0]


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        (box(0, 0, 4, 2), box(0, 0, 4, 2), 1.0),
        (box(0, 0, 4, 2), box(2, 1, 4, 2), 2.0 / 14.0),  # 2 x 1 overlap
        # 2 x 2 square and itself turned 45 deg: an octagon, the square minus 4 corners of area (sqrt2 - 1)^2.
        (box(0, 0, 2, 2), box(0, 0, 2, 2, np.pi / 4), (4 - 4 * (np.sqrt(2) - 1) ** 2) / (4 + 4 * (np.sqrt(2) - 1) ** 2)),
        (box(0, 0, 4, 2), box(10, 0, 4, 2), 0.0),
        (box(0, 0, 4, 2), box(0, 0, 4, 2, np.pi), 1.0),
    ],
)
def test_bev_iou_hand_cases(a, b, iou):
    np.testing.assert_allclose(bev_iou_matrix(np.array([a]), np.array([b]))[0, 0], iou, atol=1e-9)


def _sequential_greedy(gl, gb, dl, db, ds, cfg):
    gt_det = [-1] * len(gl)
    for d in sorted(range(len(ds)), key=lambda i: (-ds[i], i)):
        if ds[d] < cfg.score_threshold[cfg.class_names[dl[d]]]:
            continue
        best = None
        for g in range(len(gl)):
            if gt_det[g] >= 0 or gl[g] != dl[d]:
                continue
            dist = float(np.hypot(*(gb[g, :2] - db[d, :2])))
            if dist <= cfg.center_threshold[cfg.class_names[gl[g]]] and (best is None or dist < best[0]):
                best = (dist, g)
        if best is not None:
            gt_det[best[1]] = d
    return gt_det


def test_batch_matcher_equals_sequential_greedy_on_crowded_frames():
    rng = np.random.default_rng(0)
    cfg = MatchConfig(score_threshold=0.2)
    for _ in range(200):
        n_frames = int(rng.integers(1, 4))
        gf, df_ = rng.integers(0, n_frames, int(rng.integers(0, 25))), rng.integers(0, n_frames, int(rng.integers(0, 25)))
        gl, dl = rng.integers(0, 3, len(gf)), rng.integers(0, 3, len(df_))
        gb = np.array([box(*xy) for xy in rng.uniform(0, 5, (len(gf), 2))]).reshape(-1, 7)
        db = np.array([box(*xy) for xy in rng.uniform(0, 5, (len(df_), 2))]).reshape(-1, 7)
        ds = rng.choice([0.1, 0.3, 0.5, 0.9], len(df_))  # many ties
        m = match_batch(gf, gl, gb, df_, dl, db, ds, cfg)
        for f in range(n_frames):
            gi, di = np.flatnonzero(gf == f), np.flatnonzero(df_ == f)
            expect = _sequential_greedy(gl[gi], gb[gi], dl[di], db[di], ds[di], cfg)
            got = [int(np.flatnonzero(di == d)[0]) if d >= 0 else -1 for d in m.gt_det[gi]]
            assert got == expect


def test_result_rows_fill_the_schema():
    frame = Frame(
        index=4, timestamp=0.4, ego=EgoState(velocity=np.array([8.0, 0.0, 0.0])),
        objects=objects([PED, VEH], [box(6, 0.5), box(30, 3, 4.5, 1.9)], critical=np.array([True, False]),
                        in_path=np.array([True, False]), visible_fraction=np.array([0.8, 0.4]),
                        lidar_points=np.array([120, 40])),
    )
    det = dets([PED, VEH, CYC], [box(6.3, 0.5), box(40, 0, 4.5, 1.9), box(12, -0.5)], [0.8, 0.2, 0.5])
    rows = result_rows(frame, det, CFG, episode=3, seed=99)
    assert set(rows.columns) == set(RESULT_SCHEMA.names) - {"cell"}
    gt = rows[rows.row_type == "gt"].set_index("object_id")
    assert bool(gt.loc[10, "detected"]) and not bool(gt.loc[11, "detected"])
    np.testing.assert_allclose(gt.loc[10, ["score", "center_error", "distance"]].astype(float),
                               [0.8, 0.3, np.hypot(6, 0.5)], rtol=1e-6)
    assert pd.isna(gt.loc[11, "score"]) and pd.isna(gt.loc[11, "best_score"])  # the vehicle box is 10 m off
    fp = rows[rows.row_type == "fp"]
    assert fp["cls"].tolist() == ["cyclist"] and fp["object_id"].tolist() == [-1]
    assert bool(fp["in_path"].iloc[0]) and not bool(fp["critical"].iloc[0])
    assert (rows.episode == 3).all() and (rows.frame == 4).all() and (rows.seed == 99).all()
    np.testing.assert_allclose(rows.ego_speed, 8.0)
    table = pa.Table.from_pandas(rows.assign(cell="c"), schema=RESULT_SCHEMA, preserve_index=False)
    assert table.num_rows == 3


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"method": "giou"}, "method"),
        ({"center_threshold": -1.0}, "center_threshold['vehicle']"),
        ({"center_threshold": {"truck": 2.0}}, "unknown class"),
        ({"iou_threshold": 1.5}, "iou_threshold"),
        ({"score_threshold": {"pedestrian": 2.0}}, "score_threshold['pedestrian']"),
        ({"score_threshold": "high"}, "score_threshold"),
    ],
)
def test_match_config_rejects_bad_values(kwargs, text):
    with pytest.raises(ValueError, match=text.replace("[", r"\[").replace("]", r"\]")):
        MatchConfig(**kwargs)


def test_match_batch_rejects_mismatched_shapes_and_nan():
    cfg = MatchConfig()
    with pytest.raises(ValueError, match="ground-truth arrays disagree"):
        match_batch(np.zeros(2), np.zeros(3), np.zeros((2, 7)), np.zeros(0), np.zeros(0), np.zeros((0, 7)), np.zeros(0), cfg)
    with pytest.raises(ValueError, match="det_scores"):
        match_batch(np.zeros(0), np.zeros(0), np.zeros((0, 7)), np.zeros(1), np.zeros(1), np.ones((1, 7)), np.zeros(2), cfg)
    bad = np.ones((1, 7))
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        match_batch(np.zeros(1), np.zeros(1), bad, np.zeros(0), np.zeros(0), np.zeros((0, 7)), np.zeros(0), cfg)
