"""Expectation over Transformation: the distribution of viewpoints and conditions a patch must survive.

An :class:`EotRanges` draws, from an explicit generator, samples of (actor
model, viewpoint, conditions, frame, seed): distance, lateral offset, heading
(relative to the patched surface facing the camera), walking speed, sun
altitude and azimuth, cloudiness, and with some probability fog (optical range)
or rain. Optimisation and the held-out evaluation draw from it with different
seeds, so the evaluation never sees an optimisation sample.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from perturbations.patch import PatchError
from simtest.patch.scenes import Viewpoint
from simtest.sim.base import Conditions

SURFACE_HEADING = {"front": 0.0, "back": 180.0, "left": -90.0, "right": 90.0, "top": 180.0}
"""Viewpoint heading (deg) at which each surface faces the camera."""

MODELS = {"pedestrian": ("adult", "child"), "vehicle": ("sedan", "hatchback", "suv", "van"), "cyclist": ("bicycle",)}
COLOURS = ("navy", "grey", "black", "white", "red", "green", "silver", "blue")


def _span(name: str, v: Any) -> tuple[float, float]:
    lo, hi = (float(x) for x in v)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise PatchError(f"EotRanges.{name}: expected [low, high] with low <= high, got {v!r}")
    return lo, hi


@dataclass(frozen=True)
class EotRanges:
    """Ranges (uniform) of the EOT distribution; ``fog_probability``/``rain_probability`` switch fog
    (optical range in ``fog_visibility``, m) or rain (``rain_rate``, mm/h) on; ``frames`` are frame indices."""

    distance: tuple[float, float] = (6.0, 25.0)
    lateral: tuple[float, float] = (-1.5, 1.5)
    heading: tuple[float, float] = (-35.0, 35.0)
    speed: tuple[float, float] = (0.0, 1.5)
    sun_altitude: tuple[float, float] = (10.0, 75.0)
    sun_azimuth: tuple[float, float] = (0.0, 360.0)
    cloudiness: tuple[float, float] = (0.0, 0.8)
    fog_probability: float = 0.25
    fog_visibility: tuple[float, float] = (150.0, 1000.0)
    rain_probability: float = 0.15
    rain_rate: tuple[float, float] = (0.5, 8.0)
    frames: tuple[int, int] = (0, 2)
    models: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("distance", "lateral", "heading", "speed", "sun_altitude", "sun_azimuth", "cloudiness",
                     "fog_visibility", "rain_rate"):
            object.__setattr__(self, name, _span(name, getattr(self, name)))
        lo, hi = (int(x) for x in self.frames)
        if not 0 <= lo <= hi:
            raise PatchError(f"EotRanges.frames: expected [first, last] frame indices >= 0, got {self.frames!r}")
        object.__setattr__(self, "frames", (lo, hi))
        for name in ("fog_probability", "rain_probability"):
            p = float(getattr(self, name))
            if not 0.0 <= p <= 1.0:
                raise PatchError(f"EotRanges.{name}: must be a probability in [0, 1], got {p!r}")
        object.__setattr__(self, "models", tuple(self.models))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


@dataclass(frozen=True)
class EotSample:
    """One draw: actor model and colour, viewpoint, conditions, frame index and simulator seed."""

    model: str
    colour: str
    view: Viewpoint
    conditions: Conditions
    frame: int
    seed: int


def sample_eot(ranges: EotRanges, cls: str, surface: str, n: int, rng: np.random.Generator) -> list[EotSample]:
    """``n`` samples for an actor of ``cls`` wearing the patch on ``surface``."""
    if cls not in MODELS:
        raise PatchError(f"sample_eot: unknown class {cls!r}; expected one of {sorted(MODELS)}")
    models = ranges.models or MODELS[cls]
    out = []
    for _ in range(int(n)):
        u = lambda span: float(rng.uniform(*span))  # noqa: E731 - local shorthand
        speed = u(ranges.speed) if cls == "pedestrian" else 0.0
        view = Viewpoint(distance=u(ranges.distance), lateral=u(ranges.lateral),
                         heading=SURFACE_HEADING[surface] + u(ranges.heading), speed=speed)
        fog = math.inf
        if rng.random() < ranges.fog_probability:
            fog = u(ranges.fog_visibility)
        rain = u(ranges.rain_rate) if rng.random() < ranges.rain_probability else 0.0
        cond = Conditions(cloudiness=max(u(ranges.cloudiness), 0.7 if rain else 0.0), rain_rate=rain,
                          road_wetness=min(1.0, rain / 5.0), fog_visibility=fog, sun_altitude=u(ranges.sun_altitude),
                          sun_azimuth=u(ranges.sun_azimuth))
        out.append(EotSample(
            model=str(models[int(rng.integers(len(models)))]), colour=str(COLOURS[int(rng.integers(len(COLOURS)))]),
            view=view, conditions=cond, frame=int(rng.integers(ranges.frames[0], ranges.frames[1] + 1)),
            seed=int(rng.integers(2**31)),
        ))
    return out
