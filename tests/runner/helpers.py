"""Building blocks for runner tests: a small sweep over the scripted doubles."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from simtest.config import AxisConfig, SweepConfig
from simtest.metrics.matching import MatchConfig
from simtest.runner import WorkerSpec, prepare_manifest
from simtest.store import RunStore
from simtest.sweep import SweepPlan, plan_sweep

from . import doubles


def small_sweep(scenarios=("approach", "crossing"), **kw) -> SweepPlan:
    cfg = SweepConfig(
        name="t", mode="grid",
        axes={"scenario": AxisConfig(values=list(scenarios)), "weather": AxisConfig(values=["clear", "fog_dense"]),
              "perturbation": AxisConfig(values=["none", "lidar_dropout"]), "severity": AxisConfig(values=[3])},
        episodes=2, frames=4, root_seed=0, **kw,
    )
    return plan_sweep(cfg)


def spec(plan: SweepPlan, *, slow_step: float = 0.0, retries: int = 1) -> WorkerSpec:
    return WorkerSpec(
        make_simulator=functools.partial(doubles.make_simulator, slow_step=slow_step),
        make_detector=doubles.make_detector,
        load_scenario=doubles.load_scenario,
        match=MatchConfig(),
        episodes=plan.episodes, frames=plan.frames, root_seed=plan.root_seed, retries=retries,
    )


def new_run(root: Path, plan: SweepPlan, config: dict | None = None):
    store = RunStore(root)
    manifest = prepare_manifest(store, plan, config=config or {"sweep": {"name": plan.name}}, model={"hash": "x"})
    return store, manifest


def sorted_rows(store: RunStore) -> pd.DataFrame:
    df = store.read()
    keys = ["cell", "episode", "frame", "row_type", "object_id", "x", "y"]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)
