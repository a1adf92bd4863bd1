"""Lost returns: random dropout, missing beams, beam reduction, field-of-view and sector
loss, local cutout and a shortened range. Every kernel is ``Scan -> Scan`` and only
removes points (the survivors are bit-identical)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perturbations.lidar import severities as sev
from perturbations.lidar.checks import lidar_kernel
from perturbations.lidar.rays import in_sector, ranges
from perturbations.lidar.scan import Scan
from perturbations.registry import perturbation, severity_value
from perturbations.xp import draw_seed, from_host, namespace, noise, to_host


@dataclass(frozen=True)
class DropoutParams:
    """Share of points removed independently at random, and the seed of the draw."""

    fraction: float
    seed: int


def apply_dropout(scan: Scan, params: DropoutParams) -> Scan:
    """Remove each point with probability ``fraction``."""
    if params.fraction == 0:
        return scan
    u = noise(scan.points, params.seed, (len(scan),), "uniform")
    return scan.take(u >= params.fraction)


@perturbation("lidar_dropout", kind="lidar", apply=lidar_kernel(apply_dropout))
def sample_dropout(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> DropoutParams:
    """Random point dropout (3D_Corruptions_AD density decrease)."""
    return DropoutParams(fraction=float(severity_value(sev.DROPOUT_FRACTION, severity, 0.0)), seed=draw_seed(rng))


def _ring_mask(scan: Scan, keep_ring: np.ndarray) -> Scan:
    """Keep the points whose ring is flagged in the host table ``keep_ring`` (one flag per beam)."""
    xp = namespace(scan.points)
    table = from_host(keep_ring.astype(np.bool_), scan.ring)
    ring = xp.clip(xp.astype(scan.ring, xp.int64), 0, scan.num_beams - 1)
    return scan.take(xp.take(table, ring))


@dataclass(frozen=True)
class BeamMissingParams:
    """Share of the sensor's beams lost; the lost rings are drawn from ``seed`` for the scan's beam count."""

    fraction: float
    seed: int


def lost_rings(num_beams: int, params: BeamMissingParams) -> np.ndarray:
    """Indices of the rings lost for a sensor with ``num_beams`` beams."""
    k = int(round(params.fraction * num_beams))
    return np.sort(np.random.default_rng(params.seed).permutation(num_beams)[:k])


def apply_beam_missing(scan: Scan, params: BeamMissingParams) -> Scan:
    """Remove every point of the lost rings (dead laser diodes or receivers)."""
    lost = lost_rings(scan.num_beams, params)
    if lost.size == 0:
        return scan
    keep = np.ones(scan.num_beams, bool)
    keep[lost] = False
    return _ring_mask(scan, keep)


@perturbation("lidar_beam_missing", kind="lidar", apply=lidar_kernel(apply_beam_missing))
def sample_beam_missing(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> BeamMissingParams:
    """Whole beams (rings) missing."""
    fraction = float(severity_value(sev.BEAM_MISSING_FRACTION, severity, 0.0))
    return BeamMissingParams(fraction=fraction, seed=draw_seed(rng))


@dataclass(frozen=True)
class BeamReductionParams:
    """Beams of the emulated sensor per 64 beams of the scan (64 = identity)."""

    beams_per_64: float


def kept_rings(num_beams: int, target: int) -> np.ndarray:
    """Flags of the rings an evenly spaced ``target``-beam sensor keeps out of ``num_beams``.

    Ring ``r`` is kept when ``floor(r t / n)`` steps up there (ring 0 always): for
    ``t = n / 2`` that is every other ring, for ``t = n / 4`` every fourth.
    """
    r = np.arange(num_beams)
    level = (r * target) // num_beams
    return np.concatenate([[True], level[1:] != level[:-1]])


def apply_beam_reduction(scan: Scan, params: BeamReductionParams) -> Scan:
    """Emulate a sensor with fewer beams by keeping evenly spaced rings."""
    target = max(1, int(round(params.beams_per_64 * scan.num_beams / 64.0)))
    if target >= scan.num_beams:
        return scan
    return _ring_mask(scan, kept_rings(scan.num_beams, target))


@perturbation("lidar_beam_reduction", kind="lidar", apply=lidar_kernel(apply_beam_reduction))
def sample_beam_reduction(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> BeamReductionParams:
    """Cross-sensor beam reduction (64 -> 32 -> 16 beams); deterministic."""
    return BeamReductionParams(beams_per_64=float(severity_value(sev.BEAM_REDUCTION_BEAMS, severity, 64.0)))


@dataclass(frozen=True)
class FovParams:
    """Half-angle (deg) of the frontal field of view that is kept (180 = all)."""

    half_angle_deg: float


def apply_fov_loss(scan: Scan, params: FovParams) -> Scan:
    """Keep only the points within +-half_angle of straight ahead."""
    if params.half_angle_deg >= 180.0:
        return scan
    half = math.radians(params.half_angle_deg)
    return scan.take(in_sector(scan, -half, 2 * half))


@perturbation("lidar_fov_loss", kind="lidar", apply=lidar_kernel(apply_fov_loss))
def sample_fov_loss(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> FovParams:
    """Field-of-view loss (3D_Corruptions_AD FOV lost); deterministic."""
    return FovParams(half_angle_deg=float(severity_value(sev.FOV_HALF_ANGLE_DEG, severity, 180.0)))


@dataclass(frozen=True)
class SectorParams:
    """One blinded azimuth sector: start azimuth and width (deg, counter-clockwise from +x)."""

    start_deg: float
    width_deg: float


def apply_sector_loss(scan: Scan, params: SectorParams) -> Scan:
    """Remove the points whose azimuth lies in the sector (a blocked or dirty window)."""
    if params.width_deg <= 0:
        return scan
    xp = namespace(scan.points)
    return scan.take(xp.logical_not(in_sector(scan, math.radians(params.start_deg), math.radians(params.width_deg))))


@perturbation("lidar_sector_loss", kind="lidar", apply=lidar_kernel(apply_sector_loss))
def sample_sector_loss(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> SectorParams:
    """One azimuth sector lost, at a random heading."""
    return SectorParams(
        start_deg=float(rng.uniform(-180.0, 180.0)),
        width_deg=float(severity_value(sev.SECTOR_LOSS_DEG, severity, 0.0)),
    )


@dataclass(frozen=True)
class CutoutParams:
    """Holes: indices of the returns at their centres and their radius (m)."""

    centres: tuple[int, ...]
    radius: float


def apply_local_cutout(scan: Scan, params: CutoutParams) -> Scan:
    """Remove every point within ``radius`` of each centre return.

    3D_Corruptions_AD removes the 2 % nearest neighbours of each centre; a ball of
    fixed radius gives local holes of the same kind without an O(N log N)
    selection per hole (dense near-range regions lose more points, as with real
    occluders). Centres beyond the scan's length are ignored.
    """
    n = len(scan)
    centres = [c for c in params.centres if c < n]
    if not centres or params.radius <= 0:
        return scan
    xp = namespace(scan.points)
    p = scan.points
    centre_xyz = to_host(xp.take(p, xp.asarray(centres, dtype=xp.int64), axis=0))[:, :3].tolist()  # host floats
    x, y, z = (xp.asarray(p[:, k], copy=True) for k in range(3))  # contiguous: each hole reads them again
    r2 = params.radius**2
    keep = xp.ones((n,), dtype=xp.bool)
    for cx, cy, cz in centre_xyz:  # squared distance built in place: two temporaries per hole
        d2 = x - cx
        d2 *= d2
        t = y - cy
        t *= t
        d2 += t
        t = z - cz
        t *= t
        d2 += t
        keep &= d2 > r2
    return scan.take(keep)


@perturbation("lidar_local_cutout", kind="lidar", apply=lidar_kernel(apply_local_cutout))
def sample_local_cutout(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> CutoutParams:
    """Local cutout: a few spherical holes around random returns (3D_Corruptions_AD hole counts)."""
    holes = severity_value(sev.CUTOUT_HOLES, severity, 0.0)
    count = int(math.floor(holes))
    n = shape[0] if shape else 0
    centres = tuple(int(i) for i in rng.integers(0, max(n, 1), count)) if n else ()
    return CutoutParams(centres=centres, radius=sev.CUTOUT_RADIUS_M)


@dataclass(frozen=True)
class RangeLimitParams:
    """Largest range kept (m); ``inf`` keeps everything."""

    max_range: float


def apply_range_limit(scan: Scan, params: RangeLimitParams) -> Scan:
    """Drop the returns beyond ``max_range`` (a weaker receiver or a dirty window)."""
    if math.isinf(params.max_range):
        return scan
    return scan.take(ranges(scan) <= params.max_range)


@perturbation("lidar_range_limit", kind="lidar", apply=lidar_kernel(apply_range_limit))
def sample_range_limit(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> RangeLimitParams:
    """Range limit; interpolated in 1/range so that severity 0 keeps every return."""
    inv = severity_value(tuple(1.0 / r for r in sev.RANGE_LIMIT_M), severity, 0.0)
    return RangeLimitParams(max_range=math.inf if inv == 0 else 1.0 / inv)

