"""Lidar weather at ray level: fog, rain and snow, in one place.

:func:`ray_weather` is the only implementation of lidar weather in simtest. The
embedded simulator calls it with every ray it cast (sky rays included, range
``inf``), the CARLA backend with its lidar's rays, and the registered point-cloud
perturbations ``lidar_fog``, ``lidar_rain`` and ``lidar_snow`` (bottom of this module) with the
rays of the returns in a :class:`~perturbations.lidar.scan.Scan`.

Units: ranges in metres from the sensor, extinction coefficients in 1/m,
rain/snowfall rates in mm/h (liquid-water equivalent for snow), particle
diameters in mm. ``intensities`` are the targets' apparent reflectivities in
[0, 1] (range-compensated, incidence included); received power is expressed in
the same normalised unit, ``P = rho_app / (pi R^2)`` (a Lambertian target of
reflectivity ``rho_app`` at range ``R``; the sensor constant cancels).

Physical model
--------------
*Extinction.* Fog, rain and snow attenuate the pulse both ways:
``T^2(R) = exp(-2 alpha R)`` with ``alpha = alpha_fog + alpha_rain + alpha_snow``.

*Hard-target detection law.* A point cloud does not tell how far above the
detection threshold each return was in clear air (its link margin ``m``). We model
the margin as scale-free, ``P(m > x) = 1/x`` for ``x >= 1`` (Pareto, index 1);
the attenuated return stays above the threshold iff ``m T^2 >= 1``, which happens
with probability exactly ``T^2``. Hence the fraction of hard-target returns kept
at range ``R`` is ``exp(-2 alpha R)`` — the law the physics tests check — and a
kept return's intensity is scaled by ``T^2`` (reported intensity follows
received power).

*Fog backscatter* (Hahner et al., "Fog Simulation on Real LiDAR Point Clouds",
ICCV 2021, implemented from the paper's equations). The received power is the
transmitted pulse ``P0(t) = sin^2(pi t / (2 tau_H))`` on ``0 <= t <= 2 tau_H``
convolved with the channel's spatial impulse response
``H(r) = xi(r) beta exp(-2 alpha r) / r^2``, where ``beta`` is the fog's
backscatter coefficient and ``xi`` the transmitter/receiver overlap
(0 below ``R1``, linear to 1 at ``R2``). Substituting ``r = R - c t / 2``::

    P_soft(R) = beta * integral_{R - c tau_H}^{R} sin^2(pi (R - r) / (c tau_H)) xi(r) exp(-2 alpha r) / r^2 dr

in the same unit as a hard target's ``rho / (pi R^2)`` (the common factor
``C_A P0 2/c`` cancels). Only fog in front of the hard target contributes, so a
ray whose target is at ``R0`` sees the soft peak ``max_{R <= R0} P_soft(R)``.
``beta = alpha / S`` with the fog lidar ratio ``S`` (extinction over
backscatter, ~18 sr for water droplets in the near infrared). The droplets'
return fluctuates from pulse to pulse (many random scatterers: exponential
speckle statistics), so a ray's fog power is the peak times an Exp(1) draw. The
fog return is detected when its apparent reflectivity ``pi r^2 P`` exceeds the
receiver threshold ``min_reflectivity``; its range is drawn from the part of the
backscatter profile above half its maximum.

*Rain and snow particles.* Drop sizes follow an exponential distribution
``N(D) = N0 exp(-Lambda D)`` (Marshall–Palmer for rain, Gunn–Marshall for snow,
melted diameters converted to flake diameters through the flake density).
Extinction (geometric optics, efficiency 2): ``alpha = pi N0 / Lambda^3``. A
particle of diameter ``D`` inside a beam of diameter ``w(r) = d0 + theta r``
returns the apparent reflectivity ``rho_p xi(r) T^2(r) min(1, (D / w)^2)``; it is
detectable when that exceeds the threshold, i.e. ``D > D_min(r)``. Detectable
particles along a ray form a Poisson process of density
``(N0 / Lambda) exp(-Lambda D_min(r)) pi w(r)^2 / 4`` per metre; the first one
is drawn by inverting its cumulative count, its size from the exponential tail
above ``D_min`` (memoryless).

*Which return is reported.* ``return_mode="strongest"`` (the default of most
spinning lidars) reports the strongest detected echo of the ray;
``"last"`` reports the hard target when it was detected, else the farthest
weather echo.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

import numpy as np

from perturbations.lidar.checks import lidar_kernel
from perturbations.lidar.rays import move_along_ray, ranges
from perturbations.lidar.scan import Scan
from perturbations.lidar.severities import FOG_ALPHA, RAIN_RATE, SNOWFALL_RATE, WET_GROUND_WETNESS
from perturbations.registry import perturbation, severity_value
from perturbations.xp import counter_uniform, draw_seed, from_host, namespace

SPEED_OF_LIGHT = 299_792_458.0  # m/s

HARD, FOG, PARTICLE, NO_RETURN = 0, 1, 2, 3
"""Per-ray kinds returned by :func:`ray_weather`: hard target kept, fog backscatter,
rain/snow particle, no return (hard target lost, or a sky ray that stays empty)."""

DEFAULT_MAX_RANGE = 120.0  # m, weather integration limit used for point clouds


@dataclass(frozen=True)
class LidarOptics:
    """Sensor parameters of the weather model (defaults: a generic 905 nm spinning lidar).

    ``pulse_width_ns`` is the half-power pulse width tau_H; ``overlap_start`` and
    ``overlap_full`` (m) bound the transmitter/receiver overlap ramp xi;
    ``beam_divergence`` (rad, full angle) and ``exit_diameter`` (m) give the beam
    diameter; ``min_reflectivity`` is the receiver threshold as an apparent
    reflectivity (2 % default: with it, fog echoes appear on ~1 % of sky rays at
    500 m visibility, ~5 % at 300 m, ~20 % at 150 m and ~50 % at 50 m); ``fog_lidar_ratio`` (sr) is
    extinction over backscatter of fog droplets; ``rain_reflectivity`` and
    ``snow_reflectivity`` are the effective reflectivities of a particle filling the
    beam (chosen model values: water drops return weakly, snow is bright);
    ``snow_density`` (g/cm^3) converts melted to flake diameter; ``grid_step`` (m)
    is the range resolution of the precomputed profiles.
    """

    pulse_width_ns: float = 10.0
    overlap_start: float = 0.9
    overlap_full: float = 2.0
    beam_divergence: float = 3e-3
    exit_diameter: float = 0.01
    min_reflectivity: float = 0.02
    fog_lidar_ratio: float = 18.0
    rain_reflectivity: float = 0.2
    snow_reflectivity: float = 0.8
    snow_density: float = 0.1
    return_mode: Literal["strongest", "last"] = "strongest"
    grid_step: float = 0.05

    def __post_init__(self) -> None:
        positive = ("pulse_width_ns", "overlap_full", "beam_divergence", "exit_diameter", "min_reflectivity",
                    "fog_lidar_ratio", "rain_reflectivity", "snow_reflectivity", "snow_density", "grid_step")
        for name in positive:
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"LidarOptics.{name}: must be a positive finite number, got {v!r}")
        if not 0.0 <= self.overlap_start < self.overlap_full:
            raise ValueError(
                f"LidarOptics.overlap_start: must lie in [0, overlap_full={self.overlap_full}), "
                f"got {self.overlap_start}"
            )
        if self.return_mode not in ("strongest", "last"):
            raise ValueError(f"LidarOptics.return_mode: expected 'strongest' or 'last', got {self.return_mode!r}")


class RayWeather(NamedTuple):
    """Output of :func:`ray_weather`: per-ray range (m, ``inf`` = no return),
    intensity (apparent reflectivity, 0 where no return) and kind (int8: HARD,
    FOG, PARTICLE or NO_RETURN), in the input's array module."""

    ranges: Any
    intensities: Any
    kind: Any


# ---------------------------------------------------------------------------
# drop-size distributions
# ---------------------------------------------------------------------------


def marshall_palmer(rain_rate: float) -> tuple[float, float]:
    """Rain drop sizes: (N0 in m^-3 mm^-1, Lambda in mm^-1) for a rate in mm/h."""
    return 8000.0, 4.1 * rain_rate ** -0.21


def gunn_marshall(snowfall_rate: float, flake_density: float) -> tuple[float, float]:
    """Snowflake sizes: (N0, Lambda) in flake diameter for a liquid-equivalent rate in mm/h.

    Gunn & Marshall give N0 = 3800 R^-0.87 m^-3 mm^-1 and Lambda = 2.55 R^-0.48
    mm^-1 in melted diameter; a flake of density ``flake_density`` (g/cm^3) is
    ``k = flake_density^(-1/3)`` times wider, so N0 and Lambda divide by ``k``.
    """
    k = flake_density ** (-1.0 / 3.0)
    return 3800.0 * snowfall_rate ** -0.87 / k, 2.55 * snowfall_rate ** -0.48 / k


def particle_extinction(n0: float, lam: float) -> float:
    """Extinction coefficient (1/m) of an exponential size distribution, extinction efficiency 2."""
    return math.pi * n0 / lam**3 * 1e-6  # mm^2 m^-3 -> m^-1


def rain_extinction(rain_rate: float) -> float:
    """Extinction coefficient (1/m) of rain at ``rain_rate`` mm/h (0 when dry)."""
    return particle_extinction(*marshall_palmer(rain_rate)) if rain_rate > 0 else 0.0


def snow_extinction(snowfall_rate: float, flake_density: float = LidarOptics.snow_density) -> float:
    """Extinction coefficient (1/m) of snowfall at ``snowfall_rate`` mm/h water equivalent."""
    return particle_extinction(*gunn_marshall(snowfall_rate, flake_density)) if snowfall_rate > 0 else 0.0


# ---------------------------------------------------------------------------
# host-side profiles (depend only on scalars; cached)
# ---------------------------------------------------------------------------


def _grid(max_range: float, step: float) -> np.ndarray:
    return np.arange(int(math.ceil(max_range / step)) + 1, dtype=np.float64) * step


def _overlap(r: np.ndarray, optics: LidarOptics) -> np.ndarray:
    return np.clip((r - optics.overlap_start) / (optics.overlap_full - optics.overlap_start), 0.0, 1.0)


@functools.lru_cache(maxsize=64)
def fog_profile(alpha_fog: float, alpha_total: float, max_range: float, optics: LidarOptics) -> np.ndarray:
    """Fog backscatter power ``P_soft(R)`` on the range grid ``k * grid_step`` (normalised power units).

    The pulse/channel convolution of the module docstring, evaluated numerically
    (midpoint rule on the grid). ``alpha_total`` attenuates (fog plus particles),
    ``alpha_fog`` sets the backscatter ``beta = alpha_fog / S``.
    """
    step = optics.grid_step
    r = _grid(max_range, step)
    with np.errstate(divide="ignore"):
        channel = np.where(r > 0, _overlap(r, optics) * np.exp(-2.0 * alpha_total * r) / np.maximum(r, step) ** 2, 0.0)
    length = SPEED_OF_LIGHT * optics.pulse_width_ns * 1e-9  # spatial extent c tau_H of the 2 tau_H pulse
    taps = np.arange(int(math.ceil(length / step)) + 1) * step
    pulse = np.where(taps <= length, np.sin(np.pi * taps / length) ** 2, 0.0)
    beta = alpha_fog / optics.fog_lidar_ratio
    return beta * step * np.convolve(channel, pulse)[: r.size]


INVERSE_TABLE_SIZE = 4096  # levels of the tabulated inverse cumulative distributions


def _inverse_cdf(cum: np.ndarray, x0: float, step: float) -> np.ndarray:
    """Positions where a piecewise-linear cumulative reaches evenly spaced levels.

    ``cum`` holds non-decreasing values at ``x0 + k * step`` (``cum[0] = 0``); the
    result has INVERSE_TABLE_SIZE positions for the levels ``linspace(0, cum[-1])``.
    Looked up with linear interpolation, it reproduces the exact inverse to within
    one grid step wherever a cell holds less than 1/INVERSE_TABLE_SIZE of the mass,
    and exactly elsewhere up to float rounding.
    """
    levels = np.linspace(0.0, cum[-1], INVERSE_TABLE_SIZE)
    k = np.clip(np.searchsorted(cum, levels, side="left"), 1, len(cum) - 1)
    lo, hi = cum[k - 1], cum[k]
    frac = np.where(hi > lo, (levels - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    return (x0 + (k - 1 + frac) * step).astype(np.float32)


def _lookup(xp: Any, table: Any, q: Any) -> Any:
    """Linear interpolation in a table sampled evenly over q in [0, 1]."""
    size = int(table.shape[0])
    t = xp.clip(q, 0.0, 1.0) * (size - 1)
    j = xp.clip(xp.astype(xp.floor(t), xp.int64), 0, size - 2)
    lo = xp.take(table, j)
    return lo + (t - xp.astype(j, t.dtype)) * (xp.take(table, j + 1) - lo)


@functools.lru_cache(maxsize=64)
def _fog_tables(alpha_fog: float, alpha_total: float, max_range: float, optics: LidarOptics) -> tuple[Any, ...]:
    """Float32 tables of the fog echo.

    ``peak_upto[k]``: strongest backscatter power from fog in front of range
    ``k * step``; ``first``: first grid cell of the echo-range window (where the
    profile is above half its maximum); ``cum``: the window's cumulative sampling
    weight at the cell edges (``cum[0] = 0``); ``inverse``: echo range (m) at
    evenly spaced levels of ``cum``.
    """
    step = optics.grid_step
    p = fog_profile(alpha_fog, alpha_total, max_range, optics)
    window = np.flatnonzero(p >= 0.5 * p.max())
    first, last = int(window[0]), int(window[-1])
    cum = np.concatenate([[0.0], np.cumsum(p[first : last + 1])])
    inverse = _inverse_cdf(cum, (first - 0.5) * step, step)
    return np.maximum.accumulate(p).astype(np.float32), first, cum.astype(np.float32), inverse


@functools.lru_cache(maxsize=64)
def _particle_tables(
    n0: float, lam: float, reflectivity: float, alpha_total: float, max_range: float, optics: LidarOptics
) -> tuple[np.ndarray, ...]:
    """Float32 tables of detectable particles on the range grid, cut where no more can be detected.

    ``counts``: cumulative expected number of detectable particles along a ray;
    ``inverse``: range (m) at evenly spaced levels of ``counts``; ``d_min`` (mm):
    smallest detectable diameter; ``width`` (mm): beam diameter; ``gain``:
    apparent reflectivity of a particle filling the beam.
    """
    step = optics.grid_step
    r = _grid(max_range, step)
    width = optics.exit_diameter + optics.beam_divergence * r
    gain = reflectivity * _overlap(r, optics) * np.exp(-2.0 * alpha_total * r)
    detectable = gain >= optics.min_reflectivity * (1.0 + 1e-7)  # a beam-filling particle clears the threshold
    d_min = np.where(detectable, 1e3 * width * np.sqrt(optics.min_reflectivity / np.maximum(gain, 1e-300)), np.inf)
    density = n0 / lam * np.exp(-lam * d_min) * np.pi * width**2 / 4.0  # detectable particles per metre
    counts = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * step)])
    end = min(int(np.searchsorted(counts, counts[-1] * (1.0 - 1e-6))) + 2, r.size)
    f32 = np.float32
    return (counts[:end].astype(f32), _inverse_cdf(counts[:end], 0.0, step), np.minimum(d_min, 1e6)[:end].astype(f32),
            (1e3 * width[:end]).astype(f32), gain[:end].astype(f32))


# ---------------------------------------------------------------------------
# the ray kernel
# ---------------------------------------------------------------------------


def ray_weather(
    ranges: Any,
    intensities: Any,
    *,
    fog_alpha: float = 0.0,
    rain_rate: float = 0.0,
    snowfall_rate: float = 0.0,
    rng: np.random.Generator,
    max_range: float = DEFAULT_MAX_RANGE,
    optics: LidarOptics = LidarOptics(),
) -> RayWeather:
    """Apply fog, rain and snow to lidar rays.

    ``ranges`` (m, 1-D) is each ray's hard-target range from the sensor, ``inf``
    where the ray hit nothing; ``intensities`` the targets' apparent reflectivity.
    ``fog_alpha`` is the fog extinction coefficient (1/m; see
    ``simtest.sim.base.fog_alpha_from_visibility``), ``rain_rate`` and
    ``snowfall_rate`` in mm/h. Weather echoes are searched up to ``max_range``
    (the sensor's range). Randomness comes only from ``rng``; the arrays keep
    their array module (NumPy, CuPy, any Array-API module). See the module
    docstring for the physics and the detection law.
    """
    for name, v in (("fog_alpha", fog_alpha), ("rain_rate", rain_rate), ("snowfall_rate", snowfall_rate)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"ray_weather: {name} must be a non-negative finite number, got {v!r}")
    if not (math.isfinite(max_range) and max_range > 0):
        raise ValueError(f"ray_weather: max_range must be positive finite metres, got {max_range!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"ray_weather: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    xp = namespace(ranges)
    if len(ranges.shape) != 1 or tuple(intensities.shape) != tuple(ranges.shape):
        raise ValueError(
            f"ray_weather: ranges and intensities must be 1-D of equal length, got {tuple(ranges.shape)} "
            f"and {tuple(intensities.shape)}"
        )
    n = int(ranges.shape[0])
    dtype = ranges.dtype
    alpha = float(fog_alpha) + rain_extinction(rain_rate) + snow_extinction(snowfall_rate, optics.snow_density)
    species = [
        (marshall_palmer(rain_rate), optics.rain_reflectivity) if rain_rate > 0 else None,
        (gunn_marshall(snowfall_rate, optics.snow_density), optics.snow_reflectivity) if snowfall_rate > 0 else None,
    ]
    species = [s for s in species if s is not None]
    compiled = xp is np and ranges.dtype == intensities.dtype == np.float32
    if n == 0 or alpha == 0.0:
        if compiled:
            from perturbations.lidar import weather_compiled as kc

            return RayWeather(ranges, *kc.clear_air(ranges, intensities, HARD, NO_RETURN))
        hit = xp.isfinite(ranges)
        kind = xp.where(hit, xp.asarray(HARD, dtype=xp.int8), xp.asarray(NO_RETURN, dtype=xp.int8))
        return RayWeather(ranges, xp.where(hit, intensities, xp.zeros_like(intensities)), kind)
    n_fields = 1 + 2 * ((fog_alpha > 0) + len(species))
    seed = draw_seed(rng)
    if compiled:
        return _ray_weather_compiled(ranges, intensities, seed, fog_alpha, alpha, species, max_range, optics)
    u = counter_uniform(ranges, seed, (n_fields, n))

    step = optics.grid_step
    n_grid = int(math.ceil(max_range / step)) + 1
    reach = xp.minimum(ranges, xp.asarray(max_range, dtype=dtype))  # sky rays (inf) search up to max_range
    reach_idx = xp.minimum(xp.astype(reach * (1.0 / step), xp.int64), n_grid - 1)
    last_mode = optics.return_mode == "last"

    # hard targets: survive with probability T^2, attenuated by T^2 (T^2 = 0 on sky rays)
    t2 = xp.exp(xp.asarray(-2.0 * alpha, dtype=dtype) * ranges)
    hard_ok = u[0, :] < t2
    hard_int = intensities * t2
    zero = xp.zeros_like(ranges)
    # score of the reported echo: received power ("strongest"), or range with the hard target first ("last")
    if last_mode:
        best_s = xp.where(hard_ok, xp.full_like(ranges, math.inf), zero)
    else:
        r_safe = xp.maximum(ranges, xp.asarray(step, dtype=dtype))
        best_s = xp.where(hard_ok, hard_int / (math.pi * r_safe * r_safe), zero)
    best_r = xp.where(hard_ok, ranges, xp.full_like(ranges, math.inf))
    best_i = xp.where(hard_ok, hard_int, zero)
    best_k = xp.where(hard_ok, xp.asarray(HARD, dtype=xp.int8), xp.asarray(NO_RETURN, dtype=xp.int8))

    echoes = []
    row = 1  # u[0] decided the hard targets; each echo type uses the next two rows
    if fog_alpha > 0:
        fog = _fog_echo(xp, u[row : row + 2, :], reach, reach_idx, fog_alpha, alpha, max_range, optics, dtype)
        echoes.append((FOG, fog))
        row += 2
    for (n0, lam), refl in species:
        rows = u[row : row + 2, :]
        echoes.append((PARTICLE, _particle_echo(xp, rows, reach_idx, n0, lam, refl, alpha, max_range, optics, dtype)))
        row += 2
    for kind_value, (ok, r_e, i_e) in echoes:
        score = r_e if last_mode else i_e / (math.pi * r_e * r_e)
        better = ok & (score > best_s)
        best_s = xp.where(better, score, best_s)
        best_r = xp.where(better, r_e, best_r)
        best_i = xp.where(better, xp.minimum(i_e, xp.asarray(1.0, dtype=dtype)), best_i)
        best_k = xp.where(better, xp.asarray(kind_value, dtype=xp.int8), best_k)
    return RayWeather(best_r, best_i, best_k)


def _ray_weather_compiled(
    ranges: np.ndarray, intensities: np.ndarray, seed: int, fog_alpha: float, alpha: float,
    species: list[tuple[tuple[float, float], float]], max_range: float, optics: LidarOptics,
) -> RayWeather:
    """The generic path below, fused per echo type for NumPy float32 (weather_compiled.py)."""
    from perturbations.lidar import weather_compiled as kc

    n = ranges.shape[0]
    f32 = np.float32
    step, inv_step, far = f32(optics.grid_step), f32(1.0 / optics.grid_step), f32(max_range)
    n_grid = int(math.ceil(max_range / optics.grid_step)) + 1
    last = optics.return_mode == "last"
    best = (np.empty(n, f32), np.empty(n, f32), np.empty(n, f32), np.empty(n, np.int8))
    none = np.ones(2, f32)  # no fog: tables the kernel does not read
    fog = _fog_tables(fog_alpha, alpha, max_range, optics) if fog_alpha > 0 else (none, 0, none, none)
    peak_upto, first, cum, inverse = fog
    kc.hard_and_fog(ranges, intensities, np.uint64(seed), f32(-2.0 * alpha), step, inv_step, far, n_grid, last, fog_alpha > 0,
                    peak_upto, first, cum, inverse, f32(cum[-1]), f32(optics.min_reflectivity), *best)
    row = 3 if fog_alpha > 0 else 1
    for (n0, lam), refl in species:
        counts, inv_counts, d_min, width, gain = _particle_tables(n0, lam, refl, alpha, max_range, optics)
        kc.particle_echo(ranges, np.uint64(seed), row, step, inv_step, far, n_grid, last, counts, inv_counts, d_min, width, gain,
                         f32(counts[-1]), f32(lam), kc.arrival_bound(float(counts[-1])), *best)
        row += 2
    return RayWeather(best[1], best[2], best[3])


def _fog_echo(
    xp: Any, u: Any, reach: Any, reach_idx: Any, alpha_fog: float, alpha: float, max_range: float,
    optics: LidarOptics, dtype: Any,
) -> tuple[Any, Any, Any]:
    """Per ray: (detected, range, apparent reflectivity) of the strongest fog echo (u: 2 uniform rows)."""
    peak_upto, first, cum, inverse = _fog_tables(alpha_fog, alpha, max_range, optics)
    c_end = float(cum[-1])
    peak_upto, cum, inverse = (from_host(t, u) for t in (peak_upto, cum, inverse))
    # echo-range weight in front of the target: the window's cumulative at the target's cell
    total = xp.take(cum, xp.clip(reach_idx - first + 1, 0, int(cum.shape[0]) - 1))
    r = _lookup(xp, inverse, u[0, :] * (total / c_end))  # inverse CDF restricted to [window start, target]
    r = xp.minimum(xp.maximum(r, xp.asarray(optics.grid_step, dtype=dtype)), reach)  # never behind the target
    speckle = -xp.log(1.0 - u[1, :])  # Exp(1) pulse-to-pulse fluctuation; 1 - u in (0, 1] is exact in float
    refl = math.pi * r * r * xp.take(peak_upto, reach_idx) * speckle
    ok = (total > 0) & (refl >= optics.min_reflectivity)
    return ok, r, refl


def _particle_echo(
    xp: Any, u: Any, reach_idx: Any, n0: float, lam: float, reflectivity: float, alpha: float, max_range: float,
    optics: LidarOptics, dtype: Any,
) -> tuple[Any, Any, Any]:
    """Per ray: (detected, range, apparent reflectivity) of the first detectable particle (u: 2 uniform rows)."""
    tables = _particle_tables(n0, lam, reflectivity, alpha, max_range, optics)
    c_end = float(tables[0][-1])
    counts, inverse, d_min, width, gain = (from_host(t, u) for t in tables)
    n_tab = int(counts.shape[0])
    total = xp.take(counts, xp.clip(reach_idx, 0, n_tab - 1))
    # first arrival of a Poisson process with cumulative intensity `counts`
    m = -xp.log(1.0 - u[0, :])
    ok = m < total
    if c_end <= 0:
        return ok, xp.full_like(m, math.inf), xp.zeros_like(m)
    r = _lookup(xp, inverse, m / c_end)
    k = xp.clip(xp.astype(r / optics.grid_step + 0.5, xp.int64), 0, n_tab - 1)
    diameter = xp.take(d_min, k) - xp.log(1.0 - u[1, :]) / lam  # exponential tail above D_min (memoryless)
    refl = xp.take(gain, k) * xp.minimum((diameter / xp.take(width, k)) ** 2, xp.asarray(1.0, dtype=dtype))
    ok = ok & (refl > 0)
    return ok, xp.where(ok, r, xp.full_like(r, math.inf)), refl


# ---------------------------------------------------------------------------
# registered point-cloud perturbations
# ---------------------------------------------------------------------------


def apply_ray_weather_to_scan(
    scan: Scan, *, fog_alpha: float = 0.0, rain_rate: float = 0.0, snowfall_rate: float = 0.0, seed: int,
    max_range: float = DEFAULT_MAX_RANGE, optics: LidarOptics = LidarOptics(),
) -> Scan:
    """Run :func:`ray_weather` on the rays of a scan's returns.

    Hard returns keep their coordinates (intensity attenuated); lost returns are
    removed; fog and particle echoes move along their ray to the echo's range,
    keep the ring and get label -2 (weather particle). A scan holds no sky rays,
    so weather echoes appear only on rays that had a return.
    """
    if fog_alpha == 0 and rain_rate == 0 and snowfall_rate == 0:
        return scan
    xp = namespace(scan.points)
    r0 = ranges(scan)
    res = ray_weather(
        r0, scan.points[:, 3], fog_alpha=fog_alpha, rain_rate=rain_rate, snowfall_rate=snowfall_rate,
        rng=np.random.default_rng(seed), max_range=max_range, optics=optics,
    )
    moved = (res.kind == FOG) | (res.kind == PARTICLE)
    out = move_along_ray(scan, moved, res.ranges, res.intensities, r=r0)
    labels = scan.labels
    if labels is not None:
        labels = xp.where(moved, xp.asarray(-2, dtype=labels.dtype), labels)
    kept = Scan(points=out, ring=scan.ring, labels=labels, origin=scan.origin, num_beams=scan.num_beams)
    return kept.take(res.kind != NO_RETURN)


@dataclass(frozen=True)
class FogParams:
    """Fog extinction coefficient alpha (1/m) and the seed of the ray draws."""

    alpha: float
    seed: int


@dataclass(frozen=True)
class RainParams:
    """Rain rate (mm/h) and the seed of the ray draws."""

    rate: float
    seed: int


@dataclass(frozen=True)
class SnowParams:
    """Snowfall rate (mm/h liquid-water equivalent) and the seed of the ray draws."""

    rate: float
    seed: int


def apply_fog(scan: Scan, params: FogParams) -> Scan:
    """Fog: two-way attenuation, lost far returns and near backscatter echoes."""
    return apply_ray_weather_to_scan(scan, fog_alpha=params.alpha, seed=params.seed)


def apply_rain(scan: Scan, params: RainParams) -> Scan:
    """Rain: extinction and drop echoes from the Marshall–Palmer distribution."""
    return apply_ray_weather_to_scan(scan, rain_rate=params.rate, seed=params.seed)


def apply_snow(scan: Scan, params: SnowParams) -> Scan:
    """Snow: extinction and flake echoes from the Gunn–Marshall distribution."""
    return apply_ray_weather_to_scan(scan, snowfall_rate=params.rate, seed=params.seed)


@perturbation("lidar_fog", kind="lidar", apply=lidar_kernel(apply_fog))
def sample_fog(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> FogParams:
    """Lidar fog after Hahner et al. (ICCV 2021); alpha per 3D_Corruptions_AD levels."""
    return FogParams(alpha=float(severity_value(FOG_ALPHA, severity, 0.0)), seed=draw_seed(rng))


@perturbation("lidar_rain", kind="lidar", apply=lidar_kernel(apply_rain))
def sample_rain(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> RainParams:
    """Lidar rain; rates (mm/h) per 3D_Corruptions_AD levels."""
    return RainParams(rate=float(severity_value(RAIN_RATE, severity, 0.0)), seed=draw_seed(rng))


@perturbation("lidar_snow", kind="lidar", apply=lidar_kernel(apply_snow))
def sample_snow(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> SnowParams:
    """Lidar snow; snowfall rates (mm/h water equivalent) per 3D_Corruptions_AD levels."""
    return SnowParams(rate=float(severity_value(SNOWFALL_RATE, severity, 0.0)), seed=draw_seed(rng))


# ---------------------------------------------------------------------------
# wet ground
# ---------------------------------------------------------------------------

WATER_INDEX = 1.33  # refractive index of water in the near infrared
WET_DARKENING = 0.6  # diffuse albedo of wet over dry asphalt (internal reflection in the film); model value
GROUND_BAND_M = 0.2  # returns below this height (ego frame, road at z = 0) count as ground


def fresnel_reflectance(cos_i: Any, n: float = WATER_INDEX) -> Any:
    """Unpolarised Fresnel reflectance of an air-to-medium interface at incidence cosine ``cos_i``."""
    xp = namespace(cos_i)
    sin_t2 = (1.0 - cos_i * cos_i) / (n * n)
    cos_t = xp.sqrt(1.0 - sin_t2)
    rs = ((cos_i - n * cos_t) / (cos_i + n * cos_t)) ** 2
    rp = ((cos_t - n * cos_i) / (cos_t + n * cos_i)) ** 2
    return 0.5 * (rs + rp)


@dataclass(frozen=True)
class WetGroundParams:
    """Wetness (share of the road's diffuse return replaced by the wet response) and the seed."""

    wetness: float
    seed: int


def apply_wet_ground(scan: Scan, params: WetGroundParams) -> Scan:
    """A water film on the road mirrors the grazing beam away.

    For a ground return at incidence angle ``theta`` (``cos theta`` = sensor height
    over range) the light that reaches the road and comes back crosses the
    air-water interface twice: the diffuse return falls by
    ``q = (1 - w) + w * WET_DARKENING * (1 - F(theta))^2`` with ``F`` the Fresnel
    reflectance and ``w`` the wetness. Far ground returns (grazing, ``F`` -> 1)
    vanish first. Detection follows the law of :func:`ray_weather`: a return
    survives with probability ``q`` and its intensity is scaled by ``q``.
    Ground is every return below GROUND_BAND_M (and labelled background when
    labels exist).
    """
    if params.wetness == 0:
        return scan
    xp = namespace(scan.points)
    p = scan.points
    if xp is np and p.dtype == np.float32:  # the same steps fused (weather_compiled.wet_ground)
        from perturbations.lidar import weather_compiled as kc

        labels = np.zeros(0, np.int64) if scan.labels is None else scan.labels
        points, ring, labels = kc.wet_ground(p, scan.ring, labels, np.asarray(scan.origin, np.float32),
                                             np.uint64(params.seed), _wet_ratio_table(params.wetness),
                                             np.float32(GROUND_BAND_M))
        return replace(scan, points=points, ring=ring, labels=None if scan.labels is None else labels)
    ground = p[:, 2] < GROUND_BAND_M
    if scan.labels is not None:
        ground = ground & (scan.labels == -1)
    r = xp.maximum(ranges(scan), xp.asarray(1e-3, dtype=p.dtype))
    cos_i = xp.clip((float(scan.origin[2]) - p[:, 2]) / r, 0.0, 1.0)
    table = from_host(_wet_ratio_table(params.wetness), p)
    q = xp.take(table, xp.astype(cos_i * (_WET_TABLE_SIZE - 1) + 0.5, xp.int64))
    q = xp.where(ground, q, xp.ones_like(q))
    keep = counter_uniform(p, params.seed, (len(scan),)) < q
    kept = scan.take(keep)
    kept.points[:, 3] = kept.points[:, 3] * q[keep]  # the taken copy is ours to modify
    return kept


_WET_TABLE_SIZE = 4096


@functools.lru_cache(maxsize=16)
def _wet_ratio_table(wetness: float) -> np.ndarray:
    """``q(cos theta)`` on a uniform grid of ``cos theta`` in [0, 1] (nearest-entry error < 1e-3)."""
    cos_i = np.linspace(0.0, 1.0, _WET_TABLE_SIZE)
    transmitted = 1.0 - fresnel_reflectance(cos_i)
    return ((1.0 - wetness) + wetness * WET_DARKENING * transmitted**2).astype(np.float32)


@perturbation("lidar_wet_ground", kind="lidar", apply=lidar_kernel(apply_wet_ground))
def sample_wet_ground(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> WetGroundParams:
    """Wet road surface: specular loss of ground returns."""
    return WetGroundParams(wetness=float(severity_value(WET_GROUND_WETNESS, severity, 0.0)), seed=draw_seed(rng))
