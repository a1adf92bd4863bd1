"""What one CARLA episode spawns and how its actors move (CARLA-free data).

An :class:`EpisodePlan` is the output of scenario translation: the map, the
ego and the actors, each with a blueprint and a motion. Poses are in the
simtest world frame (right-handed; CARLA's world mirrored in y, see coords.py),
``(x, y, z, yaw)`` in metres and radians, ``z`` at ground level under the
actor's origin.

Scripted motion is kinematic: before each tick the actor is placed at
``pose(t)``, with physics off, so an episode replays exactly. A
walker with ``controller="ai"`` is driven by CARLA's ``controller.ai.walker``
towards ``ai_target`` at ``ai_speed`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from simtest.types import CLASSES

PoseFn = Callable[[float], np.ndarray]
"""``t`` (seconds since the episode start) -> ``(x, y, z, yaw)`` in the simtest world frame."""


@dataclass(frozen=True)
class ActorPlan:
    """One actor of the episode; ``colour`` (linear RGB 0..1) paints a vehicle's body."""

    name: str
    cls: str
    blueprint: str
    pose: PoseFn
    controller: Literal["scripted", "ai"] = "scripted"
    ai_target: tuple[float, float, float] | None = None
    ai_speed: float = 1.4
    colour: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.cls not in CLASSES:
            raise ValueError(f"actor {self.name!r}: class {self.cls!r} is not one of {list(CLASSES)}")
        if self.controller not in ("scripted", "ai"):
            raise ValueError(f"actor {self.name!r}: controller must be 'scripted' or 'ai', got {self.controller!r}")
        if self.controller == "ai" and (self.ai_target is None or not self.blueprint.startswith("walker.")):
            raise ValueError(f"actor {self.name!r}: controller 'ai' needs a walker blueprint and an ai_target")


@dataclass(frozen=True)
class EpisodePlan:
    """The map (None: keep the loaded one) and the actors of one episode."""

    map: str | None
    ego: ActorPlan
    actors: tuple[ActorPlan, ...] = ()

    def __post_init__(self) -> None:
        names = [self.ego.name, *(a.name for a in self.actors)]
        if len(set(names)) != len(names):
            raise ValueError(f"episode plan: actor names must be unique, got {names}")
