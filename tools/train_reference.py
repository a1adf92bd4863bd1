"""Generate data with the embedded simulator, train the reference fusion detector, evaluate it, write weights + card.

Stages (each cached, each rerunnable)::

    python tools/train_reference.py generate --split train --episodes 103
    python tools/train_reference.py generate --split test --episodes 33    # and test_fog_dense, test_night, ... (11)
    python tools/train_reference.py train --minutes 48
    python tools/train_reference.py train --resume --minutes 13 --lr 8e-4
    python tools/train_reference.py train --resume --minutes 11 --lr 5e-4
    python tools/train_reference.py evaluate          # simtest metrics, per modality and condition
    python tools/train_reference.py card --limitations "..."   # weights + model card into simtest/models/weights/

Training data: randomised parameters of every library scenario (``Scenario.sample``)
under the benign conditions clear noon, cloudy, dusk and light rain only. Dense
fog, night, snow, heavy rain and every perturbation stay out, so that they remain
a test. The held-out split is clear noon with its own seeds. Data are cached
under ``.cache/reference/`` (gitignored) as one ``.npz`` per episode.

Everything is seeded: episode ``i`` of a split draws its scenario parameters,
conditions and simulator seed from ``SeedSequence([split seed, i])``; training
shuffles and drops modalities from ``default_rng(train seed)``.

Duration (measured on this project's shared 2-core CPU while ~8 other jobs ran,
so expect less on a quiet machine): simulation ran at 2.5-8 frames/s (the shipped
data set, 2 156 training + ~1 100 held-out frames, took ~15 min); a training step
of batch 8 took 0.3 s on a quiet machine and up to 5 s under load. The shipped
weights come from three phases: 48 min (1 668 steps, peak lr 2e-3), 13 min
(760 steps, peak lr 8e-4, after switching to neighbourhood regression) and
11 min (1 422 steps, peak lr 5e-4), i.e. about 90 min end to end including
data generation and evaluation. ``python tools/train_reference.py train
--minutes M`` sets the wall-clock budget; the cosine schedule follows it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simtest.models.bev import lidar_raster  # noqa: E402
from simtest.models.reference import ReferenceConfig  # noqa: E402
from simtest.types import Frame  # noqa: E402

CACHE = ROOT / ".cache" / "reference"
TRAIN_CONDITIONS = ("clear_noon", "cloudy", "dusk", "rain_light")
"""Benign conditions only: fog, night, snow, heavy rain and perturbations are kept for testing."""
TEST_CONDITIONS = ("clear_noon",)


@dataclass(frozen=True)
class Split:
    name: str
    seed: int
    conditions: tuple[str, ...]
    dt: float
    max_frames: int


SPLITS = {
    "train": Split("train", 20261123, TRAIN_CONDITIONS, dt=0.3, max_frames=22),
    "test": Split("test", 777001, TEST_CONDITIONS, dt=0.5, max_frames=14),
    # Out-of-training conditions, for the model card only (what the model does when the world gets hard).
    "test_fog_dense": Split("test_fog_dense", 777002, ("fog_dense",), dt=0.5, max_frames=14),
    "test_night": Split("test_night", 777003, ("night",), dt=0.5, max_frames=14),
    "test_snow": Split("test_snow", 777004, ("snow",), dt=0.5, max_frames=14),
    "test_rain_heavy": Split("test_rain_heavy", 777005, ("rain_heavy",), dt=0.5, max_frames=14),
}


def frame_record(frame: Frame, config: ReferenceConfig) -> dict[str, np.ndarray]:
    """The cached arrays of one frame: resized image, lidar raster, ground truth."""
    from simtest.models.reference import Codec

    cam = frame.cameras["front"]
    image, _ = Codec(config).camera_input(cam.image, cam.K, cam.T_ego_from_cam)
    raster = lidar_raster([lid.points for _, lid in sorted(frame.lidars.items())], config.grid)
    o = frame.objects
    return {"image": image, "lidar": raster, "boxes": o.boxes.astype(np.float32), "labels": o.labels.astype(np.int8),
            "visible": o.visible_fraction.astype(np.float32), "points": o.lidar_points.astype(np.int32)}


def generate(split: Split, episodes: int, config: ReferenceConfig) -> None:
    """Simulate ``episodes`` episodes of ``split`` into ``CACHE/<split>/ep_XXXXX.npz`` (existing ones are kept)."""
    from simtest.scenario import list_scenarios, load_scenario
    from simtest.sim.base import PRESETS, SensorRig
    from simtest.sim.embedded import EmbeddedSimulator

    out = CACHE / split.name
    out.mkdir(parents=True, exist_ok=True)
    names = list_scenarios()
    t0 = time.perf_counter()
    frames_done = 0
    with EmbeddedSimulator(SensorRig(), dt=split.dt) as sim:
        for i in range(episodes):
            path = out / f"ep_{i:05d}.npz"
            if path.exists():
                continue
            rng = np.random.default_rng(np.random.SeedSequence([split.seed, i]))
            name = names[i % len(names)]
            scenario = load_scenario(name).sample(rng)
            cond_name = split.conditions[int(rng.integers(len(split.conditions)))]
            sim.reset(scenario, PRESETS[cond_name], seed=int(rng.integers(2**31)))
            n = min(split.max_frames, int(math.floor(scenario.duration / split.dt)))
            recs = [frame_record(sim.step(), config) for _ in range(n)]
            counts = np.array([len(r["labels"]) for r in recs], np.int32)
            np.savez(
                path.with_suffix(".tmp.npz"),
                image=np.stack([r["image"] for r in recs]),
                lidar=np.stack([r["lidar"] for r in recs]),
                counts=counts,
                **{k: np.concatenate([r[k] for r in recs]) for k in ("boxes", "labels", "visible", "points")},
                scenario=name, conditions=cond_name, params=json.dumps(dict(scenario.values)),
            )
            path.with_suffix(".tmp.npz").rename(path)
            frames_done += n
            rate = frames_done / (time.perf_counter() - t0)
            print(f"[{split.name}] episode {i} {name} {cond_name}: {n} frames ({rate:.2f} frames/s)", flush=True)


# ---------------------------------------------------------------------------
# data set
# ---------------------------------------------------------------------------


@dataclass
class Data:
    """A cached split in memory: per frame image, raster and ground truth, plus its episode."""

    image: np.ndarray
    lidar: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    visible: list[np.ndarray]
    points: list[np.ndarray]
    episode: np.ndarray
    scenario: list[str]
    conditions: list[str]

    def __len__(self) -> int:
        return len(self.image)


def load_split(name: str) -> Data:
    files = sorted((CACHE / name).glob("ep_*[0-9].npz"))
    if not files:
        raise SystemExit(f"no cached episodes in {CACHE / name}; run: python tools/train_reference.py generate --split {name}")
    parts: dict[str, list] = {k: [] for k in ("image", "lidar", "boxes", "labels", "visible", "points", "episode",
                                              "scenario", "conditions")}
    for f in files:
        z = np.load(f)
        cuts = np.cumsum(z["counts"])[:-1]
        n = len(z["counts"])
        parts["image"].append(z["image"])
        parts["lidar"].append(z["lidar"])
        for k in ("boxes", "labels", "visible", "points"):
            parts[k].extend(np.split(z[k], cuts))
        parts["episode"].extend([int(f.stem.split("_")[1])] * n)
        parts["scenario"].extend([str(z["scenario"])] * n)
        parts["conditions"].extend([str(z["conditions"])] * n)
    return Data(np.concatenate(parts["image"]), np.concatenate(parts["lidar"]), parts["boxes"], parts["labels"],
                parts["visible"], parts["points"], np.asarray(parts["episode"]), parts["scenario"], parts["conditions"])


def default_cam_cells(config: ReferenceConfig) -> np.ndarray:
    """Frustum cells of the default rig's front camera (the cached images are already resized)."""
    from simtest.models.reference import Codec
    from simtest.sim.base import CameraSpec

    spec = CameraSpec()
    if spec.mount.y != 0 or spec.mount.yaw != 0:
        raise SystemExit("the left-right flip augmentation assumes a centred, forward-looking camera")
    blank = np.zeros((spec.height, spec.width, 3), np.uint8)
    return Codec(config).camera_input(blank, spec.K(), spec.T_ego_from_cam())[1]


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------

POSITIVE_POINTS = 3
POSITIVE_VISIBLE = 0.1
MODALITY_DROPOUT = {"camera_off": 0.15, "lidar_off": 0.2}


def sample_targets(data: Data, i: int, cam_on: bool, lidar_on: bool, flip: bool, config: ReferenceConfig):
    """Targets of frame ``i``: objects the enabled sensors see are positives; barely seen ones are ignored."""
    from simtest.models.targets import encode

    boxes = data.boxes[i].astype(np.float64).copy()
    labels = data.labels[i].astype(np.int64)
    vis, pts = data.visible[i], data.points[i]
    if flip:
        boxes[:, 1] *= -1
        boxes[:, 6] *= -1
    seen = np.zeros(len(boxes), bool)
    if lidar_on:
        seen |= pts >= POSITIVE_POINTS
    if cam_on:
        seen |= vis >= POSITIVE_VISIBLE
    glimpsed = ((vis > 0) | (pts > 0)) & ~seen
    ncls = len(config.classes)
    pos = encode(boxes[seen], labels[seen], config.grid, ncls)
    ign = encode(boxes[glimpsed], labels[glimpsed], config.grid, ncls)
    ignore = (ign.heatmap.max(axis=0) > 0.1) & (pos.heatmap.max(axis=0) < 0.1)
    return pos, ignore


def make_batch(data: Data, idx: np.ndarray, cells: np.ndarray, rng: np.random.Generator, config: ReferenceConfig,
               train: bool = True):
    import torch

    b = len(idx)
    cam_mask = np.ones(b, np.float32)
    lidar_mask = np.ones(b, np.float32)
    flips = np.zeros(b, bool)
    if train:
        u = rng.random(b)
        cam_mask[u < MODALITY_DROPOUT["camera_off"]] = 0
        lidar_mask[(u >= MODALITY_DROPOUT["camera_off"]) & (u < MODALITY_DROPOUT["camera_off"] + MODALITY_DROPOUT["lidar_off"])] = 0
        flips = rng.random(b) < 0.5
    image = data.image[idx].copy()
    lidar = data.lidar[idx].copy()
    image[flips] = image[flips][..., ::-1]
    lidar[flips] = lidar[flips][..., ::-1]
    heat, ignore, reg_idx, reg_val = [], [], [], []
    for k, i in enumerate(idx):
        t, ign = sample_targets(data, int(i), bool(cam_mask[k]), bool(lidar_mask[k]), bool(flips[k]), config)
        heat.append(t.heatmap)
        ignore.append(ign)
        reg_idx.append(np.stack([np.full(len(t.index), k), t.index], 1))
        reg_val.append(t.regression)
    inputs = (
        torch.from_numpy(image[:, None].astype(np.float32)),
        torch.from_numpy(lidar.astype(np.float32)),
        torch.from_numpy(np.broadcast_to(cells, (b, len(cells))).copy()),
        torch.from_numpy(cam_mask),
        torch.from_numpy(lidar_mask),
    )
    targets = (torch.from_numpy(np.stack(heat)), torch.from_numpy(np.stack(ignore)),
               torch.from_numpy(np.concatenate(reg_idx)), torch.from_numpy(np.concatenate(reg_val)))
    return inputs, targets


def losses(heat_logits, reg_pred, targets):
    """CenterNet focal loss on the heatmap (ignored cells excluded) + L1 on the box regression at centres."""
    import torch
    import torch.nn.functional as F

    heat, ignore, reg_idx, reg_val = targets
    pos = heat >= 1.0 - 1e-6
    p = torch.sigmoid(heat_logits)
    pos_term = (F.logsigmoid(heat_logits) * (1 - p) ** 2)[pos].sum()
    neg_w = (1 - heat) ** 4 * (~pos) * (~ignore).unsqueeze(1)
    neg_term = (F.logsigmoid(-heat_logits) * p**2 * neg_w).sum()
    npos = max(int(pos.sum()), 1)
    focal = -(pos_term + neg_term) / npos
    if len(reg_idx):
        b, c, h, w = reg_pred.shape
        flat = reg_pred.reshape(b, c, h * w)
        pred = flat[reg_idx[:, 0], :, reg_idx[:, 1]]
        reg = F.l1_loss(pred, reg_val, reduction="mean")
    else:
        reg = reg_pred.sum() * 0.0
    return focal, reg


def train(args: argparse.Namespace, config: ReferenceConfig) -> None:
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    data = load_split("train")
    cells = default_cam_cells(config)
    rng = np.random.default_rng(args.seed)
    net = config.network()
    if args.resume and (CACHE / "last.pt").exists():
        net.load_state_dict(torch.load(CACHE / "last.pt", weights_only=True))
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    budget = args.minutes * 60.0
    t0 = time.perf_counter()
    step, last_save = 0, t0
    log = open(CACHE / "train_log.csv", "a")
    print(f"training on {len(data)} frames for {args.minutes} min, batch {args.batch}", flush=True)
    order = rng.permutation(len(data))
    pos = 0
    while True:
        elapsed = time.perf_counter() - t0
        if elapsed >= budget:
            break
        frac = elapsed / budget
        lr = args.lr * min(1.0, frac / 0.03 + 0.05) * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        if pos + args.batch > len(order):
            order, pos = rng.permutation(len(data)), 0
        idx = order[pos : pos + args.batch]
        pos += args.batch
        inputs, targets = make_batch(data, idx, cells, rng, config)
        heat, reg = net(*inputs)
        focal, l1 = losses(heat, reg, targets)
        loss = focal + args.reg_weight * l1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        step += 1
        log.write(f"{step},{elapsed:.1f},{lr:.6f},{focal.item():.4f},{l1.item():.4f}\n")
        if step % 20 == 0:
            log.flush()
            print(f"step {step} t={elapsed / 60:.1f} min lr={lr:.5f} focal={focal.item():.3f} l1={l1.item():.3f}", flush=True)
        if time.perf_counter() - last_save > 300:
            torch.save(net.state_dict(), CACHE / "last.pt")
            last_save = time.perf_counter()
    torch.save(net.state_dict(), CACHE / "last.pt")
    phase = {"steps": step, "minutes": round((time.perf_counter() - t0) / 60, 1), "lr": args.lr, "resumed": bool(args.resume)}
    previous = []
    if args.resume and (CACHE / "train_meta.json").exists():
        prev = json.loads((CACHE / "train_meta.json").read_text())
        previous = prev.get("phases") or [{"steps": prev["steps"], "minutes": round(prev["minutes"], 1), "lr": prev["lr"],
                                           "resumed": False}]
    phases = previous + [phase]
    meta = {"steps": sum(p["steps"] for p in phases), "minutes": sum(p["minutes"] for p in phases), "batch": args.batch,
            "lr": args.lr, "phases": phases, "frames": len(data), "episodes": int(len(np.unique(data.episode))),
            "seed": args.seed, "modality_dropout": MODALITY_DROPOUT, "threads": args.threads}
    (CACHE / "train_meta.json").write_text(json.dumps(meta, indent=1))
    print("done", meta, flush=True)


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------


def evaluate_split(net, data: Data, cells: np.ndarray, config: ReferenceConfig, modalities: str):
    """simtest quality figures of ``net`` on a cached split with one branch configuration."""
    import torch

    from simtest.models.evaluation import evaluation_rows, quality
    from simtest.models.reference import MODALITIES, Codec
    from simtest.types import EgoState, Objects

    cam_on, lidar_on = MODALITIES[modalities]
    codec = Codec(config)
    frames, dets = [], []
    rng = np.random.default_rng(0)
    net.eval()
    for start in range(0, len(data), 16):
        idx = np.arange(start, min(start + 16, len(data)))
        inputs, _ = make_batch(data, idx, cells, rng, config, train=False)
        inputs[3].fill_(float(cam_on))
        inputs[4].fill_(float(lidar_on))
        with torch.inference_mode():
            heat, reg = net(*inputs)
        dets.extend(codec.decode(heat, reg))
        for i in idx:
            n = len(data.labels[i])
            objects = Objects(ids=np.arange(n), labels=data.labels[i].astype(np.int64),
                              boxes=data.boxes[i].astype(np.float64), visible_fraction=data.visible[i].astype(np.float64),
                              lidar_points=data.points[i].astype(np.int64))
            frames.append(Frame(index=int(i), timestamp=0.0, ego=EgoState(), objects=objects))
    rows = evaluation_rows(frames, dets)
    return quality(rows, len(frames))


def evaluate(args: argparse.Namespace, config: ReferenceConfig) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    net = config.network()
    net.load_state_dict(torch.load(args.weights or CACHE / "last.pt", weights_only=True))
    cells = default_cam_cells(config)
    results: dict[str, dict] = {}
    for split in args.splits or sorted(SPLITS):
        if split == "train" or not (CACHE / split).exists():
            continue
        data = load_split(split)
        for modalities in ("fusion", "lidar", "camera"):
            q = evaluate_split(net, data, cells, config, modalities)
            results.setdefault(split, {})[modalities] = {**q.to_dict(), "passes": q.passes, "shortfalls": q.shortfalls()}
            print(f"{split:>16} {modalities:>7}: recall {q.recall}  fp/frame {q.fp_per_frame:.3f}  "
                  f"{'PASS' if q.passes else 'FAIL: ' + '; '.join(q.shortfalls())}", flush=True)
    (CACHE / "evaluation.json").write_text(json.dumps(results, indent=1))
    return results




# ---------------------------------------------------------------------------
# weights + model card
# ---------------------------------------------------------------------------

CARD_VERSION = "1.0.0"


def _fmt(v: object) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}" if isinstance(v, float) else str(v)


def card_markdown(card: dict) -> str:
    """The human-readable model card, generated from the JSON one."""
    from simtest.models.evaluation import MAX_DISTANCE, MAX_FP_PER_FRAME, MIN_LIDAR_POINTS, MIN_VISIBLE_FRACTION, RECALL_BAR

    ev = card["metrics"]
    tr = card["training"]
    lines = [
        f"# Model card: {card['name']} {card['version']}",
        "",
        card["description"],
        "",
        f"* Parameters: {card['parameters']:,}; weights `{card['weights']}` ({card['weights_bytes'] / 1e6:.2f} MB), "
        f"sha256 `{card['sha256']}` (checked on every load).",
        f"* Classes: {', '.join(card['config']['classes'])}. Inputs: the front camera (resized to "
        f"{card['config']['image_size'][0]}x{card['config']['image_size'][1]}) and every lidar (BEV raster, "
        f"{card['config']['grid']['cell']} m cells over x [{card['config']['grid']['x_min']}, {card['config']['grid']['x_max']}) m, "
        f"y [{card['config']['grid']['y_min']}, {card['config']['grid']['y_max']}) m).",
        f"* Variants (same weights, one branch switch): `model=reference` (fusion), `model=reference_camera`, "
        "`model=reference_lidar`.",
        "",
        "## Training data",
        "",
        f"{tr['frames']} frames from {tr['episodes']} episodes of the embedded simulator: every library scenario with "
        f"randomised parameters, default rig, conditions {', '.join(tr['conditions'])} only "
        f"(dense fog, night, snow, heavy rain and every perturbation were kept out). Step {tr['dt']} s, "
        f"seed {tr['data_seed']}. Training: {tr['steps']} steps of batch {tr['batch']} "
        f"({tr['minutes']:.0f} min wall clock on the shared 2-core CPU, {tr['threads']} threads; phases "
        f"{[(p['steps'], p['lr']) for p in tr.get('phases', [])]} as (steps, peak lr)), AdamW with warm-up and "
        f"cosine decay, left-right flips, modality dropout {tr['modality_dropout']}, seed {tr['seed']}.",
        "",
        "## Quality bar (issue 5)",
        "",
        f"Held-out clear-noon scenes (own seeds), simtest matching (BEV centre distance <= 2 m, operating point 0.3): "
        f"recall >= {RECALL_BAR} for objects within {MAX_DISTANCE:g} m with visible fraction >= {MIN_VISIBLE_FRACTION} "
        f"or >= {MIN_LIDAR_POINTS} lidar points, at <= {MAX_FP_PER_FRAME} false positives per frame (within the same range).",
        "",
        "| conditions | model | frames | vehicle recall | pedestrian recall | cyclist recall | FP / frame | bar |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split, per in ev.items():
        for mod, q in per.items():
            r = q["recall"]
            lines.append(
                f"| {split} | {mod} | {q['frames']} | {_fmt(r.get('vehicle'))} | {_fmt(r.get('pedestrian'))} | "
                f"{_fmt(r.get('cyclist'))} | {_fmt(q['fp_per_frame'])} | "
                f"{'pass' if q['passes'] else 'FAIL: ' + '; '.join(q['shortfalls'])} |"
            )
    lines += ["", "## What fusion buys under each sensor loss", "", card["fusion_summary"], "",
              "## Limitations", "", card["limitations"], ""]
    return "\n".join(lines)


def fusion_summary(ev: dict) -> str:
    """Recall change when one sensor is lost, on the clear-noon held-out split."""
    test = ev.get("test", {})
    if not test:
        return "not evaluated"
    out = []
    for lost, left in (("the camera", "lidar"), ("the lidar", "camera")):
        parts = []
        for c in ("vehicle", "pedestrian", "cyclist"):
            a, b = test["fusion"]["recall"].get(c), test[left]["recall"].get(c)
            if a is not None and b is not None:
                parts.append(f"{c} {a:.3f} -> {b:.3f}")
        out.append(f"* Losing {lost} (running `{left}` only): recall {', '.join(parts)}; FP/frame "
                   f"{test['fusion']['fp_per_frame']:.3f} -> {test[left]['fp_per_frame']:.3f}.")
    return "\n".join(out)


def write_card(args: argparse.Namespace, config: ReferenceConfig) -> None:
    import hashlib
    import shutil

    import torch

    from simtest.models.network import count_parameters
    from simtest.models.reference import WEIGHTS_DIR

    src = args.weights or CACHE / "last.pt"
    state = torch.load(src, weights_only=True)
    net = config.network()
    net.load_state_dict(state)
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    dst = WEIGHTS_DIR / "reference.pt"
    torch.save(net.state_dict(), dst)
    digest = hashlib.sha256(dst.read_bytes()).hexdigest()
    meta = json.loads((CACHE / "train_meta.json").read_text())
    ev = json.loads((CACHE / "evaluation.json").read_text())
    card = {
        "name": "reference-fusion",
        "version": CARD_VERSION,
        "description": (
            "Compact camera + lidar BEV fusion detector (lift-splat camera branch with 28 depth bins, lidar BEV "
            "raster branch, three-scale BEV CNN, CenterPoint-style heatmap and box heads), trained from scratch on "
            "the embedded simulator by tools/train_reference.py."
        ),
        "weights": dst.name,
        "weights_bytes": dst.stat().st_size,
        "sha256": digest,
        "parameters": count_parameters(net),
        "config": config.to_dict(),
        "training": {**meta, "conditions": list(TRAIN_CONDITIONS), "dt": SPLITS["train"].dt,
                     "data_seed": SPLITS["train"].seed},
        "metrics": ev,
        "fusion_summary": fusion_summary(ev),
        "limitations": args.limitations,
    }
    (WEIGHTS_DIR / "reference.json").write_text(json.dumps(card, indent=1) + "\n")
    (WEIGHTS_DIR / "reference.md").write_text(card_markdown(card))
    shutil.copy(src, CACHE / "shipped.pt")
    print(f"wrote {dst} ({dst.stat().st_size / 1e6:.2f} MB, sha256 {digest[:16]}...) and the card")




def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="stage", required=True)
    g = sub.add_parser("generate", help="simulate and cache a split")
    g.add_argument("--split", choices=sorted(SPLITS), default="train")
    g.add_argument("--episodes", type=int, default=160)
    t = sub.add_parser("train", help="train on the cached train split")
    t.add_argument("--minutes", type=float, default=45.0, help="wall-clock budget; the cosine schedule follows it")
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--reg-weight", type=float, default=1.0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--resume", action="store_true", help="start from .cache/reference/last.pt (a second, lower-lr phase)")
    e = sub.add_parser("evaluate", help="simtest quality figures on every cached held-out split")
    e.add_argument("--weights", type=Path, default=None)
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--splits", nargs="*", choices=sorted(SPLITS), default=None, help="default: every cached held-out split")
    c = sub.add_parser("card", help="copy the weights into the package and write the model card")
    c.add_argument("--weights", type=Path, default=None)
    c.add_argument("--limitations", default="see the figures above")
    args = p.parse_args(argv)
    config = ReferenceConfig()
    if args.stage == "generate":
        generate(SPLITS[args.split], args.episodes, config)
    elif args.stage == "train":
        train(args, config)
    elif args.stage == "evaluate":
        evaluate(args, config)
    elif args.stage == "card":
        write_card(args, config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
