"""Benchmark the embedded simulator against bare Embree casting of the same rays.

Default rig: front camera 640x384 with shadows + 64-beam x 1024-step lidar.
For each timed frame the simulator records every ray batch it cast (camera
rays, shadow rays, lidar rays, the visibility ground truth's listing); the
reference then casts exactly those batches, with the same Open3D calls, into
one scene holding the same meshes (built once, not timed). Targets: frame time
<= 1.5 x bare cast time, >= 12 frames/s, peak memory < 1 GiB.

As in a sweep, where a worker's simulator has already run earlier episodes,
the simulator first runs one episode of the scenario with another seed
(``--cold`` skips it: then the walkers' and cyclists' poses are built during
the timed frames); the timed episode then runs ``--warmup`` frames before
``--frames`` timed ones. ``--threads`` sets the kernels' thread count
(:func:`simtest.sim.embedded.set_threads`; default: all cores).
``--all-conditions`` runs each of clear noon, night, heavy rain and dense fog
in its own process (so peak memory is per condition) and prints one table;
``--repeat N`` runs that round N times (the conditions interleaved, so a change
in the machine's load hits all of them) and prints each condition's median and
range over the runs: on a shared machine one run's ratio moves by 5-10 %.

    OPENBLAS_NUM_THREADS=1 python tools/bench/simulator.py [--scenario NAME] [--conditions PRESET] [--frames N]
    OPENBLAS_NUM_THREADS=1 python tools/bench/simulator.py --all-conditions [--threads N] [--repeat N]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS threads halve Embree's speed
# Running this file puts tools/bench first on sys.path, where tools/bench/perturbations.py
# would shadow the perturbations package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from simtest.open3d_loader import import_open3d  # noqa: E402
from simtest.scenario import load_scenario  # noqa: E402
from simtest.sim.base import PRESETS  # noqa: E402
from simtest.sim.embedded import EmbeddedSimulator, set_threads  # noqa: E402
from simtest.sim.embedded.scene import FrameScene  # noqa: E402


def bare_cast_seconds(log: list[tuple[str, object]]) -> tuple[float, float, int]:
    """Rebuild the logged frame's meshes in fresh scenes and cast the logged ray batches into them
    with the same Open3D calls. Returns (cast seconds, scene build seconds, rays)."""
    o3d = import_open3d()
    (frame_scene,) = [obj for kind, obj in log if kind == "scene"]
    batches = [(kind, rays) for kind, rays in log if kind != "scene"]
    start = time.perf_counter()
    ref = FrameScene(frame_scene.static, frame_scene.actors, frame_scene.actor_of_triangle)
    ref.scene.cast_rays(o3d.core.Tensor(np.zeros((1, 6), np.float32)))  # the BVH is built on first use
    build = time.perf_counter() - start
    calls = {"cast": ref.scene.cast_rays, "occlusion": ref.scene.test_occlusions, "list": ref.scene.list_intersections}
    tensors = [(calls[kind], o3d.core.Tensor.from_numpy(np.ascontiguousarray(r))) for kind, r in batches]
    start = time.perf_counter()
    for call, rays in tensors:
        call(rays)
    return time.perf_counter() - start, build, sum(len(r) for _, r in batches)


ALL_CONDITIONS = ("clear_noon", "night", "rain_heavy", "fog_dense")


def measure(scenario_name: str, conditions: str, frames: int, warmup: int, seed: int, cold: bool) -> dict[str, object]:
    """Time ``frames`` frames and the bare casts of their rays; figures in seconds, MiB and rays."""
    scenario = load_scenario(scenario_name)
    sim = EmbeddedSimulator()
    if not cold:  # an earlier episode, as a sweep worker's simulator has run
        sim.reset(scenario, PRESETS[conditions], seed=seed + 1)
        for _ in range(warmup + frames):
            sim.step()
    sim.reset(scenario, PRESETS[conditions], seed=seed)
    for _ in range(warmup):
        sim.step()
    frame_s, bare_s, build_s, rays, frame_cpu, bare_cpu = [], [], [], [], [], []
    triangles = ""
    for _ in range(frames):
        log: list[tuple[str, object]] = []
        sim.ray_log = log
        cpu, start = time.process_time(), time.perf_counter()
        sim.step()
        frame_s.append(time.perf_counter() - start)
        frame_cpu.append(time.process_time() - cpu)
        sim.ray_log = None
        cpu = time.process_time()
        cast, build, n = bare_cast_seconds(log)
        bare_cpu.append(time.process_time() - cpu)  # includes building the reference scene
        bare_s.append(cast)
        build_s.append(build)
        rays.append(n)
        triangles = f"{log[0][1].static.num_triangles} + {log[0][1].actors.num_triangles}"
    return {
        "scenario": scenario_name, "conditions": conditions, "triangles": triangles,
        "rays": int(statistics.median(rays)), "frame": statistics.median(frame_s), "frame_min": min(frame_s),
        "bare": statistics.median(bare_s), "bare_min": min(bare_s), "build": statistics.median(build_s),
        "frame_cpu": statistics.median(frame_cpu), "bare_cpu": statistics.median(bare_cpu),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load": os.getloadavg()[0],
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_one(m: dict[str, object], threads: int) -> None:
    f, b, bd, fmin, bmin = (float(m[k]) for k in ("frame", "bare", "build", "frame_min", "bare_min"))
    peak = float(m["peak_mib"])
    rows = [
        ("scenario / conditions", f"{m['scenario']} / {m['conditions']}", ""),
        ("triangles (static + actors)", str(m["triangles"]), ""),
        ("rays cast per frame", f"{m['rays']:,}", "camera + shadow + lidar + visibility"),
        ("frame time (median / min)", f"{f * 1e3:.1f} / {fmin * 1e3:.1f} ms", ""),
        ("bare Embree cast (median / min)", f"{b * 1e3:.1f} / {bmin * 1e3:.1f} ms", "same rays, same scene"),
        ("scene build (BVH), per frame", f"{bd * 1e3:.1f} ms", "included in frame time"),
        ("CPU time: frame / bare cast + build", f"{float(m['frame_cpu']) * 1e3:.1f} / {float(m['bare_cpu']) * 1e3:.1f} ms",
         "all threads; less sensitive to load"),
        ("frame / bare cast (median)", f"{f / b:.2f} x", f"target <= 1.5 x {verdict(f / b <= 1.5)}"),
        ("frame / bare cast (min)", f"{fmin / bmin:.2f} x", f"target <= 1.5 x {verdict(fmin / bmin <= 1.5)}"),
        ("frames per second (median / best)", f"{1 / f:.1f} / {1 / fmin:.1f}", f"target >= 12 {verdict(1 / f >= 12)}"),
        ("peak memory (max RSS)", f"{peak:.0f} MiB", f"target < 1024 MiB {verdict(peak < 1024)}"),
        ("kernel threads", str(threads), "simtest.sim.embedded.set_threads"),
        ("cores / load average", f"{os.cpu_count()} / {float(m['load']):.2f}", "shared machine: figures are noisy"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{w0}}  {value:>{w1}}  {note}")


def _median(ms: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(m[key]) for m in ms)


def print_table(runs: list[list[dict[str, object]]], threads: int) -> None:
    """One row per condition: medians over the runs, and the range of frame/cast when there are several."""
    first = runs[0]
    print(f"scenario {first[0]['scenario']}, kernel threads {threads}, {os.cpu_count()} cores, {len(runs)} run(s) "
          "(per run, medians over its timed frames; then the median over the runs; CPU ms over all threads, "
          "the cast's including its scene build; load average at the end of the last run)")
    head = ("conditions", "frame ms", "cast ms", "frame/cast", "range", "fps", "peak MiB", "frame CPU", "cast CPU",
            "load")
    print("  ".join(f"{h:>10}" for h in head))
    worst, slowest = 0.0, 0.0
    for c in range(len(first)):
        ms = [run[c] for run in runs]
        frame, bare = _median(ms, "frame"), _median(ms, "bare")
        ratios = [float(m["frame"]) / float(m["bare"]) for m in ms]
        ratio = statistics.median(ratios)
        worst, slowest = max(worst, ratio), max(slowest, frame)
        cells = (first[c]["conditions"], f"{frame * 1e3:.1f}", f"{bare * 1e3:.1f}", f"{ratio:.2f} x",
                 f"{min(ratios):.2f}-{max(ratios):.2f}", f"{1 / frame:.1f}",
                 f"{max(float(m['peak_mib']) for m in ms):.0f}", f"{_median(ms, 'frame_cpu') * 1e3:.1f}",
                 f"{_median(ms, 'bare_cpu') * 1e3:.1f}", f"{float(ms[-1]['load']):.2f}")
        print("  ".join(f"{x:>10}" for x in cells))
    print(f"worst frame/cast {worst:.2f} x (target <= 1.5 x {verdict(worst <= 1.5)}), "
          f"slowest {1 / slowest:.1f} fps (target >= 12 {verdict(1 / slowest >= 12)})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="pedestrian_group_crosswalk")
    ap.add_argument("--conditions", default="clear_noon", choices=sorted(PRESETS))
    ap.add_argument("--all-conditions", action="store_true", help=f"one table over {', '.join(ALL_CONDITIONS)}")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="kernel threads (0 = all cores)")
    ap.add_argument("--cold", action="store_true", help="no earlier episode: actor poses are built while timed")
    ap.add_argument("--repeat", type=int, default=1, help="with --all-conditions: rounds over the conditions")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)
    threads = set_threads(args.threads if args.threads > 0 else os.cpu_count() or 1)

    if args.repeat < 1:
        ap.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.all_conditions:
        runs = []
        for _ in range(args.repeat):
            results = []
            for cond in ALL_CONDITIONS:
                cmd = [sys.executable, __file__, "--json", "--scenario", args.scenario, "--conditions", cond,
                       "--frames", str(args.frames), "--warmup", str(args.warmup), "--seed", str(args.seed),
                       "--threads", str(threads)] + (["--cold"] if args.cold else [])
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                results.append(json.loads(out.strip().splitlines()[-1]))
            runs.append(results)
        print_table(runs, threads)
        return 0
    m = measure(args.scenario, args.conditions, args.frames, args.warmup, args.seed, args.cold)
    if args.json:
        print(json.dumps(m))
    else:
        print_one(m, threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
