"""Synthetic run stores with known, injected effects for the report/compare/history tests.

A run is a grid over weather × lighting × (perturbation, severity) [× patch]. Each
episode has a few objects approaching the ego; detection follows a logistic model whose
coefficients are the injected effects, with a per-episode random effect so that frames
of one episode are correlated, as in real runs.

Randomness is split so that pairing works like the real runner: the *scenario* (ground
truth) of an episode depends only on the cell seed and episode index, and the *model*
outcomes on the cell seed, the episode and the model key. So two runs with the same
root seed share their ground truth row for row.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simtest.store import Manifest, CellRecord, RunStore

CLASSES = ("vehicle", "pedestrian", "cyclist")
BASE_LOGIT = {"vehicle": 4.6, "pedestrian": 3.8, "cyclist": 3.4}
WEATHER = {"clear": (0.0, 0.70), "rain": (-0.6, 0.20), "fog": (-1.6, 0.10)}
LIGHTING = {"day": (0.0, 0.75), "night": (-1.0, 0.25)}
PERTURBATION_SLOPE = {"camera.gaussian_noise": -0.25, "lidar.beam_missing": -0.45}
FOG_NIGHT = -0.8  # injected interaction on the logit
THRESHOLD = 0.35  # operating point used to draw scores


@dataclass
class SyntheticSpec:
    """What to generate; all effects are on the logit of the detection probability."""

    run_id: str = "synthetic"
    root_seed: int = 7
    model_key: str = "model-a"
    model_version: str = "1.0.0"
    created: str = "2026-11-23T12:00:00.000+00:00"
    episodes: int = 4
    frames: int = 16
    frame_dt: float = 0.1
    severities: tuple[int, ...] = (1, 3, 5)
    weather: tuple[str, ...] = ("clear", "rain", "fog")
    lighting: tuple[str, ...] = ("day", "night")
    perturbations: tuple[str, ...] = ("camera.gaussian_noise", "lidar.beam_missing")
    patches: tuple[str, ...] = ()  # e.g. ("none", "random", "ped_patch_v1")
    patch_effect: float = -1.4  # logit shift for pedestrians under an optimised patch
    extra_critical_ped_miss: float = 0.0  # fraction of critical pedestrian rows forced to miss
    episode_sd: float = 0.6
    thumbs_for: tuple[str, ...] = ("fog",)  # weather values whose episodes get thumbnails
    failed_cells: int = 0
    config_extra: dict = field(default_factory=dict)


def _cell_seed(root_seed: int, key: str) -> int:
    digest = hashlib.sha256(key.encode()).digest()
    return int(np.random.SeedSequence([root_seed, int.from_bytes(digest[:8], "little")]).generate_state(1, np.uint64)[0] >> 1)


def _cells(spec: SyntheticSpec) -> list[dict]:
    perts = [("none", 0)] + [(p, s) for p in spec.perturbations for s in spec.severities]
    patches = spec.patches or (None,)
    out = []
    for w, l, (p, s), pa in itertools.product(spec.weather, spec.lighting, perts, patches):
        axes = {"weather": w, "lighting": l, "perturbation": p, "severity": s}
        if pa is not None:
            axes["patch"] = pa
        out.append(axes)
    return out


def _cell_id(axes: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in axes.items())


def _weight(axes: dict, spec: SyntheticSpec) -> float:
    n_pert = len(spec.perturbations) * len(spec.severities)
    p = 0.5 if axes["perturbation"] == "none" else 0.5 / n_pert
    w = WEATHER[axes["weather"]][1] * LIGHTING[axes["lighting"]][1] * p
    if "patch" in axes:
        w /= len(spec.patches)
    return w


def _episode_rows(spec: SyntheticSpec, axes: dict, cell_seed: int, episode: int) -> pd.DataFrame:
    scen = np.random.default_rng([cell_seed, episode, 0])
    model = np.random.default_rng([cell_seed, episode, 1, int.from_bytes(spec.model_key.encode()[:8], "little")])
    n_obj = int(scen.integers(4, 7))
    cls = scen.choice(CLASSES, size=n_obj, p=[0.45, 0.35, 0.20])
    cls[0] = "pedestrian"  # every episode has a pedestrian that crosses the path
    start = scen.uniform(35.0, 70.0, n_obj)
    speed = scen.uniform(2.0, 4.0, n_obj)  # closing speed, m/s per frame_dt*10
    lateral = scen.uniform(-6.0, 6.0, n_obj)
    lateral[0] = scen.uniform(-1.0, 1.0)
    vis = scen.uniform(0.3, 1.0, n_obj)
    ego_speed = float(scen.uniform(8.0, 14.0))
    f = np.arange(spec.frames)
    dist_x = np.maximum(start[None, :] - speed[None, :] * f[:, None] * spec.frame_dt * 10, 3.0)
    y = np.broadcast_to(lateral, dist_x.shape)
    distance = np.hypot(dist_x, y)
    in_path = np.abs(y) < 1.8
    critical = in_path & (distance < 40.0)

    w_eff = WEATHER[axes["weather"]][0]
    l_eff = LIGHTING[axes["lighting"]][0]
    sev_eff = PERTURBATION_SLOPE.get(axes["perturbation"], 0.0) * axes["severity"]
    inter = FOG_NIGHT if (axes["weather"] == "fog" and axes["lighting"] == "night") else 0.0
    patch_eff = spec.patch_effect if axes.get("patch") not in (None, "none", "random") else 0.0
    ep_eff = model.normal(0.0, spec.episode_sd)
    base = np.array([BASE_LOGIT[c] for c in cls])
    logit = (base[None, :] + w_eff + l_eff + sev_eff + inter + ep_eff
             - 0.045 * (distance - 20.0) + 1.2 * (vis[None, :] - 0.6)
             + np.where(cls == "pedestrian", patch_eff, 0.0)[None, :])
    p_det = 1.0 / (1.0 + np.exp(-logit))
    detected = model.random(p_det.shape) < p_det
    if spec.extra_critical_ped_miss > 0:
        crit_ped = critical & (cls == "pedestrian")[None, :]
        flip = model.random(p_det.shape) < spec.extra_critical_ped_miss / max(p_det[crit_ped].mean(), 1e-6) if crit_ped.any() else np.zeros_like(detected)
        detected = detected & ~(crit_ped & flip)
    score = np.where(detected, model.uniform(THRESHOLD, 0.99, p_det.shape), np.nan)
    near_miss = model.random(p_det.shape) < 0.6
    best = np.where(detected, score, np.where(near_miss, model.uniform(0.02, THRESHOLD, p_det.shape), np.nan))

    F, N = dist_x.shape
    gt = pd.DataFrame({
        "episode": episode,
        "frame": np.repeat(f, N).astype(np.int32),
        "seed": cell_seed,
        "timestamp": np.repeat(f * spec.frame_dt, N),
        "row_type": "gt",
        "object_id": np.tile(np.arange(N), F) + 100 * episode,
        "cls": np.tile(cls, F),
        "detected": detected.ravel(),
        "score": score.ravel().astype(np.float32),
        "best_score": best.ravel().astype(np.float32),
        "center_error": np.where(detected.ravel(), model.uniform(0.05, 0.8, F * N), np.nan).astype(np.float32),
        "bev_iou": np.where(detected.ravel(), model.uniform(0.4, 0.9, F * N), np.nan).astype(np.float32),
        "x": dist_x.ravel().astype(np.float32),
        "y": y.ravel().astype(np.float32),
        "distance": distance.ravel().astype(np.float32),
        "visible_fraction": np.tile(vis, F).astype(np.float32),
        "lidar_points": np.maximum(0, (2000 / distance.ravel() ** 1.2)).astype(np.int32),
        "in_path": in_path.ravel(),
        "critical": critical.ravel(),
        "ego_speed": np.float32(ego_speed),
    })
    n_fp = model.poisson(0.15 * (1 - 0.5 * w_eff), spec.frames)
    fp_frames = np.repeat(f, n_fp)
    m = len(fp_frames)
    fp = pd.DataFrame({
        "episode": episode, "frame": fp_frames.astype(np.int32), "seed": cell_seed,
        "timestamp": fp_frames * spec.frame_dt, "row_type": "fp", "object_id": -1,
        "cls": model.choice(CLASSES, size=m), "detected": pd.array([None] * m, dtype="boolean"),
        "score": model.uniform(THRESHOLD, 0.8, m).astype(np.float32), "best_score": np.nan,
        "center_error": np.nan, "bev_iou": np.nan,
        "x": model.uniform(5, 60, m).astype(np.float32), "y": model.uniform(-8, 8, m).astype(np.float32),
        "distance": np.nan, "visible_fraction": np.nan, "lidar_points": pd.array([None] * m, dtype="Int32"),
        "in_path": False, "critical": False, "ego_speed": np.float32(ego_speed),
    })
    fp["distance"] = np.hypot(fp["x"], fp["y"]).astype(np.float32)
    return pd.concat([gt, fp], ignore_index=True) if m else gt


def _thumbnail(path: Path, seed: int, kind: str) -> None:
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((96, 160, 3), (60, 52, 48) if kind == "camera" else (20, 20, 20), np.uint8)
    if kind == "camera":
        img[48:] = (90, 90, 90)
        x = int(rng.integers(30, 130))
        cv2.rectangle(img, (x, 40), (x + 12, 80), (40, 40, 200), -1)
    else:
        pts = rng.integers(0, [160, 96], (300, 2))
        img[pts[:, 1], pts[:, 0]] = (200, 200, 200)
        cv2.rectangle(img, (76, 80), (84, 92), (0, 200, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def make_run(root: Path, spec: SyntheticSpec) -> Path:
    """Write a complete run folder ``root/spec.run_id`` and return its path."""
    run_dir = Path(root) / spec.run_id
    store = RunStore(run_dir)
    cells = _cells(spec)
    axes_types = {"weather": "string", "lighting": "string", "perturbation": "string", "severity": "int"}
    if spec.patches:
        axes_types["patch"] = "string"
    records = {}
    for axes in cells:
        cid = _cell_id(axes)
        records[cid] = CellRecord(axes=axes, seed=_cell_seed(spec.root_seed, cid), weight=_weight(axes, spec))
    config = {"sweep": {"mode": "grid", "episodes": spec.episodes, "frames": spec.frames},
              "sim": {"frame_dt": spec.frame_dt}, "model": {"name": "synthetic", "key": spec.model_key}, **spec.config_extra}
    model_hash = hashlib.sha256(f"{spec.model_key}:{spec.model_version}:{spec.extra_critical_ped_miss}".encode()).hexdigest()
    manifest = Manifest(run_id=spec.run_id, config=config, axes=axes_types, root_seed=spec.root_seed,
                        model={"name": "synthetic", "version": spec.model_version, "hash": model_hash},
                        git_commit="0" * 40, created=spec.created, cells=records)
    failed = set(list(records)[-spec.failed_cells:]) if spec.failed_cells else set()
    for cid, rec in records.items():
        if cid in failed:
            rec.status, rec.error, rec.attempts = "failed", "RuntimeError: simulator crashed (synthetic)", 3
            continue
        rows = pd.concat([_episode_rows(spec, rec.axes, rec.seed, e) for e in range(spec.episodes)], ignore_index=True)
        store.write_cell(manifest, cid, rows)
        rec.status, rec.rows, rec.attempts = "done", len(rows), 1
        rec.start = rec.end = spec.created
        if rec.axes["weather"] in spec.thumbs_for and rec.axes["lighting"] == "night":
            for e in range(spec.episodes):
                base = run_dir / "thumbs" / cid / f"ep{e:03d}"
                _thumbnail(base.with_name(base.name + "_camera.jpg"), rec.seed + e, "camera")
                _thumbnail(base.with_name(base.name + "_bev.png"), rec.seed + e, "bev")
    store.save_manifest(manifest)
    return run_dir
