"""A cell of the main job on the CARLA backend (server stand-in): frames flow through perturbation,
a model and matching into result rows, and a crash mid-cell is retried on a fresh simulator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

pytest.importorskip("carla")

from carla_fixtures import small_rig  # noqa: E402
from carla_standin import Registry  # noqa: E402
from carla_xodr import straight  # noqa: E402

from simtest.metrics.matching import MatchConfig  # noqa: E402
from simtest.runner import CellWorker, WorkerSpec  # noqa: E402
from simtest.scenario import load_scenario  # noqa: E402
from simtest.sim.carla import CarlaSimulator  # noqa: E402
from simtest.sweep import Cell  # noqa: E402
from simtest.types import Detections, Frame  # noqa: E402


class GroundTruthDetector:
    """Reports every object with at least 5 lidar returns, with score 0.9: a lidar-only oracle."""

    name = "gt_lidar_oracle"
    version = "1"

    def predict(self, frames: Sequence[Frame]) -> list[Detections]:
        out = []
        for f in frames:
            seen = f.objects.lidar_points >= 5
            o = f.objects.select(seen)
            out.append(Detections(boxes=o.boxes, scores=np.full(len(o), 0.9), labels=o.labels))
        return out


def worker(registry: Registry) -> CellWorker:
    def make_sim() -> CarlaSimulator:
        return CarlaSimulator(
            small_rig(), server={"port": 2000, "timeout": 1.0}, sensor_timeout=0.2,
            anchors={"straight": {"map": None}}, client_factory=registry,
        )

    spec = WorkerSpec(
        make_simulator=make_sim,
        make_detector=GroundTruthDetector,
        load_scenario=load_scenario,
        match=MatchConfig(),
        episodes=1,
        frames=3,
        root_seed=0,
        default_scenario="child_occluded",
        retries=1,
    )
    return CellWorker(spec)


@pytest.fixture
def no_probe(monkeypatch):
    monkeypatch.setattr("simtest.sim.carla.server.probe", lambda host, port, timeout: None)


def test_cells_run_end_to_end_on_carla(no_probe):
    registry = Registry(xodr=straight(x0=-100.0, length=500.0))
    w = worker(registry)
    try:
        clear = w.run(Cell(id="clear", axes={"scenario": "child_occluded", "weather": "clear"}, seed=1))
        fog = w.run(Cell(id="fog", axes={"scenario": "child_occluded", "weather": "fog_dense"}, seed=1))
    finally:
        w.close()
    assert clear.error is None and fog.error is None, (clear.error, fog.error)
    rows = {name: out.result.rows for name, out in (("clear", clear), ("fog", fog))}
    for df in rows.values():
        gt = df[df["row_type"] == "gt"]
        assert len(gt) == 3 * 4  # three parked cars and the child, in each of three frames
        assert sorted(gt["cls"].unique()) == ["pedestrian", "vehicle"]
        # The lidar oracle detects exactly the objects with >= 5 returns: rows carry CARLA's ground truth.
        assert (gt["detected"] == (gt["lidar_points"] >= 5)).all()
        # The nearest parked car (scenario x = 28.6 m) is fully visible; its ego-frame y is -4.6 + 1.75.
        near = gt[gt["x"] < 29.0]
        assert len(near) == 3 and np.allclose(near["y"], -2.85) and (near["visible_fraction"] == 1.0).all()
    clear_gt, fog_gt = (df[df["row_type"] == "gt"] for df in rows.values())
    assert clear_gt["detected"].any()
    # Dense fog (V = 50 m): two-way extinction exp(-2 alpha R) < 4 % at 28 m removes most returns.
    assert fog_gt["lidar_points"].sum() < 0.2 * clear_gt["lidar_points"].sum()
    assert registry.servers[2000].world.actors == {}  # closed cleanly


def test_a_crash_mid_cell_is_retried_on_a_fresh_simulator(no_probe):
    registry = Registry(xodr=straight(x0=-100.0, length=500.0))
    first = registry.server(2000)
    first.crash_at_frame = first.world.frame + 3  # during the first attempt's frames
    w = worker(registry)
    try:
        out = w.run(Cell(id="c1", axes={"scenario": "child_occluded"}, seed=2))
    finally:
        w.close()
    assert out.error is None and out.attempts == 2
    assert first.crashed and len(registry.history) == 2  # the retry talked to a new server


def test_a_cell_with_a_patch_axis_paints_the_child(no_probe):
    import cv2

    from perturbations.patch import LIBRARY_DIR

    registry = Registry(xodr=straight(x0=-100.0, length=500.0))
    w = worker(registry)
    try:
        out = w.run(Cell(id="p", axes={"scenario": "child_occluded", "patch": "ped_reference"}, seed=1))
        textures = list(registry.servers[2000].world.textures)
        control = w.run(Cell(id="r", axes={"scenario": "child_occluded", "patch": "random"}, seed=1))
        control_textures = list(registry.servers[2000].world.textures)
        paired = w.run(Cell(id="q", axes={"scenario": "child_occluded", "patch": "random_ped_reference"}, seed=1))
        paired_textures = list(registry.servers[2000].world.textures)
    finally:
        w.close()
    assert out.error is None and control.error is None and paired.error is None, (out.error, control.error,
                                                                                   paired.error)
    assert len(out.result.rows[out.result.rows["row_type"] == "gt"]) == 3 * 4
    (name, _, _, _, arr), = textures  # only the child (the one pedestrian) wears it
    assert name.startswith("walker.pedestrian.")
    png = cv2.imread(str(LIBRARY_DIR / "ped_reference.png"), cv2.IMREAD_COLOR)[:, :, ::-1]
    np.testing.assert_array_equal(arr[::-1, :, :3], png)
    # the random controls (one per patched class: pedestrian and vehicle) on the child and the three
    # parked cars, in a freshly reloaded map
    kinds = sorted(t[0].split(".")[0] for t in control_textures)
    assert kinds == ["vehicle"] * 3 + ["walker"] and len({t[0] for t in control_textures}) == 4
    # the paired control of ped_reference: a random texture of its size on the child only
    (p_name, _, _, _, c_arr), = paired_textures
    assert p_name.startswith("walker.pedestrian.") and c_arr.shape == arr.shape and (c_arr != arr).any()
    assert "reload" in registry.servers[2000].worlds_loaded
