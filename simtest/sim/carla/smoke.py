"""Check a CARLA rig before a sweep: ``python -m simtest.sim.carla.smoke [options]``.

Connects to (or launches) a server, runs one library scenario for a few frames
under a few conditions, and prints per condition: the reset time, frames per
second, dropped frames, and per object the class, ego-frame position, visible
fraction and lidar points. With ``--out`` it writes each condition's last camera
image with the ground-truth boxes drawn, to check the conversions by eye.
Exit code 0 when every frame came back complete and every object had a box.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simtest.sim.base import PRESETS, Conditions
from simtest.types import Frame, box_corners, project_points


def run(sim: Any, scenario: Any, conditions: dict[str, Conditions], frames: int, seed: int = 0) -> list[dict[str, Any]]:
    """Run ``frames`` steps of ``scenario`` per condition; one summary dict per condition."""
    out = []
    for name, cond in conditions.items():
        sim.reset(scenario, cond, seed)
        start = time.perf_counter()
        last: Frame | None = None
        for _ in range(frames):
            last = sim.step()
        elapsed = time.perf_counter() - start
        if last is None:
            raise ValueError("smoke: --frames must be at least 1")
        out.append({
            "conditions": name,
            "reset_s": float(sim.stats["last_reset_s"]),
            "fps": frames / elapsed if elapsed > 0 else float("inf"),
            "dropped": int(last.meta.get("dropped_frames", 0)),
            "objects": [
                {
                    "id": int(i), "class": str(c), "x": float(b[0]), "y": float(b[1]),
                    "visible": float(v), "lidar_points": int(n),
                }
                for i, c, b, v, n in zip(last.objects.ids, last.objects.class_of(), last.objects.boxes,
                                         last.objects.visible_fraction, last.objects.lidar_points)
            ],
            "frame": last,
        })
    return out


def draw_boxes(frame: Frame, camera: str) -> np.ndarray:
    """The camera image with each object's box edges projected (RGB uint8)."""
    import cv2

    cam = frame.cameras[camera]
    img = np.ascontiguousarray(cam.image.copy())
    edges = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
    for corners in box_corners(frame.objects.boxes):
        uv, z = project_points(cam.K, cam.T_ego_from_cam, corners)
        if (z <= 0.1).any():
            continue
        for a, b in edges:
            cv2.line(img, tuple(int(v) for v in uv[a]), tuple(int(v) for v in uv[b]), (255, 40, 40), 1)
    return img


def main(argv: Sequence[str] | None = None) -> int:
    from simtest.scenario import load_scenario
    from simtest.sim.carla.errors import CarlaServerError
    from simtest.sim.carla.simulator import CarlaSimulator

    p = argparse.ArgumentParser(prog="python -m simtest.sim.carla.smoke", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=2000)
    p.add_argument("--root", default=None, help="CARLA install to launch (then --port 0 picks a free port)")
    p.add_argument("--gpu", default=None)
    p.add_argument("--scenario", default="child_occluded")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--conditions", default="clear_noon,night,fog_dense,rain_heavy")
    p.add_argument("--out", type=Path, default=None, help="folder for annotated camera images")
    args = p.parse_args(argv)
    server: dict[str, Any] = {"host": args.host, "port": None if (args.root and args.port == 0) else args.port}
    if args.root:
        server["root"] = args.root
        server["gpu"] = args.gpu if args.gpu in (None, "auto") else int(args.gpu)
    names = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in names if c not in PRESETS]
    if unknown:
        p.error(f"--conditions: unknown preset(s) {unknown}; choose from {sorted(PRESETS)}")
    try:
        return _report(CarlaSimulator(server=server), load_scenario(args.scenario), names, args)
    except CarlaServerError as e:
        print(f"smoke: {e}", file=sys.stderr)
        return 2


def _report(sim: Any, scenario: Any, names: list[str], args: argparse.Namespace) -> int:
    ok = True
    with sim:
        for r in run(sim, scenario, {c: PRESETS[c] for c in names}, args.frames):
            print(f"{r['conditions']:>12}: reset {r['reset_s']:.2f} s, {r['fps']:.1f} frames/s, dropped {r['dropped']}")
            for o in r["objects"]:
                print(f"{'':>14}{o['class']:<10} id {o['id']:<6} x {o['x']:7.2f} y {o['y']:7.2f} "
                      f"visible {o['visible']:.2f} lidar {o['lidar_points']}")
            ok &= r["dropped"] == 0 and len(r["objects"]) > 0
            if args.out is not None:
                import cv2

                args.out.mkdir(parents=True, exist_ok=True)
                for cam in r["frame"].cameras:
                    path = args.out / f"{args.scenario}_{r['conditions']}_{cam}.png"
                    cv2.imwrite(str(path), draw_boxes(r["frame"], cam)[..., ::-1])
                    print(f"{'':>14}wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
