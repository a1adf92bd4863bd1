"""Actors of one frame: meshes placed at their scenario poses, and their world boxes.

Poses come from the scenario's kinematics (a pure function of time). A vehicle's
mesh is built once per episode; walkers and cyclists are rebuilt every frame in
their gait or pedalling pose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simtest.scenario import ActorSpec, MoverState
from simtest.sim.embedded.assets import PEDESTRIAN_HEIGHT, SWING, cyclist, pedestrian, vehicle
from simtest.sim.embedded.materials import MATERIAL_ID, MATERIALS
from simtest.sim.embedded.meshes import Mesh, merge

PEDAL_METRES_PER_REV = 4.7  # m travelled per crank revolution
RUN_SPEED = 2.5  # m/s at which a walker's swing reaches its maximum
PHASE_STEPS = 16  # gait and pedal phases are quantised to this many poses per cycle (meshes are cached)
SWING_STEPS = 4
LAMPS_OFF = np.arange(len(MATERIALS), dtype=np.int32)
LAMPS_OFF[MATERIAL_ID["head_light"]] = MATERIAL_ID["head_light_off"]
LAMPS_OFF[MATERIAL_ID["tail_light"]] = MATERIAL_ID["tail_light_off"]


@dataclass(frozen=True)
class PlacedActors:
    """All actors merged into one world-frame mesh, with the actor index of each triangle,
    world boxes (N, 7) and world velocities (N, 2) in m/s."""

    mesh: Mesh
    actor_of_triangle: np.ndarray
    boxes: np.ndarray
    velocities: np.ndarray


def _pose_key(actor: ActorSpec, state: MoverState) -> tuple[int, int]:
    """Quantised (gait or pedal phase step, swing step) of an articulated actor."""
    if actor.cls == "pedestrian":
        stride = 1.5 * PEDESTRIAN_HEIGHT[actor.model] / 1.75
        swing = min(1.0, state.speed / RUN_SPEED) if state.moving else 0.0
        return round(state.travelled / stride * PHASE_STEPS) % PHASE_STEPS, round(swing * SWING_STEPS)
    return round(state.travelled / PEDAL_METRES_PER_REV * PHASE_STEPS) % PHASE_STEPS, 0


PAINT = -1
"""Placeholder material of an actor's paint (clothes, car body) in the shared mesh cache."""


def _local_mesh(actor: ActorSpec, paint_id: int, key: tuple[int, int]) -> tuple[Mesh, tuple[float, float, float]]:
    """The actor's mesh in its local frame; walkers and cyclists in the pose ``key`` (see :func:`_pose_key`)."""
    if actor.cls == "vehicle":
        return vehicle(actor.model, paint_id)
    phase = 2 * math.pi * key[0] / PHASE_STEPS
    if actor.cls == "pedestrian":
        return pedestrian(actor.model, paint_id, phase, SWING * key[1] / SWING_STEPS)
    return cyclist(paint_id, phase)


MeshCache = dict[tuple[str, str, int, int], tuple[Mesh, tuple[float, float, float]]]
"""Actor meshes by (class, model, pose key) with the paint as :data:`PAINT`; shared by episodes."""


class ActorLibrary:
    """Builds actor meshes for an episode; caches vehicles and each walker's or cyclist's poses.

    ``shared`` caches the meshes by model and pose across episodes (a simulator keeps one), so a
    sweep builds each pose once; each actor's copy then gets its paint.
    """

    def __init__(self, actors: tuple[ActorSpec, ...], first_paint_id: int, shared: MeshCache | None = None) -> None:
        self.actors = actors
        self.paint_ids = [first_paint_id + i for i in range(len(actors))]
        self._shared: MeshCache = {} if shared is None else shared
        self._rigid: dict[int, tuple[Mesh, tuple[float, float, float]]] = {}
        self._poses: dict[tuple[int, int, int], tuple[Mesh, tuple[float, float, float]]] = {}

    def _painted(self, i: int, key: tuple[int, int]) -> tuple[Mesh, tuple[float, float, float]]:
        """Actor ``i``'s local mesh in pose ``key``, from the shared cache, with its own paint."""
        actor = self.actors[i]
        shared_key = (actor.cls, actor.model, *key)
        if shared_key not in self._shared:
            self._shared[shared_key] = _local_mesh(actor, PAINT, key)
        mesh, size = self._shared[shared_key]
        m = mesh.materials
        return Mesh(mesh.vertices, mesh.triangles, np.where(m == PAINT, np.int32(self.paint_ids[i]), m)), size

    def place(self, states: list[MoverState]) -> PlacedActors:
        """Meshes and boxes of every actor at ``states`` (scenario order)."""
        meshes, owners, boxes, vels = [], [], [], []
        for i, (actor, state) in enumerate(zip(self.actors, states)):
            if actor.cls == "vehicle":
                if i not in self._rigid:
                    mesh, size = self._painted(i, (0, 0))
                    if actor.motion.speed <= 0:  # parked: lamps off
                        m = mesh.materials
                        fixed = m < len(LAMPS_OFF)
                        mesh = Mesh(mesh.vertices, mesh.triangles, np.where(fixed, LAMPS_OFF[np.where(fixed, m, 0)], m))
                    self._rigid[i] = (mesh, size)
                local, size = self._rigid[i]
            else:
                key = (i, *_pose_key(actor, state))
                if key not in self._poses:
                    self._poses[key] = self._painted(i, key[1:])
                local, size = self._poses[key]
            meshes.append(local.transformed(state.x, state.y, 0.0, state.yaw))
            owners.append(np.full(local.num_triangles, i, np.int32))
            boxes.append((state.x, state.y, size[2] / 2, size[0], size[1], size[2], state.yaw))
            vels.append((state.speed * math.cos(state.yaw), state.speed * math.sin(state.yaw)))
        return PlacedActors(
            mesh=merge(meshes),
            actor_of_triangle=np.concatenate(owners) if owners else np.zeros(0, np.int32),
            boxes=np.array(boxes, np.float64).reshape(-1, 7),
            velocities=np.array(vels, np.float64).reshape(-1, 2),
        )
