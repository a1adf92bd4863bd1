"""Generate the example run store shipped in ``examples/runs/example``.

A toy perception model over scripted traffic stands in for the simulator and the
detector until they land; the rows go through the real matcher
(:func:`simtest.metrics.matching.result_rows`) and the real store, so the
example exercises the whole evaluation path.

Traffic per episode (ego driving straight at ``speed`` m/s, 10 Hz): pedestrians
crossing ahead, cyclists riding alongside, vehicles ahead and oncoming. The
detector finds an object with a probability that falls with distance, with
occlusion and with the cell's weather/perturbation severity; each episode has
its own difficulty (so misses cluster in episodes, as they do in reality), and it
emits false positives at a weather-dependent rate. Detectability drifts
slowly per object, so misses come in runs of frames.

Usage: ``python tools/make_example_run.py [--out examples/runs/example] [--seed 7]``.
The output depends only on the seed.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simtest.metrics.matching import MatchConfig, result_rows
from simtest.store import CellRecord, Manifest, RunStore, config_hash
from simtest.types import CLASSES, Detections, EgoState, Frame, Objects

FRAME_DT = 0.1  # s
FRAMES = 50  # 5 s episodes
EPISODES = 12
LANE_HALF_WIDTH = 1.5  # m, ego corridor
DECEL = 6.0  # m/s^2, braking for the stopping envelope
REACTION = 1.0  # s
AR_RHO, AR_SD = 0.9, 1.5  # frame-to-frame persistence and spread of an object's detectability (logit)

# cell id -> (axes, ODD weight, detector degradation in [0, 1], false positives per frame)
CELLS: dict[str, tuple[dict[str, object], float, float, float]] = {
    "clear-none-0": ({"weather": "clear", "perturbation": "none", "severity": 0}, 0.60, 0.00, 0.05),
    "rain-none-0": ({"weather": "rain", "perturbation": "none", "severity": 0}, 0.25, 0.15, 0.12),
    "fog-none-0": ({"weather": "fog", "perturbation": "none", "severity": 0}, 0.05, 0.35, 0.15),
    "clear-camera_blur-3": ({"weather": "clear", "perturbation": "camera_blur", "severity": 3}, 0.05, 0.20, 0.08),
    "clear-lidar_beam_drop-3": ({"weather": "clear", "perturbation": "lidar_beam_drop", "severity": 3}, 0.04, 0.25, 0.06),
    "fog-lidar_beam_drop-3": ({"weather": "fog", "perturbation": "lidar_beam_drop", "severity": 3}, 0.01, 0.55, 0.20),
}
SIZES = {"vehicle": (4.5, 1.9, 1.6), "pedestrian": (0.6, 0.6, 1.75), "cyclist": (1.8, 0.6, 1.7)}
RANGE_50 = {"vehicle": 70.0, "pedestrian": 35.0, "cyclist": 45.0}  # m where detection odds are even (clear)


@dataclass
class Track:
    label: int
    start: np.ndarray  # (x, y) ego frame at t = 0, m
    velocity: np.ndarray  # world-frame velocity (vx, vy), m/s
    yaw: float
    skill: float  # per-object detectability offset (logit)


def _tracks(rng: np.random.Generator) -> list[Track]:
    tracks = []
    for _ in range(rng.integers(1, 4)):  # pedestrians crossing ahead
        side = rng.choice([-1.0, 1.0])
        tracks.append(Track(1, np.array([rng.uniform(15, 45), side * rng.uniform(3, 7)]),
                            np.array([0.0, -side * rng.uniform(0.8, 1.8)]), -side * np.pi / 2, rng.normal(0, 0.8)))
    for _ in range(rng.integers(0, 3)):  # cyclists riding along the kerb or swerving in
        tracks.append(Track(2, np.array([rng.uniform(8, 40), rng.choice([-1, 1]) * rng.uniform(1.0, 3.0)]),
                            np.array([rng.uniform(3, 6), rng.normal(0, 0.3)]), 0.0, rng.normal(0, 0.8)))
    for _ in range(rng.integers(1, 4)):  # vehicles ahead or oncoming
        oncoming = rng.random() < 0.5
        tracks.append(Track(0, np.array([rng.uniform(10, 70), -3.5 if oncoming else 0.0]),
                            np.array([-10.0 if oncoming else rng.uniform(4, 9), 0.0]), np.pi if oncoming else 0.0,
                            rng.normal(0, 0.8)))
    return tracks


def _frame(tracks: list[Track], t: int, speed: float, rng: np.random.Generator) -> Frame:
    xy = np.array([tr.start + (tr.velocity - (speed, 0.0)) * t * FRAME_DT for tr in tracks])
    labels = np.array([tr.label for tr in tracks], np.int64)
    sizes = np.array([SIZES[CLASSES[tr.label]] for tr in tracks])
    boxes = np.c_[xy, sizes[:, 2] / 2, sizes, [tr.yaw for tr in tracks]]
    rel_vy = np.array([tr.velocity[1] for tr in tracks])
    envelope = speed * REACTION + speed**2 / (2 * DECEL) + 5.0
    in_path = (xy[:, 0] > 0) & (np.abs(xy[:, 1]) <= LANE_HALF_WIDTH)
    entering = (np.abs(xy[:, 1] + rel_vy * 2.0) <= LANE_HALF_WIDTH) | (np.sign(xy[:, 1]) != np.sign(xy[:, 1] + rel_vy * 2.0))
    critical = (xy[:, 0] > 0) & (xy[:, 0] <= envelope) & (in_path | entering)
    dist = np.hypot(xy[:, 0], xy[:, 1])
    visible = np.clip(rng.beta(6, 1.5, len(tracks)) * (xy[:, 0] > 0), 0, 1)
    keep = (xy[:, 0] > -5) & (dist < 90)
    objects = Objects(
        ids=np.arange(len(tracks), dtype=np.int64)[keep], labels=labels[keep], boxes=boxes[keep],
        visible_fraction=visible[keep], lidar_points=np.maximum(0, (4000 / np.maximum(dist, 1) ** 1.3)).astype(np.int64)[keep],
        in_path=in_path[keep], critical=critical[keep],
    )
    return Frame(index=t, timestamp=t * FRAME_DT, ego=EgoState(velocity=np.array([speed, 0.0, 0.0])), objects=objects)


def _detect(frame: Frame, tracks: list[Track], latent: np.ndarray, degrade: float, fp_rate: float,
            episode_logit: float, rng: np.random.Generator) -> Detections:
    obj = frame.objects
    names = [CLASSES[i] for i in obj.labels]
    r50 = np.array([RANGE_50[c] for c in names]) * (1 - 0.6 * degrade)
    skill = np.array([tracks[i].skill for i in obj.ids]) + latent[obj.ids]
    logit = 4.0 + 8.0 * (1 - obj.distance / r50) - 4.0 * (1 - obj.visible_fraction) - 4.0 * degrade + skill + episode_logit
    p = 1 / (1 + np.exp(-logit))
    hit = rng.random(len(obj)) < p
    # A hit scores above the 0.3 operating point; a near miss sometimes leaves a low-scoring box.
    weak = ~hit & (rng.random(len(obj)) < 0.4)
    emit = hit | weak
    scores = np.where(hit, 0.3 + 0.7 * rng.beta(4, 2, len(obj)), 0.3 * rng.random(len(obj)))[emit]
    noise = rng.normal(0, 0.15 + 0.01 * obj.distance[emit, None], (int(emit.sum()), 2))
    boxes = obj.boxes[emit].copy()
    boxes[:, :2] += noise
    labels = obj.labels[emit]
    n_fp = rng.poisson(fp_rate)
    if n_fp:
        fl = rng.integers(0, 3, n_fp)
        fs = np.array([SIZES[CLASSES[i]] for i in fl])
        fxy = np.c_[rng.uniform(3, 60, n_fp), rng.uniform(-8, 8, n_fp)]
        boxes = np.r_[boxes, np.c_[fxy, fs[:, 2] / 2, fs, rng.uniform(-np.pi, np.pi, n_fp)]]
        scores = np.r_[scores, 0.3 + 0.4 * rng.random(n_fp)]
        labels = np.r_[labels, fl]
    return Detections(boxes=boxes, scores=scores.astype(np.float64), labels=labels.astype(np.int64))


def make_example_run(out: Path, seed: int = 7) -> Path:
    """Write the example run folder (replacing an old one) and return its path."""
    if out.exists():
        shutil.rmtree(out)
    cfg = MatchConfig()
    config = {"generator": "tools/make_example_run.py", "seed": seed, "frames": FRAMES, "episodes": EPISODES,
              "frame_dt": FRAME_DT, "match": cfg.to_dict()}
    manifest = Manifest(
        run_id="example", config=config, axes={"weather": "string", "perturbation": "string", "severity": "int"},
        root_seed=seed, model={"name": "toy-detector", "version": "1", "hash": config_hash({"toy": 1})},
        created="2026-01-01T00:00:00.000+00:00",
        cells={c: CellRecord(axes=a, seed=seed * 1000 + i, weight=w) for i, (c, (a, w, _, _)) in enumerate(CELLS.items())},
    )
    store = RunStore(out)
    store.save_manifest(manifest)
    for i, (cell, (_, _, degrade, fp_rate)) in enumerate(CELLS.items()):
        rows = []
        for ep in range(EPISODES):
            rng = np.random.default_rng(np.random.SeedSequence([seed, i, ep]))
            speed = rng.uniform(6, 14)
            tracks = _tracks(rng)
            episode_logit = rng.normal(0, 1.0)
            latent = np.zeros(len(tracks))
            for t in range(FRAMES):
                # Temporally correlated detectability (occlusion, glare): AR(1) per object.
                latent = AR_RHO * latent + np.sqrt(1 - AR_RHO**2) * rng.normal(0, AR_SD, len(tracks))
                frame = _frame(tracks, t, speed, rng)
                det = _detect(frame, tracks, latent, degrade, fp_rate, episode_logit, rng)
                rows.append(result_rows(frame, det, cfg, episode=ep, seed=manifest.cells[cell].seed + ep))
        df = pd.concat(rows, ignore_index=True)
        store.write_cell(manifest, cell, df)
        record = manifest.cells[cell]
        record.status, record.rows, record.attempts = "done", len(df), 1
        record.start = record.end = "2026-01-01T00:00:00.000+00:00"
    store.save_manifest(manifest)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "examples" / "runs" / "example")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    path = make_example_run(args.out, args.seed)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    print(f"wrote {path} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
