"""Serial and Ray executors, and 1 and 2 Ray workers, give identical rows (one local Ray for the module)."""

from __future__ import annotations

import pandas as pd
import pytest

from simtest.config import ExecutorConfig
from simtest.executors import RayExecutor, SerialExecutor
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
