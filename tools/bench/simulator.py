"""Benchmark the embedded simulator against bare Embree casting of the same rays.

Default rig: front camera 640x384 with shadows + 64-beam x 1024-step lidar.
For each timed frame the simulator records every ray batch it cast (camera
rays, shadow rays, lidar rays, the visibility ground truth's listing); the
reference then casts exactly those batches, with the same Open3D calls, into
one scene holding the same meshes (built once, not timed). Targets: frame time
<= 1.5 x bare cast time, >= 12 frames/s, peak memory < 1 GiB.

    OPENBLAS_NUM_THREADS=1 python tools/bench/simulator.py [--scenario NAME] [--conditions PRESET] [--frames N]
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
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from simtest.open3d_loader import import_open3d  # noqa: E402
from simtest.scenario import load_scenario  # noqa: E402
from simtest.sim.base import PRESETS  # noqa: E402
from simtest.sim.embedded import EmbeddedSimulator  # noqa: E402
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
    actors_only = o3d.t.geometry.RaycastingScene()
    actors_only.add_triangles(o3d.core.Tensor(ref.actors.vertices), o3d.core.Tensor(ref.actors.triangles))
    actors_only.cast_rays(o3d.core.Tensor(np.zeros((1, 6), np.float32)))
    calls = {"cast": ref.scene.cast_rays, "occlusion": ref.scene.test_occlusions, "list": actors_only.list_intersections}
    tensors = [(calls[kind], o3d.core.Tensor.from_numpy(np.ascontiguousarray(r))) for kind, r in batches]
    start = time.perf_counter()
    for call, rays in tensors:
        call(rays)
    return time.perf_counter() - start, build, sum(len(r) for _, r in batches)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="pedestrian_group_crosswalk")
    ap.add_argument("--conditions", default="clear_noon", choices=sorted(PRESETS))
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    scenario = load_scenario(args.scenario)
    sim = EmbeddedSimulator()
    sim.reset(scenario, PRESETS[args.conditions], seed=args.seed)
    for _ in range(args.warmup):
        sim.step()
    frame_s, bare_s, build_s, rays = [], [], [], []
    for _ in range(args.frames):
        log: list[tuple[str, object]] = []
        sim.ray_log = log
        start = time.perf_counter()
        sim.step()
        frame_s.append(time.perf_counter() - start)
        sim.ray_log = None
        cast, build, n = bare_cast_seconds(log)
        bare_s.append(cast)
        build_s.append(build)
        rays.append(n)
        triangles = f"{log[0][1].static.num_triangles} + {log[0][1].actors.num_triangles}"
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    f, b, bd = statistics.median(frame_s), statistics.median(bare_s), statistics.median(build_s)
    fmin, bmin = min(frame_s), min(bare_s)  # least disturbed by other processes on a shared machine

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    rows = [
        ("scenario / conditions", f"{args.scenario} / {args.conditions}", ""),
        ("triangles (static + actors)", triangles, ""),
        ("rays cast per frame", f"{int(statistics.median(rays)):,}", "camera + shadow + lidar + visibility"),
        ("frame time (median / min)", f"{f * 1e3:.1f} / {fmin * 1e3:.1f} ms", ""),
        ("bare Embree cast (median / min)", f"{b * 1e3:.1f} / {bmin * 1e3:.1f} ms", "same rays, same scene"),
        ("scene build (BVH), per frame", f"{bd * 1e3:.1f} ms", "included in frame time"),
        ("frame / bare cast (median)", f"{f / b:.2f} x", f"target <= 1.5 x {verdict(f / b <= 1.5)}"),
        ("frame / bare cast (min)", f"{fmin / bmin:.2f} x", f"target <= 1.5 x {verdict(fmin / bmin <= 1.5)}"),
        ("frames per second (median / best)", f"{1 / f:.1f} / {1 / fmin:.1f}", f"target >= 12 {verdict(1 / f >= 12)}"),
        ("peak memory (max RSS)", f"{peak_mib:.0f} MiB", f"target < 1024 MiB {verdict(peak_mib < 1024)}"),
        ("cores / load average", f"{os.cpu_count()} / {os.getloadavg()[0]:.2f}", "shared machine: figures are noisy"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{w0}}  {value:>{w1}}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
