"""Golden values: the evaluation of the shipped example run.

``golden/example_summary.json`` holds the figures and a ``history`` of why they
changed; update both together (regenerate the values, add a history line).
Counts are cross-checked with DuckDB and bounds with scipy, independently of the
code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

from simtest.metrics.summary import build_summary
from simtest.store import query

HERE = Path(__file__).parent
EXAMPLE = HERE.parents[1] / "examples" / "runs" / "example"


@pytest.fixture(scope="module")
def summary() -> dict:
    return build_summary(EXAMPLE, HERE / "golden" / "gates.yaml", alpha=0.95, n_boot=0)


def test_matches_golden_values(summary):
    golden = json.loads((HERE / "golden" / "example_summary.json").read_text())
    assert golden["history"], "every change of golden values needs a history entry"
    got = {g["name"]: g for g in summary["gates"]}
    assert set(got) == set(golden["gates"])
    for name, want in golden["gates"].items():
        for key, value in want.items():
            assert got[name][key] == (value if isinstance(value, (str, int)) else pytest.approx(value, rel=1e-9)), (name, key)
    for key, value in golden["risk"].items():
        assert summary["risk"][key] == pytest.approx(value, rel=1e-9), key
    assert summary["verdict"] == golden["verdict"]


def test_counts_agree_with_duckdb(summary):
    sql = """SELECT count(*) AS n, sum(CASE WHEN detected THEN 0 ELSE 1 END) AS misses FROM results
             WHERE row_type = 'gt' AND cls = 'pedestrian' AND distance >= 0 AND distance < 30
             AND visible_fraction >= 0.5 AND visible_fraction <= 1.0"""
    n, misses = query(EXAMPLE, sql).iloc[0].tolist()
    gate = next(g for g in summary["gates"] if g["name"] == "pedestrian-near-visible")
    assert (gate["n"], gate["misses"]) == (n, misses)


def test_unclustered_gate_bound_equals_scipy(summary):
    # With a design effect of 1 the clustered bound is the one-sided Clopper-Pearson bound.
    gate = next(g for g in summary["gates"] if g["design_effect"] == 1.0)
    k, n = gate["misses"], gate["n"]
    assert gate["upper"] == pytest.approx(stats.beta.ppf(0.95, k + 1, n - k), rel=1e-12)
    assert gate["lower"] == pytest.approx(stats.beta.ppf(0.05, k, n - k + 1), rel=1e-12)
