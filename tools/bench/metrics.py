"""Benchmark: matching plus every metric over ~1 million synthetic ground-truth rows, one core.

Target (issue 2): at most 10 s in total on one core. Synthetic data is built
first and not timed: ``--cells`` x ``--episodes`` x ``--frames`` frames with
``--objects`` ground-truth objects each (default 40 x 50 x 50 x 10 = 1,000,000),
detections with position noise, misses that cluster in episodes, low-score
boxes and false positives. Timed stages: batch matching, result rows, miss
rates (Clopper–Pearson, clustered, episode bootstrap), detection summary,
track figures, the default safety gates and the CVaR summary with a bootstrap.

Usage: ``python tools/bench/metrics.py [--cells 40 --episodes 50 --frames 50 --objects 10]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from simtest.metrics.matching import MatchConfig, match_batch, rows_from_match  # noqa: E402
from simtest.metrics.risk import cvar_summary  # noqa: E402
from simtest.metrics.safety import detection_summary, evaluate_gates, load_gates, miss_rates, track_metrics  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SIZES = np.array([[4.5, 1.9, 1.6], [0.6, 0.6, 1.75], [1.8, 0.6, 1.7]])


def synthesise(cells: int, episodes: int, frames: int, objects: int, rng: np.random.Generator) -> dict[str, Any]:
    """Ground truth and detections as flat arrays; frame key = running frame number."""
    n_frames = cells * episodes * frames
    frame_key = np.repeat(np.arange(n_frames), objects)
    cell = frame_key // (episodes * frames)
    episode = (frame_key // frames) % episodes
    frame = frame_key % frames
    n = len(frame_key)
    obj = np.tile(np.arange(objects), n_frames)
    labels = np.tile(rng.integers(0, 3, objects), n_frames)
    start = rng.uniform([5, -20], [80, 20], (cells * episodes * objects, 2))
    track = (cell * episodes + episode) * objects + obj
    xy = start[track] - np.c_[frame * 0.8, np.zeros(n)]
    boxes = np.c_[xy, SIZES[labels, 2] / 2, SIZES[labels], rng.uniform(-np.pi, np.pi, n)]
    dist = np.hypot(xy[:, 0], xy[:, 1])
    critical = (xy[:, 0] > 0) & (xy[:, 0] < 30) & (np.abs(xy[:, 1]) < 2.5)
    ep_effect = rng.normal(0, 1.0, cells * episodes)[cell * episodes + episode]
    p_hit = 1 / (1 + np.exp(-(5.0 - dist / 12 + ep_effect)))
    emitted = rng.random(n) < np.clip(p_hit + 0.03, 0, 1)
    hit = rng.random(n) < p_hit / np.clip(p_hit + 0.03, 1e-9, 1)
    det_boxes = boxes[emitted].copy()
    det_boxes[:, :2] += rng.normal(0, 0.3, (int(emitted.sum()), 2))
    det_scores = np.where(hit[emitted], rng.uniform(0.35, 1.0, int(emitted.sum())), rng.uniform(0.0, 0.3, int(emitted.sum())))
    det_frame, det_labels = frame_key[emitted], labels[emitted]
    n_fp = n_frames // 5
    fp_frame = rng.integers(0, n_frames, n_fp)
    fp_labels = rng.integers(0, 3, n_fp)
    fp_boxes = np.c_[rng.uniform(3, 60, (n_fp, 1)), rng.uniform(-10, 10, (n_fp, 1)), SIZES[fp_labels, 2] / 2,
                     SIZES[fp_labels], rng.uniform(-np.pi, np.pi, n_fp)]
    det_frame = np.r_[det_frame, fp_frame]
    order = np.argsort(det_frame, kind="stable")
    det = {
        "frame_key": det_frame[order],
        "labels": np.r_[det_labels, fp_labels][order],
        "boxes": np.r_[det_boxes, fp_boxes][order],
        "scores": np.r_[det_scores, rng.uniform(0.3, 0.7, n_fp)][order],
    }
    det_fk = det["frame_key"]
    det.update(
        episode=(det_fk // frames) % episodes, frame=det_fk % frames, seed=det_fk // frames,
        timestamp=(det_fk % frames) * 0.1, ego_speed=np.full(len(det_fk), 8.0),
    )
    gt = {
        "frame_key": frame_key, "labels": labels, "boxes": boxes, "episode": episode, "frame": frame,
        "seed": frame_key // frames, "timestamp": frame * 0.1, "ego_speed": np.full(n, 8.0), "object_id": obj,
        "visible_fraction": rng.uniform(0, 1, n), "lidar_points": rng.integers(0, 500, n),
        "in_path": np.abs(xy[:, 1]) < 1.75, "critical": critical,
    }
    return {"gt": gt, "det": det, "cell": cell, "cells": cells, "det_cell": det_fk // (episodes * frames)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=40)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--method", choices=["center", "iou"], default="center")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    data = synthesise(args.cells, args.episodes, args.frames, args.objects, rng)
    synth_s = time.perf_counter() - t0
    gt, det = data["gt"], data["det"]
    cfg = MatchConfig(method=args.method)
    gates = load_gates(REPO / "conf" / "safety" / "default.yaml")
    weights = {f"cell{c:03d}": w for c, w in enumerate(rng.dirichlet(np.ones(args.cells)))}
    state: dict[str, Any] = {}

    def match() -> str:
        state["m"] = match_batch(gt["frame_key"], gt["labels"], gt["boxes"], det["frame_key"], det["labels"],
                                 det["boxes"], det["scores"], cfg)
        return f"{int(state['m'].detected.sum()):,} matched of {len(gt['labels']):,}"

    def rows() -> str:
        df = rows_from_match(state["m"], gt, det, cfg)
        cell_of_row = np.r_[data["cell"], data["det_cell"][state["m"].false_positive]]
        df.insert(0, "cell", pd.Categorical.from_codes(cell_of_row, [f"cell{c:03d}" for c in range(args.cells)]))
        df["weather"] = np.where(cell_of_row % 3 == 0, "fog", "clear")
        state["df"] = df
        return f"{len(df):,} rows ({int((df.row_type == 'fp').sum()):,} false positives)"

    def rates_cp() -> str:
        out = miss_rates(state["df"], ["cls", "cell"])
        return f"{len(out)} groups"

    def rates_clustered() -> str:
        out = miss_rates(state["df"], ["cls", "critical", "weather"], method="clustered")
        return f"{len(out)} groups"

    def rates_bootstrap() -> str:
        out = miss_rates(state["df"], ["cls"], method="bootstrap", rng=np.random.default_rng(1), n_boot=1000)
        return f"{len(out)} groups x 1000 resamples"

    def detection() -> str:
        out = detection_summary(state["df"], ["cls", "weather"])
        return f"{len(out)} groups"

    def tracks() -> str:
        out = track_metrics(state["df"], 0.1)
        return f"{len(out):,} critical tracks"

    def gate_eval() -> str:
        res = evaluate_gates(state["df"], gates)
        return ", ".join(f"{r.name}={r.status.value}" for r in res[:2]) + ", ..."

    def risk() -> str:
        r = cvar_summary(state["df"], alpha=0.95, cell_weights=weights, rng=np.random.default_rng(2), n_boot=1000)
        return f"CVaR {r.cvar:.4f} [{r.cvar_lower:.4f}, {r.cvar_upper:.4f}] over {r.episodes} episodes"

    stages: list[tuple[str, Callable[[], str]]] = [
        (f"match ({args.method})", match), ("result rows", rows), ("miss rates, Clopper-Pearson", rates_cp),
        ("miss rates, clustered", rates_clustered), ("miss rates, episode bootstrap", rates_bootstrap),
        ("detection summary", detection), ("track figures", tracks), ("safety gates (default.yaml)", gate_eval),
        ("CVaR + bootstrap", risk),
    ]
    table = Table(title=f"metrics benchmark: {len(gt['labels']):,} ground-truth rows, {len(det['scores']):,} detections, one core")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("result")
    total = 0.0
    for name, fn in stages:
        t = time.perf_counter()
        what = fn()
        dt = time.perf_counter() - t
        total += dt
        table.add_row(name, f"{dt:.2f}", what)
    table.add_row("[bold]total[/]", f"[bold]{total:.2f}[/]", "target <= 10 s" + (" (met)" if total <= 10 else " (NOT met)"))
    console = Console(width=140)
    console.print(table)
    console.print(f"(synthesis, not timed: {synth_s:.1f} s)")


if __name__ == "__main__":
    main()
