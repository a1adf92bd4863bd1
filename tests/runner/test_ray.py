"""Serial and Ray executors, and 1 and 2 Ray workers, give identical rows (one local Ray for the module)."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest

from simtest.config import ExecutorConfig
from simtest.executors import ACTOR_THREAD_ENV, RayExecutor, SerialExecutor
from simtest.runner import run_sweep

from . import doubles, helpers

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(doubles)
    ray.cloudpickle.register_pickle_by_value(helpers)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def test_serial_and_ray_with_one_and_two_workers_give_identical_rows(tmp_path, local_ray):
    plan = helpers.small_sweep(scenarios=("approach", "crossing", "broken"))
    results = {}
    for name, make in {
        "serial": lambda s: SerialExecutor(s),
        "ray1": lambda s: RayExecutor(s, ExecutorConfig(kind="ray", workers=1, threads=1)),
        "ray2": lambda s: RayExecutor(s, ExecutorConfig(kind="ray", workers=2, threads=1)),
    }.items():
        store, manifest = helpers.new_run(tmp_path / name, plan)
        res = run_sweep(plan, store, manifest, make(helpers.spec(plan, retries=1)))
        results[name] = (helpers.sorted_rows(store), res, store.load_manifest())
    serial_rows, serial_res, _ = results["serial"]
    broken = {c.id for c in plan.cells if c.axes["scenario"] == "broken"}
    for name in ("ray1", "ray2"):
        rows, res, manifest = results[name]
        pd.testing.assert_frame_equal(rows, serial_rows)
        assert set(res.failed) == broken
        assert all(manifest.cells[c].attempts == 2 for c in broken)


def test_ray_refuses_more_workers_than_the_cluster_can_hold(local_ray):
    plan = helpers.small_sweep()
    with pytest.raises(ValueError, match=r"executor: 3 workers .* need 6 CPUs and 0 GPUs but the Ray cluster has 2 and 0"):
        RayExecutor(helpers.spec(plan), ExecutorConfig(kind="ray", workers=3, num_cpus=2.0))


def test_ray_actors_limit_their_threads_and_the_pool_records_where_time_went(tmp_path, local_ray):
    plan = helpers.small_sweep(scenarios=("approach", "crossing"))
    # simulating a group (2 episodes x 4 steps x 30 ms) costs far more than the rest of a cell, so splitting a
    # 2-cell group never pays whatever the machine's load (CellQueue steals when left > 2 S / c)
    ex = RayExecutor(helpers.spec(plan, slow_step=0.03), ExecutorConfig(kind="ray", workers=2, threads=1))
    env = ray.get([a.__ray_call__.remote(lambda self: {k: os.environ.get(k) for k in ACTOR_THREAD_ENV}) for a in ex.actors])
    assert env == [dict.fromkeys(ACTOR_THREAD_ENV, "1")] * 2  # set before the actor imported numba or torch
    startup = ex.wait_ready(plan.cells[0])
    assert startup == ex.stats.startup > 0
    store, manifest = helpers.new_run(tmp_path, plan)
    t0 = time.perf_counter()
    res = run_sweep(plan, store, manifest, ex)
    wall = time.perf_counter() - t0
    assert len(res.done) == len(plan) and ex.stats.cells == len(plan)
    assert len(ex.stats.busy) == 2 and len(ex.stats.tail_idle) == 2  # both actors ran cells
    assert sum(ex.stats.busy.values()) <= 2 * wall and all(0 <= t <= wall for t in ex.stats.tail_idle.values())
    # each of the 4 frame groups was simulated once: the pool kept every group on one actor
    assert res.timing["simulated"] == 4 * plan.episodes
