"""Reference detector speed at the default rig: ms per frame, per variant, on N CPU threads.

    OPENBLAS_NUM_THREADS=1 python tools/bench/bench_reference.py [--threads 2] [--frames 20]

Frames come from the embedded simulator (clear noon). Times cover everything
``predict`` does (resize, raster, network, decoding), one frame per call, after
warm-up; the median and the 90th percentile are printed. Budget (issue 5):
60 ms per frame on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

BUDGET_MS = 60.0


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch

    from simtest.models.reference import ReferenceDetector
    from simtest.scenario import load_scenario
    from simtest.sim.base import PRESETS, SensorRig
    from simtest.sim.embedded import EmbeddedSimulator

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=20)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    with EmbeddedSimulator(SensorRig(), dt=0.2) as sim:
        sim.reset(load_scenario("pedestrian_group_crosswalk"), PRESETS["clear_noon"], seed=0)
        frames = [sim.step() for _ in range(args.frames)]
    print(f"reference detector, default rig (640x384 camera, 64x1024 lidar), {args.threads} threads, "
          f"{len(frames)} frames; shared machine: figures are upper bounds")
    print(f"{'variant':<10} {'median ms':>10} {'p90 ms':>8} {'budget':>8}")
    status = 0
    for modalities in ("fusion", "lidar", "camera"):
        det = ReferenceDetector(modalities=modalities, device="cpu", batch_size=1)
        for f in frames[:3]:
            det.predict([f])
        times = []
        for f in frames:
            t = time.perf_counter()
            det.predict([f])
            times.append((time.perf_counter() - t) * 1000)
        med, p90 = float(np.median(times)), float(np.percentile(times, 90))
        ok = med <= BUDGET_MS
        status |= not ok
        print(f"{modalities:<10} {med:>10.1f} {p90:>8.1f} {'ok' if ok else 'OVER':>8}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
