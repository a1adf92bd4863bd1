"""``simtest evaluate`` and ``simtest query`` end to end on the shipped example run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simtest.cli import main
from simtest.metrics.summary import build_summary
from simtest.store import RunStore

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "runs" / "example"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    dst = tmp_path / "example"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("summary.json"))
    return dst


def gates(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "gates.yaml"
    p.write_text(text)
    return p


def test_example_run_fails_its_default_gates(run, capsys):
    assert main(["evaluate", str(run)]) == 1
    out = capsys.readouterr().out
    assert "pedestrian-critical" in out and "CVaR" in out and "verdict: FAIL" in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["verdict"] == "FAIL" and summary["exit_code"] == 1
    assert summary["run_id"] == "example" and summary["model"]["name"] == "toy-detector"
    statuses = {g["name"]: g["status"] for g in summary["gates"]}
    assert statuses["pedestrian-critical"] == "FAIL"
    assert set(statuses.values()) <= {"PASS", "FAIL", "INCONCLUSIVE"}
    risk = summary["risk"]
    assert risk["alpha"] == 0.95 and risk["cvar"] >= risk["var"] and risk["cvar"] >= risk["mean"]
    assert risk["weighted"] and risk["tail_cells"]
    assert summary["cells"] == {"planned": 6, "done": 6, "failed": [], "missing": []}
    # Per-class rates agree with a direct count.
    ped = next(r for r in summary["miss_rates"]["by_class"] if r["cls"] == "pedestrian")
    df = RunStore(run).read()
    gt = df[(df.row_type == "gt") & (df.cls == "pedestrian")]
    assert ped["n"] == len(gt) and ped["misses"] == int((~gt.detected.astype(bool)).sum())


def test_all_gates_pass_exits_zero(run, tmp_path, capsys):
    g = gates(tmp_path, "gates:\n  - {name: lenient, class: vehicle, limit: 0.5, critical: true}\n")
    assert main(["evaluate", str(run), "--gates", str(g), "--alpha", "0.9"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["verdict"] == "PASS" and summary["risk"]["alpha"] == 0.9
    assert "verdict: PASS" in capsys.readouterr().out


def test_summary_is_deterministic_for_a_seed(run):
    a = build_summary(run, seed=3, n_boot=200)
    b = build_summary(run, seed=3, n_boot=200)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_missing_cells_cannot_pass(run, tmp_path):
    (run / "cells" / "fog-none-0.parquet").unlink()
    g = gates(tmp_path, "gates:\n  - {name: lenient, class: vehicle, limit: 0.5}\n")
    summary = build_summary(run, g, n_boot=0)
    assert summary["verdict"] == "INCONCLUSIVE" and summary["exit_code"] == 1
    assert summary["cells"]["missing"] == ["fog-none-0"] and summary["notes"]


def _truncate(run: Path) -> str:
    p = run / "cells" / "rain-none-0.parquet"
    p.write_bytes(p.read_bytes()[:1000])
    return "rain-none-0.parquet: not a readable Parquet file"


def _foreign(run: Path) -> str:
    pq.write_table(pa.table({"x": [1.0]}), run / "cells" / "rain-none-0.parquet")
    return "rain-none-0.parquet: not a simtest result file"


def _empty(run: Path) -> str:
    shutil.rmtree(run / "cells")
    return "no finished cells"


def _no_manifest(run: Path) -> str:
    (run / "manifest.json").unlink()
    return "no manifest.json here"


@pytest.mark.parametrize("breaks", [_truncate, _foreign, _empty, _no_manifest])
def test_bad_runs_exit_two_and_write_nothing(run, capsys, breaks):
    message = breaks(run)
    assert main(["evaluate", str(run)]) == 2
    assert message in capsys.readouterr().err
    assert not (run / "summary.json").exists()
    assert not list(run.glob(".summary.json*"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gates:\n  - {name: t, class: truck, limit: 0.01}\n", "unknown class 'truck' in key 'class'"),
        ("gates:\n  - {name: far, class: cyclist, limit: 0.01, distance: [500, 900]}\n", "gate 'far' selects no ground-truth rows"),
        ("gates:\n  - {name: w, class: cyclist, limit: 0.01, where: {weather: snow}}\n", "gate 'w' selects no ground-truth rows"),
    ],
)
def test_bad_gates_exit_two(run, tmp_path, capsys, text, message):
    g = gates(tmp_path, text)
    assert main(["evaluate", str(run), "--gates", str(g)]) == 2
    err = capsys.readouterr().err
    assert message in err and "gates.yaml" in err
    assert not (run / "summary.json").exists()


def test_bad_alpha_exits_two(run, capsys):
    assert main(["evaluate", str(run), "--alpha", "1.0"]) == 2
    assert "alpha" in capsys.readouterr().err


def test_query_prints_duckdb_result(capsys):
    sql = "SELECT weather, count(*) AS n FROM results WHERE row_type = 'fp' GROUP BY weather ORDER BY weather"
    assert main(["query", str(EXAMPLE), sql]) == 0
    out = capsys.readouterr().out.split("\n")
    assert out[0].split() == ["weather", "n"] and [line.split()[0] for line in out[1:4]] == ["clear", "fog", "rain"]
    assert main(["query", str(EXAMPLE), "SELECT nope FROM results"]) == 2
    assert "query failed" in capsys.readouterr().err


def test_gates_recorded_in_the_manifest_are_used(run):
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"]["safety"] = {
        "source": "conf/safety/strict.yaml",
        "gates": [{"name": "recorded", "class": "cyclist", "limit": 0.5}],
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    summary = build_summary(run, n_boot=0)
    assert [g["name"] for g in summary["gates"]] == ["recorded"]
    assert summary["gates_source"] == "manifest.json: config.safety (from conf/safety/strict.yaml)"
