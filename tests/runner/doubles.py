"""Scripted stand-ins for the simulator, scenarios and detector, fast and deterministic.

The simulator places a few objects ahead of the ego (their layout drawn from the
episode seed, so cells sharing a scene share it), moves them toward the ego and
renders a tiny camera image and lidar scan whose content depends on the weather.
The detector scores each object from the image brightness and the lidar points
in its box, so camera and lidar perturbations change its output. A scenario named
``broken`` makes the simulator raise on its third step; ``SLOW_STEP`` adds a delay
per step (for kill-and-resume tests).
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from simtest.sim.base import Conditions, SensorRig
from simtest.types import Camera, Detections, EgoState, Frame, Lidar, Objects, points_in_boxes

SCENARIOS = ("approach", "crossing", "broken")


@dataclass(frozen=True)
class FakeScenario:
    name: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"count": (1, 6), "speed": (0.0, 10.0)})
    count: int = 3
    speed: float = 5.0

    def with_params(self, params: dict[str, Any]) -> "FakeScenario":
        unknown = set(params) - set(self.parameters)
        if unknown:
            raise ValueError(f"scenario {self.name}: unknown parameter(s) {sorted(unknown)}")
        return replace(self, **{k: type(getattr(self, k))(v) for k, v in params.items()})


def load_scenario(name: str) -> FakeScenario:
    if name not in SCENARIOS:
        raise FileNotFoundError(f"no scenario {name!r}")
    return FakeScenario(name)


def list_scenarios() -> list[str]:
    return list(SCENARIOS)


class ScriptedSimulator:
    """Simulator protocol on a scripted world (see the module docstring)."""

    def __init__(self, rig: SensorRig | None = None, dt: float = 0.1, slow_step: float = 0.0) -> None:
        self.rig = rig or SensorRig()
        self.dt = dt
        self.slow_step = slow_step
        self.closed = False
        self._state: dict[str, Any] | None = None

    def __enter__(self) -> "ScriptedSimulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True

    def reset(self, scenario: FakeScenario, conditions: Conditions, seed: int, *, patches: tuple = ()) -> None:
        self.patches = tuple(patches)
        rng = np.random.default_rng(seed)
        n = getattr(scenario, "count", 3)  # real scenarios (simtest.scenario) get three objects
        boxes = np.zeros((n, 7))
        boxes[:, 0] = rng.uniform(8, 40, n)
        boxes[:, 1] = rng.uniform(-4, 4, n)
        boxes[:, 2] = 0.9
        boxes[:, 3:6] = [[4.0, 1.8, 1.5] if i % 2 == 0 else [0.6, 0.6, 1.8] for i in range(n)]
        labels = np.array([0 if i % 2 == 0 else 1 for i in range(n)])
        self._state = {"scenario": scenario, "conditions": conditions, "boxes": boxes, "labels": labels,
                       "step": 0, "rng": rng}

    def step(self) -> Frame:
        if self._state is None:
            raise RuntimeError("reset() first")
        s = self._state
        speed = getattr(s["scenario"], "speed", 5.0)
        if s["scenario"].name == "broken" and s["step"] >= 2:
            raise RuntimeError("scripted simulator crash")
        if self.slow_step:
            time.sleep(self.slow_step)
        i = s["step"]
        boxes = s["boxes"].copy()
        boxes[:, 0] -= speed * self.dt * i
        fog = s["conditions"].fog_alpha
        night = s["conditions"].is_night
        rng = s["rng"]
        level = 60 if night else 160
        image = np.clip(rng.normal(level * np.exp(-fog * 10), 20, (32, 48, 3)), 0, 255).astype(np.uint8)
        pts = []
        for b in boxes:
            k = max(int(200 * np.exp(-2 * fog * b[0]) / max(b[0], 1.0)), 0)
            p = rng.uniform(-0.4, 0.4, (k, 3)) * b[3:6] + b[:3]
            pts.append(p)
        ground = np.c_[rng.uniform(0, 50, (300, 2)) * [1, 0.2], np.full(300, -0.05)]
        xyz = np.concatenate([*pts, ground]).astype(np.float32)
        points = np.c_[xyz, rng.uniform(0, 1, len(xyz)).astype(np.float32)].astype(np.float32)
        ring = (np.arange(len(points)) % 32).astype(np.int32)
        inside = points_in_boxes(points, boxes)
        vis = np.full(len(boxes), 0.3 if night else 0.9)
        objects = Objects(ids=np.arange(len(boxes)), labels=s["labels"], boxes=boxes, visible_fraction=vis,
                          lidar_points=inside.sum(0).astype(np.int64), in_path=np.abs(boxes[:, 1]) < 1.75,
                          critical=(np.abs(boxes[:, 1]) < 1.75) & (boxes[:, 0] < 25))
        cam = self.rig.cameras["front"]
        frame = Frame(
            index=i, timestamp=i * self.dt, ego=EgoState(velocity=np.array([5.0, 0, 0])),
            cameras={"front": Camera(image=image, K=cam.K(), T_ego_from_cam=cam.T_ego_from_cam(), timestamp=i * self.dt)},
            lidars={"top": Lidar(points=points, ring=ring, num_beams=32, timestamp=i * self.dt)},
            objects=objects,
        )
        s["step"] += 1
        return frame


class ScriptedDetector:
    """Detects objects whose lidar points and image brightness suffice; deterministic in the frame."""

    name = "scripted"
    version = "1"
    content_hash = "0" * 64

    def predict(self, frames: list[Frame]) -> list[Detections]:
        out = []
        for f in frames:
            img = f.cameras["front"].image if "front" in f.cameras else np.zeros((1, 1, 3), np.uint8)
            brightness = float(img.mean()) / 255.0
            pts = f.lidars["top"].points if "top" in f.lidars else np.zeros((0, 4), np.float32)
            counts = points_in_boxes(pts, f.objects.boxes).sum(0)
            noise = np.random.default_rng(zlib.crc32(img.tobytes()) ^ zlib.crc32(pts.tobytes())).normal(0, 0.01, len(counts))
            scores = np.clip(0.3 * brightness + 0.03 * counts + noise, 0.0, 1.0)
            boxes = f.objects.boxes.copy()
            boxes[:, 0] += noise
            keep = scores > 0.05
            out.append(Detections(boxes=boxes[keep], scores=scores[keep], labels=f.objects.labels[keep]))
        return out


def make_simulator(rig: SensorRig | None = None, slow_step: float = 0.0) -> ScriptedSimulator:
    return ScriptedSimulator(rig, slow_step=slow_step)


def make_detector() -> ScriptedDetector:
    return ScriptedDetector()
