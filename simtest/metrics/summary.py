"""The evaluation summary of a run: what ``summary.json`` holds.

:func:`build_summary` reads a run folder, evaluates the safety gates and the
CVaR summary and returns plain JSON-able data; ``simtest evaluate`` prints and
writes it, ``simtest report`` renders it. Keys:

* ``run_id``, ``run_dir``, ``model``, ``config_hash``, ``simtest_version``,
  ``git_commit``, ``created`` — from the manifest.
* ``cells`` — planned / done / failed / missing cells, ``rows`` — counts.
* ``gates_source`` and ``gates`` — :meth:`GateResult.to_dict` per gate.
* ``risk`` — :meth:`RiskSummary.to_dict` (cell weights = the manifest's ODD prior).
* ``miss_rates`` — ``by_class``, ``by_class_critical``, ``by_class_distance``
  (distance bands of :func:`with_bands`) and ``by_axis`` (``{axis: rows per
  axis value x class}``), all with episode-clustered two-sided intervals.
* ``detection`` — recall, false positives per frame and precision per class.
* ``tracks`` — safety-critical tracks: worst longest missed run (s) and
  distances at first detection; ``frame_dt`` (s) inferred from timestamps.
* ``verdict`` (PASS / FAIL / INCONCLUSIVE), ``exit_code`` (0 / 1) and ``notes``.

A run whose planned cells did not all finish cannot PASS: the verdict is then
at best INCONCLUSIVE (a note names the missing cells).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import simtest
from simtest.metrics.risk import cvar_summary
from simtest.metrics.safety import (
    GateError,
    GateStatus,
    detection_summary,
    evaluate_gates,
    gates_from_dict,
    load_gates,
    miss_rates,
    track_metrics,
    with_bands,
)
from simtest.store import RunStore, atomic_write_bytes

DEFAULT_GATES = Path(simtest.__file__).resolve().parent.parent / "conf" / "safety" / "default.yaml"
"""Gate set used when neither ``--gates`` nor the run's config names one."""
SUMMARY = "summary.json"


def json_safe(value: Any) -> Any:
    """Plain JSON data: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def infer_frame_dt(df: pd.DataFrame) -> float | None:
    """Seconds per frame: median of timestamp step / frame step within episodes (None if unknown)."""
    keys = [k for k in ("run", "cell", "episode") if k in df.columns]
    f = df[keys + ["frame", "timestamp"]].drop_duplicates(keys + ["frame"]).sort_values(keys + ["frame"])
    same = np.ones(len(f) - 1, bool) if len(f) > 1 else np.zeros(0, bool)
    for k in keys:
        v = f[k].to_numpy()
        same &= v[1:] == v[:-1]
    dframe = np.diff(f["frame"].to_numpy(float))[same]
    dt = np.diff(f["timestamp"].to_numpy(float))[same]
    ok = (dframe > 0) & (dt > 0)
    if not ok.any():
        return None
    return round(float(np.median(dt[ok] / dframe[ok])), 9)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json_safe(df.to_dict("records"))


def _resolve_gates(gates_path: str | os.PathLike[str] | None, config: dict[str, Any]) -> tuple[list, str]:
    if gates_path is not None:
        return load_gates(gates_path), str(gates_path)
    inline = config.get("safety") if isinstance(config, dict) else None
    if isinstance(inline, dict) and "gates" in inline:
        source = "manifest.json: config.safety" + (f" (from {inline['source']})" if inline.get("source") else "")
        return gates_from_dict({k: v for k, v in inline.items() if k in ("gates", "defaults")}, source=source), source
    if not DEFAULT_GATES.is_file():
        raise GateError(f"no gate file given and the default {DEFAULT_GATES} is missing; pass --gates conf/safety/<name>.yaml")
    return load_gates(DEFAULT_GATES), str(DEFAULT_GATES)


def _tracks(df: pd.DataFrame) -> dict[str, Any]:
    frame_dt = infer_frame_dt(df)
    if frame_dt is None:
        return {"frame_dt": None, "critical_tracks": 0, "note": "frame period unknown (single-frame episodes)"}
    t = track_metrics(df, frame_dt)
    if t.empty:
        return {"frame_dt": frame_dt, "critical_tracks": 0}
    worst = t.sort_values("longest_miss_s", ascending=False, kind="stable").head(5)
    first = t["first_detection_distance"]
    return json_safe(
        {
            "frame_dt": frame_dt,
            "critical_tracks": len(t),
            "never_detected": int(first.isna().sum()),
            "longest_miss_s": float(t["longest_miss_s"].max()),
            "longest_miss_s_p95": float(t["longest_miss_s"].quantile(0.95)),
            "first_detection_distance_median": float(first.median()) if first.notna().any() else None,
            "worst_tracks": _records(worst),
        }
    )


def build_summary(
    run_dir: str | os.PathLike[str],
    gates_path: str | os.PathLike[str] | None = None,
    *,
    alpha: float = 0.95,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Evaluate a run folder: gates, CVaR, headline rates (see the module docstring for the keys).

    Raises ``ValueError`` (``StoreError``, ``GateError``) on bad input: a missing
    or foreign run, an empty run, an unreadable cell file, a bad gate file, a gate
    without samples.
    """
    store = RunStore(run_dir)
    manifest = store.load_manifest()
    gates, gates_source = _resolve_gates(gates_path, manifest.config)
    df = store.read()
    if not (df["row_type"] == "gt").any():
        raise ValueError(f"{store.root}: the run's cells hold no ground-truth rows; nothing to evaluate")
    results = evaluate_gates(df, gates)
    done = sorted(set(df["cell"].unique()))
    weights = {c: manifest.cells[c].weight if c in manifest.cells else 1.0 for c in done}
    risk = cvar_summary(df, alpha=alpha, cell_weights=weights, rng=np.random.default_rng(seed), n_boot=n_boot)

    notes: list[str] = []
    planned = set(manifest.cells)
    missing = sorted(planned - set(done))
    failed = sorted(c for c, r in manifest.cells.items() if r.status == "failed")
    statuses = {r.status for r in results}
    if GateStatus.FAIL in statuses:
        verdict = GateStatus.FAIL
    elif statuses == {GateStatus.PASS} and not missing:
        verdict = GateStatus.PASS
    else:
        verdict = GateStatus.INCONCLUSIVE
    if missing:
        notes.append(f"{len(missing)} of {len(planned)} planned cells have no results (e.g. {missing[:3]}); cannot PASS")
    unknown = sorted(set(done) - planned)
    if unknown:
        notes.append(f"cell files not in the manifest were evaluated with weight 1: {unknown[:3]}")

    by_cls = miss_rates(df, ["cls"], method="clustered")
    by_cls_crit = miss_rates(df, ["cls", "critical"], method="clustered")
    by_distance = miss_rates(with_bands(df), ["cls", "distance_band"], method="clustered")
    by_axis = {a: _records(miss_rates(df, [a, "cls"], method="clustered")) for a in manifest.axes}
    summary = {
        "run_id": manifest.run_id,
        "run_dir": str(store.root),
        "model": manifest.model,
        "config_hash": manifest.config_hash,
        "simtest_version": manifest.simtest_version,
        "git_commit": manifest.git_commit,
        "created": manifest.created,
        "evaluated_with": simtest.__version__,
        "cells": {"planned": len(planned), "done": len(done), "failed": failed, "missing": missing},
        "rows": {
            "gt": int((df["row_type"] == "gt").sum()),
            "fp": int((df["row_type"] == "fp").sum()),
            "episodes": int(df[["cell", "episode"]].drop_duplicates().shape[0]),
        },
        "gates_source": gates_source,
        "gates": [r.to_dict() for r in results],
        "risk": risk.to_dict(),
        "miss_rates": {
            "by_class": _records(by_cls),
            "by_class_critical": _records(by_cls_crit),
            "by_class_distance": _records(by_distance.astype({"distance_band": str})),
            "by_axis": by_axis,
        },
        "detection": {"by_class": _records(detection_summary(df, ["cls"]))},
        "tracks": _tracks(df),
        "verdict": verdict.value,
        "exit_code": 0 if verdict is GateStatus.PASS else 1,
        "notes": notes,
    }
    return json_safe(summary)


def write_summary(run_dir: str | os.PathLike[str], summary: dict[str, Any]) -> Path:
    """Write ``summary.json`` into the run folder atomically; returns its path."""
    path = Path(run_dir) / SUMMARY
    atomic_write_bytes(path, (json.dumps(json_safe(summary), indent=2, allow_nan=False) + "\n").encode())
    return path
