"""Runner benchmark: overhead share of cell wall time, and Ray speed-up over serial, with where the time goes.

    .venv/bin/python tools/bench/runner.py [--cells 0] [--workers 2] [--repeats 1] [hydra overrides ...]

Runs the first ``--cells`` cells (0 = all) of the configured sweep (default: the
README's default sweep with the embedded simulator and the reference model)
into temporary run folders -- serially as a user gets it (``executor=serial``),
then on a local Ray pool of 1 and of ``--workers`` actors (``executor=ray``,
one thread each) -- and prints:

* per executor: wall seconds, cells/min, speed-up over serial, CPU seconds
  (every thread of every process doing cells), mean cores busy (CPU / wall),
  pool start-up (pool creation until every actor has built its simulator and
  model and run one frame; excluded from the timed sweep, as the serial run's
  warm-up is), idle seconds at the tail (summed over actors, from an actor's
  last result to the end of the sweep) and transfer seconds (round trips minus
  the cells' own run time);
* the serial time split per phase (wall, CPU, cores busy) and the runner
  overhead: the share of serial wall time not spent in simulation,
  perturbation or inference (matching, thumbnails, writing, the driver loop).
  Target <= 5 %;
* the Amdahl bound: a pool of W single-threaded workers doing the serial run's
  CPU work can at best reach ``W x serial wall / serial CPU`` (W over the serial
  run's mean cores busy); the pool's efficiency is its speed-up over that bound.
  Target: speed-up >= 1.6x with 2 workers on a 2-core machine.

It also checks that every run produced identical rows. Figures measured on a
shared machine vary with its load (printed); ``--repeats`` alternates the runs
to compare them back to back. Run it on an idle machine for a quote.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from simtest import scenario as scenarios  # noqa: E402
from simtest.cell_setup import check_plan  # noqa: E402
from simtest.commands.plan import compose  # noqa: E402
from simtest.commands.run import Component, match_config, typed_job  # noqa: E402
from simtest.config import ExecutorConfig, to_rig  # noqa: E402
from simtest.executors import RayExecutor, SerialExecutor  # noqa: E402
from simtest.runner import PHASES, WorkerSpec, prepare_manifest, run_sweep  # noqa: E402
from simtest.store import RunStore  # noqa: E402
from simtest.sweep import plan_sweep  # noqa: E402


@dataclass
class Measured:
    """One timed sweep."""

    name: str
    wall: float
    cpu: float
    timing: dict
    rows: object
    startup: float = 0.0
    tail_idle: float = 0.0
    transfer: float = 0.0


def timed_sweep(plan, executor, root: Path, name: str) -> tuple[float, float, dict, object]:
    """Run the plan into a new folder; returns wall s, driver CPU s, summed cell timing, sorted rows."""
    store = RunStore(root / name)
    manifest = prepare_manifest(store, plan, config={"bench": name}, model={"hash": "bench"})
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_sweep(plan, store, manifest, executor)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if result.failed:
        raise SystemExit(f"{name}: cells failed: {result.failed}")
    rows = store.read().sort_values(["cell", "episode", "frame", "row_type", "object_id", "x"]).reset_index(drop=True)
    return wall, cpu, result.timing, rows


def run_serial(plan, spec, threads: int, root: Path, name: str) -> Measured:
    ex = SerialExecutor(spec, threads=threads)
    ex.worker.warm(plan.cells[0])  # scene code compiled, model loaded: both sides start warm
    wall, cpu, timing, rows = timed_sweep(plan, ex, root, name)
    return Measured(name, wall, cpu, timing, rows)  # serial: the driver process does all the work


def run_ray(plan, spec, workers: int, root: Path, name: str) -> Measured:
    ex = RayExecutor(spec, ExecutorConfig(kind="ray", workers=workers, threads=1))
    startup = ex.wait_ready(plan.cells[0])
    wall, cpu, timing, rows = timed_sweep(plan, ex, root, name)
    cpu += timing.get("cpu_total", 0.0)  # the actors' CPU in their cells, plus the driver's
    return Measured(name, wall, cpu, timing, rows, startup, sum(ex.stats.tail_idle.values()), ex.stats.transfer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=0, help="first N cells of the sweep (0 = all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="alternate serial and Ray runs this many times")
    parser.add_argument("--serial-threads", type=int, default=1, help="torch/BLAS threads of the serial run "
                        "(executor=serial's default; 0 = all)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    cfg = compose(args.overrides)
    job = typed_job(cfg)
    full = plan_sweep(job.sweep)
    plan = replace(full, cells=full.cells[: args.cells] if args.cells > 0 else full.cells)
    choice = cfg.hydra.runtime.choices.get("scenario")
    check_plan(plan, choice, scenarios.load_scenario, scenarios.list_scenarios)
    spec = WorkerSpec(
        make_simulator=Component(job.sim, {"rig": to_rig(job.rig)}), make_detector=Component(job.model),
        load_scenario=scenarios.load_scenario, match=match_config(job.matching), episodes=plan.episodes,
        frames=plan.frames, warmup_frames=plan.warmup_frames, root_seed=plan.root_seed, default_scenario=choice,
        retries=0, thumbnails=job.run.thumbnails,
    )
    # Ray actors cast rays on one thread each, as the main job sets sim.nthreads for executor=ray
    ray_spec = replace(spec, make_simulator=Component({**job.sim, "nthreads": 1} if "nthreads" in job.sim else job.sim,
                                                      {"rig": to_rig(job.rig)}))
    frames = len(plan) * plan.episodes * plan.frames
    loads = [os.getloadavg()[0]]
    print(f"{len(plan)} cells of sweep {plan.name!r}, {plan.episodes} episodes x {plan.frames} frames each "
          f"({frames} frames); machine: {os.cpu_count()} cores, load avg {loads[0]:.2f}")
    import ray

    runs: list[Measured] = []
    pool_sizes = sorted({1, args.workers})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        ray.init(num_cpus=max(args.workers, 1), include_dashboard=False, logging_level="ERROR")
        ray_init = time.perf_counter() - t0
        try:
            for rep in range(args.repeats):
                runs.append(run_serial(plan, spec, args.serial_threads, root, f"serial{rep}"))
                for workers in pool_sizes:
                    runs.append(run_ray(plan, ray_spec, workers, root, f"ray{workers}_{rep}"))
                loads.append(os.getloadavg()[0])
        finally:
            ray.shutdown()
    serial_runs = [r for r in runs if r.name.startswith("serial")]
    base = serial_runs[0]
    for r in runs[1:]:
        same = "identical to" if r.rows.equals(base.rows) else "DIFFERENT from"
        print(f"rows of {r.name}: {same} the first serial run's")
    print(f"load average during the runs: {' '.join(f'{v:.2f}' for v in loads)} (1-minute, before and after each repeat)")
    print()
    print(f"{'run':<12}{'wall s':>8}{'cells/min':>11}{'speed-up':>10}{'CPU s':>8}{'cores':>7}{'start-up s':>12}"
          f"{'tail idle s':>13}{'transfer s':>12}{'sims':>6}")
    for r in runs:
        serial = next(s for s in reversed(serial_runs) if runs.index(s) <= runs.index(r))  # the serial run before it
        print(f"{r.name:<12}{r.wall:>8.1f}{len(plan) / r.wall * 60:>11.1f}{serial.wall / r.wall:>9.2f}x{r.cpu:>8.1f}"
              f"{r.cpu / r.wall:>7.2f}{r.startup:>12.1f}{r.tail_idle:>13.1f}{r.transfer:>12.2f}"
              f"{r.timing.get('simulated', 0.0):>6.0f}")
    print(f"(ray.init took {ray_init:.1f} s; start-up = pool creation until every actor built its simulator and "
          f"model and ran one frame; sims = episodes simulated, of {len(plan) * plan.episodes}: the others reuse "
          "their group's frames)")
    print()
    t = base.timing
    print(f"serial split   {'wall s':>8}{'CPU s':>8}{'cores':>7}")
    for k in (*PHASES, "store"):
        w, c = t.get(k, 0.0), t.get(f"cpu_{k}", 0.0)
        print(f"  {k:<12}{w:>8.1f}{c:>8.1f}{c / w if w else 0.0:>7.2f}")
    work = sum(t.get(k, 0.0) for k in ("sim", "perturb", "model"))
    overhead = (base.wall - work) / base.wall
    print(f"runner overhead (wall - sim - perturb - model) / wall = {overhead:.1%}  (target <= 5 %)")
    print()
    for rep in range(args.repeats):
        s = runs[rep * (1 + len(pool_sizes))]
        r = next(x for x in runs if x.name == f"ray{args.workers}_{rep}")
        speedup = s.wall / r.wall
        bound = args.workers * s.wall / s.cpu
        print(f"repeat {rep}: serial keeps {s.cpu / s.wall:.2f} cores busy -> Amdahl bound for {args.workers} "
              f"single-thread workers {bound:.2f}x; ray {args.workers} workers reach {speedup:.2f}x "
              f"(efficiency {speedup / bound:.0%}; CPU per cell ray/serial {r.cpu / s.cpu:.2f})  (target >= 1.6x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
