"""Outputs of ``simtest history``: trend plot and tables in a self-contained HTML page, plus CSV and JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simtest.metrics.summary import json_safe
from simtest.report import html, plots
from simtest.report.history import CLASSES, History
from simtest.store import atomic_write_bytes


@dataclass(frozen=True)
class HistoryFiles:
    html: Path
    csv: Path
    json: Path


def trend_svg(h: History) -> str:
    """Per version (x, in order): critical miss rate per class with intervals, overall miss rate, CVaR, FP/frame."""
    df = h.runs
    x = {v: i for i, v in enumerate(h.versions)}
    fig, axs = plots.new_figure(11.0, 3.0, ncols=3)
    ax = axs[0, 0]
    for i, cls in enumerate(CLASSES):
        r, lo, hi = df[f"crit_{cls}_miss"], df[f"crit_{cls}_lower"], df[f"crit_{cls}_upper"]
        if r.notna().any():
            xs = df["version"].map(x).to_numpy(float) + (i - 1) * 0.08
            ax.errorbar(xs, r, yerr=[np.clip(r - lo, 0, None), np.clip(hi - r, 0, None)], fmt="o-", ms=4, capsize=2,
                        color=plots.color_for(cls, i), label=cls)
    ax.set_title("safety-critical miss rate per class")
    plots.rate_axes(ax, ylabel="miss rate")
    ax = axs[0, 1]
    ax.errorbar(df["version"].map(x), df["miss_rate"], yerr=[np.clip(df["miss_rate"] - df["miss_lower"], 0, None),
                np.clip(df["miss_upper"] - df["miss_rate"], 0, None)], fmt="o-", ms=4, capsize=2, color=plots.PALETTE[0],
                label="miss rate (all objects)")
    cvar = [c for c in df.columns if c.startswith("cvar_")][0]
    ax.plot(df["version"].map(x), df[cvar], "s--", ms=4, color=plots.PALETTE[3], label=cvar.replace("_", " "))
    ax.set_title("overall miss rate and tail risk")
    plots.rate_axes(ax, ylabel="rate / loss")
    ax = axs[0, 2]
    ax.plot(df["version"].map(x), df["fp_per_frame"], "o-", ms=4, color=plots.PALETTE[4], label="false positives / frame")
    ax.set_title("false positives per frame")
    ax.set_ylabel("per frame")
    for ax in axs.flat:
        ax.set_xticks(range(len(h.versions)), h.versions, rotation=30)
        ax.set_xlabel(f"model version (ordered by {h.ordered_by})")
    plots.legend_below(fig, axs)
    return plots.to_svg(fig, "history")


def _runs_table(df) -> str:
    cols = ["version", "run_id", "created", "model_hash", "cells", "object_frames", "miss_rate",
            *[f"crit_{c}_miss" for c in CLASSES], [c for c in df.columns if c.startswith("cvar_")][0], "fp_per_frame", "verdict"]
    pct = {c: html.fmt_pct for c in cols if c.endswith("_miss") or c == "miss_rate" or c.startswith("cvar_")}
    shown = df[cols].assign(created=df["created"].str.slice(0, 16).str.replace("T", " "))
    names = {"object_frames": "object-frames", "miss_rate": "miss rate", "fp_per_frame": "FP / frame",
             "model_hash": "model hash", "run_id": "run", **{f"crit_{c}_miss": f"critical {c} miss" for c in CLASSES}}
    fmt = {names.get(k, k): f for k, f in (pct | {"fp_per_frame": lambda v: html.fmt_num(v, 3)}).items()}
    return html.table(shown.rename(columns=names), formats=fmt)


def render_html(h: History, root: Path) -> str:
    latest = h.by_version()
    sections = [
        html.Section("trend", "Trend per model version",
                     html.figure(trend_svg(h), "One point per run, versions left to right; bars: 95 % episode-clustered "
                                 "intervals.") + "<h3>Latest run of each version</h3>" + _runs_table(latest),
                     f"{len(h.runs)} runs of {len(h.versions)} model versions under {root}."),
        html.Section("runs", "All runs", _runs_table(h.runs)),
    ]
    return html.page("simtest history", f"{root} · versions ordered by {h.ordered_by}", sections,
                     footer="simtest history · self-contained report, no external resources")


def write_outputs(h: History, root: Path, out_dir: Path) -> HistoryFiles:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = HistoryFiles(out_dir / "history.html", out_dir / "history.csv", out_dir / "history.json")
    atomic_write_bytes(files.html, render_html(h, root).encode("utf-8"))
    atomic_write_bytes(files.csv, h.runs.to_csv(index=False).encode())
    data = {"versions": h.versions, "ordered_by": h.ordered_by, "runs": h.runs.to_dict("records")}
    atomic_write_bytes(files.json, (json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n").encode())
    return files
