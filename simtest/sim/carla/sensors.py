"""The simtest sensor rig as CARLA sensor blueprints.

Every camera of the rig becomes two CARLA sensors with the same pose, size and
field of view: ``sensor.camera.rgb`` (the image) and
``sensor.camera.instance_segmentation`` (visible fraction). Every lidar becomes
``sensor.lidar.ray_cast`` (the points, with CARLA's attenuation and drop-off
parameters) and ``sensor.lidar.ray_cast_semantic`` (the object hit by each ray).

Each lidar sweeps one full turn per simulation step: ``rotation_frequency = 1/dt``
and ``points_per_second = beams x azimuth_steps / dt``, so one tick holds the
same ``beams x azimuth_steps`` rays as the embedded simulator's sweep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from simtest.sim.base import CameraSpec, LidarSpec, SensorRig
from simtest.sim.carla.coords import mount_to_transform

RGB = "sensor.camera.rgb"
INSTANCE = "sensor.camera.instance_segmentation"
LIDAR = "sensor.lidar.ray_cast"
SEMANTIC_LIDAR = "sensor.lidar.ray_cast_semantic"


@dataclass(frozen=True)
class LidarOptions:
    """CARLA's own lidar effects (see the CARLA sensor reference).

    CARLA's defaults drop 45 % of points at random; simtest's lidar weather model
    and perturbations handle drop-outs, so the default here is none.
    ``atmosphere_attenuation_rate`` (1/m) sets intensity = exp(-rate * range).
    """

    atmosphere_attenuation_rate: float = 0.004
    dropoff_general_rate: float = 0.0
    dropoff_intensity_limit: float = 0.8
    dropoff_zero_intensity: float = 0.4
    noise_stddev: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if v < 0:
                raise ValueError(f"sim.lidar.{f.name}: must be >= 0, got {v}")
        for name in ("dropoff_general_rate", "dropoff_intensity_limit", "dropoff_zero_intensity"):
            if getattr(self, name) > 1:
                raise ValueError(f"sim.lidar.{name}: is a probability in [0, 1], got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "sim.lidar") -> LidarOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class SensorPlan:
    """One CARLA sensor to spawn: ``key`` is ``<role>/<rig name>``, e.g. ``rgb/front``."""

    key: str
    rig_name: str
    role: str
    blueprint: str
    attributes: dict[str, str]
    transform: Any


def camera_attributes(spec: CameraSpec) -> dict[str, str]:
    return {"image_size_x": str(spec.width), "image_size_y": str(spec.height), "fov": repr(float(spec.fov)), "sensor_tick": "0.0"}


def lidar_attributes(spec: LidarSpec, dt: float, options: LidarOptions | None) -> dict[str, str]:
    """Attributes of a lidar blueprint; ``options`` None for the semantic lidar (no noise/drop-off)."""
    if spec.angles != "uniform":
        raise ValueError(
            f"lidar.angles: CARLA's ray_cast lidar spaces its beams uniformly between lower_fov and upper_fov; "
            f"{spec.angles!r} cannot be reproduced, set angles: uniform for sim=carla"
        )
    attrs = {
        "channels": str(spec.beams),
        "range": repr(float(spec.range)),
        "points_per_second": str(int(round(spec.beams * spec.azimuth_steps / dt))),
        "rotation_frequency": repr(1.0 / dt),
        "upper_fov": repr(float(spec.fov_up)),
        "lower_fov": repr(float(spec.fov_down)),
        "horizontal_fov": "360.0",
        "sensor_tick": "0.0",
    }
    if options is not None:
        attrs.update({f.name: repr(float(getattr(options, f.name))) for f in fields(options)})
    return attrs


def sensor_plans(rig: SensorRig, dt: float, lidar_options: LidarOptions) -> list[SensorPlan]:
    """The CARLA sensors for ``rig``, in a fixed order."""
    plans: list[SensorPlan] = []
    for name, cam in rig.cameras.items():
        t = mount_to_transform(cam.mount)
        attrs = camera_attributes(cam)
        plans.append(SensorPlan(f"rgb/{name}", name, "rgb", RGB, attrs, t))
        plans.append(SensorPlan(f"instance/{name}", name, "instance", INSTANCE, attrs, t))
    for name, lid in rig.lidars.items():
        t = mount_to_transform(lid.mount)
        plans.append(SensorPlan(f"lidar/{name}", name, "lidar", LIDAR, lidar_attributes(lid, dt, lidar_options), t))
        plans.append(SensorPlan(f"semantic/{name}", name, "semantic", SEMANTIC_LIDAR, lidar_attributes(lid, dt, None), t))
    return plans


def configure_blueprint(library: Any, plan: SensorPlan) -> Any:
    """Find ``plan.blueprint`` in the blueprint library and set its attributes."""
    bp = library.find(plan.blueprint)
    for key, value in plan.attributes.items():
        if not bp.has_attribute(key):
            raise ValueError(f"CARLA blueprint {plan.blueprint} has no attribute {key!r}; is the server CARLA 0.9.x?")
        bp.set_attribute(key, value)
    bp.set_attribute("role_name", plan.key)
    return bp
