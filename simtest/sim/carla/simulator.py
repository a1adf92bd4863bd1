"""CarlaSimulator: the :class:`~simtest.sim.base.Simulator` protocol on a CARLA 0.9.x server.

One :class:`CarlaSimulator` holds one connection (and, when it launched it, one
server) across episodes. Each episode runs in synchronous mode with a fixed time
step; the Traffic Manager is synchronous and seeded with the episode seed.

Failure handling: any error from the server during ``reset`` or ``step`` tears
the episode down (actors destroyed, world settings restored, best effort on a
dead server), stops the server when simtest owns it (the next ``reset``
launches a fresh one, so a hung or bloated server never serves another
episode), and raises a
:class:`~simtest.sim.carla.errors.CarlaServerError` so that the runner's retry
policy retries the cell. A frame whose sensors do not all deliver within
``sensor_timeout`` is dropped and counted; more than ``max_dropped_frames`` in a
row fail the episode.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Self, TypeVar

import numpy as np

from simtest.scenario import LAYOUTS
from simtest.sim.base import Conditions, SensorRig
from simtest.sim.carla.coords import array_to_location, matrix_to_transform, transform_to_matrix
from simtest.sim.carla.decode import rgb_image
from simtest.sim.carla.episode import ActorPlan, EpisodePlan
from simtest.sim.carla.errors import CarlaServerError, CarlaTimeoutError, classify_rpc_error, server_is_unusable
from simtest.sim.carla.ground_truth import EpisodeActor, frame_objects
from simtest.sim.carla.lidar import lidar_from_carla
from simtest.sim.carla.patches import actor_object_name, apply_texture, check_patch_objects, patch_assignments
from simtest.sim.carla.sensors import LidarOptions, SensorPlan, configure_blueprint, sensor_plans
from simtest.sim.carla.server import CarlaConnection, ClientFactory, ServerConfig, default_client_factory, free_port_pair
from simtest.sim.carla.sync import FrameCollector
from simtest.sim.carla.translate import BLUEPRINTS, Anchor, find_anchor, translate, x_extent
from simtest.sim.carla.visibility import SILHOUETTE_FILL
from simtest.sim.carla.weather import WeatherOptions, conditions_to_weather
from simtest.sim.ground_truth import PathConfig
from simtest.types import Camera, EgoState, Frame, make_transform, rotation_z, wrap_angle

if TYPE_CHECKING:
    from perturbations.patch import Patch
    from simtest.scenario import Scenario

log = logging.getLogger(__name__)

SPAWN_CLEARANCE = 1.0
"""Height (m) above its pose at which an actor is spawned before being placed."""

_T = TypeVar("_T")


def srgb8(linear: tuple[float, float, float]) -> tuple[int, int, int]:
    """Linear RGB (0..1) -> 8-bit sRGB, for CARLA's ``color`` blueprint attribute."""
    c = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    s = np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)
    r, g, b = (int(v) for v in np.round(s * 255))
    return r, g, b


def _typed(cls: type[_T], value: _T | Mapping[str, Any] | None, where: str) -> _T:
    """Accept a typed options object, a plain mapping (from Hydra) or None (defaults)."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        from_dict = getattr(cls, "from_dict", None)
        if from_dict is not None:
            return from_dict(value, where=where)
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(value))
    raise ValueError(f"{where}: expected a mapping of options, got {type(value).__name__}")


@dataclass
class _Episode:
    """State of the running episode (everything spawned, for teardown)."""

    plan: EpisodePlan
    conditions: Conditions
    seed: int
    ego: Any = None
    spawned: list[Any] = field(default_factory=list)
    z_offset: dict[str, float] = field(default_factory=dict)
    actors: dict[str, Any] = field(default_factory=dict)
    controllers: list[Any] = field(default_factory=list)
    sensors: dict[str, Any] = field(default_factory=dict)
    plans: dict[str, SensorPlan] = field(default_factory=dict)
    collector: FrameCollector | None = None
    t: float = 0.0
    index: int = 0
    start_elapsed: float = 0.0
    last_elapsed: float = 0.0
    last_poses: dict[str, np.ndarray] = field(default_factory=dict)
    last_speed: float = 0.0
    dropped: int = 0
    reset_time_s: float = 0.0


class CarlaSimulator:
    """Simulator protocol on CARLA. See the module docstring and docs/carla.md.

    ``rig``: the sensors (:class:`~simtest.sim.base.SensorRig`); ``server``:
    :class:`ServerConfig` or its mapping; ``dt``: the fixed time step (s);
    ``sensor_timeout``: how long to wait for a tick's sensor data (s);
    ``max_dropped_frames``: incomplete frames in a row before the episode fails;
    ``health_every``: steps between server health checks; ``weather``: the
    Conditions -> CARLA weather calibration (:class:`WeatherOptions`); ``lidar``:
    CARLA's own lidar effects (:class:`LidarOptions`); ``silhouette_fill`` and
    ``label_tolerance`` (m): visible-fraction and lidar-label parameters;
    ``ground_truth``: the in-path corridor and stopping envelope
    (:class:`~simtest.sim.ground_truth.PathConfig`, shared with the embedded
    simulator); ``anchors``: where each road layout sits on a CARLA map
    (:class:`Anchor` per layout); ``blueprints``: asset model -> CARLA blueprint
    overrides; ``patch_objects``: actor role -> CARLA object name, for rigs whose
    object names do not carry the actor id (see ``reset``'s ``patches``).
    ``client_factory`` builds the ``carla.Client`` (tests pass a stand-in).
    """

    def __init__(
        self,
        rig: SensorRig | None = None,
        *,
        server: ServerConfig | Mapping[str, Any] | None = None,
        dt: float = 0.1,
        sensor_timeout: float = 2.0,
        max_dropped_frames: int = 5,
        health_every: int = 20,
        weather: WeatherOptions | Mapping[str, Any] | None = None,
        lidar: LidarOptions | Mapping[str, Any] | None = None,
        silhouette_fill: Mapping[str, float] | None = None,
        label_tolerance: float = 0.02,
        ground_truth: PathConfig | Mapping[str, Any] | None = None,
        anchors: Mapping[str, Anchor | Mapping[str, Any]] | None = None,
        blueprints: Mapping[str, str] | None = None,
        patch_objects: Mapping[str, str] | None = None,
        client_factory: ClientFactory = default_client_factory,
    ) -> None:
        if not 0 < dt <= 0.5:
            raise ValueError(f"sim.dt: the fixed time step must lie in (0, 0.5] seconds, got {dt}")
        if max_dropped_frames < 0:
            raise ValueError(f"sim.max_dropped_frames: must be >= 0, got {max_dropped_frames}")
        if health_every < 1:
            raise ValueError(f"sim.health_every: must be >= 1 step, got {health_every}")
        if rig is not None and not isinstance(rig, SensorRig):
            raise ValueError(
                f"sim.rig: expected a simtest.sim.base.SensorRig, got {type(rig).__name__}; build it with "
                "simtest.config.to_rig and pass it as rig= (with _convert_: object the rig stays typed)"
            )
        self.rig = rig if rig is not None else SensorRig()
        self.server_config = _typed(ServerConfig, server, "sim.server")
        self.dt = float(dt)
        self.sensor_timeout = float(sensor_timeout)
        self.max_dropped_frames = int(max_dropped_frames)
        self.health_every = int(health_every)
        self.weather_options = _typed(WeatherOptions, weather, "sim.weather")
        self.lidar_options = _typed(LidarOptions, lidar, "sim.lidar")
        fill = dict(SILHOUETTE_FILL if silhouette_fill is None else silhouette_fill)
        bad = {k: v for k, v in fill.items() if not 0 < v <= 1}
        if bad:
            raise ValueError(f"sim.silhouette_fill: values must lie in (0, 1], got {bad}")
        self.silhouette_fill = fill
        # Points of the two lidars coincide up to CARLA's range noise.
        self.label_tolerance = max(float(label_tolerance), 4.0 * self.lidar_options.noise_stddev)
        self.anchors = {
            layout: _typed(Anchor, (anchors or {}).get(layout), f"sim.anchors.{layout}") for layout in LAYOUTS
        }
        unknown = sorted(set(anchors or {}) - set(LAYOUTS))
        if unknown:
            raise ValueError(f"sim.anchors: unknown layout(s) {unknown}; expected some of {list(LAYOUTS)}")
        self.blueprints = {**BLUEPRINTS, **dict(blueprints or {})}
        self.patch_objects = check_patch_objects(patch_objects)
        self.path_config = (
            ground_truth if isinstance(ground_truth, PathConfig)
            else PathConfig.from_mapping(dict(ground_truth or {}), where="sim.ground_truth")
        )
        self._anchor_cache: dict[tuple[Any, ...], np.ndarray] = {}
        self._painted: set[str] = set()
        self.sensor_plans = sensor_plans(self.rig, self.dt, self.lidar_options)  # validates the rig early
        self.connection = CarlaConnection(self.server_config, client_factory)
        self.world: Any = None
        self.traffic_manager: Any = None
        self.tm_port = self.server_config.tm_port
        self._original_settings: Any = None
        self._episode: _Episode | None = None
        self.stats = {"dropped_frames": 0, "stale_messages": 0, "relaunches": 0, "resets": 0, "last_reset_s": 0.0}

    # ------------------------------------------------------------------ protocol
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self, scenario: Scenario | EpisodePlan, conditions: Conditions, seed: int, *,
              patches: Sequence[Patch] = ()) -> None:
        """Start an episode of ``scenario`` (or an already translated plan) under ``conditions``.

        ``patches``: physical patches (:class:`perturbations.patch.Patch`) worn by
        the actors their placements name, as in the embedded simulator; on CARLA
        each texture replaces the target actor's whole diffuse texture (the
        placement's face, size and position cannot be honoured; docs/carla.md).
        """
        start = time.perf_counter()
        self._guarded("reset", lambda: self._reset(scenario, conditions, int(seed), tuple(patches)))
        elapsed = time.perf_counter() - start
        if self._episode is not None:
            self._episode.reset_time_s = elapsed
        self.stats["resets"] += 1
        self.stats["last_reset_s"] = elapsed
        log.info("CARLA episode reset took %.3f s (seed %d)", elapsed, seed)

    def step(self) -> Frame:
        """Advance one fixed step; returns the first complete frame (dropping incomplete ones)."""
        if self._episode is None:
            raise RuntimeError("CarlaSimulator.step() called before reset()")
        return self._guarded("step", self._step)

    def close(self) -> None:
        """Destroy the episode's actors, restore the world settings, release the server."""
        try:
            self._teardown(restore_settings=True)
        finally:
            self.world = None
            self.traffic_manager = None
            self.connection.close()

    # ------------------------------------------------------------------ patches
    def apply_texture(self, object_name: str, texture: np.ndarray, parameter: str = "Diffuse") -> None:
        """Paint ``texture`` (H x W x 3) on the CARLA object ``object_name`` for this episode (see patches.py).

        CARLA cannot undo a texture, so the next ``reset`` reloads the map to
        start from clean textures.
        """
        if self.world is None or self._episode is None:
            raise RuntimeError("CarlaSimulator.apply_texture() paints into an episode; call reset() first")
        self._guarded("apply_texture", lambda: apply_texture(self.world, object_name, texture, parameter))
        self._painted.add(object_name)

    def object_names(self, contains: str = "") -> list[str]:
        """Names of the map's objects (for ``apply_texture``) that contain ``contains``, sorted."""
        if self.world is None:
            raise RuntimeError("CarlaSimulator.object_names() needs a connected world; call reset() first")
        return sorted(n for n in self.world.get_names_of_all_objects() if contains in n)

    # ------------------------------------------------------------------ internals
    def _guarded(self, where: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except RuntimeError as e:
            err = classify_rpc_error(e, where=f"CarlaSimulator.{where}")
            self._fail(err)
            if err is e:
                raise
            raise err from e

    def _fail(self, err: CarlaServerError) -> None:
        """Tear the episode down; drop (and stop, when ours) a server that must not be reused."""
        log.error("CARLA episode failed: %s", err)
        try:
            self._teardown(restore_settings=True)
        except Exception as cleanup:  # noqa: BLE001 - the server may be gone; the original error matters
            log.warning("cleanup after failure did not complete: %s", cleanup)
        self._episode = None
        if server_is_unusable(err):
            self.world = None
            self.traffic_manager = None
            self._original_settings = None
            self._painted.clear()  # a new server starts with clean textures
            self.connection.discard()

    def _connect(self) -> None:
        if self.connection.client is None:
            self.connection.open()
            self.stats["relaunches"] = self.connection.relaunches
        if self.world is None:
            self.world = self.connection.client.get_world()
            self._original_settings = self.world.get_settings()

    def _reset(self, scenario: Scenario | EpisodePlan, conditions: Conditions, seed: int,
               patches: tuple[Patch, ...]) -> None:
        self._connect()
        self.connection.check_health()
        self._teardown(restore_settings=False)
        if self._painted:
            log.info("reloading the map to clear the textures painted on %s", sorted(self._painted))
            self.world = self.connection.client.reload_world(False)  # keep the world settings
            self._painted.clear()
        if isinstance(scenario, EpisodePlan):
            plan = scenario
            self._load_map(plan.map)
        else:
            plan = self._translate(scenario)
        worn = patch_assignments(patches, [(a.name, a.cls) for a in plan.actors])
        client = self.connection.client
        ep = _Episode(plan=plan, conditions=conditions, seed=seed)
        self._episode = ep
        try:
            self._apply_sync_settings()
            if self.tm_port is None:
                self.tm_port = free_port_pair()
            self.traffic_manager = client.get_trafficmanager(self.tm_port)
            self.traffic_manager.set_synchronous_mode(True)
            self.traffic_manager.set_random_device_seed(seed % 2**31)  # CARLA takes a 32-bit seed
            self.world.set_weather(conditions_to_weather(conditions, self.weather_options))
            self._set_lights(conditions)
            self._spawn(ep)
            first = self.world.tick(self.server_config.timeout)
            self._wear_patches(ep, worn)
            snapshot = self.world.get_snapshot()
            ep.start_elapsed = ep.last_elapsed = float(snapshot.timestamp.elapsed_seconds)
            ep.last_poses = self._poses(snapshot, ep)
            self._start_ai(ep)
            # Data of the settling tick are older than any later frame: the collector drops them as stale.
            log.debug("episode settled at world frame %d", first)
        except BaseException:
            try:
                self._teardown(restore_settings=True)
            except Exception as cleanup:  # noqa: BLE001 - keep the original error
                log.warning("cleanup after a failed reset did not complete: %s", cleanup)
            raise

    def _wear_patches(self, ep: _Episode, worn: Sequence[tuple[Patch, str]]) -> None:
        """Paint each patch's texture on its actor's object (after the settling tick: the objects exist)."""
        if not worn:
            return
        names = list(self.world.get_names_of_all_objects())
        blueprints = [a.blueprint for a in ep.plan.actors] + [ep.plan.ego.blueprint]
        by_name = {a.name: a for a in ep.plan.actors}
        for patch, role in worn:
            bp = by_name[role].blueprint
            target = actor_object_name(names, role, int(ep.actors[role].id), bp, self.patch_objects,
                                       shared_blueprint=blueprints.count(bp) > 1)
            self._painted.add(target)  # before the call: a half-applied texture still needs the map reload
            apply_texture(self.world, target, patch.texture)
            log.info("patch %s painted on actor %s (object %s)", patch.name, role, target)

    def _load_map(self, name: str | None) -> None:
        """Load map ``name`` unless it is the current one (reloading leaks server memory)."""
        if name is not None and self.world.get_map().name.split("/")[-1] != name:
            log.info("loading CARLA map %s", name)
            client = self.connection.client
            # Loading a town takes longer than an ordinary call: allow the start-up time.
            client.set_timeout(max(self.server_config.timeout, self.server_config.startup_timeout))
            try:
                self.world = client.load_world(name)
            finally:
                client.set_timeout(self.server_config.timeout)

    def _translate(self, scenario: Scenario) -> EpisodePlan:
        """Place ``scenario`` on its layout's anchor (searched once per map and road shape)."""
        anchor = self.anchors[scenario.world.layout]
        self._load_map(anchor.map)
        if anchor.location is not None:
            T = anchor.transform()
        else:
            extent = x_extent(scenario)
            w = scenario.world
            key = (self.world.get_map().name, w.layout, w.lanes, w.intersection_x, *np.round(extent))
            if key not in self._anchor_cache:
                self._anchor_cache[key] = find_anchor(self.world.get_map(), w, extent)
            T = self._anchor_cache[key]
        return translate(scenario, T, map_name=anchor.map, blueprints=self.blueprints)

    def _apply_sync_settings(self) -> None:
        settings = self.world.get_settings()
        settings.synchronous_mode = True
        settings.fixed_delta_seconds = self.dt
        self.world.apply_settings(settings)

    def _set_lights(self, conditions: Conditions) -> None:
        import carla

        lm = self.world.get_lightmanager()
        lights = lm.get_all_lights(carla.LightGroup.Street)
        (lm.turn_on if conditions.street_lights else lm.turn_off)(lights)

    def _spawn(self, ep: _Episode) -> None:
        import carla

        library = self.world.get_blueprint_library()
        ep.ego = self._spawn_actor(library, ep.plan.ego, ep)
        state = carla.VehicleLightState.NONE
        if ep.conditions.headlights:
            state = carla.VehicleLightState(int(carla.VehicleLightState.LowBeam) | int(carla.VehicleLightState.Position))
        ep.ego.set_light_state(state)
        for a in ep.plan.actors:
            ep.actors[a.name] = self._spawn_actor(library, a, ep)
        collector = FrameCollector([p.key for p in self.sensor_plans], self.sensor_timeout)
        for p in self.sensor_plans:
            sensor = self.world.spawn_actor(configure_blueprint(library, p), p.transform, attach_to=ep.ego)
            ep.spawned.append(sensor)
            ep.sensors[p.key] = sensor
            ep.plans[p.key] = p
            sensor.listen(collector.callback(p.key))
        ep.collector = collector

    def _spawn_actor(self, library: Any, plan: ActorPlan, ep: _Episode) -> Any:
        """Spawn above its first pose (CARLA rejects spawns touching the ground), then put the box bottom on it."""
        pose = np.asarray(plan.pose(0.0), dtype=np.float64)
        try:
            bp = library.find(plan.blueprint)
        except IndexError:
            raise ValueError(
                f"sim.blueprints: the CARLA server has no blueprint {plan.blueprint!r} (actor {plan.name!r}); "
                "map the model to one listed by world.get_blueprint_library()"
            ) from None
        if bp.has_attribute("role_name"):
            bp.set_attribute("role_name", plan.name)
        if bp.has_attribute("is_invincible"):
            bp.set_attribute("is_invincible", "false")
        if plan.colour is not None and bp.has_attribute("color"):
            bp.set_attribute("color", ",".join(str(v) for v in srgb8(plan.colour)))
        actor = self.world.spawn_actor(bp, self._carla_transform(pose + [0.0, 0.0, SPAWN_CLEARANCE, 0.0]))
        ep.spawned.append(actor)
        bb = actor.bounding_box
        ep.z_offset[plan.name] = float(bb.extent.z - bb.location.z)
        if plan.controller == "scripted":
            actor.set_simulate_physics(False)
        self._place(ep, plan, actor, 0.0)
        return actor

    def _start_ai(self, ep: _Episode) -> None:
        import carla

        library = self.world.get_blueprint_library()
        for a in ep.plan.actors:
            if a.controller != "ai" or a.ai_target is None:
                continue
            ctrl = self.world.spawn_actor(library.find("controller.ai.walker"), carla.Transform(), attach_to=ep.actors[a.name])
            ep.spawned.append(ctrl)
            ep.controllers.append(ctrl)
            ctrl.start()
            ctrl.go_to_location(array_to_location(a.ai_target))
            ctrl.set_max_speed(a.ai_speed)

    @staticmethod
    def _carla_transform(pose: np.ndarray) -> Any:
        return matrix_to_transform(make_transform(rotation_z(pose[3]), pose[:3]))

    def _place(self, ep: _Episode, plan: ActorPlan, actor: Any, t: float) -> None:
        """Put a scripted actor's box bottom on its pose at time ``t``."""
        pose = np.asarray(plan.pose(t), dtype=np.float64) + [0.0, 0.0, ep.z_offset[plan.name], 0.0]
        actor.set_transform(self._carla_transform(pose))

    def _move_scripted(self, ep: _Episode, t: float) -> None:
        self._place(ep, ep.plan.ego, ep.ego, t)
        for a in ep.plan.actors:
            if a.controller == "scripted":
                self._place(ep, a, ep.actors[a.name], t)

    def _poses(self, snapshot: Any, ep: _Episode) -> dict[str, np.ndarray]:
        """World-frame 4x4 poses of the ego and the actors in a snapshot."""
        out = {ep.plan.ego.name: transform_to_matrix(snapshot.find(ep.ego.id).get_transform())}
        for name, actor in ep.actors.items():
            out[name] = transform_to_matrix(snapshot.find(actor.id).get_transform())
        return out

    def _step(self) -> Frame:
        ep = self._episode
        if ep is None or ep.collector is None:
            raise RuntimeError("CarlaSimulator.step() called before reset()")
        if ep.index % self.health_every == 0:
            self.connection.check_health()
        data = None
        frame_id = -1
        for _ in range(self.max_dropped_frames + 1):
            self._move_scripted(ep, ep.t + self.dt)
            frame_id = self.world.tick(self.server_config.timeout)
            ep.t += self.dt
            data = ep.collector.collect(frame_id)
            if data is not None:
                break
            ep.dropped += 1
            self.stats["dropped_frames"] += 1
            log.warning("world frame %d incomplete (no data from %s); dropped", frame_id, list(ep.collector.last_missing))
        self.stats["stale_messages"] = ep.collector.stale_messages
        if data is None:
            raise CarlaTimeoutError(
                f"{self.max_dropped_frames + 1} consecutive world frames incomplete (last {frame_id}); sensors "
                f"{list(ep.collector.last_missing)} delivered nothing within sim.sensor_timeout={self.sensor_timeout} s"
            )
        return self._assemble(ep, frame_id, data)

    def _assemble(self, ep: _Episode, frame_id: int, data: dict[str, Any]) -> Frame:
        snapshot = self.world.get_snapshot()
        if snapshot.frame != frame_id:
            raise CarlaTimeoutError(f"world snapshot is of frame {snapshot.frame}, expected {frame_id}")
        elapsed = float(snapshot.timestamp.elapsed_seconds)
        poses = self._poses(snapshot, ep)
        span = max(elapsed - ep.last_elapsed, 1e-9)
        ego_name = ep.plan.ego.name
        T_ego = poses[ego_name]
        v_world = (T_ego[:3, 3] - ep.last_poses[ego_name][:3, 3]) / span
        velocity = T_ego[:3, :3].T @ v_world
        yaw_now = math.atan2(T_ego[1, 0], T_ego[0, 0])
        yaw_before = math.atan2(ep.last_poses[ego_name][1, 0], ep.last_poses[ego_name][0, 0])
        ego = EgoState(
            T_world_from_ego=T_ego,
            velocity=velocity,
            yaw_rate=float(wrap_angle(yaw_now - yaw_before)) / span,
            acceleration=(float(velocity[0]) - ep.last_speed) / span if ep.index > 0 else 0.0,
        )
        timestamp = elapsed - ep.start_elapsed
        cameras = {}
        instance = {}
        lidars = {}
        ids = [int(a.id) for a in ep.actors.values()]
        for key, msg in data.items():
            p = ep.plans[key]
            if p.role == "rgb":
                spec = self.rig.cameras[p.rig_name]
                cameras[p.rig_name] = Camera(rgb_image(msg), spec.K(), spec.T_ego_from_cam(), msg.timestamp - ep.start_elapsed)
            elif p.role == "instance":
                instance[p.rig_name] = msg
            elif p.role == "lidar":
                spec_l = self.rig.lidars[p.rig_name]
                rng = np.random.default_rng(np.random.SeedSequence([ep.seed, ep.index, sorted(self.rig.lidars).index(p.rig_name)]))
                lidars[p.rig_name] = lidar_from_carla(
                    msg, data[f"semantic/{p.rig_name}"], spec_l, ep.conditions, ids, rng,
                    timestamp=msg.timestamp - ep.start_elapsed, label_tolerance=self.label_tolerance,
                )
        actors = [
            EpisodeActor(
                name=a.name,
                actor_id=int(ep.actors[a.name].id),
                cls=a.cls,
                bounding_box=ep.actors[a.name].bounding_box,
                T_world_from_actor=poses[a.name],
                T_world_from_actor_before=ep.last_poses[a.name],
            )
            for a in ep.plan.actors
        ]
        objects = frame_objects(
            actors,
            T_ego,
            span,
            cameras={n: (self.rig.cameras[n], msg) for n, msg in instance.items()},
            lidars=lidars,
            ego_speed=float(velocity[0]),
            ego_yaw_rate=ego.yaw_rate,
            path=self.path_config,
            fill=self.silhouette_fill,
        )
        frame = Frame(
            index=ep.index,
            timestamp=timestamp,
            ego=ego,
            cameras=cameras,
            lidars=lidars,
            objects=objects,
            meta={
                "backend": "carla",
                "world_frame": int(frame_id),
                "dropped_frames": ep.dropped,
                "reset_time_s": ep.reset_time_s,
            },
        )
        ep.index += 1
        ep.last_poses = poses
        ep.last_elapsed = elapsed
        ep.last_speed = float(velocity[0])
        return frame

    def _teardown(self, *, restore_settings: bool) -> None:
        """Stop and destroy everything the episode spawned; optionally restore the world settings.

        Every step is attempted even when an earlier one fails (a dead server
        fails them all); the first error is raised at the end.
        """
        ep, self._episode = self._episode, None
        first_error: BaseException | None = None

        def attempt(fn: Callable[[], object]) -> None:
            nonlocal first_error
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - collected and re-raised below
                first_error = first_error or e

        if ep is not None:
            for sensor in ep.sensors.values():
                attempt(lambda s=sensor: s.is_listening and s.stop())
            for ctrl in ep.controllers:
                attempt(ctrl.stop)
            for actor in reversed(ep.spawned):  # sensors and controllers before their parents
                attempt(actor.destroy)
            if ep.collector is not None:
                ep.collector.clear()
        if restore_settings and self.world is not None and self._original_settings is not None:
            if self.traffic_manager is not None:
                attempt(lambda: self.traffic_manager.set_synchronous_mode(False))
            attempt(lambda: self.world.apply_settings(self._original_settings))
        if first_error is not None:
            raise first_error

