"""`simtest compare`: the statistics against scipy and hand calculations, false-alarm control,
and detection of an injected regression (candidate misses 5 % more safety-critical pedestrians)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy import stats

from simtest.commands import compare as compare_cmd
from simtest.report import compare_stats as cs
from simtest.report.compare import POOLED, CompareError, CompareOptions, compare_runs


def test_mcnemar_exact_is_the_binomial_test():
    for b, c in [(0, 0), (7, 1), (12, 20), (3, 3)]:
        want = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
        assert cs.mcnemar_exact(b, c) == pytest.approx(want)


def test_clustered_mcnemar_reduces_to_classical_with_one_pair_per_cluster():
    b_k = np.array([1] * 30 + [0] * 12 + [0] * 100)
    c_k = np.array([0] * 30 + [1] * 12 + [0] * 100)
    x2, p = cs.clustered_mcnemar(b_k, c_k)
    assert x2 == pytest.approx((30 - 12) ** 2 / (30 + 12))
    assert p == pytest.approx(stats.f.sf(x2, 1, b_k.size - 1))


def test_holm_and_bh_adjustments():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, then running max
    assert cs.holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert cs.benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p, method="bh"))


def test_cluster_variance_of_singletons_is_binomial():
    rng = np.random.default_rng(1)
    m = (rng.random(400) < 0.2).astype(float)
    n = np.ones_like(m)
    p = m.mean()
    assert cs.cluster_rate_variance(n, m) == pytest.approx(p * (1 - p) / 400 * 400 / 399)


def _clustered_sample(rng, k, size, p, sd):
    """K episodes of ``size`` object-frames whose miss probability varies by episode (logit-normal)."""
    logit = np.log(p / (1 - p)) + rng.normal(0, sd, k)
    return np.full(k, size), rng.binomial(size, 1 / (1 + np.exp(-logit)))


def test_unpaired_test_holds_its_level_under_episode_correlation():
    rng = np.random.default_rng(7)
    reps, alpha = 600, 0.05
    rejections = 0
    for _ in range(reps):
        n1, m1 = _clustered_sample(rng, 24, 40, 0.2, 0.8)
        n2, m2 = _clustered_sample(rng, 24, 40, 0.2, 0.8)
        rejections += cs.unpaired_test(n1, m1, n2, m2)[2] < alpha
    # a frame-level test would reject far more often here (design effect ~ 5)
    assert rejections / reps <= alpha + 2.5 * np.sqrt(alpha * (1 - alpha) / reps)


def test_clustered_mcnemar_holds_its_level_under_episode_correlation():
    rng = np.random.default_rng(8)
    reps, rejections = 600, 0
    for _ in range(reps):
        # symmetric discordance with strong per-episode bursts
        rate = rng.gamma(0.5, 0.1, 30)
        b, c = rng.poisson(rate * 20), rng.poisson(rate * 20)
        rejections += cs.clustered_mcnemar(b, c)[1] < 0.05
    assert rejections / reps <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / reps)


def test_minimal_detectable_difference_has_the_stated_power():
    rng = np.random.default_rng(9)
    n, m = _clustered_sample(rng, 30, 30, 0.2, 0.5)
    mdd = cs.minimal_detectable_difference(n, m, alpha=0.05, power=0.8)
    p0 = m.sum() / n.sum()
    hits = 0
    reps = 400
    for _ in range(reps):
        nb, mb = _clustered_sample(rng, 30, 30, p0, 0.5)
        nc, mc = _clustered_sample(rng, 30, 30, p0 + mdd, 0.5)
        hits += cs.unpaired_test(nb, mb, nc, mc)[2] < 0.05
    assert 0.65 <= hits / reps <= 0.95


def test_injected_regression_is_flagged_and_blocks(compare_runs_dir, tmp_path, capsys):
    rc = compare_cmd.main([str(compare_runs_dir / "base"), str(compare_runs_dir / "regressed"), "--out", str(tmp_path)])
    assert rc == 1
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["verdict"] == "REGRESSION"
    pooled = {(t["cls"], t["scope"]): t for t in data["tests"] if t["cell"] == POOLED}
    ped = pooled[("pedestrian", "critical")]
    assert ped["pairing"] == "paired" and ped["verdict"] == "REGRESSION"
    assert ped["ci_low"] < 0.05 < ped["ci_high"] + 0.01 and ped["ci_low"] > 0.03
    assert ped["mdd"] < 0.05, "the fixture must be able to detect a 5 pp increase"
    for (cls, _), t in pooled.items():
        if cls != "pedestrian":
            assert t["verdict"] == "NO CHANGE" and t["diff"] == 0.0
    assert all(t["verdict"] != "IMPROVEMENT" for t in data["tests"])
    junit = ET.parse(tmp_path / "compare-junit.xml").getroot()
    assert int(junit.get("failures")) == data["regressions"] >= 1
    html = (tmp_path / "compare.html").read_text()
    assert "REGRESSION" in html and "<script" not in html


def test_same_model_rerun_with_other_seeds_is_not_flagged(compare_runs_dir, tmp_path):
    for a, b in (("base", "rerun_a"), ("rerun_a", "rerun_b"), ("base", "rerun_b")):
        cmp = compare_runs(compare_runs_dir / a, compare_runs_dir / b)
        assert set(cmp.pairing.values()) == {"unpaired: different cell seeds"}
        assert len(cmp.regressions) == 0 and len(cmp.improvements) == 0, (a, b)
    rc = compare_cmd.main([str(compare_runs_dir / "base"), str(compare_runs_dir / "rerun_a"), "--out", str(tmp_path)])
    assert rc == 0


def test_fdr_and_tolerance_options(compare_runs_dir):
    strict = compare_runs(compare_runs_dir / "base", compare_runs_dir / "regressed",
                          CompareOptions(correction="fdr", tolerance=0.08, n_boot=200))
    assert len(strict.regressions) == 0, "a 5 pp increase is within an 8 pp tolerance"
    with pytest.raises(ValueError, match="correction"):
        CompareOptions(correction="bonferroni")


def test_runs_without_shared_cells_give_a_clear_error(tmp_path, compare_runs_dir, capsys):
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from report_synth import SyntheticSpec, make_run

    other = make_run(tmp_path, SyntheticSpec(run_id="patched", patches=("none",), weather=("clear",), lighting=("day",),
                                             perturbations=(), episodes=1, frames=4))
    with pytest.raises(CompareError, match="share no finished cells"):
        compare_runs(compare_runs_dir / "base", other)
    assert compare_cmd.main([str(compare_runs_dir / "base"), str(other)]) == 2
    assert "share no finished cells" in capsys.readouterr().err
    assert compare_cmd.main([str(tmp_path / "nope"), str(other)]) == 2


def test_same_inputs_give_the_same_bytes(compare_runs_dir, tmp_path):
    from simtest.report.compare_page import write_outputs

    opts = CompareOptions(n_boot=200, seed=3)
    a = write_outputs(compare_runs(compare_runs_dir / "base", compare_runs_dir / "regressed", opts), tmp_path / "a")
    b = write_outputs(compare_runs(compare_runs_dir / "base", compare_runs_dir / "regressed", opts), tmp_path / "b")
    for x, y in ((a.json, b.json), (a.html, b.html), (a.junit, b.junit)):
        assert x.read_bytes() == y.read_bytes()
