"""Daylight, sky and artificial light in photometric units (lux, cd/m^2).

The sun's direct illuminance follows the air mass (Kasten & Young) and the
Meinel attenuation ``E = 126 klx * 0.7^(m^0.678)``; each colour channel gets an
extra Rayleigh-like extinction so a low sun turns orange. Clouds move light
from the direct beam to the diffuse sky. Twilight and night fall off
exponentially with the sun's depression (~500 lux at sunset, ~3 lux at the end
of civil twilight). The sky dome blends a clear-sky gradient (bright horizon)
and the CIE overcast law ``L(el) ~ (1 + 2 sin el) / 3``.

Colours are luminance-normalised linear RGB (Rec. 709 weights), so the
luminance of ``E * rgb`` is ``E``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from simtest.sim.base import Conditions

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
SOLAR_CONSTANT_LUX = 126_000.0
SUN_ANGULAR_RADIUS = math.radians(0.27)
RAYLEIGH_RGB = np.array([0.03, 0.07, 0.16])  # extra optical depth per air mass, per channel (model values)
SKY_TABLE_SIZE = 1024  # samples of the sky dome over sin(elevation)
# Low beam (a model of an ECE pattern): Gaussian in the sine of the elevation below the peak and in
# the tangent of the azimuth, with a sharp cut-off above the horizon that keeps glare out of
# oncoming drivers' eyes.
HEADLIGHT_CD = 18_000.0  # cd at the low-beam peak
HEADLIGHT_PEAK = math.radians(-1.5)  # elevation of the peak
HEADLIGHT_SPREAD = (math.radians(12.0), math.radians(2.5))  # Gaussian sigma: horizontal, vertical below the peak
HEADLIGHT_CUTOFF = math.radians(0.3)  # no light above this elevation
HEADLIGHT_CUTOFF_SOFTNESS = math.radians(1.5)
HEADLIGHT_POS = ((3.7, 0.65, 0.7), (3.7, -0.65, 0.7))  # ego frame, m


def _norm(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, np.float64)
    return (rgb / float(rgb @ LUMA)).astype(np.float32)


def air_mass(altitude_deg: float) -> float:
    """Relative optical air mass (Kasten & Young 1989) for a sun ``altitude_deg`` above the horizon."""
    alt = max(altitude_deg, 0.0)
    return 1.0 / (math.sin(math.radians(alt)) + 0.50572 * (alt + 6.07995) ** -1.6364)


@dataclass(frozen=True)
class Lighting:
    """Light of one scene, world frame.

    ``sun_dir`` points to the sun; ``sun_rgb`` is the direct illuminance on a
    surface facing the sun (lux per channel); ``sky_rgb`` the diffuse sky
    illuminance on a horizontal surface; ``zenith_rgb``/``horizon_rgb`` sky
    radiance (cd/m^2) used for the dome gradient; ``overcast`` weights the CIE
    overcast distribution; ``airlight`` is the radiance of an infinitely deep
    fog (cd/m^2 per channel).
    """

    sun_dir: np.ndarray
    sun_rgb: np.ndarray
    sky_rgb: np.ndarray
    zenith_rgb: np.ndarray
    horizon_rgb: np.ndarray
    overcast: float
    airlight: np.ndarray

    @functools.cached_property
    def sun_up(self) -> bool:
        return bool(self.sun_dir[2] > 0 and self.sun_rgb.max() > 0)

    @functools.cached_property
    def horizontal_illuminance(self) -> float:
        """Illuminance (lux) on a horizontal surface open to the sun and the sky."""
        return float(self.sun_rgb @ LUMA) * max(float(self.sun_dir[2]), 0.0) + float(self.sky_rgb @ LUMA)

    @functools.cached_property
    def sun_disc(self) -> np.ndarray:
        """Radiance (cd/m^2, float32 per channel) of the sun's disc: its illuminance over its solid angle."""
        return (self.sun_rgb / (math.pi * SUN_ANGULAR_RADIUS**2)).astype(np.float32)

    @functools.cached_property
    def sky_table(self) -> np.ndarray:
        """Sky radiance (SKY_TABLE_SIZE, 3) against sin(elevation) sampled uniformly in [0, 1]
        (rays below the horizon see the horizon)."""
        s = np.linspace(0.0, 1.0, SKY_TABLE_SIZE)[:, None]
        clear = self.horizon_rgb + (self.zenith_rgb - self.horizon_rgb) * np.sqrt(s)
        mean = float(self.sky_rgb @ LUMA) / math.pi
        over = (mean * 1.286 * (1.0 + 2.0 * s) / 3.0) * _norm(np.array([1.0, 1.0, 1.0]))
        return ((1 - self.overcast) * clear + self.overcast * over).astype(np.float32)


def daylight(conditions: Conditions) -> Lighting:
    """Sun and sky light for ``conditions`` (sun angles in degrees, world frame)."""
    alt_deg, az = conditions.sun_altitude, math.radians(conditions.sun_azimuth)
    alt = math.radians(alt_deg)
    sun_dir = np.array([math.cos(alt) * math.cos(az), math.cos(alt) * math.sin(az), math.sin(alt)], np.float32)
    c = conditions.cloudiness
    if alt_deg > 0:
        m = air_mass(alt_deg)
        e_dn = SOLAR_CONSTANT_LUX * 0.7 ** (m**0.678)
        tint = _norm(np.exp(-RAYLEIGH_RGB * (m - 1.0)))
        sun_rgb = e_dn * (1.0 - 0.95 * c**1.5) * tint
        e_day = (0.12 + 0.13 * c) * SOLAR_CONSTANT_LUX * math.sin(alt) ** 0.6
    else:
        sun_rgb = np.zeros(3, np.float32)
        tint = _norm(np.array([1.0, 0.7, 0.45]))
        e_day = 0.0
    e_twilight = 500.0 * math.exp(min(alt_deg, 0.0) / 1.3)
    e_sky = e_day + e_twilight + 0.01  # 0.01 lux: urban sky glow at night
    low = min(1.0, max(0.0, 1.0 - alt_deg / 15.0))
    blue = _norm(np.array([0.3, 0.5, 1.0]))
    sky_tint = _norm((1 - c) * blue + c * _norm(np.array([1.0, 1.0, 1.0])))
    sky_rgb = (e_sky * sky_tint).astype(np.float32)
    mean_l = e_sky / math.pi
    horizon_tint = _norm((1 - low) * _norm(np.array([0.7, 0.8, 1.0])) + low * _norm(np.array([1.0, 0.72, 0.5])))
    horizon = 1.4 * mean_l * horizon_tint
    zenith = 0.7 * mean_l * blue
    horizontal = float(sun_rgb @ LUMA) * max(math.sin(alt), 0.0) + e_sky
    airlight = (0.9 * horizontal / math.pi) * _norm((1 - low) * np.array([1.0, 1.0, 1.0]) + low * tint)
    return Lighting(sun_dir, np.asarray(sun_rgb, np.float32), sky_rgb, zenith.astype(np.float32),
                    horizon.astype(np.float32), float(c), airlight.astype(np.float32))
