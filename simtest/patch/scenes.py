"""Small stand-alone scenes for patch optimisation and tests: one actor in front of a standing ego.

A viewpoint is the actor's distance ahead of the ego camera (m), lateral offset
(m, left positive), heading relative to facing the ego (deg; 0 = the actor's
front faces the camera, 180 = its back), and walking speed (m/s, along its
heading; 0 stands). The world is the straight one-lane road of the library.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from simtest.scenario import Scenario, parse_scenario

EGO_Y = -1.75  # m, ego lane centre


@dataclass(frozen=True)
class Viewpoint:
    """Where the patched actor stands relative to the ego (see the module docstring)."""

    distance: float
    lateral: float = 0.0
    heading: float = 0.0
    speed: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.distance) and 2.0 <= self.distance <= 120.0):
            raise ValueError(f"Viewpoint.distance: must be 2..120 m ahead, got {self.distance!r}")
        if not (math.isfinite(self.speed) and 0.0 <= self.speed <= 3.0):
            raise ValueError(f"Viewpoint.speed: walking speed must be 0..3 m/s, got {self.speed!r}")


def single_actor_scenario(cls: str, model: str, view: Viewpoint, color: str = "grey", duration: float = 4.0) -> Scenario:
    """A scenario with the ego standing at x = 0 and one actor of ``cls``/``model`` at ``view``."""
    x, y = view.distance, EGO_Y + view.lateral
    yaw = math.radians(180.0 + view.heading)  # heading 0: the actor faces the ego (-x)
    actor: dict = {"name": "target", "class": cls, "model": model, "color": color}
    if view.speed > 0:
        far = 60.0
        actor.update(path=[[x, y], [x + far * math.cos(yaw), y + far * math.sin(yaw)]], speed=view.speed)
    else:
        actor.update(start=[x, y], yaw=math.degrees(yaw))
    body = {
        "name": "patch_view",
        "description": "one actor in front of a standing ego (patch optimisation)",
        "duration": duration,
        "world": {"layout": "straight", "lanes": 1},
        "ego": {"path": [[0.0, EGO_Y], [400.0, EGO_Y]], "speed": 0.0},
        "actors": [actor],
    }
    return parse_scenario(json.dumps(body), source="<patch view>", name="patch_view")
