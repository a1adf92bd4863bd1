"""Benchmark: cost of physical patches in the embedded simulator and of differentiable patch rendering.

    OPENBLAS_NUM_THREADS=1 python tools/bench/bench_patch.py [--repeat 5]

Prints a table: simulator step without / with a pedestrian patch, capture of one
differentiable view (step + two re-renders), one differentiable render + backward.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from perturbations.patch import DEFAULT_PLACEMENTS, Patch, random_texture
from simtest.patch.render import capture_views, texture_tensor
from simtest.patch.scenes import Viewpoint, single_actor_scenario
from simtest.sim.base import PRESETS
from simtest.sim.embedded import EmbeddedSimulator


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    patch = Patch("bench", random_texture((32, 32), np.random.default_rng(0)), DEFAULT_PLACEMENTS["pedestrian"])
    scen = single_actor_scenario("pedestrian", "adult", Viewpoint(8.0, 0.0, 10.0, 1.0))
    rows = []
    with EmbeddedSimulator() as sim:
        for label, patches in (("step, no patch", []), ("step, pedestrian patch", [patch])):
            sim.reset(scen, PRESETS["clear_noon"], 0, patches=patches)
            rows.append((label, _best(sim.step, a.repeat)))
        rows.append(("capture one view", _best(lambda: capture_views(sim, scen, PRESETS["clear_noon"], 0, [patch], [0]),
                                               a.repeat)))
        (view,) = capture_views(sim, scen, PRESETS["clear_noon"], 0, [patch], [0])
    tex = texture_tensor(patch).requires_grad_(True)

    def render_backward() -> None:
        view.render([tex]).mean().backward()

    rows.append((f"render + backward ({view.patch_pixels} patch px)", _best(render_backward, a.repeat)))
    print(f"{'operation':<44} {'ms (best of ' + str(a.repeat) + ')':>16}")
    for label, t in rows:
        print(f"{label:<44} {1000 * t:>16.1f}")


if __name__ == "__main__":
    main()
