"""Miss rates, detection summary and track figures against hand counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic_rows import counts_rows, rows

from simtest.metrics.safety import clopper_pearson, detection_summary, miss_rates, track_metrics, with_bands


def _two_class_rows() -> pd.DataFrame:
    recs = []
    # pedestrians: 4 object-frames in 2 episodes, 1 miss; vehicles: 3 object-frames, 2 misses; 2 false positives.
    for ep, fr, det in [(0, 0, True), (0, 1, False), (1, 0, True), (1, 1, True)]:
        recs.append({"episode": ep, "frame": fr, "detected": det, "cls": "pedestrian"})
    for ep, fr, det in [(0, 0, False), (0, 1, False), (1, 0, True)]:
        recs.append({"episode": ep, "frame": fr, "detected": det, "cls": "vehicle", "object_id": 2})
    recs.append({"episode": 0, "frame": 0, "row_type": "fp", "object_id": -1, "cls": "vehicle"})
    recs.append({"episode": 1, "frame": 2, "row_type": "fp", "object_id": -1, "cls": "pedestrian"})
    return rows(*recs)


def test_miss_rates_by_class_by_hand():
    out = miss_rates(_two_class_rows(), ["cls"]).set_index("cls")
    assert out.loc["pedestrian", ["n", "misses", "episodes"]].tolist() == [4, 1, 2]
    assert out.loc["vehicle", ["n", "misses", "episodes"]].tolist() == [3, 2, 2]
    assert out.loc["pedestrian", "miss_rate"] == pytest.approx(0.25)
    assert out.loc["vehicle", "recall"] == pytest.approx(1 / 3)
    lo, hi = clopper_pearson(2, 3)
    assert out.loc["vehicle", ["lower", "upper"]].tolist() == pytest.approx([lo, hi])


def test_miss_rates_overall_and_columns():
    out = miss_rates(_two_class_rows())
    assert list(out.columns) == ["n", "misses", "miss_rate", "lower", "upper", "recall", "episodes"]
    assert out.iloc[0][["n", "misses"]].tolist() == [7, 3]


def test_miss_rates_methods_and_bad_input():
    df = counts_rows(np.array([0, 5, 0, 1]), np.array([20, 20, 20, 20]))
    for method in ("wilson", "clustered"):
        out = miss_rates(df, method=method)
        assert out.loc[0, "lower"] <= 6 / 80 <= out.loc[0, "upper"]
    out = miss_rates(df, method="bootstrap", rng=np.random.default_rng(0))
    assert out.loc[0, "lower"] <= out.loc[0, "upper"]
    with pytest.raises(ValueError, match="rng"):
        miss_rates(df, method="bootstrap")
    with pytest.raises(ValueError, match="method"):
        miss_rates(df, method="normal")
    with pytest.raises(ValueError, match="lack column"):
        miss_rates(df, ["weather"])
    with pytest.raises(ValueError, match="no ground-truth rows"):
        miss_rates(df[df.row_type == "fp"])


def test_detection_summary_by_hand():
    df = _two_class_rows()
    out = detection_summary(df, ["cls"]).set_index("cls")
    # Frames present: (0,0), (0,1), (1,0), (1,1), (1,2) -> 5 frames for each class (class is per object).
    assert out.loc["pedestrian", ["frames", "gt", "detected", "false_positives"]].tolist() == [5, 4, 3, 1]
    assert out.loc["pedestrian", "precision"] == pytest.approx(3 / 4)
    assert out.loc["vehicle", "fp_per_frame"] == pytest.approx(1 / 5)
    assert out.loc["vehicle", "recall"] == pytest.approx(1 / 3)
    # Grouping by a per-frame column (the episode) divides by that group's frames only.
    by_ep = detection_summary(df, ["episode"]).set_index("episode")
    assert by_ep["frames"].tolist() == [2, 3]
    assert by_ep.loc[1, "fp_per_frame"] == pytest.approx(1 / 3)


def test_track_metrics_longest_run_and_first_detection():
    # Object 1 in episode 0: frames 0..7 critical; misses at 0,1,2 then hit at 3 (distance 20), miss 5,6.
    det = [False, False, False, True, True, False, False, True]
    recs = [{"frame": f, "detected": d, "distance": 30.0 - 2 * f} for f, d in enumerate(det)]
    # Object 2: never detected, frames 0,1 then a gap, 4,5 -> longest run 2 (the gap breaks the run).
    recs += [{"object_id": 2, "frame": f, "detected": False, "distance": 12.0} for f in (0, 1, 4, 5)]
    # Object 3 is never critical: excluded.
    recs += [{"object_id": 3, "frame": 0, "detected": False, "critical": False}]
    out = track_metrics(rows(*recs), frame_dt=0.1).set_index("object_id")
    assert sorted(out.index) == [1, 2]
    assert out.loc[1, ["frames", "missed_frames", "longest_miss_frames"]].tolist() == [8, 5, 3]
    assert out.loc[1, "longest_miss_s"] == pytest.approx(0.3)
    assert out.loc[1, "first_distance"] == pytest.approx(30.0)
    assert out.loc[1, "first_detection_distance"] == pytest.approx(24.0)
    assert out.loc[2, "longest_miss_frames"] == 2
    assert np.isnan(out.loc[2, "first_detection_distance"])
    every = track_metrics(rows(*recs), frame_dt=0.05, critical_only=False)
    assert len(every) == 3
    with pytest.raises(ValueError, match="frame_dt"):
        track_metrics(rows(*recs), frame_dt=0.0)


def test_with_bands_labels_and_edges():
    df = rows({"distance": 0.0, "visible_fraction": 0.0}, {"distance": 9.99, "visible_fraction": 0.25},
              {"distance": 10.0, "visible_fraction": 0.26}, {"distance": 120.0, "visible_fraction": 1.0})
    out = with_bands(df)
    assert out["distance_band"].astype(str).tolist() == ["0-10 m", "0-10 m", "10-20 m", "80-inf m"]
    assert out["visibility_band"].astype(str).tolist() == ["0-0.25", "0-0.25", "0.25-0.5", "0.75-1"]
    rates = miss_rates(out, ["distance_band"])
    assert rates["distance_band"].astype(str).tolist() == ["0-10 m", "10-20 m", "80-inf m"]
    with pytest.raises(ValueError, match="distance_edges"):
        with_bands(df, distance_edges=(10, 0))
