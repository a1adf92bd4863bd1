"""Weather in the camera image: extinction with airlight, rain streaks, snowflakes.

*Extinction* (Koschmieder): a surface of radiance ``L0`` at distance ``d``
appears as ``L = L0 T + A (1 - T)`` with ``T = exp(-alpha d)`` and the airlight
``A`` (the radiance of an infinitely deep fog); the sky becomes ``A``. The
contrast of a black target against the fog is then ``T``, 5 % at the
meteorological optical range. ``alpha`` adds fog, rain and snow; rain and snow
extinction come from their drop-size distributions (geometric optics), the same
functions the lidar weather uses. The mix itself runs per pixel in
:func:`.shading_kernels.shade_pixels`.

*Falling particles*: drops (Marshall–Palmer) or flakes (Gunn–Marshall) in the
near part of the view frustum are drawn from a Poisson process with the
distribution's number density; each is motion-blurred into a streak of length
``v_fall * exposure_time`` (Atlas et al. 1973 terminal velocity for rain, ~1 m/s
for snow) and blends in with its sub-pixel coverage ``D f / z`` (rasterised and
blended, pixel by pixel, in :func:`.kernels.draw_particles`).
"""

from __future__ import annotations

import math

import numpy as np

from perturbations.lidar.weather import (
    LidarOptics,
    gunn_marshall,
    marshall_palmer,
    rain_extinction,
    snow_extinction,
)
from simtest.sim.base import Conditions
from simtest.sim.embedded import kernels

NEAR, FAR = 0.4, 3.0  # m, depth slab in which particles are drawn (farther ones are sub-pixel)
MIN_DIAMETER = {"rain": 1.0, "snow": 2.0}  # mm, smaller particles are invisible
MAX_PARTICLES = 2500  # drawing budget per image; the opacity is scaled up when it binds
SNOW_FALL_SPEED = 1.0  # m/s
EXPOSURE_TIME = 1 / 120  # s, for motion blur


def extinction(conditions: Conditions) -> float:
    """Visible-light extinction coefficient (1/m) of fog, rain and snow together."""
    return conditions.fog_alpha + rain_extinction(conditions.rain_rate) + snow_extinction(
        conditions.snowfall_rate, LidarOptics.snow_density  # the default optics' (a class attribute)
    )


def rain_fall_speed(d_mm: np.ndarray) -> np.ndarray:
    """Terminal velocity (m/s) of rain drops of diameter ``d_mm`` (Atlas et al. 1973)."""
    return np.maximum(9.65 - 10.3 * np.exp(-0.6 * d_mm), 0.1)


def draw_particles(
    image: np.ndarray,
    K: np.ndarray,
    conditions: Conditions,
    brightness: np.ndarray,
    rng: np.random.Generator,
    ego_speed: float = 0.0,
) -> int:
    """Draw falling rain and snow into a linear radiance ``image`` (H, W, 3) in place.

    ``K`` is the camera matrix, ``brightness`` the particles' radiance (3,).
    Returns the number of particles drawn.
    """
    h, w = image.shape[:2]
    fx = float(K[0, 0])
    drawn = 0
    for kind, rate in (("rain", conditions.rain_rate), ("snow", conditions.snowfall_rate)):
        if rate <= 0:
            continue
        if kind == "rain":
            n0, lam = marshall_palmer(rate)
        else:
            n0, lam = gunn_marshall(rate, LidarOptics.snow_density)
        dmin = MIN_DIAMETER[kind]
        density = n0 / lam * math.exp(-lam * dmin)  # particles per m^3 above dmin
        # frustum slab volume between NEAR and FAR
        area = (w / fx) * (h / fx)
        volume = area * (FAR**3 - NEAR**3) / 3.0
        count = int(rng.poisson(density * volume))
        scale = 1.0
        if count > MAX_PARTICLES:
            scale = count / MAX_PARTICLES
            count = MAX_PARTICLES
        if count == 0:
            continue
        # depth distributed ~ z^2 in a frustum
        u = rng.random(count)
        z = np.cbrt(NEAR**3 + u * (FAR**3 - NEAR**3))
        px = rng.uniform(0, w, count)
        py = rng.uniform(0, h, count)
        dia = dmin + rng.exponential(1.0 / lam, count)
        speed = rain_fall_speed(dia) if kind == "rain" else np.full(count, SNOW_FALL_SPEED)
        length = speed * EXPOSURE_TIME * fx / z  # px, vertical fall
        drift = ego_speed * EXPOSURE_TIME * (px - K[0, 2]) / z  # px, apparent flow from ego motion
        radius = dia * 1e-3 * fx / (2 * z)
        alpha = np.minimum(1.0, 2 * radius * scale) * (0.25 if kind == "rain" else 0.9)
        dots = (length < 2 * radius + 1) if kind == "snow" else np.zeros(count, bool)
        kernels.draw_particles(image, px, py, px + drift, py + length, radius, np.minimum(alpha, 1.0), dots,
                               np.asarray(brightness, np.float32))
        drawn += count
    return drawn
