"""Build result-row DataFrames for metric tests (every RESULT_SCHEMA column present)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

DEFAULTS: dict[str, Any] = {
    "cell": "c0", "episode": 0, "frame": 0, "seed": 0, "timestamp": 0.0, "row_type": "gt", "object_id": 1,
    "cls": "pedestrian", "detected": True, "score": 0.9, "best_score": 0.9, "center_error": 0.1, "bev_iou": 0.8,
    "x": 10.0, "y": 0.0, "distance": 10.0, "visible_fraction": 1.0, "lidar_points": 50, "in_path": True,
    "critical": True, "ego_speed": 10.0,
}


def rows(*records: dict[str, Any], **common: Any) -> pd.DataFrame:
    """One row per record; unspecified columns take ``common`` then :data:`DEFAULTS`."""
    out = pd.DataFrame([{**DEFAULTS, **common, **r} for r in records])
    fp = out["row_type"] == "fp"
    out["detected"] = out["detected"].astype("boolean").mask(fp)
    return out


def counts_rows(misses: np.ndarray, samples: np.ndarray, **common: Any) -> pd.DataFrame:
    """Episode e gets samples[e] ground-truth rows (one object per frame), the first misses[e] missed."""
    ep = np.repeat(np.arange(len(samples)), samples)
    frame = np.concatenate([np.arange(s) for s in samples]) if len(samples) else np.zeros(0, int)
    detected = frame >= np.repeat(misses, samples)
    base = {**DEFAULTS, **common}
    df = pd.DataFrame({k: [v] * len(ep) for k, v in base.items()})
    df["episode"], df["frame"], df["detected"] = ep, frame, detected
    df["timestamp"] = frame * 0.1
    return df
