"""The simulator protocol, weather/lighting conditions and the sensor rig.

Both backends (``embedded`` and ``carla``) accept the same :class:`Conditions`
and :class:`SensorRig` and produce the same :class:`~simtest.types.Frame`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, runtime_checkable

import numpy as np

from simtest.types import Frame, make_transform, rotation_rpy

if TYPE_CHECKING:
    from simtest.scenario import Scenario

KOSCHMIEDER = -math.log(0.05)
"""Meteorological optical range (MOR) x extinction coefficient: contrast falls to 5 % at the MOR."""


def fog_alpha_from_visibility(visibility_m: float) -> float:
    """Extinction coefficient alpha (1/m) for a meteorological optical range in metres."""
    if visibility_m <= 0:
        raise ValueError(f"fog visibility must be positive metres, got {visibility_m}")
    return 0.0 if math.isinf(visibility_m) else KOSCHMIEDER / visibility_m


@dataclass(frozen=True)
class Conditions:
    """Weather and lighting, shared by every backend.

    Units: ``cloudiness`` and ``road_wetness`` 0..1; ``rain_rate`` and
    ``snowfall_rate`` in mm/h (liquid-water equivalent for snow);
    ``fog_visibility`` is the meteorological optical range in metres (``inf`` = no
    fog); sun angles in degrees (altitude above the horizon, azimuth
    counter-clockwise from the world +x axis); ``street_lights`` and
    ``headlights`` switch night lighting.
    """

    cloudiness: float = 0.0
    rain_rate: float = 0.0
    snowfall_rate: float = 0.0
    fog_visibility: float = math.inf
    road_wetness: float = 0.0
    sun_altitude: float = 60.0
    sun_azimuth: float = 135.0
    street_lights: bool = False
    headlights: bool = False

    def __post_init__(self) -> None:
        for name in ("cloudiness", "road_wetness"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"conditions.{name}: must lie in [0, 1], got {v}")
        for name in ("rain_rate", "snowfall_rate"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"conditions.{name}: must be a non-negative rate in mm/h, got {v}")
        if not (self.fog_visibility > 0):
            raise ValueError(
                f"conditions.fog_visibility: must be a positive optical range in metres (inf for none), got {self.fog_visibility}"
            )
        if not -90.0 <= self.sun_altitude <= 90.0:
            raise ValueError(f"conditions.sun_altitude: must lie in [-90, 90] degrees, got {self.sun_altitude}")
        if not math.isfinite(self.sun_azimuth):
            raise ValueError(f"conditions.sun_azimuth: must be finite degrees, got {self.sun_azimuth}")

    @property
    def fog_alpha(self) -> float:
        """Extinction coefficient of the fog (1/m), 0 when there is none."""
        return fog_alpha_from_visibility(self.fog_visibility)

    @property
    def is_night(self) -> bool:
        return self.sun_altitude < -6.0

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "conditions") -> Conditions:
        """Build from a mapping; unknown keys are an error naming the key.

        ``fog_density`` (alpha, 1/m) is accepted in place of ``fog_visibility``.
        """
        data = dict(data)
        if "fog_density" in data:
            alpha = float(data.pop("fog_density"))
            if alpha < 0:
                raise ValueError(f"{where}.fog_density: must be >= 0 (1/m), got {alpha}")
            data["fog_visibility"] = math.inf if alpha == 0 else KOSCHMIEDER / alpha
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known | {'fog_density'})}")
        try:
            return cls(**data)
        except ValueError as e:
            raise ValueError(str(e).replace("conditions.", f"{where}.", 1)) from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Conditions] = {
    "clear_noon": Conditions(),
    "cloudy": Conditions(cloudiness=0.8, sun_altitude=45.0),
    "dusk": Conditions(cloudiness=0.2, sun_altitude=5.0, sun_azimuth=200.0, headlights=True),
    "night": Conditions(sun_altitude=-30.0, street_lights=True, headlights=True),
    "night_unlit": Conditions(sun_altitude=-30.0, headlights=True),
    "fog_light": Conditions(cloudiness=0.6, fog_visibility=300.0),
    "fog_dense": Conditions(cloudiness=0.9, fog_visibility=50.0),
    "rain_light": Conditions(cloudiness=0.7, rain_rate=2.5, road_wetness=0.6),
    "rain_heavy": Conditions(cloudiness=1.0, rain_rate=25.0, road_wetness=1.0, sun_altitude=40.0),
    "snow": Conditions(cloudiness=0.9, snowfall_rate=2.0, sun_altitude=30.0),
}
"""Named conditions for sweeps and tests."""


Angles = Literal["uniform", "hdl64"]


@dataclass(frozen=True)
class Mount:
    """Sensor pose on the ego vehicle: position (m) and roll/pitch/yaw (deg) in the ego frame."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0

    def T_ego_from_sensor(self) -> np.ndarray:
        """Transform from a sensor frame with x forward, y left, z up to the ego frame."""
        r = rotation_rpy(*np.radians([self.roll, self.pitch, self.yaw]))
        return make_transform(r, (self.x, self.y, self.z))


# OpenCV camera axes (x right, y down, z forward) expressed in a forward-left-up sensor frame.
_CAM_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class CameraSpec:
    """Pinhole RGB camera. ``fov`` is the horizontal field of view in degrees."""

    width: int = 640
    height: int = 384
    fov: float = 90.0
    mount: Mount = field(default_factory=lambda: Mount(x=1.5, z=1.6))
    shadows: bool = True

    def __post_init__(self) -> None:
        if self.width < 32 or self.height < 32:
            raise ValueError(f"camera: width and height must be >= 32 px, got {self.width}x{self.height}")
        if not 1.0 <= self.fov < 179.0:
            raise ValueError(f"camera.fov: horizontal field of view must lie in [1, 179) degrees, got {self.fov}")

    def K(self) -> np.ndarray:
        f = 0.5 * self.width / math.tan(math.radians(self.fov) / 2)
        return np.array([[f, 0.0, self.width / 2], [0.0, f, self.height / 2], [0.0, 0.0, 1.0]])

    def T_ego_from_cam(self) -> np.ndarray:
        """Mount transform for OpenCV camera axes."""
        T = self.mount.T_ego_from_sensor()
        T[:3, :3] = T[:3, :3] @ _CAM_AXES
        return T


# Velodyne HDL-64E S2 elevation angles (degrees): upper block +2..-8.33 in 1/3 deg steps,
# lower block -8.83..-24.33 in 1/2 deg steps (published data sheet figures).
HDL64_ELEVATIONS = np.concatenate([np.linspace(2.0, -8.33, 32), np.linspace(-8.83, -24.33, 32)])


@dataclass(frozen=True)
class LidarSpec:
    """Spinning lidar. Beam elevations ``uniform`` over [fov_down, fov_up] or the HDL-64 table."""

    beams: int = 64
    azimuth_steps: int = 1024
    range: float = 120.0
    fov_up: float = 2.0
    fov_down: float = -24.8
    angles: Angles = "uniform"
    rotation_hz: float = 10.0
    motion_distortion: bool = False
    mount: Mount = field(default_factory=lambda: Mount(x=0.0, z=1.9))

    def __post_init__(self) -> None:
        if self.beams < 1 or self.azimuth_steps < 8:
            raise ValueError(f"lidar: beams >= 1 and azimuth_steps >= 8 required, got {self.beams}, {self.azimuth_steps}")
        if self.angles == "hdl64" and self.beams != 64:
            raise ValueError(f"lidar.angles: 'hdl64' needs beams=64, got {self.beams}")
        if self.angles not in ("uniform", "hdl64"):
            raise ValueError(f"lidar.angles: expected 'uniform' or 'hdl64', got {self.angles!r}")
        if not self.fov_down < self.fov_up:
            raise ValueError(f"lidar: fov_down ({self.fov_down}) must be below fov_up ({self.fov_up})")
        if self.range <= 0:
            raise ValueError(f"lidar.range: must be positive metres, got {self.range}")

    def elevations(self) -> np.ndarray:
        """Beam elevation angles in degrees, lowest beam first (ring 0)."""
        if self.angles == "hdl64":
            return np.sort(HDL64_ELEVATIONS)
        return np.linspace(self.fov_down, self.fov_up, self.beams)


@dataclass(frozen=True)
class SensorRig:
    """The sensors on the ego vehicle, by name."""

    cameras: dict[str, CameraSpec] = field(default_factory=lambda: {"front": CameraSpec()})
    lidars: dict[str, LidarSpec] = field(default_factory=lambda: {"top": LidarSpec()})


@runtime_checkable
class Simulator(Protocol):
    """One connection to a simulator, reused across episodes.

    Use as a context manager so that ``close`` always runs::

        with EmbeddedSimulator(rig) as sim:
            sim.reset(scenario, conditions, seed=3)
            frames = [sim.step() for _ in range(20)]
    """

    rig: SensorRig

    def reset(self, scenario: Scenario, conditions: Conditions, seed: int) -> None:
        """Start a new episode of ``scenario`` under ``conditions``; same seed, same frames."""

    def step(self) -> Frame:
        """Advance one fixed time step and return the sensors' frame with ground truth."""

    def close(self) -> None:
        """Release every resource (scene, server connection, actors)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
