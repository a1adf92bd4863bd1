"""The reference model's quality bar, measured with simtest's own matching and summaries.

Issue 5 sets the bar on held-out clear-noon embedded scenes: pedestrian recall
>= 0.90 and vehicle recall >= 0.95 for objects within 40 m that have a visible
fraction >= 0.2 or >= 5 lidar points, at <= 0.2 false positives per frame
(false positives counted within the same 40 m). Detections matched to objects
outside that set are neither hits nor false positives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simtest.metrics.matching import MatchConfig, result_rows
from simtest.metrics.safety import detection_summary, miss_rates
from simtest.types import Detections, Frame

RECALL_BAR: dict[str, float] = {"vehicle": 0.95, "pedestrian": 0.90}
"""Minimum recall per class within the evaluation set."""
MAX_FP_PER_FRAME = 0.2
MAX_DISTANCE = 40.0
"""Metres (BEV distance from the ego origin)."""
MIN_VISIBLE_FRACTION = 0.2
MIN_LIDAR_POINTS = 5


@dataclass(frozen=True)
class Quality:
    """Figures against the bar: recall (and its 95 % Clopper-Pearson interval) per class, FP per frame."""

    recall: dict[str, float]
    recall_interval: dict[str, tuple[float, float]]
    objects: dict[str, int]
    fp_per_frame: float
    frames: int

    @property
    def passes(self) -> bool:
        return self.fp_per_frame <= MAX_FP_PER_FRAME and all(
            self.recall.get(c, float("nan")) >= bar for c, bar in RECALL_BAR.items()
        )

    def shortfalls(self) -> list[str]:
        """What misses the bar, in words (empty when it passes)."""
        out = [f"{c} recall {self.recall.get(c, float('nan')):.3f} < {bar}" for c, bar in RECALL_BAR.items()
               if not self.recall.get(c, float("nan")) >= bar]
        if self.fp_per_frame > MAX_FP_PER_FRAME:
            out.append(f"{self.fp_per_frame:.3f} false positives per frame > {MAX_FP_PER_FRAME}")
        return out

    def to_dict(self) -> dict[str, object]:
        return {"recall": self.recall, "recall_interval_95": {k: list(v) for k, v in self.recall_interval.items()},
                "objects": self.objects, "fp_per_frame": self.fp_per_frame, "frames": self.frames}


def evaluation_rows(
    frames: Sequence[Frame], detections: Sequence[Detections], match: MatchConfig | None = None, *, episode: int = 0
) -> pd.DataFrame:
    """simtest result rows of the evaluation set: eligible ground truth and false positives within range."""
    if len(frames) != len(detections):
        raise ValueError(f"evaluation_rows: {len(frames)} frames but {len(detections)} detection sets")
    cfg = match or MatchConfig()
    parts = [result_rows(f, d, cfg, episode=episode, seed=0).assign(frame=i) for i, (f, d) in enumerate(zip(frames, detections))]
    df = pd.concat(parts, ignore_index=True)
    near = df["distance"].to_numpy() <= MAX_DISTANCE
    is_gt = (df["row_type"] == "gt").to_numpy()
    seen = (df["visible_fraction"].fillna(0).to_numpy() >= MIN_VISIBLE_FRACTION) | (
        df["lidar_points"].fillna(0).to_numpy() >= MIN_LIDAR_POINTS
    )
    return df[near & (~is_gt | seen)].reset_index(drop=True)


def quality(rows: pd.DataFrame, frames: int) -> Quality:
    """Quality figures of :func:`evaluation_rows` output over ``frames`` frames."""
    if frames <= 0:
        raise ValueError(f"quality: frames must be positive, got {frames}")
    gt = rows[rows["row_type"] == "gt"]
    recall: dict[str, float] = {}
    interval: dict[str, tuple[float, float]] = {}
    objects: dict[str, int] = {}
    if not gt.empty:
        summary = detection_summary(gt, by=["cls"])
        rates = miss_rates(gt, by=["cls"])
        for _, r in summary.iterrows():
            recall[str(r["cls"])] = float(r["recall"])
            objects[str(r["cls"])] = int(r["gt"])
        for _, r in rates.iterrows():
            interval[str(r["cls"])] = (float(1 - r["upper"]), float(1 - r["lower"]))
    fp = int((rows["row_type"] == "fp").sum())
    return Quality(recall, interval, objects, fp / frames, frames)

