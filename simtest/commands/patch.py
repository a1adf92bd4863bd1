"""``simtest patch``: optimise, evaluate and inspect physical adversarial patches.

    simtest patch optimize --cls pedestrian --name ped_reference --views 24 --steps 150
    simtest patch evaluate ped_reference --samples 80 --seed 1000 --modalities fusion camera lidar
    simtest patch show ped_reference --render ped.png

``optimize`` draws EOT samples (viewpoints, distances, sun, fog, rain) from
``--seed``, captures differentiable views from the embedded simulator and
minimises the reference model's heatmap score of the patched actor; the patch
(PNG + JSON with the model's sha256, objective, EOT ranges and seed) goes to
``--out`` (default: the shipped library). ``evaluate`` renders held-out samples
(a different seed) with the patch and with the random-texture control and
prints the paired miss-rate difference per detector and distance band.
Long runs: start them in the background with ``--log`` and watch the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from perturbations.patch import DEFAULT_PLACEMENTS, LIBRARY_DIR, Patch, PatchError, Placement, load_named, random_control
from perturbations.patch import random_texture, save_patch
from simtest.patch.eot import EotRanges, sample_eot


def _detector(card: str | None, modalities: str):  # noqa: ANN202 - ReferenceDetector
    from simtest.models.reference import ReferenceDetector

    return ReferenceDetector(card=card, modalities=modalities, device="cpu")


def _optimize(a: argparse.Namespace) -> int:
    import torch

    from simtest.patch.objective import SuppressionObjective
    from simtest.patch.optimize import build_views, mean_score, optimise_texture
    from simtest.sim.embedded import EmbeddedSimulator

    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)  # subnormal gradients late in the optimisation otherwise slow each step ~6x
    det = _detector(a.card, a.modalities)
    base = DEFAULT_PLACEMENTS[a.cls]
    placement = Placement(f"class:{a.cls}", a.surface or base.surface, tuple(a.extent or base.size), 0.0,
                          base.elevation if a.elevation is None else a.elevation)
    ranges = EotRanges(distance=tuple(a.distance))
    rng = np.random.default_rng(np.random.SeedSequence([a.seed, 8]))
    init = Patch(a.name, random_texture((a.size, a.size), rng), placement)
    if a.init is not None:  # warm start from an earlier patch (its texture; recorded in the metadata)
        init = Patch(a.name, load_named(a.init).texture, placement)
    samples = sample_eot(ranges, a.cls, placement.surface, a.views, rng)
    log = open(a.log, "a") if a.log else sys.stdout  # noqa: SIM115 - closed below
    try:
        with EmbeddedSimulator() as sim:
            views = build_views(sim, a.cls, samples, init)
        print(f"captured {len(views)} views of {len(samples)} samples", file=log, flush=True)
        objective = SuppressionObjective(det, a.cls)
        before = mean_score(objective, views, init)
        res = optimise_texture(objective, views, init, rng, steps=a.steps, batch=a.batch, lr=a.lr, tv_weight=a.tv,
                               margin=a.margin, log=lambda r: print(json.dumps(r), file=log, flush=True))
        after = mean_score(objective, views, res.patch)
    finally:
        if log is not sys.stdout:
            log.close()
    meta = {
        "target_model": det.name, "target_model_version": det.version, "target_model_sha256": str(det.card.data["sha256"]),
        "target_model_hash": det.content_hash, "modalities": a.modalities,
        "objective": f"minimise the sigmoid heatmap peak of class {a.cls} within {objective.radius} m of the actor"
                     + (f" above a margin of {a.margin}" if a.margin else "") + f" + {a.tv} x total variation",
        "eot": ranges.to_dict(), "eot_samples": len(samples), "views": len(views), "seed": a.seed,
        "steps": a.steps, "batch": a.batch, "lr": a.lr, "tv_weight": a.tv, "margin": a.margin,
        "train_score_before": before, "train_score_after": after,
        "init": "random texture" if a.init is None else {"patch": a.init, "meta": dict(load_named(a.init).meta)},
    }
    patch = Patch(a.name, res.patch.texture, placement, meta)
    path = save_patch(patch, a.out)
    print(f"{a.name}: mean target score on the training views {before:.3f} -> {after:.3f}; saved {path}")
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    import torch

    from simtest.patch.evaluate import detection_rows, patch_effect
    from simtest.sim.embedded import EmbeddedSimulator

    torch.set_num_threads(a.threads)
    patch = load_named(a.patch)
    if patch.meta.get("seed") == a.seed:
        raise PatchError(f"evaluate --seed {a.seed}: the patch was optimised with this seed; held-out samples need "
                         "another seed")
    cls = patch.placement.target_class
    if cls is None:
        raise PatchError(f"patch {patch.name!r} targets actor {patch.placement.target!r}, not a class; evaluate "
                         "needs a class:<cls> placement")
    rng = np.random.default_rng(np.random.SeedSequence([a.seed, 9]))
    control = random_control(patch, rng)
    ranges = EotRanges(**{k: tuple(v) if isinstance(v, list) else v for k, v in patch.meta.get("eot", {}).items()})
    samples = sample_eot(ranges, cls, patch.placement.surface, a.samples, rng)
    detectors = {m: _detector(a.card, m) for m in a.modalities}
    arms = {"patch": patch, "random": control, **({"none": None} if a.baseline else {})}
    with EmbeddedSimulator() as sim:
        rows = detection_rows(sim, cls, samples, arms, detectors)
    eff = patch_effect(rows, "patch", "random", np.random.default_rng(a.seed))
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        rows.to_csv(out / f"{patch.name}_rows.csv", index=False)
        eff.to_csv(out / f"{patch.name}_effect.csv", index=False)
    print(f"patch {patch.name} ({cls}), {len(samples)} held-out samples (seed {a.seed})")
    if a.baseline:
        none = rows[rows["arm"] == "none"].groupby("detector")["detected"].mean()
        print("recall without any patch: " + ", ".join(f"{k} {v:.2f}" for k, v in none.items()))
    print(eff.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def _show(a: argparse.Namespace) -> int:
    patch = load_named(a.patch)
    print(json.dumps({"name": patch.name, "texture": list(patch.texture.shape), "placement": patch.placement.to_dict(),
                      "meta": dict(patch.meta)}, indent=2))
    if a.render:
        import cv2

        from simtest.patch.scenes import Viewpoint, single_actor_scenario
        from simtest.sim.base import PRESETS
        from simtest.sim.embedded import EmbeddedSimulator

        cls = patch.placement.target_class or "pedestrian"
        model = {"pedestrian": "adult", "vehicle": "sedan", "cyclist": "bicycle"}[cls]
        heading = {"front": 0.0, "back": 180.0, "left": -90.0, "right": 90.0, "top": 180.0}[patch.placement.surface]
        with EmbeddedSimulator() as sim:
            sim.reset(single_actor_scenario(cls, model, Viewpoint(a.distance, 0.0, heading + 15.0)), PRESETS[a.conditions],
                      0, patches=[patch])
            frame = sim.step()
        image = next(iter(frame.cameras.values())).image
        tex = cv2.resize(patch.texture, (image.shape[0], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(a.render, np.concatenate([image, tex], 1)[..., ::-1])
        print(f"wrote {a.render}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="simtest patch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    o = sub.add_parser("optimize", help="optimise a patch against the reference model (EOT)")
    o.add_argument("--cls", choices=sorted(DEFAULT_PLACEMENTS), default="pedestrian")
    o.add_argument("--name", required=True)
    o.add_argument("--surface", choices=("front", "back", "left", "right", "top"), default=None)
    o.add_argument("--extent", type=float, nargs=2, metavar=("WIDTH", "HEIGHT"), default=None,
                   help="patch size in metres (default: the class's placement, e.g. a 0.36 x 0.5 m shirt print)")
    o.add_argument("--elevation", type=float, default=None,
                   help="height of the patch centre as a fraction of the actor height (default: the class placement)")
    o.add_argument("--card", default=None, help="model card of the reference weights (default: the shipped one)")
    o.add_argument("--modalities", choices=("fusion", "camera"), default="fusion")
    o.add_argument("--views", type=int, default=24, help="EOT samples captured for optimisation")
    o.add_argument("--steps", type=int, default=150)
    o.add_argument("--batch", type=int, default=4)
    o.add_argument("--lr", type=float, default=0.05)
    o.add_argument("--tv", type=float, default=0.05, help="total-variation weight (printability)")
    o.add_argument("--margin", type=float, default=0.0,
                   help="hinge: views scoring below this stop pulling the texture (e.g. 0.2 under the 0.3 operating point)")
    o.add_argument("--size", type=int, default=32, help="texture resolution (pixels per side)")
    o.add_argument("--distance", type=float, nargs=2, default=(6.0, 25.0), metavar=("NEAR", "FAR"))
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--init", default=None, help="start from this patch's texture (library name or .json)")
    o.add_argument("--threads", type=int, default=2)
    o.add_argument("--out", default=str(LIBRARY_DIR))
    o.add_argument("--log", default=None, help="append per-step JSON lines here instead of stdout")
    e = sub.add_parser("evaluate", help="held-out miss rate: patch vs random control")
    e.add_argument("patch", help="library name or path to a patch .json")
    e.add_argument("--samples", type=int, default=60)
    e.add_argument("--seed", type=int, default=1000)
    e.add_argument("--card", default=None)
    e.add_argument("--modalities", nargs="+", choices=("fusion", "camera", "lidar"), default=["fusion", "camera", "lidar"])
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--baseline", action="store_true", help="also render every sample without any patch")
    e.add_argument("--out", default=None, help="directory for the rows and effect CSVs")
    s = sub.add_parser("show", help="print a patch's metadata; optionally render it on its actor")
    s.add_argument("patch")
    s.add_argument("--render", default=None, metavar="PNG")
    s.add_argument("--distance", type=float, default=8.0)
    s.add_argument("--conditions", default="clear_noon")
    a = ap.parse_args(argv)
    try:
        return {"optimize": _optimize, "evaluate": _evaluate, "show": _show}[a.command](a)
    except (PatchError, ValueError) as err:
        print(f"simtest patch {a.command}: {err}", file=sys.stderr)
        return 2
