"""Paired patch effect: miss-rate difference against the control per detector and distance band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simtest.patch.evaluate import patch_effect


def _rows(patch_detected, control_detected, distances, detector="fusion"):
    rows = []
    for i, (p, c, d) in enumerate(zip(patch_detected, control_detected, distances)):
        rows.append({"sample": i, "arm": "patch", "detector": detector, "distance": d, "detected": p})
        rows.append({"sample": i, "arm": "random", "detector": detector, "distance": d, "detected": c})
    return rows


def test_effect_is_the_paired_miss_difference_with_an_interval():
    # 20 samples: the patch hides the target in 12, the control in 2 -> effect 0.5
    patch = [False] * 12 + [True] * 8
    control = [False] * 2 + [True] * 18
    rows = pd.DataFrame(_rows(patch, control, [5.0] * 10 + [15.0] * 10))
    eff = patch_effect(rows, "patch", "random", np.random.default_rng(0), n_boot=4000)
    overall = eff[eff["band"] == "all"].iloc[0]
    assert overall["n"] == 20
    assert overall["miss_patch"] == pytest.approx(0.6) and overall["miss_control"] == pytest.approx(0.1)
    assert overall["effect"] == pytest.approx(0.5)
    # paired differences: 10 of +1, 10 of 0 -> sd of the mean = sqrt(0.25 / 20) = 0.112; 95 % ~ +-0.22
    assert overall["lower"] == pytest.approx(0.5 - 1.96 * 0.1118, abs=0.06)
    assert overall["upper"] == pytest.approx(0.5 + 1.96 * 0.1118, abs=0.06)
    near = eff[eff["band"] == "[0.0, 10.0)"].iloc[0]
    far = eff[eff["band"] == "[10.0, 20.0)"].iloc[0]
    assert near["effect"] == pytest.approx(0.8) and far["effect"] == pytest.approx(0.2)


def test_no_effect_when_the_arms_agree():
    same = [True, False, True, True, False, True]
    eff = patch_effect(pd.DataFrame(_rows(same, same, [8.0] * 6)), "patch", "random", np.random.default_rng(1))
    row = eff[eff["band"] == "all"].iloc[0]
    assert row["effect"] == 0.0 and row["lower"] == 0.0 and row["upper"] == 0.0
