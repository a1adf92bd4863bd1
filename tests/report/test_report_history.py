"""`simtest history`: versions in the right order, metrics equal to a direct computation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from report_synth import SyntheticSpec, make_run  # noqa: E402

from simtest.commands import history as history_cmd  # noqa: E402
from simtest.report.history import build_history, version_order  # noqa: E402
from simtest.store import RunStore  # noqa: E402

SMALL = dict(episodes=2, frames=8, severities=(3,), weather=("clear", "fog"), perturbations=("lidar.beam_missing",))


def test_version_order_semantic_and_fallback():
    created = pd.Series(["2026-01-03T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00",
                         "2026-01-04T00:00:00+00:00", "2026-01-05T00:00:00+00:00"])
    v = pd.Series(["1.10.0", "1.9.2", "v2.0.0", "2.0.0rc1", "1.9.2"])
    assert version_order(v, created) == ["1.9.2", "1.10.0", "2.0.0rc1", "v2.0.0"]
    # one unparseable version: everything by the first creation time of each version
    v2 = pd.Series(["1.10.0", "1.9.2", "nightly-abc", "2.0.0rc1", "1.9.2"])
    assert version_order(v2, created) == ["1.9.2", "nightly-abc", "1.10.0", "2.0.0rc1"]


def test_history_orders_runs_and_matches_direct_rates(tmp_path):
    root = tmp_path / "results"
    plan = [("1.10.0", "2026-11-20T01:00:00+00:00"), ("1.9.2", "2026-11-21T01:00:00+00:00"),
            ("2.0.0", "2026-11-19T01:00:00+00:00"), ("1.9.2", "2026-11-18T01:00:00+00:00"),
            ("2.0.0rc1", "2026-11-22T01:00:00+00:00")]
    for i, (version, created) in enumerate(plan):
        make_run(root / "nightly", SyntheticSpec(run_id=f"run{i}", model_version=version, created=created,
                                                 root_seed=i, extra_critical_ped_miss=0.03 * i, **SMALL))
    (root / "notes").mkdir()  # unrelated folders are ignored
    h = build_history(root)
    assert h.ordered_by == "version"
    assert h.versions == ["1.9.2", "1.10.0", "2.0.0rc1", "2.0.0"]
    assert h.runs["run_id"].tolist() == ["run3", "run1", "run0", "run4", "run2"]  # within 1.9.2: by creation time
    for _, r in h.runs.iterrows():
        df = RunStore(r["run_dir"]).read()
        gt = df[df["row_type"] == "gt"]
        crit_ped = gt[(gt["cls"] == "pedestrian") & gt["critical"]]
        assert r["miss_rate"] == pytest.approx((~gt["detected"].astype(bool)).mean())
        assert r["crit_pedestrian_miss"] == pytest.approx((~crit_ped["detected"].astype(bool)).mean())
        assert r["crit_pedestrian_lower"] <= r["crit_pedestrian_miss"] <= r["crit_pedestrian_upper"]
        frames = gt[["cell", "episode", "frame"]].drop_duplicates().shape[0]
        assert r["fp_per_frame"] == pytest.approx((df["row_type"] == "fp").sum() / frames)
    assert h.by_version()["run_id"].tolist() == ["run1", "run0", "run4", "run2"]
    out = tmp_path / "out"
    assert history_cmd.main([str(root), "--out", str(out)]) == 0
    data = json.loads((out / "history.json").read_text())
    assert data["versions"] == h.versions
    html = (out / "history.html").read_text()
    assert "<svg" in html and "<script" not in html and html.index("1.9.2") < html.index("1.10.0")


def test_history_of_an_empty_root_is_a_clear_error(tmp_path, capsys):
    assert history_cmd.main([str(tmp_path)]) == 2
    assert "no run folders" in capsys.readouterr().err
