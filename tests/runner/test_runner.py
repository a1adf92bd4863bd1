"""The runner on scripted doubles: determinism, recorded perturbations, faults, resume, interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perturbations import registry
from simtest.cell_setup import cell_setup
from simtest.executors import SerialExecutor
from simtest.runner import (
    EXIT_CELLS_FAILED,
    CellWorker,
    ResumeError,
    load_params,
    perturb_frame,
    prepare_manifest,
    run_sweep,
)
from simtest.seeding import derive_seed, rng_for
from simtest.store import RunStore

from . import doubles, helpers

TESTS_DIR = Path(__file__).resolve().parents[1]


def run_all(root: Path, plan, **spec_kw):
    store, manifest = helpers.new_run(root, plan)
    result = run_sweep(plan, store, manifest, SerialExecutor(helpers.spec(plan, **spec_kw)))
    return store, result


def test_serial_run_writes_every_cell_and_is_deterministic(tmp_path):
    plan = helpers.small_sweep()
    store_a, res = run_all(tmp_path / "a", plan)
    assert res.exit_code == 0 and not res.failed and len(res.done) == len(plan) == 8
    store_b, _ = run_all(tmp_path / "b", plan)
    a, b = helpers.sorted_rows(store_a), helpers.sorted_rows(store_b)
    pd.testing.assert_frame_equal(a, b)
    # the rows carry axes, episodes and the episode seeds; each gt object appears once per frame
    gt = a[a.row_type == "gt"]
    assert not gt.duplicated(["cell", "episode", "frame", "object_id"]).any()
    assert set(a["weather"]) == {"clear", "fog_dense"} and set(a["perturbation"]) == {"none", "lidar_dropout"}
    assert gt.groupby(["cell", "episode"]).frame.nunique().eq(plan.frames).all()
    manifest = store_a.load_manifest()
    assert all(r.status == "done" and r.attempts == 1 and r.rows > 0 for r in manifest.cells.values())


def test_cells_differing_only_in_perturbation_share_their_world(tmp_path):
    plan = helpers.small_sweep(scenarios=("approach",))
    store, _ = run_all(tmp_path, plan)
    df = store.read()
    clean = df[(df.perturbation == "none") & (df.weather == "clear") & (df.row_type == "gt")]
    noisy = df[(df.perturbation == "lidar_dropout") & (df.weather == "clear") & (df.row_type == "gt")]
    key = ["episode", "frame", "object_id"]
    m = clean.merge(noisy, on=key, suffixes=("_c", "_p"))
    assert len(m) == len(clean) == len(noisy)
    assert (m.seed_c == m.seed_p).all() and np.allclose(m.x_c, m.x_p)  # same episode seed, same ground truth
    # lidar dropout at severity 3 lowers the scripted detector's scores
    assert m.best_score_p.mean() < m.best_score_c.mean()


def test_recorded_params_replay_the_perturbation_exactly(tmp_path):
    plan = helpers.small_sweep(scenarios=("approach",))
    store, _ = run_all(tmp_path, plan)
    cell = next(c for c in plan.cells if c.axes["perturbation"] == "lidar_dropout")
    record = load_params(tmp_path, cell.id)
    assert record["seed"] == cell.seed
    assert len(record["frames"]) == plan.episodes * plan.frames
    # regenerate episode 1, step 2 and compare the replayed scan with a fresh perturbation
    setup = cell_setup(cell.axes, None)
    sim = doubles.ScriptedSimulator()
    sim.reset(doubles.load_scenario("approach"), setup.conditions, derive_seed(0, "episode", setup.scene_key, 1))
    frames = [sim.step() for _ in range(3)]
    entry = next(e for e in record["frames"] if e["episode"] == 1 and e["step"] == 2)
    applied = registry.Applied.from_dict({k: v for k, v in entry["applied"][0].items() if k != "sensor"})
    lid = frames[-1].lidars["top"]
    from perturbations.lidar.scan import Scan

    replayed = registry.replay(Scan(points=lid.points, ring=lid.ring, num_beams=lid.num_beams), applied)
    fresh, _ = perturb_frame(frames[-1], frames, setup, cell.seed, 1, 2)
    assert replayed.points.tobytes() == fresh.lidars["top"].points.tobytes()
    # and the stream is the documented one
    _, again = registry.perturb_recorded(Scan(points=lid.points, ring=lid.ring, num_beams=lid.num_beams),
                                         "lidar_dropout", 3, rng_for(cell.seed, 1, 2, "top", "lidar_dropout"))
    assert again.to_dict() == applied.to_dict()


def test_failing_simulator_is_retried_then_recorded_while_others_complete(tmp_path):
    plan = helpers.small_sweep(scenarios=("approach", "broken"))
    store, res = run_all(tmp_path, plan, retries=2)
    broken = {c.id for c in plan.cells if c.axes["scenario"] == "broken"}
    assert set(res.failed) == broken and len(res.done) == len(plan) - len(broken)
    assert res.exit_code == EXIT_CELLS_FAILED
    manifest = store.load_manifest()
    for cid in broken:
        rec = manifest.cells[cid]
        assert rec.status == "failed" and rec.attempts == 3 and "scripted simulator crash" in rec.error
        assert not store.cell_path(cid).exists()
    assert store.done_cells() == {c.id for c in plan.cells} - broken


def test_each_retry_gets_a_fresh_simulator():
    plan = helpers.small_sweep(scenarios=("broken",))
    made = []

    def make():
        sim = doubles.ScriptedSimulator()
        made.append(sim)
        return sim

    worker = CellWorker(replace(helpers.spec(plan, retries=2), make_simulator=make))
    outcome = worker.run(plan.cells[0])
    assert not outcome.ok and outcome.attempts == 3
    assert len(made) == 3 and all(s.closed for s in made)


def test_a_hung_cell_times_out_and_fails(tmp_path):
    plan = helpers.small_sweep(scenarios=("approach",))
    spec = replace(helpers.spec(plan, slow_step=0.2, retries=0), cell_timeout=0.3)
    outcome = CellWorker(spec).run(plan.cells[0])
    assert not outcome.ok and outcome.error.startswith("CellTimeout")


def test_model_returning_nan_fails_the_cell(tmp_path):
    plan = helpers.small_sweep(scenarios=("approach",))

    class NanDetector(doubles.ScriptedDetector):
        def predict(self, frames):
            return [doubles.Detections(boxes=np.full((1, 7), np.nan), scores=np.ones(1), labels=np.zeros(1, int))]

    outcome = CellWorker(replace(helpers.spec(plan, retries=0), make_detector=NanDetector)).run(plan.cells[0])
    assert not outcome.ok and "NaN" in outcome.error


def test_resume_skips_finished_cells_and_refuses_a_changed_config(tmp_path):
    plan = helpers.small_sweep()
    store, res = run_all(tmp_path, plan)
    before = {p: p.stat().st_mtime_ns for p in store.cell_files()}
    store2, manifest = helpers.new_run(tmp_path, plan)
    res2 = run_sweep(plan, store2, manifest, SerialExecutor(helpers.spec(plan)))
    assert res2.skipped == len(plan) and not res2.done
    assert {p: p.stat().st_mtime_ns for p in store.cell_files()} == before
    with pytest.raises(ResumeError, match=r"changed: sweep.*run\.force=true"):
        prepare_manifest(store, plan, config={"sweep": {"name": "other"}}, model={"hash": "x"})
    with pytest.raises(ResumeError, match="changed: model_hash"):
        prepare_manifest(store, plan, config={"sweep": {"name": plan.name}}, model={"hash": "new weights"})
    forced = prepare_manifest(store, plan, config={"sweep": {"name": "other"}}, model={"hash": "x"}, force=True)
    assert all(r.status == "done" for r in forced.cells.values())


class InterruptingExecutor(SerialExecutor):
    """Simulates Ctrl-C after ``n`` cells."""

    def __init__(self, spec, n):
        super().__init__(spec)
        self.n = n

    def run(self, cells):
        for i, outcome in enumerate(super().run(cells)):
            if i == self.n:
                raise KeyboardInterrupt
            yield outcome


def test_ctrl_c_stops_cleanly_and_the_rerun_completes(tmp_path):
    plan = helpers.small_sweep()
    store, manifest = helpers.new_run(tmp_path, plan)
    res = run_sweep(plan, store, manifest, InterruptingExecutor(helpers.spec(plan), 3))
    assert res.interrupted and res.exit_code == 130 and len(res.done) == 3
    assert len(store.cell_files()) == 3 and not list(store.cells_dir.glob(".*"))
    assert sum(r.status == "done" for r in store.load_manifest().cells.values()) == 3
    store, manifest = helpers.new_run(tmp_path, plan)
    res = run_sweep(plan, store, manifest, SerialExecutor(helpers.spec(plan)))
    assert res.skipped == 3 and len(res.done) == len(plan) - 3


def test_sigkill_mid_sweep_then_resume_equals_an_uninterrupted_run(tmp_path):
    plan = helpers.small_sweep()
    reference, _ = run_all(tmp_path / "reference", plan)
    run_dir = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "runner.sweep_job", str(run_dir), "0.03"]
    child = subprocess.Popen(cmd, env=env, cwd=TESTS_DIR)
    store = RunStore(run_dir)
    t0 = time.monotonic()
    while len(store.done_cells()) < 3 and time.monotonic() - t0 < 60 and child.poll() is None:
        time.sleep(0.02)
    time.sleep(0.1)  # land somewhere inside the next cell
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished = len(store.done_cells())
    assert 3 <= finished < len(plan), "the child should be killed mid-sweep"
    resumed = subprocess.run(cmd[:-1] + ["0"], env=env, cwd=TESTS_DIR, timeout=120)
    assert resumed.returncode == 0
    pd.testing.assert_frame_equal(helpers.sorted_rows(store), helpers.sorted_rows(reference))
    assert all(r.status == "done" for r in store.load_manifest().cells.values())
    assert not [p for p in store.cells_dir.iterdir() if p.name.startswith(".")]


def test_patch_axis_dresses_the_actors_and_keeps_the_world():
    from simtest.config import AxisConfig, SweepConfig
    from simtest.sweep import plan_sweep

    plan = plan_sweep(SweepConfig(mode="grid", axes={"patch": AxisConfig(values=["none", "random"])},
                                  baseline={"scenario": "approach"}, episodes=1, frames=2))
    sims = []

    def make():
        sims.append(doubles.ScriptedSimulator())
        return sims[-1]

    worker = CellWorker(replace(helpers.spec(plan), make_simulator=make))
    rows = {}
    for cell in plan.cells:
        out = worker.run(cell)
        assert out.ok
        rows[cell.axes["patch"]] = out.result.rows
        if cell.axes["patch"] == "none":
            assert sims[-1].patches == ()
        else:
            assert len(sims[-1].patches) >= 1 and all(p.name.startswith("random") for p in sims[-1].patches)
    assert (rows["none"].seed == rows["random"].seed).all()  # same episode seed: paired comparison


def test_episode_rows_equal_frame_by_frame_matching():
    from simtest.metrics.matching import MatchConfig, result_rows
    from simtest.runner import episode_rows, keyframe_index

    sim = doubles.ScriptedSimulator()
    sim.reset(doubles.FakeScenario("approach", count=5), doubles.Conditions(fog_visibility=60.0), 4)
    frames = [sim.step() for _ in range(6)]
    dets = doubles.ScriptedDetector().predict(frames)
    cfg = MatchConfig()
    batch = episode_rows(frames, dets, cfg, episode=2, seed=9)
    single = pd.concat([result_rows(f, d, cfg, episode=2, seed=9) for f, d in zip(frames, dets)], ignore_index=True)
    pd.testing.assert_frame_equal(batch, single, check_dtype=False)
    k = keyframe_index(batch, frames)
    gt = batch[batch.row_type == "gt"]
    missed = ~gt.detected.astype(bool)
    key = {f: (int((missed & gt.critical)[gt.frame == f].sum()), int(missed[gt.frame == f].sum())) for f in gt.frame.unique()}
    assert key[frames[k].index] == max(key.values())  # most critical misses first, then most misses


def test_a_writing_error_stops_the_sweep_and_keeps_the_cells_written_before(tmp_path, monkeypatch):
    plan = helpers.small_sweep()
    store, manifest = helpers.new_run(tmp_path, plan)
    real, calls = RunStore.write_cell, []

    def failing(self, manifest, cell_id, rows):
        calls.append(cell_id)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, manifest, cell_id, rows)

    monkeypatch.setattr(RunStore, "write_cell", failing)
    executor = SerialExecutor(helpers.spec(plan))
    with pytest.raises(OSError, match="No space left"):
        run_sweep(plan, store, manifest, executor)
    assert store.done_cells() == set(calls[:2])  # written on the recorder thread before the failure
    assert executor.worker._sim is None  # the executor was closed
    saved = store.load_manifest()
    assert {c for c, r in saved.cells.items() if r.status == "done"} == set(calls[:2])
