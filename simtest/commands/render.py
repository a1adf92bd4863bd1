"""``simtest render SCENARIO``: render a scenario under given conditions to PNGs for a person to check.

Writes, per rendered frame, the camera image with projected ground-truth boxes
(``<scenario>_<conditions>_<frame>_<camera>.png``) and a bird's-eye lidar view
with the boxes (``..._bev.png``), and prints the ground truth.

    simtest render child_occluded --conditions night --frame 20 --out renders/
    simtest render cut_in --conditions fog_dense --frames 0 10 20 --set ego_speed=15
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

from simtest.scenario import ScenarioError, list_scenarios, load_scenario
from simtest.sim.base import PRESETS, Conditions
from simtest.viz import bev_image, camera_with_boxes


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="simtest render", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", help=f"a library name ({', '.join(list_scenarios())}) or a YAML path")
    ap.add_argument("--conditions", default="clear_noon",
                    help=f"a preset ({', '.join(sorted(PRESETS))}) or a JSON object of Conditions fields")
    ap.add_argument("--frame", type=int, action="append", dest="frames",
                    help="frame index to save (repeatable; default: the frame at half the scenario's duration)")
    ap.add_argument("--frames", type=int, nargs="+", dest="frame_list", help="several frame indices")
    ap.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE", help="scenario parameter value")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=Path("renders"))
    args = ap.parse_args(argv)

    try:
        scenario = load_scenario(args.scenario)
        params = {}
        for item in args.set:
            key, sep, val = item.partition("=")
            if not sep:
                raise ScenarioError(f"--set {item!r}: expected PARAM=VALUE")
            params[key] = _value(val)
        if params:
            scenario = scenario.with_params(params)
    except ScenarioError as e:
        print(f"simtest render: {e}")
        return 2
    if args.conditions in PRESETS:
        conditions, cond_name = PRESETS[args.conditions], args.conditions
    else:
        try:
            conditions = Conditions.from_dict(json.loads(args.conditions), where="--conditions")
        except (json.JSONDecodeError, ValueError) as e:
            print(f"simtest render: --conditions: not a preset ({sorted(PRESETS)}) nor valid Conditions JSON: {e}")
            return 2
        cond_name = "custom"
    wanted = sorted(set((args.frames or []) + (args.frame_list or [])))
    if not wanted:
        wanted = [int(round(scenario.duration / 2 / args.dt))]
    if min(wanted) < 0:
        print("simtest render: --frame must be >= 0")
        return 2
    from simtest.sim.embedded import EmbeddedSimulator

    args.out.mkdir(parents=True, exist_ok=True)
    with EmbeddedSimulator(dt=args.dt) as sim:
        sim.reset(scenario, conditions, seed=args.seed)
        for k in range(max(wanted) + 1):
            frame = sim.step()
            if k not in wanted:
                continue
            stem = f"{scenario.name}_{cond_name}_{k:04d}"
            for cam in frame.cameras:
                path = args.out / f"{stem}_{cam}.png"
                cv2.imwrite(str(path), camera_with_boxes(frame, camera=cam)[:, :, ::-1])
                print(f"wrote {path}")
            for lid in frame.lidars:
                path = args.out / f"{stem}_{lid}_bev.png"
                cv2.imwrite(str(path), bev_image(frame, lidar=lid)[:, :, ::-1])
                print(f"wrote {path}")
            o = frame.objects
            for i in range(len(o)):
                print(f"  t={frame.timestamp:.1f}s id={o.ids[i]} {o.class_of()[i]:<10} "
                      f"x={o.boxes[i, 0]:6.1f} y={o.boxes[i, 1]:6.1f} visible={o.visible_fraction[i]:.2f} "
                      f"lidar_pts={o.lidar_points[i]:5d} in_path={bool(o.in_path[i])} critical={bool(o.critical[i])}")
    return 0
