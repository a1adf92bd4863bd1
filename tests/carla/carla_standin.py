"""A scripted stand-in for the CARLA *server side*, for tests (no server can run here).

It speaks the subset of the ``carla`` client API the backend uses, with the
real ``carla`` data types (Transform, Location, Rotation, BoundingBox,
WeatherParameters, WorldSettings). It works in CARLA's own left-handed frame
and uses ``carla``'s matrices, never simtest's conversion code, so tests that
pass through it check the conversions independently.

Sensors deliver data on ``world.tick()``:

* cameras render actors' boxes as filled polygons (painter's order, far first):
  RGB in a grey level, instance segmentation with the actor id in G/B;
* lidars cast real rays (CARLA's channel order, channel 0 the top beam) against
  the actors' oriented boxes and the ground plane ``z = 0``; ``ray_cast`` reports
  ``exp(-attenuation * range)`` intensity, ``ray_cast_semantic`` the object index.

Faults are scripted on :class:`StandinServer`: a sensor message dropped at a
frame, an RPC time-out at a frame, a crash at a frame, or a dead process found by
probing the server's TCP port.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import carla
import cv2
import numpy as np

DEFAULT_ATTRIBUTES: dict[str, dict[str, str]] = {
    "sensor.camera.rgb": {"image_size_x": "800", "image_size_y": "600", "fov": "90", "sensor_tick": "0.0"},
    "sensor.camera.instance_segmentation": {"image_size_x": "800", "image_size_y": "600", "fov": "90", "sensor_tick": "0.0"},
    "sensor.lidar.ray_cast": {
        "channels": "32", "range": "10.0", "points_per_second": "56000", "rotation_frequency": "10.0",
        "upper_fov": "10.0", "lower_fov": "-30.0", "horizontal_fov": "360.0", "sensor_tick": "0.0",
        "atmosphere_attenuation_rate": "0.004", "dropoff_general_rate": "0.45", "dropoff_intensity_limit": "0.8",
        "dropoff_zero_intensity": "0.4", "noise_stddev": "0.0",
    },
    "sensor.lidar.ray_cast_semantic": {
        "channels": "32", "range": "10.0", "points_per_second": "56000", "rotation_frequency": "10.0",
        "upper_fov": "10.0", "lower_fov": "-30.0", "horizontal_fov": "360.0", "sensor_tick": "0.0",
    },
}

VEHICLES = {  # base type, wheels, bounding-box half extents (m), roughly CARLA 0.9.16's
    "vehicle.lincoln.mkz_2020": ("car", 4, (2.45, 1.05, 0.75)),
    "vehicle.tesla.model3": ("car", 4, (2.40, 1.08, 0.75)),
    "vehicle.mini.cooper_s_2021": ("car", 4, (1.90, 0.95, 0.72)),
    "vehicle.nissan.patrol_2021": ("car", 4, (2.78, 1.07, 0.93)),
    "vehicle.mercedes.sprinter": ("van", 4, (2.96, 1.00, 1.29)),
    "vehicle.carlamotors.european_hgv": ("truck", 4, (4.40, 1.30, 1.90)),
    "vehicle.diamondback.century": ("bicycle", 2, (0.82, 0.19, 0.80)),
}
WALKERS = {
    "walker.pedestrian.0001": (0.19, 0.34, 0.93),
    "walker.pedestrian.0010": (0.15, 0.25, 0.65),
    "walker.pedestrian.0011": (0.15, 0.25, 0.65),
}


class Attribute:
    def __init__(self, value: str) -> None:
        self.value = value

    def as_str(self) -> str:
        return self.value

    def as_int(self) -> int:
        return int(float(self.value))

    def as_float(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return self.value


class Blueprint:
    def __init__(self, id: str, attributes: dict[str, str]) -> None:
        self.id = id
        self.attributes = dict(attributes)
        self.attributes.setdefault("role_name", "")

    def has_attribute(self, key: str) -> bool:
        return key in self.attributes

    def set_attribute(self, key: str, value: str) -> None:
        if key not in self.attributes:
            raise IndexError(f"blueprint {self.id} has no attribute {key}")
        self.attributes[key] = str(value)

    def get_attribute(self, key: str) -> Attribute:
        return Attribute(self.attributes[key])


class BlueprintLibrary:
    def __init__(self) -> None:
        self.ids = sorted([*DEFAULT_ATTRIBUTES, *VEHICLES, *WALKERS, "controller.ai.walker"])

    def find(self, id: str) -> Blueprint:
        if id not in self.ids:
            raise IndexError(f"blueprint {id!r} not found")
        attrs = dict(DEFAULT_ATTRIBUTES.get(id, {}))
        if id in VEHICLES:
            base, wheels, _ = VEHICLES[id]
            attrs.update(base_type=base, number_of_wheels=str(wheels), color="0,0,0")
        if id in WALKERS:
            attrs.update(is_invincible="true", speed="1.4")
        return Blueprint(id, attrs)

    def filter(self, pattern: str) -> list[Blueprint]:
        import fnmatch

        return [self.find(i) for i in self.ids if fnmatch.fnmatch(i, pattern)]


def _matrix(t: carla.Transform) -> np.ndarray:
    return np.array(t.get_matrix(), dtype=np.float64)


class Actor:
    def __init__(self, world: World, id: int, bp: Blueprint, transform: carla.Transform, parent: Actor | None) -> None:
        self.world = world
        self.id = id
        self.type_id = bp.id
        self.attributes = dict(bp.attributes)
        self.parent = parent
        self._transform = transform
        self._velocity = carla.Vector3D(0, 0, 0)
        self.is_alive = True
        self.simulate_physics = True
        self.light_state = carla.VehicleLightState.NONE
        if bp.id in VEHICLES:
            ex, ey, ez = VEHICLES[bp.id][2]
            self.bounding_box = carla.BoundingBox(carla.Location(0, 0, ez), carla.Vector3D(ex, ey, ez))
        elif bp.id in WALKERS:
            ex, ey, ez = WALKERS[bp.id]
            self.bounding_box = carla.BoundingBox(carla.Location(0, 0, 0), carla.Vector3D(ex, ey, ez))
        else:
            self.bounding_box = carla.BoundingBox(carla.Location(0, 0, 0), carla.Vector3D(0, 0, 0))

    def _check(self) -> None:
        self.world.server.check_rpc("actor call")
        if not self.is_alive:
            raise RuntimeError(f"trying to operate on a destroyed actor; an actor's function was called, but the actor is already destroyed. (id {self.id})")

    def get_transform(self) -> carla.Transform:
        self._check()
        if self.parent is None:
            return self._transform
        M = _matrix(self.parent.get_transform()) @ _matrix(self._transform)
        loc = carla.Location(*M[:3, 3])
        yaw = math.degrees(math.atan2(M[1, 0], M[0, 0]))
        pitch = math.degrees(math.asin(np.clip(M[2, 0], -1, 1)))
        roll = math.degrees(math.atan2(-M[2, 1], M[2, 2]))
        return carla.Transform(loc, carla.Rotation(pitch=pitch, yaw=yaw, roll=roll))

    def world_matrix(self) -> np.ndarray:
        if self.parent is None:
            return _matrix(self._transform)
        return self.parent.world_matrix() @ _matrix(self._transform)

    def set_transform(self, t: carla.Transform) -> None:
        self._check()
        self._transform = t

    def get_velocity(self) -> carla.Vector3D:
        self._check()
        return self._velocity

    def set_target_velocity(self, v: carla.Vector3D) -> None:
        self._check()
        self._velocity = v

    def set_simulate_physics(self, enabled: bool = True) -> None:
        self._check()
        self.simulate_physics = enabled

    def set_light_state(self, state: Any) -> None:
        self._check()
        self.light_state = state

    def destroy(self) -> bool:
        self.world.server.check_rpc("destroy")
        if not self.is_alive:
            return False
        self.is_alive = False
        self.world.actors.pop(self.id, None)
        return True


class Sensor(Actor):
    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.callback: Callable[[Any], None] | None = None

    @property
    def is_listening(self) -> bool:
        return self.callback is not None

    def listen(self, callback: Callable[[Any], None]) -> None:
        self._check()
        self.callback = callback

    def stop(self) -> None:
        self._check()
        self.callback = None


class WalkerController(Actor):
    """``controller.ai.walker``: walks its parent straight towards the target at the set speed."""

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.started = False
        self.target: carla.Location | None = None
        self.max_speed = 1.4

    def start(self) -> None:
        self._check()
        self.started = True

    def stop(self) -> None:
        self._check()
        self.started = False

    def go_to_location(self, location: carla.Location) -> None:
        self._check()
        self.target = location

    def set_max_speed(self, speed: float) -> None:
        self._check()
        self.max_speed = speed

    def advance(self, dt: float) -> None:
        walker = self.parent
        if not self.started or self.target is None or walker is None or not walker.is_alive:
            return
        t = walker._transform
        d = np.array([self.target.x - t.location.x, self.target.y - t.location.y])
        dist = float(np.hypot(*d))
        step = min(dist, self.max_speed * dt)
        u = d / dist if dist > 0 else np.zeros(2)
        walker._velocity = carla.Vector3D(*(u * (step / dt)), 0.0)
        yaw = math.degrees(math.atan2(u[1], u[0])) if dist > 0 else t.rotation.yaw
        walker._transform = carla.Transform(
            carla.Location(t.location.x + u[0] * step, t.location.y + u[1] * step, t.location.z), carla.Rotation(yaw=yaw)
        )


@dataclass
class ImageData:
    frame: int
    timestamp: float
    transform: carla.Transform
    width: int
    height: int
    fov: float
    raw_data: bytes


@dataclass
class LidarData:
    frame: int
    timestamp: float
    transform: carla.Transform
    channels: int
    counts: list[int]
    raw_data: bytes

    def get_point_count(self, channel: int) -> int:
        return self.counts[channel]


class ActorSnapshot:
    def __init__(self, transform: carla.Transform, velocity: carla.Vector3D) -> None:
        self._t, self._v = transform, velocity

    def get_transform(self) -> carla.Transform:
        return self._t

    def get_velocity(self) -> carla.Vector3D:
        return self._v


class WorldSnapshot:
    def __init__(self, frame: int, elapsed: float, actors: dict[int, ActorSnapshot]) -> None:
        self.frame = frame
        self.timestamp = _Timestamp(frame, elapsed)
        self._actors = actors

    def find(self, actor_id: int) -> ActorSnapshot | None:
        return self._actors.get(actor_id)


@dataclass
class _Timestamp:
    frame: int
    elapsed_seconds: float


class Map:
    def __init__(self, name: str) -> None:
        self.name = f"Carla/Maps/{name}"


class LightManager:
    def __init__(self) -> None:
        self.street_on: bool | None = None

    def get_all_lights(self, group: Any = None) -> list[str]:
        return [f"street_light_{i}" for i in range(3)]

    def turn_on(self, lights: list[str]) -> None:
        self.street_on = True

    def turn_off(self, lights: list[str]) -> None:
        self.street_on = False


class TrafficManager:
    def __init__(self, port: int) -> None:
        self.port = port
        self.synchronous: bool | None = None
        self.seed: int | None = None

    def set_synchronous_mode(self, mode: bool) -> None:
        self.synchronous = mode

    def set_random_device_seed(self, seed: int) -> None:
        self.seed = seed

    def get_port(self) -> int:
        return self.port


class World:
    """The stand-in's world: actors, settings, weather, and sensor rendering on tick."""

    def __init__(self, server: StandinServer, map_name: str) -> None:
        self.server = server
        self.map = Map(map_name)
        self.settings = carla.WorldSettings()
        self.weather = carla.WeatherParameters.ClearNoon
        self.frame = 1
        self.elapsed = 0.0
        self.actors: dict[int, Actor] = {}
        self.lightmanager = LightManager()
        self.textures: list[tuple[str, Any, int, int, np.ndarray]] = []
        self.rng = np.random.default_rng(0)
        self.ever_spawned: list[int] = []

    # --- settings / weather / map -------------------------------------------------
    def get_settings(self) -> carla.WorldSettings:
        self.server.check_rpc("get_settings")
        s = carla.WorldSettings()
        for k in ("synchronous_mode", "no_rendering_mode", "fixed_delta_seconds", "substepping"):
            setattr(s, k, getattr(self.settings, k))
        return s

    def apply_settings(self, s: carla.WorldSettings) -> int:
        self.server.check_rpc("apply_settings")
        self.settings = s
        return self.frame

    def set_weather(self, w: carla.WeatherParameters) -> None:
        self.server.check_rpc("set_weather")
        self.weather = w

    def get_weather(self) -> carla.WeatherParameters:
        return self.weather

    def get_map(self) -> Any:
        """A real client-side ``carla.Map`` when the server has an OpenDRIVE road network, else a named stub."""
        self.server.check_rpc("get_map")
        if self.server.xodr is not None:
            return carla.Map(self.map.name.split("/")[-1], self.server.xodr)
        return self.map

    def get_blueprint_library(self) -> BlueprintLibrary:
        self.server.check_rpc("get_blueprint_library")
        return BlueprintLibrary()

    def get_lightmanager(self) -> LightManager:
        return self.lightmanager

    def get_names_of_all_objects(self) -> list[str]:
        return ["SM_Sign_Stop_2", "BP_Wall_12", *[f"{a.type_id}_{a.id}" for a in self.actors.values()]]

    def apply_color_texture_to_object(self, name: str, parameter: Any, texture: carla.TextureColor) -> None:
        self.server.check_rpc("apply_color_texture_to_object")
        if name not in self.get_names_of_all_objects():
            raise RuntimeError(f"object {name} not found")
        w, h = texture.width, texture.height
        arr = np.zeros((h, w, 4), np.uint8)
        for y in range(h):
            for x in range(w):
                c = texture.get(x, y)
                arr[y, x] = (c.r, c.g, c.b, c.a)
        self.textures.append((name, parameter, w, h, arr))

    # --- actors ------------------------------------------------------------------
    def spawn_actor(self, bp: Blueprint, transform: carla.Transform, attach_to: Actor | None = None) -> Actor:
        self.server.check_rpc("spawn_actor")
        if self.server.fail_spawn_of == bp.id:
            raise RuntimeError(f"Spawn failed because of collision at spawn position ({bp.id})")
        self.server.next_id += 1
        cls = Sensor if bp.id.startswith("sensor.") else WalkerController if bp.id == "controller.ai.walker" else Actor
        actor = cls(self, self.server.next_id, bp, transform, attach_to)
        self.actors[actor.id] = actor
        self.ever_spawned.append(actor.id)
        return actor

    def try_spawn_actor(self, bp: Blueprint, transform: carla.Transform, attach_to: Actor | None = None) -> Actor | None:
        try:
            return self.spawn_actor(bp, transform, attach_to)
        except RuntimeError:
            return None

    def get_actors(self, ids: list[int] | None = None) -> list[Actor]:
        self.server.check_rpc("get_actors")
        acts = list(self.actors.values())
        return acts if ids is None else [a for a in acts if a.id in ids]

    def get_actor(self, actor_id: int) -> Actor | None:
        return self.actors.get(actor_id)

    def get_snapshot(self) -> WorldSnapshot:
        self.server.check_rpc("get_snapshot")
        snaps = {a.id: ActorSnapshot(a.get_transform(), a._velocity) for a in self.actors.values()}
        return WorldSnapshot(self.frame, self.elapsed, snaps)

    # --- simulation ----------------------------------------------------------------
    def tick(self, seconds: float = 10.0) -> int:
        self.server.check_rpc("tick")
        if not self.settings.synchronous_mode:
            raise RuntimeError("tick() called in asynchronous mode")
        next_frame = self.frame + 1
        if self.server.timeout_at_frame == next_frame:
            self.server.timeout_at_frame = None
            raise RuntimeError(f"time-out of {int(seconds * 1000)}ms while waiting for the simulator, make sure the simulator is ready and connected to localhost:{self.server.port}")
        if self.server.crash_at_frame == next_frame:
            self.server.crashed = True
            raise RuntimeError("rpc::rpc_error during call in function tick")
        self.frame = next_frame
        self.elapsed += float(self.settings.fixed_delta_seconds or 0.05)
        for a in list(self.actors.values()):
            if a.parent is None and a.simulate_physics and a.type_id in VEHICLES:
                v = a._velocity
                t = a._transform
                dt = float(self.settings.fixed_delta_seconds or 0.05)
                a._transform = carla.Transform(
                    carla.Location(t.location.x + v.x * dt, t.location.y + v.y * dt, t.location.z), t.rotation
                )
        for c in [a for a in self.actors.values() if isinstance(a, WalkerController)]:
            c.advance(float(self.settings.fixed_delta_seconds or 0.05))
        for s in [a for a in self.actors.values() if isinstance(a, Sensor) and a.callback is not None]:
            if (self.frame, s.attributes["role_name"]) in self.server.drop:
                continue
            data = self.render(s)
            if (self.frame, s.attributes["role_name"]) in self.server.delay:
                self.server.delayed.append((s, data))
                continue
            s.callback(data)
        held, self.server.delayed = self.server.delayed, []
        for s, data in held:
            if data.frame < self.frame and s.callback is not None:
                s.callback(data)
            else:
                self.server.delayed.append((s, data))
        return self.frame

    # --- sensor rendering (CARLA frame, carla matrices) -------------------------------
    def _objects(self) -> list[Actor]:
        return [a for a in self.actors.values() if a.bounding_box.extent.x > 0]

    def _box_world_vertices(self, a: Actor) -> np.ndarray:
        verts = a.bounding_box.get_world_vertices(a.get_transform())
        return np.array([[v.x, v.y, v.z] for v in verts])

    def render(self, s: Sensor) -> Any:
        if s.type_id.startswith("sensor.camera"):
            return self._render_camera(s)
        return self._render_lidar(s)

    def _render_camera(self, s: Sensor) -> ImageData:
        w, h = int(s.attributes["image_size_x"]), int(s.attributes["image_size_y"])
        fov = float(s.attributes["fov"])
        f = w / (2 * math.tan(math.radians(fov) / 2))
        M_inv = np.linalg.inv(s.world_matrix())
        img = np.zeros((h, w, 4), np.uint8)
        img[..., 3] = 255
        if s.type_id == "sensor.camera.rgb":
            img[..., :3] = 90
        own = s.parent.id if s.parent is not None else None
        items = []
        for a in self._objects():
            if a.id == own:
                continue
            p = self._box_world_vertices(a)
            pc = (M_inv[:3, :3] @ p.T).T + M_inv[:3, 3]  # UE sensor frame: x fwd, y right, z up
            if (pc[:, 0] <= 0.05).any():
                continue
            uv = np.stack([w / 2 + f * pc[:, 1] / pc[:, 0], h / 2 - f * pc[:, 2] / pc[:, 0]], 1)
            items.append((float(np.linalg.norm(pc.mean(0))), a.id, uv))
        for _, aid, uv in sorted(items, key=lambda t: -t[0]):
            hull = cv2.convexHull(np.round(uv).astype(np.int32))
            if s.type_id == "sensor.camera.rgb":
                colour = (200, 150, 100, 255)
            else:
                colour = ((aid >> 8) & 0xFF, aid & 0xFF, 10, 255)  # B, G, R, A
            cv2.fillConvexPoly(img, hull, colour)
        return ImageData(self.frame, self.elapsed, s.get_transform(), w, h, fov, img.tobytes())

    def _render_lidar(self, s: Sensor) -> LidarData:
        a = s.attributes
        ch = int(a["channels"])
        rng_max = float(a["range"])
        per_channel = int(round(float(a["points_per_second"]) / float(a["rotation_frequency"]) / ch))
        up, low = float(a["upper_fov"]), float(a["lower_fov"])
        elev = np.radians(up - np.arange(ch) * ((up - low) / max(ch - 1, 1)))
        az = np.radians(np.arange(per_channel) * 360.0 / per_channel)
        E, A = np.meshgrid(elev, az, indexing="ij")  # channel-major, like CARLA
        d = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], -1).reshape(-1, 3)
        Msw = s.world_matrix()
        o = Msw[:3, 3]
        dw = d @ Msw[:3, :3].T
        t_best = np.full(len(d), np.inf)
        obj = np.zeros(len(d), np.int64)
        # ground plane z = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            tg = np.where(dw[:, 2] < -1e-9, -o[2] / dw[:, 2], np.inf)
        t_best = np.minimum(t_best, tg)
        own = s.parent.id if s.parent is not None else None
        for act in self._objects():
            if act.id == own:
                continue
            M = _matrix(act.get_transform()) @ _matrix(carla.Transform(act.bounding_box.location, act.bounding_box.rotation))
            R, c = M[:3, :3], M[:3, 3]
            e = np.array([act.bounding_box.extent.x, act.bounding_box.extent.y, act.bounding_box.extent.z])
            ol = R.T @ (o - c)
            dl = dw @ R
            with np.errstate(divide="ignore", invalid="ignore"):
                t1 = (-e - ol) / dl
                t2 = (e - ol) / dl
            tmin = np.nanmax(np.minimum(t1, t2), axis=1)
            tmax = np.nanmin(np.maximum(t1, t2), axis=1)
            hit = (tmax >= tmin) & (tmin > 0) & (tmin < t_best)
            t_best = np.where(hit, tmin, t_best)
            obj = np.where(hit, act.id, obj)
        valid = t_best <= rng_max
        pts = d * np.where(valid, t_best, 0)[:, None]
        ring_channel = np.repeat(np.arange(ch), per_channel)
        semantic = s.type_id.endswith("semantic")
        if not semantic:
            keep = valid & (self.rng.random(len(d)) >= float(a["dropoff_general_rate"]))
        else:
            keep = valid
        pts, obj, chan, r = pts[keep], obj[keep], ring_channel[keep], t_best[keep]
        counts = [int((chan == c).sum()) for c in range(ch)]
        if semantic:
            cos_inc = np.ones(len(pts), np.float32)
            rec = np.zeros(len(pts), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("c", "<f4"), ("i", "<u4"), ("t", "<u4")])
            rec["x"], rec["y"], rec["z"], rec["c"], rec["i"] = pts[:, 0], pts[:, 1], pts[:, 2], cos_inc, obj
            rec["t"] = np.where(obj > 0, 14, 1)
            raw = rec.tobytes()
        else:
            inten = np.exp(-float(a["atmosphere_attenuation_rate"]) * r)
            raw = np.concatenate([pts, inten[:, None]], 1).astype("<f4").tobytes()
        return LidarData(self.frame, self.elapsed, s.get_transform(), ch, counts, raw)


@dataclass
class StandinServer:
    """Server-side state for one port, with scripted faults."""

    port: int
    map_name: str = "Town10HD_Opt"
    xodr: str | None = None
    pid: int | None = None
    crashed: bool = False
    next_id: int = 100
    timeout_at_frame: int | None = None
    crash_at_frame: int | None = None
    fail_spawn_of: str | None = None
    drop: set[tuple[int, str]] = field(default_factory=set)
    delay: set[tuple[int, str]] = field(default_factory=set)
    delayed: list[tuple[Sensor, Any]] = field(default_factory=list)
    probe_port: bool = False
    worlds_loaded: list[str] = field(default_factory=list)
    traffic_managers: dict[int, TrafficManager] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.world = World(self, self.map_name)

    def check_rpc(self, what: str) -> None:
        # A dead process is noticed where a real client notices it first: on tick and on connect.
        if self.probe_port and not self.crashed and what in ("tick", "version"):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2.0):
                    pass
            except OSError:
                self.crashed = True
        if self.crashed:
            raise RuntimeError(f"rpc::rpc_error during call in function {what}")


class Client:
    """``carla.Client`` stand-in bound to a :class:`StandinServer`."""

    def __init__(self, server: StandinServer) -> None:
        self.server = server
        self.timeout: float | None = None

    def set_timeout(self, seconds: float) -> None:
        self.timeout = seconds

    def get_server_version(self) -> str:
        self.server.check_rpc("version")
        return "0.9.16-standin"

    def get_client_version(self) -> str:
        return "0.9.16"

    def get_world(self) -> World:
        self.server.check_rpc("get_world")
        return self.server.world

    def get_available_maps(self) -> list[str]:
        return ["/Game/Carla/Maps/Town10HD_Opt", "/Game/Carla/Maps/Town05", "/Game/Carla/Maps/Town03"]

    def load_world(self, name: str) -> World:
        self.server.check_rpc("load_world")
        if not any(m.endswith("/" + name) for m in self.get_available_maps()):
            raise RuntimeError(f"map not found: {name}")
        settings = self.server.world.settings
        self.server.world = World(self.server, name)
        self.server.world.settings = settings
        self.server.worlds_loaded.append(name)
        return self.server.world

    def reload_world(self, reset_settings: bool = True) -> World:
        self.server.check_rpc("reload_world")
        settings = self.server.world.settings
        self.server.world = World(self.server, self.server.world.map.name.split("/")[-1])
        if not reset_settings:
            self.server.world.settings = settings
        self.server.worlds_loaded.append("reload")
        return self.server.world

    def get_trafficmanager(self, port: int = 8000) -> TrafficManager:
        self.server.check_rpc("get_trafficmanager")
        return self.server.traffic_managers.setdefault(port, TrafficManager(port))


class Registry:
    """Stand-in servers by port; a client factory for :class:`CarlaConnection`."""

    def __init__(self, **server_kw: Any) -> None:
        self.servers: dict[int, StandinServer] = {}
        self.server_kw = server_kw
        self.history: list[StandinServer] = []

    def server(self, port: int) -> StandinServer:
        if port not in self.servers or self.servers[port].crashed:
            self.servers[port] = StandinServer(port=port, **self.server_kw)
            self.history.append(self.servers[port])
        return self.servers[port]

    def __call__(self, host: str, port: int) -> Client:
        return Client(self.server(port))


def listening_socket() -> tuple[socket.socket, int]:
    """A socket that accepts TCP connections and never answers (an idle 'server')."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s, s.getsockname()[1]

