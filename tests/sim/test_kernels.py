"""The simulator's compiled kernels: same bytes as the NumPy formulation they replace, and the
same frames whatever the thread count or the episodes run before."""

from __future__ import annotations

import os

import numba
import numpy as np
import pytest

from simtest.sim.base import PRESETS
from simtest.sim.embedded import EmbeddedSimulator, get_threads, kernels, set_threads, shading_kernels


def frame_bytes(frame) -> list[bytes]:  # noqa: ANN001
    """Everything a frame reports, as bytes."""
    out = []
    for cam in frame.cameras.values():
        out.append(cam.image.tobytes())
    for ids in frame.meta["instance_ids"].values():
        out.append(ids.tobytes())
    for lidar in frame.lidars.values():
        out += [lidar.points.tobytes(), np.asarray(lidar.ring).tobytes(), np.asarray(lidar.labels).tobytes()]
    o = frame.objects
    out += [np.asarray(a).tobytes() for a in (o.ids, o.boxes, o.visible_fraction, o.lidar_points, o.in_path, o.critical)]
    return out


def episode(rig, scenario: str, conditions: str, frames: int, seed: int = 0, sim: EmbeddedSimulator | None = None):  # noqa: ANN001, ANN201
    sim = sim if sim is not None else EmbeddedSimulator(rig)
    sim.reset(scenario, conditions, seed)
    return [frame_bytes(sim.step()) for _ in range(frames)]


@pytest.fixture
def restore_threads():  # noqa: ANN201
    before = get_threads()
    yield
    set_threads(before)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs numba to allow 2 threads")
@pytest.mark.parametrize("scenario, conditions", [("pedestrian_group_crosswalk", "night"),
                                                  ("cyclist_crossing", "rain_heavy"),
                                                  ("child_occluded", "fog_dense")])
def test_frames_are_byte_identical_with_one_or_two_threads(small_rig, restore_threads, scenario, conditions):
    assert set_threads(1) == 1 and get_threads() == 1
    one = episode(small_rig, scenario, conditions, 3, seed=4)
    assert set_threads(2) == 2 and get_threads() == 2
    two = episode(small_rig, scenario, conditions, 3, seed=4)
    assert one == two


def test_start_workers_leaves_the_environment_as_it_found_it(monkeypatch):
    """The spin count is set only while OpenMP starts (other runtimes keep their own); a user's is kept."""
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    kernels.start_workers()
    assert "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("GOMP_SPINCOUNT", "5")
    kernels.start_workers()
    assert os.environ["GOMP_SPINCOUNT"] == "5"


def test_set_threads_clamps_and_rejects_non_integers(restore_threads):
    assert set_threads(0) == 1
    assert set_threads(10_000) == numba.config.NUMBA_NUM_THREADS
    assert get_threads() == numba.config.NUMBA_NUM_THREADS
    for bad in (1.5, "2", True, None):
        with pytest.raises(ValueError, match="set_threads: n must be an integer"):
            set_threads(bad)


def test_actor_meshes_shared_across_episodes_give_the_same_frames(small_rig):
    """A simulator that already built walkers (other paint, other scenario) renders what a fresh one does."""
    fresh = episode(small_rig, "child_occluded", PRESETS["clear_noon"], 2, seed=2)
    sim = EmbeddedSimulator(small_rig)
    episode(small_rig, "pedestrian_group_crosswalk", PRESETS["clear_noon"], 25, seed=1, sim=sim)
    episode(small_rig, "child_occluded", PRESETS["clear_noon"], 12, seed=7, sim=sim)
    assert episode(small_rig, "child_occluded", PRESETS["clear_noon"], 2, seed=2, sim=sim) == fresh


def test_sun_rays_and_shade_out_match_numpy():
    rng = np.random.default_rng(0)
    npx = 10_000  # several compaction chunks
    n = rng.normal(size=(npx, 3)).astype(np.float32)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    n[::7] = (1.0, 0.0, 0.0)  # faces edge-on to the sun: not lit
    n[5] = np.nan
    sun = np.array([0.0, 0.6, 0.8], np.float32)
    t = np.where(rng.random(npx) < 0.2, np.inf, rng.uniform(1, 50, npx)).astype(np.float32)
    dirs = rng.normal(size=(npx, 3)).astype(np.float32)
    origin = np.array([1.0, 2.0, 1.5], np.float32)
    dot = n[:, 0] * sun[0] + n[:, 1] * sun[1] + n[:, 2] * sun[2]
    ref = np.maximum(dot, np.float32(0.0))  # NaN propagates, as in np.maximum
    ref_lit = np.flatnonzero((ref > 0) & np.isfinite(t))
    buffers = (np.empty(npx, np.float32), np.empty(npx, np.int64), np.empty((npx, 6), np.float32))
    _, lit_only, no_rays = shading_kernels.sun_rays(dirs, t, n, origin, sun, np.float32(0.02), False, *buffers)
    assert np.array_equal(lit_only, ref_lit) and no_rays.shape == (0, 6)
    sunlit, lit, rays = shading_kernels.sun_rays(dirs, t, n, origin, sun, np.float32(0.02), True, *buffers)
    assert all(np.shares_memory(a, b) for a, b in zip((sunlit, lit, rays), buffers))
    assert sunlit.dtype == np.float32 and np.array_equal(sunlit, ref, equal_nan=True)
    assert lit.dtype == np.int64 and np.array_equal(lit, ref_lit)
    i = ref_lit
    start = origin + dirs[i] * t[i, None] + n[i] * np.float32(0.02)
    assert rays.shape == (len(i), 6)
    np.testing.assert_allclose(rays[:, :3], start, rtol=1e-6, atol=1e-5)
    assert (rays[:, 3:] == sun).all()
    occluded = rng.random(len(lit)) < 0.5
    ref[ref_lit[occluded]] = 0.0
    shading_kernels.shade_out(sunlit, lit, occluded)
    assert sunlit.tobytes() == ref.tobytes()


def test_draw_particles_blends_coverage_in_any_order_and_touches_only_covered_pixels():
    bright = np.array([900.0, 950.0, 1000.0], np.float32)
    # one-pixel particles: two on pixel (v=5, u=10) cover 1 - (1 - 0.3)(1 - 0.5) = 0.65 of it
    x0, y0 = np.array([10.5, 10.5, 14.5]), np.array([5.5, 5.5, 5.5])
    radius, alpha, dots = np.full(3, 0.3), np.array([0.3, 0.5, 0.5]), np.zeros(3, bool)
    image = np.zeros((20, 30, 3), np.float32)
    kernels.draw_particles(image, x0, y0, x0, y0, radius, alpha, dots, bright)
    cover = image[..., 0] / bright[0]
    assert cover[5, 10] == pytest.approx(0.65, rel=1e-6) and cover[5, 14] == pytest.approx(0.5, rel=1e-6)
    assert np.count_nonzero(cover) == 2
    assert image[..., 2] / bright[2] == pytest.approx(cover, rel=1e-6)
    # many streaks and discs over a textured image: the order does not matter, untouched pixels stay
    rng = np.random.default_rng(1)
    n = 300
    base = rng.uniform(0, 3000, (60, 80, 3)).astype(np.float32)
    x0, y0 = rng.uniform(-5, 85, n), rng.uniform(-5, 65, n)
    args = (x0, y0, x0 + rng.uniform(-3, 3, n), y0 + rng.uniform(0, 20, n), rng.uniform(0.2, 2.5, n),
            rng.uniform(0.05, 0.9, n), rng.random(n) < 0.3)
    forward, backward = base.copy(), base.copy()
    kernels.draw_particles(forward, *args, bright)
    kernels.draw_particles(backward, *(a[::-1].copy() for a in args), bright)
    assert backward == pytest.approx(forward, rel=1e-5)
    touched = (forward != base).any(-1)
    assert 0.1 < touched.mean() < 0.9
    empty = tuple(a[:0] for a in args)
    untouched = base.copy()
    kernels.draw_particles(untouched, *empty, bright)
    assert untouched.tobytes() == base.tobytes()


def test_lidar_points_gathers_detected_returns_in_ray_order():
    rng = np.random.default_rng(2)
    n = 500
    ranges = np.where(rng.random(n) < 0.3, np.inf, rng.uniform(1, 100, n)).astype(np.float32)
    intens = rng.random(n).astype(np.float32)
    kind = rng.integers(0, 4, n).astype(np.int8)  # 0..3: no return, hard, fog, particle below
    actor = rng.integers(-1, 5, n).astype(np.int32)
    dirs = rng.normal(size=(n, 3)).astype(np.float32)
    origin = np.array([1.5, -0.2, 1.8], np.float32)
    ring = rng.integers(0, 64, n).astype(np.int32)
    points, r_out, labels = kernels.lidar_points(ranges, intens, kind, actor, dirs, origin, ring, 1, 2, 3, -2, -1)
    keep = np.flatnonzero(np.isfinite(ranges))
    assert points.dtype == np.float32 and points.shape == (len(keep), 4)
    assert points[:, :3].tobytes() == (origin + dirs[keep] * ranges[keep][:, None]).tobytes()
    assert np.array_equal(points[:, 3], intens[keep]) and np.array_equal(r_out, ring[keep])
    expected = np.select([kind[keep] == 1, (kind[keep] == 2) | (kind[keep] == 3)], [actor[keep], -2], -1)
    assert np.array_equal(labels, expected) and labels.dtype == np.int32


def test_crossing_counts_count_each_ray_once_per_actor():
    # ray 0 crosses actor 0 twice (entry and exit), the road and actor 1; ray 1 only the road;
    # ray 2 actor 1 twice (static triangle 2 is not actor 1's triangle 2)
    actor_of_triangle = np.array([0, 0, 1, 1], np.int32)
    splits = np.array([0, 4, 5, 8], np.uint32)
    geometry = np.array([1, 1, 0, 1, 0, 1, 0, 1], np.uint32)
    prim = np.array([0, 1, 7, 2, 3, 3, 2, 2], np.uint32)
    assert kernels.crossing_counts(splits, geometry, prim, actor_of_triangle, 3).tolist() == [1, 2, 0]


def test_actor_pixel_counts_match_bincount():
    actor = np.random.default_rng(3).integers(-1, 6, (20, 30)).astype(np.int32)
    ref = np.bincount(actor[actor >= 0], minlength=6)
    assert kernels.actor_pixel_counts(actor, 6).tolist() == ref.tolist()


def test_instance_map_matches_take():
    rng = np.random.default_rng(2)
    actor = rng.integers(-1, 5, size=(7, 9)).astype(np.int32)
    ids = np.array([11, 12, 13, 14, 15, 0], np.int32)  # the last entry stands for "no actor" (-1)
    got = kernels.instance_map(actor, ids)
    assert got.dtype == np.int32 and got.shape == actor.shape
    assert (got == ids.take(actor)).all()


def test_point_labels_map_actor_hits_to_object_ids_and_count_them():
    actor = np.array([-1, 0, 2, -2, 2, 1, -1, 2], np.int32)
    labels, counts = kernels.point_labels(actor, np.array([7, 8, 9], np.int64))
    assert labels.dtype == np.int64 and labels.tolist() == [-1, 7, 9, -2, 9, 8, -1, 9]
    assert counts.tolist() == [1, 1, 3]


def test_mean_log_luminance_matches_numpy():
    rng = np.random.default_rng(5)
    image = rng.lognormal(2.0, 2.0, size=(37, 50, 3)).astype(np.float32)
    image[3, 4] = 0.0  # clamped to the floor
    luma = np.array([0.2126, 0.7152, 0.0722], np.float32)
    for stride in (1, 4):
        lum = image[::stride, ::stride].reshape(-1, 3).astype(np.float64) @ luma.astype(np.float64)
        want = np.log(np.maximum(lum, 1e-4)).mean()
        assert kernels.mean_log_luminance(image, stride, luma, np.float32(1e-4)) == pytest.approx(want, rel=1e-6)
