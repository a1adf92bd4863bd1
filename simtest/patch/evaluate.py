"""Held-out measurement of a patch: miss rate with the patch vs. with the random-texture control.

Every held-out EOT sample is rendered by the embedded simulator itself (not the
differentiable approximation) once per arm - the same actor, viewpoint,
conditions and seed, only the texture differs - and every detector (e.g. the
fused, camera-only and lidar-only reference variants) predicts on the same
frames. The target counts as missed when simtest's matcher finds no detection
of its class within the gate at the operating point. Arms are paired by sample,
so the effect is the mean paired difference, with a percentile bootstrap
interval over samples (each sample is an independent scene).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from perturbations.patch import Patch
from simtest.metrics.matching import MatchConfig, match_frame
from simtest.models.base import Detector
from simtest.patch.eot import EotSample
from simtest.patch.scenes import single_actor_scenario
from simtest.sim.embedded import EmbeddedSimulator

DISTANCE_BANDS = (0.0, 10.0, 20.0, 30.0, np.inf)


def detection_rows(
    sim: EmbeddedSimulator,
    cls: str,
    samples: Sequence[EotSample],
    arms: Mapping[str, Patch | None],
    detectors: Mapping[str, Detector],
    match: MatchConfig | None = None,
) -> pd.DataFrame:
    """One row per (sample, arm, detector): distance (m), visible fraction, detected, best score."""
    cfg = match if match is not None else MatchConfig()
    rows = []
    for i, s in enumerate(samples):
        scen = single_actor_scenario(cls, s.model, s.view, s.colour)
        for arm, patch in arms.items():
            sim.reset(scen, s.conditions, s.seed, patches=[patch] if patch is not None else [])
            frame = [sim.step() for _ in range(s.frame + 1)][-1]
            obj = frame.objects
            target = int(np.argmin(np.hypot(obj.boxes[:, 0], obj.boxes[:, 1])))
            for name, det in detectors.items():
                m = match_frame(obj, det.predict([frame])[0], cfg)
                rows.append({"sample": i, "arm": arm, "detector": name, "distance": float(obj.distance[target]),
                             "visible": float(obj.visible_fraction[target]), "detected": bool(m.detected[target]),
                             "best_score": float(m.gt_best_score[target])})
    return pd.DataFrame(rows)


def patch_effect(rows: pd.DataFrame, arm: str, control: str, rng: np.random.Generator, n_boot: int = 2000,
                 confidence: float = 0.95) -> pd.DataFrame:
    """Per detector (and overall per distance band): miss rates of ``arm`` and ``control``, their paired
    difference and its bootstrap interval."""
    out = []
    bands = pd.cut(rows["distance"], DISTANCE_BANDS, right=False).astype(str)
    rows = rows.assign(band=bands, miss=~rows["detected"].astype(bool))
    for (det, band), g in [((d, "all"), g) for d, g in rows.groupby("detector")] + list(rows.groupby(["detector", "band"])):
        wide = g.pivot_table(index="sample", columns="arm", values="miss", aggfunc="first")
        if arm not in wide or control not in wide:
            continue
        wide = wide[[arm, control]].dropna().astype(float)
        n = len(wide)
        if n == 0:
            continue
        diff = (wide[arm] - wide[control]).to_numpy()
        boot = diff[rng.integers(0, n, size=(n_boot, n))].mean(1)
        lo, hi = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
        out.append({"detector": det, "band": band, "n": n, "miss_patch": wide[arm].mean(),
                    "miss_control": wide[control].mean(), "effect": diff.mean(), "lower": lo, "upper": hi})
    return pd.DataFrame(out)
