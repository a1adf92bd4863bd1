"""The shipped reference model meets the issue's quality bar and puts its boxes on the objects.

These tests run the shipped weights on embedded-simulator scenes that were never
trained on. If the model misses the bar they fail: the bar is not negotiable here.
"""

from __future__ import annotations

import numpy as np

from simtest.metrics.geometry import bev_iou_pairs
from simtest.models.evaluation import MAX_DISTANCE, MIN_LIDAR_POINTS, MIN_VISIBLE_FRACTION, evaluation_rows, quality
from simtest.models.reference import ReferenceDetector
from simtest.types import points_in_boxes

from .scenes import held_out_frames, rendered_scene


def test_the_shipped_model_meets_its_recall_bar_on_held_out_clear_noon_scenes():
    frames = list(held_out_frames())
    dets = ReferenceDetector().predict(frames)
    q = quality(evaluation_rows(frames, dets), len(frames))
    assert q.objects.get("vehicle", 0) >= 30 and q.objects.get("pedestrian", 0) >= 30, q.objects  # enough to mean something
    assert q.passes, f"quality bar missed: {q.shortfalls()} (recall {q.recall}, {q.fp_per_frame:.3f} FP/frame)"


def test_its_boxes_lie_on_the_ground_truth_boxes_of_a_rendered_scene():
    frames = list(rendered_scene())
    checked = 0
    for frame, det in zip(frames, ReferenceDetector().predict(frames)):
        gt = frame.objects
        det = det.select(det.scores >= 0.3)
        eligible = (gt.distance <= MAX_DISTANCE) & ((gt.visible_fraction >= MIN_VISIBLE_FRACTION)
                                                    | (gt.lidar_points >= MIN_LIDAR_POINTS))
        for k in np.flatnonzero(eligible):
            same = np.flatnonzero(det.labels == gt.labels[k])
            assert len(same), f"no {gt.class_of()[k]} detection for object {gt.ids[k]}"
            d = same[np.argmin(np.hypot(*(det.boxes[same, :2] - gt.boxes[k, :2]).T))]
            centre_error = float(np.hypot(*(det.boxes[d, :2] - gt.boxes[k, :2])))
            iou = float(bev_iou_pairs(det.boxes[d : d + 1], gt.boxes[k : k + 1])[0])
            vehicle = gt.class_of()[k] == "vehicle"
            assert centre_error <= (0.6 if vehicle else 0.4), (gt.ids[k], centre_error)
            assert iou >= (0.5 if vehicle else 0.2), (gt.ids[k], iou)
            checked += 1
        # and every confident detection nearby sits on some ground-truth box
        near = np.hypot(det.boxes[:, 0], det.boxes[:, 1]) <= MAX_DISTANCE
        centres = np.column_stack([det.boxes[near, :3]])
        on_gt = points_in_boxes(centres, gt.boxes, margin=0.5).any(axis=1)
        assert on_gt.all(), det.boxes[near][~on_gt]
    assert checked >= 3
