"""Log a run's evaluation to MLflow (the optional ``mlflow`` extra; ``logger=mlflow`` in the main job).

One MLflow run per simtest run: the flattened run config, model and seeds as params;
every gate's miss rate, bounds, limit, status (1 PASS, 0 INCONCLUSIVE, −1 FAIL) and
further samples needed, the CVaR summary and the critical miss rates as metrics; the
verdict and hashes as tags; ``report.html``, ``summary.json``, ``junit.xml`` and
``manifest.json`` as artifacts. Uses :class:`mlflow.tracking.MlflowClient` so no global
"active run" state is touched.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from simtest.store import RunStore

STATUS_CODE = {"PASS": 1.0, "INCONCLUSIVE": 0.0, "FAIL": -1.0}
ARTIFACTS = ("report.html", "summary.json", "junit.xml", "manifest.json")
MAX_PARAM_CHARS = 500
BATCH = 100


def _key(text: str) -> str:
    """An MLflow-safe key (letters, digits, ``_ - . /`` and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", text)[:250]


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``a.b.c = value`` pairs of a nested mapping; values as strings cut to MLflow's param length."""
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            yield from flatten(v, key + ".")
        else:
            yield _key(key), str(v)[:MAX_PARAM_CHARS]


def metrics_of(summary: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of ``summary.json`` that MLflow tracks over time."""
    out: dict[str, float] = {}
    for g in summary.get("gates") or []:
        base = f"gate.{_key(g['name'])}"
        out.update({f"{base}.miss_rate": g["actual_value"], f"{base}.lower": g["lower"], f"{base}.upper": g["upper"],
                    f"{base}.limit": g["limit"], f"{base}.status": STATUS_CODE[g["status"]],
                    f"{base}.samples_needed": g["samples_needed"]})
    risk = summary.get("risk") or {}
    for k in ("var", "cvar", "mean", "var_lower", "var_upper", "cvar_lower", "cvar_upper"):
        if risk.get(k) is not None:
            out[f"risk.{k}"] = risk[k]
    for r in (summary.get("miss_rates") or {}).get("by_class_critical", []):
        scope = "critical" if r.get("critical") else "noncritical"
        out[f"miss_rate.{_key(r['cls'])}.{scope}"] = r["miss_rate"]
    out["verdict"] = STATUS_CODE.get(summary.get("verdict", ""), 0.0)
    return {k: float(v) for k, v in out.items() if v is not None}


def log_run(run_dir: str | os.PathLike[str], summary: Mapping[str, Any], tracking_uri: str,
            *, experiment: str = "simtest") -> str:
    """Log one evaluated run to the MLflow tracking server at ``tracking_uri``; returns the MLflow run id."""
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ImportError("logger=mlflow needs MLflow: pip install -c constraints.txt 'simtest[mlflow]'") from None
    store = RunStore(run_dir)
    manifest = store.load_manifest()
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
    except MlflowException as e:
        raise ValueError(
            f"mlflow tracking_uri {tracking_uri!r}: {e.message.splitlines()[0]} For a local store use "
            "'sqlite:///mlflow.db', or set MLFLOW_ALLOW_FILE_STORE=true to keep a file: store on MLflow >= 3."
        ) from None
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment)
    model = manifest.model or {}
    tags = {"simtest.run_id": manifest.run_id, "simtest.verdict": str(summary.get("verdict", "")),
            "simtest.model_hash": str(model.get("hash", "")), "simtest.config_hash": manifest.config_hash,
            "simtest.git_commit": str(manifest.git_commit), "simtest.run_dir": str(store.root.resolve())}
    run = client.create_run(exp_id, run_name=manifest.run_id, tags=tags)
    rid = run.info.run_id
    try:
        params = dict(flatten(manifest.config, "config."))
        params.update({"model.name": str(model.get("name", "")), "model.version": str(model.get("version", "")),
                       "model.hash": str(model.get("hash", "")), "root_seed": str(manifest.root_seed),
                       "simtest_version": manifest.simtest_version, "cells": str(len(manifest.cells))})
        items = list(params.items())
        for i in range(0, len(items), BATCH):
            client.log_batch(rid, params=[Param(k, v) for k, v in items[i:i + BATCH]])
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in metrics_of(summary).items()]
        for i in range(0, len(metrics), BATCH):
            client.log_batch(rid, metrics=metrics[i:i + BATCH])
        client.log_batch(rid, tags=[RunTag(k, v) for k, v in tags.items()])
        for name in ARTIFACTS:
            path = Path(store.root) / name
            if path.is_file():
                client.log_artifact(rid, str(path))
    except BaseException:
        client.set_terminated(rid, status="FAILED")
        raise
    client.set_terminated(rid, status="FINISHED")
    return rid
