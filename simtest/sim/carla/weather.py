"""simtest :class:`~simtest.sim.base.Conditions` -> ``carla.WeatherParameters``.

The mapping (also tabulated in docs/carla.md):

=====================  ==========================  ==========================================
Conditions             WeatherParameters           rule
=====================  ==========================  ==========================================
cloudiness 0..1        cloudiness 0..100           x 100
rain_rate mm/h         precipitation 0..100        piecewise linear through RAIN_TO_PRECIPITATION
road_wetness 0..1      wetness 0..100              x 100
road_wetness, rain     precipitation_deposits      wetness x RAIN_TO_DEPOSITS(rain) (puddles)
rain                   wind_intensity 0..100       max(10, precipitation) unless set
sun_altitude deg       sun_altitude_angle deg      same
sun_azimuth deg (CCW)  sun_azimuth_angle deg (CW)  (-azimuth) mod 360: mirrored world
fog_visibility V m     fog_density 0..100          min(100, 100 alpha / alpha_full), alpha = 3.0 / V
                       fog_distance m              0: homogeneous fog from the camera (Koschmieder)
                       fog_falloff                 options.fog_falloff (0.2: uniform below ~10 m)
                       scattering_intensity        1 (CARLA default)
snowfall_rate          (none)                      CARLA 0.9.16 draws no snow: lidar model only
=====================  ==========================  ==========================================

Anchors: the rain table passes through CARLA's own presets (SoftRain 30,
MidRain 60, HardRain 100 precipitation; deposits 50/60/90) at the AMS rain
classes' boundaries (light < 2.5 mm/h, moderate < 7.6 mm/h, heavy), reaching
100 at 50 mm/h ("violent"). Fog: Unreal's exponential height fog extinguishes
``FogDensity / 1000`` per centimetre; with CARLA's percentage scaled to
``FogDensity`` 0..1 that is alpha = fog_density / 1000 per metre, so
``alpha_full = 0.1 /m`` (V = 30 m) is the default calibration. Check it on a rig
with the procedure in docs/carla.md and set ``fog_alpha_at_full_density``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtest.sim.base import Conditions

RAIN_TO_PRECIPITATION: tuple[tuple[float, ...], tuple[float, ...]] = (
    (0.0, 2.5, 7.6, 50.0),
    (0.0, 30.0, 60.0, 100.0),
)
"""Rain rate (mm/h) -> CARLA precipitation (0..100), linear between anchors, clamped above."""

RAIN_TO_DEPOSITS: tuple[tuple[float, ...], tuple[float, ...]] = (
    (0.0, 2.5, 7.6, 50.0),
    (50.0, 50.0, 60.0, 90.0),
)
"""Rain rate (mm/h) -> puddle cover (0..100) of a fully wet road; scaled by road_wetness."""

CALM_WIND = 10.0
"""CARLA's clear-weather presets' wind intensity (0..100)."""


@dataclass(frozen=True)
class WeatherOptions:
    """Calibration of the mapping (see the module docstring).

    ``fog_alpha_at_full_density`` is the extinction coefficient (1/m) that CARLA
    renders at ``fog_density = 100``; ``fog_falloff`` is CARLA's height falloff;
    ``wind_intensity`` (0..100) overrides the rain-driven default.
    """

    fog_alpha_at_full_density: float = 0.1
    fog_falloff: float = 0.2
    wind_intensity: float | None = None

    def __post_init__(self) -> None:
        if not (self.fog_alpha_at_full_density > 0 and math.isfinite(self.fog_alpha_at_full_density)):
            raise ValueError(
                "sim.weather.fog_alpha_at_full_density: must be a positive extinction coefficient in 1/m, "
                f"got {self.fog_alpha_at_full_density}"
            )
        if not self.fog_falloff >= 0:
            raise ValueError(f"sim.weather.fog_falloff: must be >= 0, got {self.fog_falloff}")
        if self.wind_intensity is not None and not 0 <= self.wind_intensity <= 100:
            raise ValueError(f"sim.weather.wind_intensity: must lie in [0, 100] or be null, got {self.wind_intensity}")


def precipitation(rain_rate: float) -> float:
    """CARLA precipitation (0..100) for a rain rate in mm/h."""
    return float(np.interp(rain_rate, *RAIN_TO_PRECIPITATION))


def fog_density(fog_alpha: float, options: WeatherOptions) -> float:
    """CARLA fog_density (0..100) for an extinction coefficient alpha (1/m)."""
    return float(min(100.0, 100.0 * fog_alpha / options.fog_alpha_at_full_density))


def weather_values(conditions: Conditions, options: WeatherOptions = WeatherOptions()) -> dict[str, float]:
    """The ``carla.WeatherParameters`` fields for ``conditions``, as plain floats."""
    precip = precipitation(conditions.rain_rate)
    deposits = conditions.road_wetness * float(np.interp(conditions.rain_rate, *RAIN_TO_DEPOSITS))
    wind = options.wind_intensity if options.wind_intensity is not None else max(CALM_WIND, precip)
    return {
        "cloudiness": 100.0 * conditions.cloudiness,
        "precipitation": precip,
        "precipitation_deposits": deposits,
        "wind_intensity": float(wind),
        "wetness": 100.0 * conditions.road_wetness,
        "sun_altitude_angle": float(conditions.sun_altitude),
        "sun_azimuth_angle": float((-conditions.sun_azimuth) % 360.0),
        "fog_density": fog_density(conditions.fog_alpha, options),
        "fog_distance": 0.0,
        "fog_falloff": options.fog_falloff,
        "scattering_intensity": 1.0,
        "mie_scattering_scale": 0.03,
        "rayleigh_scattering_scale": 0.0331,
        "dust_storm": 0.0,
    }


def conditions_to_weather(conditions: Conditions, options: WeatherOptions = WeatherOptions()) -> Any:
    """A ``carla.WeatherParameters`` rendering ``conditions`` (snow excepted, see module doc)."""
    import carla

    return carla.WeatherParameters(**weather_values(conditions, options))
