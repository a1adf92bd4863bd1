"""Safety gates: verdicts and samples_needed by hand, filters, and every bad gate file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from synthetic_rows import counts_rows

from simtest.metrics.safety import Gate, GateError, GateStatus, evaluate_gates, gates_from_dict, load_gates

REPO = Path(__file__).resolve().parents[2]


def gate(**kw) -> Gate:
    return Gate(**{"name": "g", "cls": "pedestrian", "limit": 1e-3, "critical": True, **kw})


def spread(total_misses: int, n: int, episodes: int) -> pd.DataFrame:
    """n object-frames over equal episodes, misses spread one per episode (no clustering)."""
    per = n // episodes
    misses = np.array([1 if e < total_misses else 0 for e in range(episodes)])
    return counts_rows(misses, np.full(episodes, per))


def test_pass_when_upper_bound_within_limit():
    # 0 misses in 3000: upper = 1 - 0.05**(1/3000) = 0.000998 <= 0.001.
    (r,) = evaluate_gates(spread(0, 3000, 30), [gate()])
    assert r.status is GateStatus.PASS
    assert r.upper == pytest.approx(1 - 0.05 ** (1 / 3000))
    assert (r.n, r.misses, r.samples_needed, r.episodes, r.actual_value) == (3000, 0, 0, 30, 0.0)


def test_inconclusive_with_samples_needed_from_zero_failure_planning():
    (r,) = evaluate_gates(spread(0, 1000, 10), [gate()])
    assert r.status is GateStatus.INCONCLUSIVE
    # ceil(ln 0.05 / ln 0.999) = 2995 in total, 1000 seen.
    assert r.samples_needed == math.ceil(math.log(0.05) / math.log(0.999)) - 1000 == 1995
    assert r.lower == 0.0


def test_fail_when_lower_bound_exceeds_limit():
    (r,) = evaluate_gates(spread(10, 1000, 20), [gate(method="clopper-pearson")])
    assert r.status is GateStatus.FAIL
    assert r.lower == pytest.approx(stats.beta.ppf(0.05, 10, 991))
    assert r.lower > 1e-3
    assert r.actual_value == pytest.approx(0.01)
    assert r.samples_needed > 0


def test_clustered_misses_weaken_the_evidence():
    # Same 6 misses in 2000 object-frames: spread over episodes vs. all in one episode.
    spread_df = spread(6, 2000, 20)
    burst = counts_rows(np.array([6] + [0] * 19), np.full(20, 100))
    (a,) = evaluate_gates(spread_df, [gate(limit=0.01)])
    (b,) = evaluate_gates(burst, [gate(limit=0.01)])
    assert a.design_effect == pytest.approx(1.0, abs=0.2)
    assert b.design_effect > 3
    assert b.upper > a.upper
    (c,) = evaluate_gates(burst, [gate(limit=0.01, method="clopper-pearson")])
    assert c.upper == pytest.approx(a.upper, rel=0.2)  # the naive bound cannot tell them apart


def test_min_episodes_blocks_a_pass():
    (r,) = evaluate_gates(spread(0, 3000, 3), [gate(min_episodes=5)])
    assert r.status is GateStatus.INCONCLUSIVE and r.upper <= 1e-3


def test_filters_select_the_subset():
    near = counts_rows(np.array([0, 0]), np.array([50, 50]), distance=10.0, visible_fraction=0.9)
    far = counts_rows(np.array([5, 5]), np.array([50, 50]), distance=60.0, visible_fraction=0.2, cell="fog")
    noncrit = counts_rows(np.array([9]), np.array([10]), critical=False)
    df = pd.concat([near, far, noncrit], ignore_index=True)
    r_near, r_vis, r_fog, r_all = evaluate_gates(
        df,
        [gate(name="a", distance=(0, 30)), gate(name="b", visibility=(0.5, 1.0)),
         gate(name="c", where={"cell": "fog"}), gate(name="d", critical=None)],
    )
    assert (r_near.n, r_near.misses) == (100, 0)
    assert (r_vis.n, r_vis.misses) == (100, 0)
    assert (r_fog.n, r_fog.misses) == (100, 10)
    assert (r_all.n, r_all.misses) == (210, 19)
    assert r_fog.filters == {"class": "pedestrian", "critical": True, "where.cell": ["fog"]}


def test_gate_result_to_dict_is_plain():
    (r,) = evaluate_gates(spread(0, 1000, 10), [gate()])
    d = r.to_dict()
    assert d["status"] == "INCONCLUSIVE" and d["name"] == "g" and d["units"] == "misses per object-frame"
    assert set(d) >= {"actual_value", "lower", "upper", "limit", "confidence", "n", "misses", "samples_needed"}


def test_default_gate_file_loads():
    gates = load_gates(REPO / "conf" / "safety" / "default.yaml")
    assert len(gates) >= 4 and all(g.confidence == 0.95 for g in gates)
    assert {g.cls for g in gates} == {"pedestrian", "cyclist", "vehicle"}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "gates.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gates:\n  - {name: a, class: truck, limit: 0.001}\n", r"gates.yaml: gate 'a': unknown class 'truck' in key 'class'"),
        ("gates:\n  - {name: a, class: pedestrian}\n", r"gates\[0\]: missing key 'limit'"),
        ("gates:\n  - {name: a, class: pedestrian, limit: 2}\n", r"gate 'a': 'limit' must be a miss rate in \(0, 1\)"),
        ("gates:\n  - {name: a, class: pedestrian, limit: 0.1, colour: red}\n", r"gates\[0\]: unknown key\(s\) \['colour'\]"),
        ("gates:\n  - {name: a, class: pedestrian, limit: 0.1, distance: [30, 10]}\n", r"'distance': need low < high"),
        ("gates:\n  - {name: a, class: pedestrian, limit: 0.1, method: bootstrap}\n", r"'method' 'bootstrap'"),
        ("gates:\n  - {name: a, class: pedestrian, limit: 0.1, metric: recall}\n", r"metric 'recall'"),
        ("gates:\n  - {name: a, class: pedestrian, limit: 0.1}\n  - {name: a, class: cyclist, limit: 0.1}\n", "duplicate gate name 'a'"),
        ("gates: []\n", "non-empty list"),
        ("limits: {}\n", "'gates' list"),
        ("gates: [\n", "not valid YAML"),
    ],
)
def test_bad_gate_files_name_file_and_key(tmp_path, text, message):
    with pytest.raises(GateError, match=message) as e:
        load_gates(write(tmp_path, text))
    assert "gates.yaml" in str(e.value)


def test_missing_gate_file(tmp_path):
    with pytest.raises(GateError, match="cannot read the gate file"):
        load_gates(tmp_path / "nope.yaml")


def test_gate_on_a_subset_without_samples_is_an_error():
    gates = gates_from_dict({"gates": [{"name": "cyc", "class": "cyclist", "limit": 0.01}]}, source="x.yaml")
    with pytest.raises(GateError, match="x.yaml: gate 'cyc' selects no ground-truth rows"):
        evaluate_gates(spread(0, 100, 2), gates)


def test_gate_on_an_unknown_axis_is_an_error():
    with pytest.raises(GateError, match="'where.weather' names no column"):
        evaluate_gates(spread(0, 100, 2), [gate(where={"weather": "fog"})])
