"""Runner benchmark: overhead share of cell wall time, and Ray speed-up over serial.

    .venv/bin/python tools/bench/runner.py [--cells 8] [--workers 2] [hydra overrides ...]

Runs the first ``--cells`` cells of the configured sweep (default: the README's
default sweep with the embedded simulator and the reference model) three ways
into temporary run folders -- serially, then on a local Ray pool of 1 and of
``--workers`` actors (one thread each) -- and prints a table:

* overhead: the share of the serial wall time not spent in simulation,
  perturbation or inference (matching, row building, thumbnails, writing the
  cell files and manifest, the driver loop). Target <= 5 %.
* cells/min for each executor, and the Ray pool's speed-up over serial
  (target >= 1.6x with 2 workers on a 2-core machine).

It also checks that all runs produced identical rows. Figures measured on a
shared machine vary with its load; run it on an idle one for a quote.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from simtest import scenario as scenarios  # noqa: E402
from simtest.cell_setup import check_plan  # noqa: E402
from simtest.commands.plan import compose  # noqa: E402
from simtest.commands.run import Component, match_config, typed_job  # noqa: E402
from simtest.config import ExecutorConfig, to_rig  # noqa: E402
from simtest.executors import RayExecutor, SerialExecutor  # noqa: E402
from simtest.runner import WorkerSpec, prepare_manifest, run_sweep  # noqa: E402
from simtest.store import RunStore  # noqa: E402
from simtest.sweep import plan_sweep  # noqa: E402


def run(plan, spec, executor, root: Path, name: str) -> tuple[float, dict, object]:
    store = RunStore(root / name)
    manifest = prepare_manifest(store, plan, config={"bench": name}, model={"hash": "bench"})
    t0 = time.perf_counter()
    result = run_sweep(plan, store, manifest, executor)
    wall = time.perf_counter() - t0
    if result.failed:
        raise SystemExit(f"{name}: cells failed: {result.failed}")
    rows = store.read().sort_values(["cell", "episode", "frame", "row_type", "object_id", "x"]).reset_index(drop=True)
    return wall, result.timing, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--serial-threads", type=int, default=1, help="torch/BLAS threads of the serial run (0 = all)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    cfg = compose(args.overrides)
    job = typed_job(cfg)
    full = plan_sweep(job.sweep)
    plan = replace(full, cells=full.cells[: args.cells])
    choice = cfg.hydra.runtime.choices.get("scenario")
    check_plan(plan, choice, scenarios.load_scenario, scenarios.list_scenarios)
    spec = WorkerSpec(
        make_simulator=Component(job.sim, {"rig": to_rig(job.rig)}), make_detector=Component(job.model),
        load_scenario=scenarios.load_scenario, match=match_config(job.matching), episodes=plan.episodes,
        frames=plan.frames, warmup_frames=plan.warmup_frames, root_seed=plan.root_seed, default_scenario=choice,
        retries=0, thumbnails=job.run.thumbnails,
    )
    frames = len(plan) * plan.episodes * plan.frames
    print(f"{len(plan)} cells of sweep {plan.name!r}, {plan.episodes} episodes x {plan.frames} frames each "
          f"({frames} frames); machine: {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # warm the serial worker (scene build, model load) on the first cell so both sides start warm
        serial = SerialExecutor(spec, threads=args.serial_threads)
        serial.worker.run_cell(plan.cells[0])
        wall_s, timing, rows_s = run(plan, spec, serial, root, "serial")
        work = sum(timing.get(k, 0.0) for k in ("sim", "perturb", "model"))
        import ray

        ray.init(num_cpus=max(args.workers, 1), include_dashboard=False, logging_level="ERROR")
        results = {}
        try:
            for workers in sorted({1, args.workers}):
                ex = RayExecutor(spec, ExecutorConfig(kind="ray", workers=workers, threads=1))
                # warm every actor (model load, scene build) before timing
                ray.get([a.run.remote(plan.cells[0]) for a in ex.actors])
                results[workers] = run(plan, spec, ex, root, f"ray{workers}")
        finally:
            ray.shutdown()
    for workers, (_, _, rows) in results.items():
        same = "identical to" if rows.equals(rows_s) else "DIFFERENT from"
        print(f"rows of ray with {workers} worker(s): {same} the serial run's")
    per_min = lambda wall: len(plan) / wall * 60.0  # noqa: E731
    print()
    print(f"{'executor':<22}{'wall s':>9}{'cells/min':>11}{'frames/s':>10}{'vs serial':>11}")
    print(f"{f'serial x {args.serial_threads} thr':<22}{wall_s:>9.1f}{per_min(wall_s):>11.2f}{frames / wall_s:>10.2f}{1.0:>10.2f}x")
    for workers, (wall, _, _) in results.items():
        print(f"{f'ray, {workers} worker(s) x 1 thr':<22}{wall:>9.1f}{per_min(wall):>11.2f}{frames / wall:>10.2f}"
              f"{wall_s / wall:>10.2f}x")
    print()
    print("serial time split (s):  " + "  ".join(f"{k} {timing.get(k, 0.0):.1f}" for k in ("sim", "perturb", "model", "match", "thumbs")))
    overhead = (wall_s - work) / wall_s
    print(f"runner overhead (wall - sim - perturb - model) / wall = {overhead:.1%}  (target <= 5 %)")
    speedup = wall_s / results[args.workers][0]
    print(f"ray {args.workers} workers vs serial: {speedup:.2f}x  (target >= 1.6x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
