"""MLflow logger against a local file-store tracking URI (skips when the mlflow extra is absent)."""

from __future__ import annotations

import json

import pytest

from simtest.report.mlflow_log import flatten, metrics_of

mlflow = pytest.importorskip("mlflow", reason="the optional 'mlflow' extra is not installed (pip install 'simtest[mlflow]')")


def test_flatten_and_metrics_are_plain():
    assert dict(flatten({"a": {"b": 1, "c": {"d": "x"}}, "e": []})) == {"a.b": "1", "a.c.d": "x", "e": "[]"}
    m = metrics_of({"gates": [{"name": "ped crit!", "actual_value": 0.1, "lower": 0.05, "upper": 0.2, "limit": 0.001,
                               "status": "FAIL", "samples_needed": 10}], "verdict": "FAIL"})
    assert m["gate.ped crit_.status"] == -1.0 and m["gate.ped crit_.upper"] == 0.2 and m["verdict"] == -1.0


def test_log_run_to_a_file_store(built_report, report_run, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from simtest.report.mlflow_log import log_run

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow >= 3 keeps file stores behind this switch
    uri = (tmp_path / "mlruns").as_uri()
    summary = json.loads(built_report.summary.read_text())
    rid = log_run(report_run, summary, uri, experiment="simtest-test")
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(rid)
    assert run.info.status == "FINISHED"
    assert run.data.tags["simtest.verdict"] == summary["verdict"]
    assert run.data.params["config.sweep.mode"] == "grid"
    assert run.data.params["model.version"] == "1.0.0"
    for g in summary["gates"]:
        assert run.data.metrics[f"gate.{g['name']}.upper"] == pytest.approx(g["upper"])
    assert run.data.metrics["risk.cvar"] == pytest.approx(summary["risk"]["cvar"])
    assert {a.path for a in client.list_artifacts(rid)} >= {"report.html", "summary.json", "junit.xml", "manifest.json"}


def test_a_refused_tracking_uri_gives_a_clear_error(report_run, tmp_path, monkeypatch):
    from simtest.report.mlflow_log import log_run

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    if int(mlflow.__version__.split(".")[0]) < 3:
        pytest.skip("MLflow < 3 accepts file stores without the switch")
    with pytest.raises(ValueError, match="sqlite:///mlflow.db"):
        log_run(report_run, {"gates": []}, (tmp_path / "mlruns").as_uri())
