"""Run history: key metrics of every run under a results root, per model version over time.

DuckDB reads every run's cell files at once and reduces them to per-episode counts;
rates get episode-clustered (Korn–Graubard) intervals from :mod:`simtest.metrics.intervals`
and the CVaR comes from :func:`simtest.metrics.risk.var_cvar` with the runs' ODD weights.

Versions are ordered by their semantic / PEP 440 version when every version parses
(so ``1.10.0`` comes after ``1.9.2`` and ``2.0.0rc1`` before ``2.0.0``), otherwise by the
creation time of each version's first run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from packaging.version import InvalidVersion, Version

from simtest.metrics import intervals
from simtest.metrics.risk import episode_probabilities, var_cvar
from simtest.store import MANIFEST, Manifest, RunStore, StoreError

UNVERSIONED = "unversioned"
CLASSES = ("pedestrian", "cyclist", "vehicle")


def discover_runs(root: str | Path) -> list[Path]:
    """Run folders (holding ``manifest.json`` and at least one cell file) anywhere under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise StoreError(f"{root}: not a folder; pass the results root that holds your runs (e.g. runs/)")
    runs = sorted(p.parent for p in root.rglob(MANIFEST) if not any(part.startswith(".") for part in p.parts))
    runs = [r for r in runs if RunStore(r).cell_files()]
    if not runs:
        raise StoreError(f"{root}: no run folders with finished cells below it (looked for */{MANIFEST} with cells/*.parquet)")
    return runs


def parse_version(text: str) -> Version | None:
    """A PEP 440 / semantic version, or None (leading ``v`` allowed)."""
    try:
        return Version(text[1:] if text[:1] in ("v", "V") else text)
    except InvalidVersion:
        return None


def version_order(versions: pd.Series, created: pd.Series) -> list[str]:
    """Distinct versions, oldest first (see the module docstring)."""
    first = pd.DataFrame({"v": versions.astype(str), "t": pd.to_datetime(created, utc=True, format="ISO8601")})
    first = first.groupby("v")["t"].min()
    parsed = {v: parse_version(v) for v in first.index}
    if all(p is not None for p in parsed.values()):
        return sorted(first.index, key=lambda v: (parsed[v], first[v]))
    return list(first.sort_values(kind="stable").index)


def _episode_counts(runs: list[Path]) -> pd.DataFrame:
    import duckdb

    files = pd.DataFrame([{"filename": str(f), "run_dir": str(r)} for r in runs for f in RunStore(r).cell_files()])
    con = duckdb.connect()
    try:
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files["filename"])
        con.register("files", files)
        con.execute(f"CREATE VIEW results AS SELECT * FROM read_parquet([{listing}], union_by_name=true, filename=true)")
        return con.execute("""
            SELECT f.run_dir, r.cell, r.episode, r.cls, r.critical,
                   count(*) FILTER (WHERE r.row_type = 'gt') AS n,
                   count(*) FILTER (WHERE r.row_type = 'gt' AND NOT r.detected) AS misses,
                   count(*) FILTER (WHERE r.row_type = 'fp') AS fp,
                   count(DISTINCT r.frame) AS frames
            FROM results r JOIN files f ON r.filename = f.filename
            GROUP BY ALL
        """).df()
    except duckdb.Error as e:
        raise StoreError(f"history: DuckDB could not read the runs' cell files: {e}") from None
    finally:
        con.close()


def _rate(ep: pd.DataFrame, confidence: float) -> tuple[float, float, float, int]:
    """Pooled miss rate with a clustered two-sided interval from per-episode counts."""
    ep = ep[ep["n"] > 0]
    k, n = float(ep["misses"].sum()), float(ep["n"].sum())
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    deff = intervals.design_effect(ep["misses"].to_numpy(float), ep["n"].to_numpy(float))
    lo, hi = intervals.clustered_bounds(k, n, deff, confidence, one_sided=False)
    return k / n, lo, hi, int(n)


def _cvar(ep: pd.DataFrame, manifest: Manifest, alpha: float) -> float:
    crit = ep[ep["critical"]].groupby(["cell", "episode"])[["n", "misses"]].sum()
    allep = ep.groupby(["cell", "episode"]).size().rename("k").to_frame().join(crit, how="left").fillna(0.0)
    loss = np.where(allep["n"] > 0, allep["misses"] / allep["n"].clip(lower=1), 0.0)
    idx = allep.reset_index()
    weights = {c: manifest.cells[c].weight if c in manifest.cells else 1.0 for c in idx["cell"].unique()}
    return float(var_cvar(loss, alpha, episode_probabilities(idx, weights))[1])


@dataclass(frozen=True)
class History:
    """Per-run metrics (ordered by version, then creation time) and the version order."""

    runs: pd.DataFrame
    versions: list[str]
    ordered_by: str  # "version" | "creation time"

    def by_version(self) -> pd.DataFrame:
        """Latest run per version (what a trend line shows)."""
        return self.runs.groupby("version", sort=False).tail(1).reset_index(drop=True)


def build_history(root: str | Path, *, confidence: float = 0.95, alpha: float = 0.95) -> History:
    """Scan ``root`` and compute each run's key metrics (see the module docstring)."""
    runs = discover_runs(root)
    counts = _episode_counts(runs)
    rows = []
    for run in runs:
        m = RunStore(run).load_manifest()
        ep = counts[counts["run_dir"] == str(run)]
        gt = ep[ep["n"] > 0]
        per_ep = gt.groupby(["cell", "episode"])[["n", "misses"]].sum().reset_index()
        miss, lo, hi, n = _rate(per_ep, confidence)
        frames = ep.groupby(["cell", "episode"])["frames"].max().sum()
        row = {"version": str((m.model or {}).get("version") or UNVERSIONED), "run_id": m.run_id,
               "created": m.created, "model_hash": str((m.model or {}).get("hash", ""))[:12],
               "run_dir": str(run), "cells": int(ep["cell"].nunique()), "object_frames": n,
               "miss_rate": miss, "miss_lower": lo, "miss_upper": hi,
               "fp_per_frame": float(ep["fp"].sum()) / frames if frames else math.nan,
               f"cvar_{alpha:g}": _cvar(gt, m, alpha)}
        for cls in CLASSES:
            sub = gt[(gt["cls"] == cls) & gt["critical"]].groupby(["cell", "episode"])[["n", "misses"]].sum().reset_index()
            r, lo_c, hi_c, _ = _rate(sub, confidence)
            row.update({f"crit_{cls}_miss": r, f"crit_{cls}_lower": lo_c, f"crit_{cls}_upper": hi_c})
        summary = run / "summary.json"
        row["verdict"] = json.loads(summary.read_text()).get("verdict", "–") if summary.is_file() else "not evaluated"
        rows.append(row)
    df = pd.DataFrame(rows)
    order = version_order(df["version"], df["created"])
    parsed_all = all(parse_version(v) is not None for v in order)
    df["version"] = pd.Categorical(df["version"], categories=order, ordered=True)
    df["_t"] = pd.to_datetime(df["created"], utc=True, format="ISO8601")
    df = df.sort_values(["version", "_t"], kind="stable").drop(columns="_t").reset_index(drop=True)
    df["version"] = df["version"].astype(str)
    return History(runs=df, versions=order, ordered_by="version" if parsed_all else "creation time")
