"""Physics of the lidar weather kernel (perturbations/lidar/weather.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from perturbations import perturb, perturb_recorded, replay
from perturbations.lidar.synthetic import make_scan
from perturbations.lidar.weather import (
    FOG,
    HARD,
    NO_RETURN,
    PARTICLE,
    LidarOptics,
    fog_profile,
    gunn_marshall,
    marshall_palmer,
    rain_extinction,
    ray_weather,
    snow_extinction,
)


@pytest.fixture(scope="module")
def scan():
    return make_scan(np.random.default_rng(0))


def _rays(n: int, r: float, rho: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, r, np.float32), np.full(n, rho, np.float32)


@pytest.mark.parametrize("alpha", [0.005, 0.02, 0.06])
@pytest.mark.parametrize("mode", ["last", "no_backscatter"])
def test_hard_return_fraction_follows_two_way_extinction(alpha, mode):
    # Detection law: the clear-air link margin m is Pareto(1), so a return survives the
    # extra two-way loss T^2 iff m T^2 >= 1, i.e. with probability exactly T^2 = exp(-2 alpha R).
    # Observed directly in "last" mode (the hard echo is reported when detected) or with the
    # receiver threshold raised so that no fog echo can compete.
    optics = LidarOptics(return_mode="last") if mode == "last" else LidarOptics(min_reflectivity=1.0)
    rng = np.random.default_rng(7)
    n = 40_000
    for r in (5.0, 20.0, 40.0, 80.0):
        ranges, rho = _rays(n, r)
        res = ray_weather(ranges, rho, fog_alpha=alpha, rng=rng, optics=optics)
        p = math.exp(-2 * alpha * r)
        kept = res.kind == HARD
        tol = 4 * math.sqrt(p * (1 - p) / n) + 1e-4
        assert abs(kept.mean() - p) <= tol, (alpha, r, kept.mean(), p)
        # kept returns keep their range and report the attenuated intensity rho T^2
        np.testing.assert_allclose(res.ranges[kept], r)
        np.testing.assert_allclose(res.intensities[kept], 0.5 * p, rtol=1e-5)


def test_fog_removes_far_returns_first_and_adds_near_backscatter(scan):
    origin = np.asarray(scan.origin, np.float32)
    r0 = np.linalg.norm(scan.points[:, :3] - origin, axis=1)
    rho = scan.points[:, 3]
    bins = [(0, 10), (10, 20), (20, 40), (40, 120)]
    previous_fog = 0
    for alpha in (0.005, 0.02, 0.06):
        res = ray_weather(r0, rho, fog_alpha=alpha, rng=np.random.default_rng(1))
        hard_kept = [(res.kind[(r0 >= a) & (r0 < b)] == HARD).mean() for a, b in bins]
        assert all(x > y for x, y in zip(hard_kept, hard_kept[1:])), (alpha, hard_kept)
        fog = res.kind == FOG
        assert fog.sum() > previous_fog  # backscatter grows with density
        previous_fog = fog.sum()
        # fog echoes sit close to the sensor, beyond the overlap onset, never behind their target
        assert np.quantile(res.ranges[fog], 0.95) < 8.0
        assert res.ranges[fog].min() >= LidarOptics().overlap_start
        assert np.all(res.ranges[fog] <= r0[fog] + 1e-3)
        assert np.all(res.kind[np.isfinite(res.ranges)] != NO_RETURN)


def test_fog_profile_matches_direct_integration():
    # P_soft(R) = beta * int_{R - c tau}^{R} sin^2(pi (R - r) / (c tau)) xi(r) exp(-2 alpha r) / r^2 dr
    optics = LidarOptics()
    alpha = 0.03
    grid = fog_profile(alpha, alpha, 20.0, optics)
    length = 299_792_458.0 * optics.pulse_width_ns * 1e-9
    beta = alpha / optics.fog_lidar_ratio

    def xi(r):
        return min(max((r - optics.overlap_start) / (optics.overlap_full - optics.overlap_start), 0.0), 1.0)

    for big_r in (1.5, 3.0, 4.0, 6.0, 12.0):
        def f(r):
            return math.sin(math.pi * (big_r - r) / length) ** 2 * xi(r) * math.exp(-2 * alpha * r) / r**2

        lo = max(big_r - length, optics.overlap_start)
        kink = [optics.overlap_full] if lo < optics.overlap_full < big_r else None
        expected = beta * integrate.quad(f, lo, big_r, points=kink)[0]
        k = int(round(big_r / optics.grid_step))
        assert grid[k] == pytest.approx(expected, rel=0.03), big_r


def test_sky_rays_fog_echo_fraction_grows_and_max_range_falls():
    n = 50_000
    sky = np.full(n, np.inf, np.float32), np.zeros(n, np.float32)
    targets = np.linspace(2.0, 120.0, n, dtype=np.float32), np.full(n, 0.8, np.float32)
    fractions, max_ranges = [], []
    for visibility in (1000.0, 300.0, 150.0, 50.0):
        alpha = -math.log(0.05) / visibility
        res = ray_weather(*sky, fog_alpha=alpha, rng=np.random.default_rng(3))
        fractions.append((res.kind == FOG).mean())
        seen = ray_weather(*targets, fog_alpha=alpha, rng=np.random.default_rng(3))
        max_ranges.append(np.quantile(seen.ranges[seen.kind == HARD], 0.9))
    assert fractions == sorted(fractions) and fractions[0] < 0.02 and fractions[-1] > 0.3
    assert all(a > b for a, b in zip(max_ranges, max_ranges[1:]))


def test_particle_extinction_from_drop_size_distribution():
    # alpha = int Q_ext * pi D^2 / 4 * N(D) dD with Q_ext = 2 (geometric optics), D in mm
    for rate in (1.0, 10.0, 50.0):
        n0, lam = marshall_palmer(rate)
        assert lam == pytest.approx(4.1 * rate**-0.21)
        expected = integrate.quad(lambda d: 2 * math.pi * d**2 / 4 * n0 * math.exp(-lam * d), 0, 60)[0] * 1e-6
        assert rain_extinction(rate) == pytest.approx(expected, rel=1e-6)
    n0, lam = gunn_marshall(2.0, 0.1)
    expected = integrate.quad(lambda d: 2 * math.pi * d**2 / 4 * n0 * math.exp(-lam * d), 0, 200)[0] * 1e-6
    assert snow_extinction(2.0) == pytest.approx(expected, rel=1e-6)
    # physical plausibility: 10 mm/h rain leaves a visibility of a few km; 2 mm/h snow well under 2 km
    assert 1000 < -math.log(0.05) / rain_extinction(10.0) < 5000
    assert -math.log(0.05) / snow_extinction(2.0) < 2000


def test_snow_echoes_grow_with_rate_and_follow_poisson_first_arrival():
    n = 50_000
    sky = np.full(n, np.inf, np.float32), np.zeros(n, np.float32)
    fractions = []
    for rate in (0.2, 1.0, 3.0):
        res = ray_weather(*sky, snowfall_rate=rate, rng=np.random.default_rng(5), max_range=60.0)
        echo = res.kind == PARTICLE
        fractions.append(echo.mean())
        assert np.all(res.ranges[echo] > LidarOptics().overlap_start)
        assert np.all(res.intensities[echo] >= LidarOptics().min_reflectivity * 0.999)
    assert fractions[0] < fractions[1] < fractions[2]
    # snow is far more visible to the lidar than rain of the same water content
    rain = ray_weather(*sky, rain_rate=3.0, rng=np.random.default_rng(5), max_range=60.0)
    assert (rain.kind == PARTICLE).mean() < 0.1 * fractions[2]


def test_registered_weather_on_scan(scan):
    for name in ("lidar_fog", "lidar_rain", "lidar_snow"):
        assert perturb(scan, name, 0, np.random.default_rng(0)) is scan
        out, applied = perturb_recorded(scan, name, 4, np.random.default_rng(11))
        again = replay(scan, applied)
        assert out.points.tobytes() == again.points.tobytes()
        assert out.points.dtype == np.float32 and out.ring.dtype == scan.ring.dtype
        weather = out.labels == -2
        # hard returns are untouched in position; weather echoes lie on a ray of the input
        hard = ~weather
        assert len(out) < len(scan) or weather.any()
        assert np.isin(out.points[hard, 0], scan.points[:, 0]).all()
        assert (out.points[:, 3] >= 0).all() and (out.points[:, 3] <= 1).all()
    fog = perturb(scan, "lidar_fog", 5, np.random.default_rng(2))
    assert (fog.labels == -2).sum() > 1000


@pytest.mark.parametrize("mode", ["strongest", "last"])
@pytest.mark.parametrize("kw", [dict(fog_alpha=0.02, rain_rate=5.0, snowfall_rate=1.0), dict(fog_alpha=0.06),
                                dict(rain_rate=25.0), dict(snowfall_rate=2.0), dict()])
def test_same_rng_same_bytes_and_the_compiled_path_matches_the_generic_one(kw, mode):
    # NumPy float32 input runs the compiled kernels (weather_compiled.py); an Array-API array runs the
    # generic operations: same noise, same tables, same float32 arithmetic up to the last ulp of exp/log
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(0)
    ranges = np.concatenate([np.linspace(1, 110, 20_000), np.full(4000, np.inf)]).astype(np.float32)
    rho = rng.uniform(0.02, 0.9, ranges.shape).astype(np.float32)
    optics = LidarOptics(return_mode=mode)
    a = ray_weather(ranges, rho, rng=np.random.default_rng(9), optics=optics, **kw)
    b = ray_weather(ranges, rho, rng=np.random.default_rng(9), optics=optics, **kw)
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    s = ray_weather(xps.asarray(ranges), xps.asarray(rho), rng=np.random.default_rng(9), optics=optics, **kw)
    same = np.asarray(s.kind) == a.kind
    assert same.mean() > 1 - 1e-3  # a kind flips only where a draw ties a threshold to the last ulp
    assert {int(k) for k in np.unique(a.kind)} >= {HARD, NO_RETURN}
    np.testing.assert_allclose(np.asarray(s.ranges)[same], a.ranges[same], rtol=1e-4)
    np.testing.assert_allclose(np.asarray(s.intensities)[same], a.intensities[same], rtol=1e-4, atol=1e-7)


def test_bad_input_is_a_clear_error():
    r, i = _rays(10, 5.0)
    with pytest.raises(ValueError, match="rain_rate"):
        ray_weather(r, i, rain_rate=-1.0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        ray_weather(r, i, fog_alpha=0.01, rng=0)
    with pytest.raises(ValueError, match="equal length"):
        ray_weather(r, i[:5], fog_alpha=0.01, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="return_mode"):
        LidarOptics(return_mode="first")


@pytest.mark.parametrize("kw", [dict(rain_rate=25.0), dict(snowfall_rate=3.0), dict(fog_alpha=0.01, rain_rate=10.0)])
def test_particle_extinction_enters_the_same_detection_law(kw):
    # the hard-target law holds with the total extinction alpha_fog + alpha_rain + alpha_snow
    alpha = kw.get("fog_alpha", 0.0) + rain_extinction(kw.get("rain_rate", 0.0)) + snow_extinction(
        kw.get("snowfall_rate", 0.0)
    )
    n = 40_000
    for r in (20.0, 60.0):
        res = ray_weather(*_rays(n, r), rng=np.random.default_rng(4), optics=LidarOptics(return_mode="last"), **kw)
        p = math.exp(-2 * alpha * r)
        assert abs((res.kind == HARD).mean() - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-4, (kw, r)
