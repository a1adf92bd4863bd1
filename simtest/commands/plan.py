"""``simtest plan [--limit N] [--calibrate] [hydra overrides ...]``.

Composes the same config as the main job, expands the sweep and prints its
cells, their count, the simulated frames and an estimated run time, before
anything runs. The estimate uses a per-frame cost: measured here with
``--calibrate`` (builds the simulator and model and times a few frames of the
first cell), else the figure measured for the default sensor rig on a 2-core
machine. Exit codes: 0, or 2 on a bad config (the message names the key).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the main job (see simtest.commands.run)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

SECONDS_PER_FRAME = 0.12
"""Serial cost of one frame at the default rig on a 2-core machine, all included: measured 0.11 s
(0.07 s simulation, 0.03 s inference, the rest perturbation, matching, thumbnails, writing) on the
default sweep with the machine shared (load average ~2.5)."""
RAY_EFFICIENCY = 0.85
"""Fraction of linear speed-up a Ray pool reaches (measured by tools/bench/runner.py)."""


def compose(overrides: Sequence[str]) -> Any:
    """The main job's config with Hydra's runtime choices (``cfg.hydra.runtime.choices``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from simtest.commands.run import CONF_DIR
    from simtest.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="simtest"):
        return hydra_compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def calibrate(cfg: Any, plan: Any, scenario: str | None, frames: int = 5) -> float:
    """Seconds per frame of the first cell, measured with the configured simulator and model."""
    from simtest import scenario as scenarios
    from simtest.commands.run import Component, match_config, typed_job
    from simtest.config import to_rig
    from simtest.runner import CellWorker, WorkerSpec

    from simtest.executors import limit_threads

    job = typed_job(cfg)
    limit_threads(job.executor.threads)
    spec = WorkerSpec(
        make_simulator=Component(job.sim, {"rig": to_rig(job.rig)}), make_detector=Component(job.model),
        load_scenario=scenarios.load_scenario, match=match_config(job.matching), episodes=1, frames=1,
        root_seed=plan.root_seed, default_scenario=scenario, retries=0,
    )
    worker = CellWorker(spec)
    try:
        worker.run_cell(plan.cells[0])  # warm-up: builds the scene, loads the model
        worker.spec = replace(spec, frames=frames)
        t0 = time.perf_counter()
        worker.run_cell(plan.cells[0])
        return (time.perf_counter() - t0) / frames
    finally:
        worker.close()


def estimate_seconds(frames_total: int, seconds_per_frame: float, workers: int, kind: str) -> float:
    """Wall-clock estimate of a sweep: frames x cost, divided among the workers."""
    speedup = 1.0 if kind == "serial" else max(1.0, workers * RAY_EFFICIENCY)
    return frames_total * seconds_per_frame / speedup


def _duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simtest plan", description="print the cells of a sweep, their count and an estimated run time")
    parser.add_argument("--limit", type=int, default=50, help="cells to list (default 50; 0 = all)")
    parser.add_argument("--calibrate", action="store_true", help="time a few frames here instead of the stored figure")
    parser.add_argument("overrides", nargs="*", help="hydra overrides, as for the main job (e.g. sweep=weather_night)")
    args = parser.parse_args(argv)
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from simtest import scenario as scenarios
    from simtest.cell_setup import check_plan
    from simtest.config import ExecutorConfig, SweepConfig
    from simtest.sweep import describe, plan_sweep

    try:
        cfg = compose(args.overrides)
        choice = cfg.hydra.runtime.choices.get("scenario")
        sweep: SweepConfig = OmegaConf.to_object(cfg.sweep)  # type: ignore[assignment]
        executor: ExecutorConfig = OmegaConf.to_object(cfg.executor)  # type: ignore[assignment]
        plan = plan_sweep(sweep)
        check_plan(plan, choice, scenarios.load_scenario, scenarios.list_scenarios)
        spf = calibrate(cfg, plan, choice) if args.calibrate else SECONDS_PER_FRAME
    except (ValueError, HydraException, OmegaConfBaseException) as e:
        print(f"simtest plan: error: {e}", file=sys.stderr)
        return 2
    for line in describe(plan, None if args.limit == 0 else args.limit):
        print(line)
    varied = ", ".join(plan.varied_axes()) or "none"
    total = estimate_seconds(plan.frames_total, spf, executor.workers, executor.kind)
    source = "measured here" if args.calibrate else "stored figure; --calibrate to measure here"
    print(
        f"\nsweep {plan.name!r} ({plan.mode}): {len(plan)} cells x {plan.episodes} episodes x "
        f"{plan.frames} frames (+{plan.warmup_frames} warm-up) = {plan.frames_total} frames; varied axes: {varied}\n"
        f"estimated run time: {_duration(total)} on {executor.workers} {executor.kind} worker(s) "
        f"at {spf * 1000:.0f} ms/frame ({source})"
    )
    return 0
