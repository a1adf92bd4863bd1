"""The embedded ray-casting simulator (Open3D ``RaycastingScene``, Embree).

::

    from simtest.scenario import load_scenario
    from simtest.sim.base import PRESETS
    from simtest.sim.embedded import EmbeddedSimulator

    with EmbeddedSimulator() as sim:
        sim.reset(load_scenario("child_occluded"), PRESETS["night"], seed=0)
        frames = [sim.step() for _ in range(30)]

Frame ``k`` shows the world at ``t = k * dt``. Besides the sensors and
``objects``, ``frame.meta["instance_ids"][camera]`` is an (H, W) int32 map of
the object id seen in each pixel (0 = none): exact instance segmentation.

Every frame's randomness
(weather particles, lidar weather) comes from a generator seeded by
``(seed, frame index, sensor)``, so the same scenario, conditions and seed give
byte-identical frames whatever ran before, and whatever the thread count.
Set ``OPENBLAS_NUM_THREADS=1``: numpy's BLAS threads otherwise halve Embree's
speed on small machines. The compiled shading, lidar and ground-truth kernels
use all cores by default; :func:`set_threads` (``simtest.sim.embedded.set_threads``)
sets their thread count, e.g. to 1 in each worker of a sweep that runs one
simulator per core.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from perturbations.lidar.weather import LidarOptics
from simtest.scenario import MoverState, Scenario, load_scenario
from simtest.sim.base import PRESETS, Conditions, SensorRig
from simtest.sim.embedded.actors import ActorLibrary, MeshCache
from simtest.sim.embedded.camera import CameraRenderer
from simtest.sim.embedded import kernels
from simtest.sim.embedded.kernels import get_threads, set_threads, start_workers
from simtest.sim.embedded.lidar import LidarRenderer
from simtest.sim.embedded.lighting import HEADLIGHT_POS, Lighting, daylight
from simtest.sim.embedded.materials import MATERIAL_ID, MATERIALS, MaterialArrays, material_arrays, paint
from simtest.sim.embedded.patches import EpisodePatches
from simtest.sim.embedded.scene import FrameScene
from simtest.sim.embedded.shading import LightRig, SurfaceParams
from simtest.sim.embedded.truth import actor_ids, frame_objects, visible_fractions
from simtest.sim.embedded.world import LAMP_CD, StaticWorld, build_world
from simtest.sim.ground_truth import PathConfig
from simtest.types import (
    Camera,
    EgoState,
    Frame,
    invert_transform,
    make_transform,
    rotation_z,
    transform_boxes,
    wrap_angle,
)

if TYPE_CHECKING:
    from perturbations.patch import Patch

__all__ = ["EmbeddedSimulator", "get_threads", "set_threads"]

HEADLAMP_LUMINANCE = 2.0e4  # cd/m^2 of other vehicles' lit headlamps
TAIL_LAMP_LUMINANCE = 300.0  # cd/m^2
SNOW_COVER_RATE = 2.0  # mm/h (water equivalent) of snowfall that covers the ground completely
_STREAM_CAMERA, _STREAM_LIDAR, _STREAM_WORLD = 1, 2, 3


@dataclass
class _Episode:
    scenario: Scenario
    conditions: Conditions
    seed: int
    world: StaticWorld
    materials: MaterialArrays
    actors: ActorLibrary
    light: Lighting
    surf: SurfaceParams
    patches: EpisodePatches
    ids: np.ndarray
    """The actors' object ids (int64), by actor index."""
    id_of_actor: np.ndarray
    """``ids`` then 0 (int32): the object id of an actor index, 0 for index -1 (no actor)."""
    index: int = 0


def _ego_pose(s: MoverState, centre: np.ndarray | tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """The ego's pose in state ``s``: T_world_from_ego, or relative to the world point ``centre``
    (a frame's scene coordinates)."""
    cx, cy, cz = centre
    return make_transform(rotation_z(s.yaw), (s.x - cx, s.y - cy, 0.0 - cz))


class EmbeddedSimulator:
    """The built-in simulator behind the :class:`~simtest.sim.base.Simulator` protocol.

    ``dt`` is the fixed step (s); ``ground_truth`` configures the in-path corridor
    and stopping envelope (:class:`~simtest.sim.ground_truth.PathConfig` or a
    mapping of its fields); ``nthreads`` is Embree's thread count (0 = all cores);
    ``lidar_optics`` the lidar's weather-model parameters.
    """

    def __init__(
        self,
        rig: SensorRig | None = None,
        *,
        dt: float = 0.1,
        ground_truth: PathConfig | Mapping[str, Any] | None = None,
        nthreads: int = 0,
        lidar_optics: LidarOptics | None = None,
    ) -> None:
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"EmbeddedSimulator.dt: must be a positive time step in seconds, got {dt!r}")
        self.rig = rig if rig is not None else SensorRig()
        if not isinstance(self.rig, SensorRig):
            raise ValueError(f"EmbeddedSimulator.rig: expected a SensorRig, got {type(self.rig).__name__}")
        self.dt = float(dt)
        self.path_config = ground_truth if isinstance(ground_truth, PathConfig) else PathConfig.from_mapping(
            dict(ground_truth) if ground_truth is not None else None, where="sim.ground_truth")
        self.nthreads = int(nthreads)
        optics = lidar_optics if lidar_optics is not None else LidarOptics()
        start_workers()  # the kernels' threads, spinning only briefly when idle
        self.cameras = {name: CameraRenderer(spec) for name, spec in self.rig.cameras.items()}
        self.lidars = {name: LidarRenderer(spec, optics) for name, spec in self.rig.lidars.items()}
        self._episode: _Episode | None = None
        self._actor_meshes: MeshCache = {}  # actor meshes by model and pose, kept across episodes
        self.ray_log: list[tuple[str, Any]] | None = None
        """Set to a list to record each frame's scene and every ray batch cast (see scene.FrameScene)."""

    # -- protocol -------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the episode (scenes are rebuilt per frame, so nothing else is held)."""
        self._episode = None

    def reset(self, scenario: Scenario | str, conditions: Conditions | str, seed: int, *,
              patches: Sequence[Patch] = ()) -> None:
        """Start an episode; ``scenario`` may be a library name and ``conditions`` a preset name.

        ``patches``: physical patches (:class:`perturbations.patch.Patch`) worn by the actors they name.
        """
        if isinstance(scenario, str):
            scenario = load_scenario(scenario)
        if isinstance(conditions, str):
            if conditions not in PRESETS:
                raise ValueError(f"conditions: unknown preset {conditions!r}; choose one of {sorted(PRESETS)}")
            conditions = PRESETS[conditions]
        if not isinstance(scenario, Scenario):
            raise ValueError(f"reset: scenario must be a Scenario or a library name, got {type(scenario).__name__}")
        if not isinstance(conditions, Conditions):
            raise ValueError(f"reset: conditions must be Conditions or a preset name, got {type(conditions).__name__}")
        seed = int(seed)
        keep_clear = np.array([p for a in scenario.actors for p in a.motion.path] + list(scenario.ego.path[:1]),
                              np.float64).reshape(-1, 2)
        world_rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_WORLD]))
        world = build_world(scenario.world, world_rng, keep_clear, len(MATERIALS))
        paints = [paint(f"paint_{a.name}", a.color) for a in scenario.actors]
        worn = EpisodePatches(patches, scenario.actors, len(MATERIALS) + len(world.materials) + len(paints))
        table = material_arrays(MATERIALS + world.materials + tuple(paints) + worn.materials)
        emissive = np.zeros_like(table.emissive)
        if conditions.street_lights:
            emissive[MATERIAL_ID["lamp"]] = table.emissive[MATERIAL_ID["lamp"]]
        if conditions.headlights:
            emissive[MATERIAL_ID["head_light"]] = HEADLAMP_LUMINANCE
            emissive[MATERIAL_ID["tail_light"]] = TAIL_LAMP_LUMINANCE
        table = MaterialArrays(table.albedo, table.reflectivity, table.wettable, emissive, table.snow)
        surf = SurfaceParams(
            materials=table,
            wetness=conditions.road_wetness,
            snow_cover=min(1.0, conditions.snowfall_rate / SNOW_COVER_RATE),
            shadows=True,
        )
        ids = actor_ids(scenario.actors)
        self._episode = _Episode(
            scenario=scenario, conditions=conditions, seed=seed, world=world, materials=table,
            actors=ActorLibrary(scenario.actors, len(MATERIALS) + len(world.materials), self._actor_meshes),
            light=daylight(conditions), surf=surf, patches=worn, ids=ids,
            id_of_actor=np.append(ids, 0).astype(np.int32),
        )

    def step(self) -> Frame:
        """Render the next frame with its ground truth."""
        ep = self._episode
        if ep is None:
            raise RuntimeError("EmbeddedSimulator.step: call reset(scenario, conditions, seed) first")
        k = ep.index
        t = k * self.dt
        scen = ep.scenario
        now = scen.ego_state(t)
        T_world_from_ego = _ego_pose(now)
        ego = self._ego_state(scen, t, T_world_from_ego, now)
        states = scen.actor_states(t)
        placed, patch_frame = ep.patches.attach(ep.actors.place(states), states)
        # the scene is centred on the ego (world axes): the sensors' rays keep their origins
        centre = T_world_from_ego[:3, 3].copy()
        T_scene_from_ego = _ego_pose(now, centre)
        scene = FrameScene(ep.world.mesh, placed.mesh, placed.actor_of_triangle, self.nthreads, self.ray_log,
                           origin=centre)
        lights = self._light_rig(ep, T_scene_from_ego, centre)
        n = len(scen.actors)
        boxes_ego = transform_boxes(invert_transform(T_world_from_ego), placed.boxes) if n else np.zeros((0, 7))
        cameras: dict[str, Camera] = {}
        instances: dict[str, np.ndarray] = {}
        visible = np.zeros(n)
        for ci, (name, renderer) in enumerate(self.cameras.items()):
            rng = np.random.default_rng(np.random.SeedSequence([ep.seed, k, _STREAM_CAMERA, ci]))
            surf = ep.surf if renderer.spec.shadows == ep.surf.shadows else SurfaceParams(
                ep.surf.materials, ep.surf.wetness, ep.surf.snow_cover, renderer.spec.shadows)
            render = renderer.render(scene, T_scene_from_ego, ep.light, lights, surf, ep.conditions, rng, ego.speed,
                                     patches=patch_frame)
            cameras[name] = Camera(render.image, renderer.K, renderer.T_ego_from_cam, timestamp=t)
            instances[name] = kernels.instance_map(render.actor, ep.id_of_actor)  # actor -1 -> 0
            if n:
                visible = np.maximum(visible, visible_fractions(renderer, render, scene, boxes_ego))
        lidars = {}
        counts = np.zeros(n, np.int64)

        def pose_at(tt: float) -> np.ndarray:  # the ego's pose in the scene at time tt (a lidar's firing times)
            return T_scene_from_ego if tt == t else _ego_pose(scen.ego_state(tt), centre)

        for li, (name, renderer) in enumerate(self.lidars.items()):
            rng = np.random.default_rng(np.random.SeedSequence([ep.seed, k, _STREAM_LIDAR, li]))
            out = renderer.render(scene, pose_at, t, ep.materials, ep.conditions, rng, ep.ids, ep.surf.snow_cover)
            lidars[name] = out.lidar
            counts += out.actor_points
        objects = frame_objects(scen.actors, boxes_ego, placed.velocities, T_world_from_ego, ego.speed,
                                ego.yaw_rate, visible, counts, self.path_config)
        ep.index += 1
        return Frame(
            index=k, timestamp=t, ego=ego, cameras=cameras, lidars=lidars, objects=objects,
            meta={"simulator": "embedded", "scenario": scen.name, "params": dict(scen.values), "seed": ep.seed,
                  "instance_ids": instances},
        )

    # -- helpers --------------------------------------------------------------
    def _ego_state(self, scen: Scenario, t: float, T_world_from_ego: np.ndarray, now: MoverState) -> EgoState:
        """The ego's state at ``t``, whose pose and kinematic state are ``T_world_from_ego`` and ``now``."""
        h = 0.05
        before, after = scen.ego_state(max(t - h, 0.0)), scen.ego_state(t + h)
        span = t + h - max(t - h, 0.0)
        return EgoState(
            T_world_from_ego=T_world_from_ego,
            velocity=np.array([now.speed, 0.0, 0.0]),
            yaw_rate=float(wrap_angle(after.yaw - before.yaw)) / span,
            acceleration=(after.speed - before.speed) / span,
        )

    def _light_rig(self, ep: _Episode, T_scene_from_ego: np.ndarray, centre: np.ndarray) -> LightRig:
        """The frame's street lamps and headlights in scene coordinates (world axes about ``centre``)."""
        c = ep.conditions
        lamps = (ep.world.lamps - centre).astype(np.float32) if c.street_lights else np.zeros((0, 3), np.float32)
        if c.headlights:
            pos = np.array(HEADLIGHT_POS) @ T_scene_from_ego[:3, :3].T + T_scene_from_ego[:3, 3]
            heads = pos.astype(np.float32)
        else:
            heads = np.zeros((0, 3), np.float32)
        frame = T_scene_from_ego[:3, :3].T.astype(np.float32)
        return LightRig(lamps=lamps, lamp_cd=LAMP_CD, headlights=heads, headlight_frame=frame)
