"""Street lamps and low beams: the vectorised block kernel against a float64 NumPy formulation of the
model, and against photometry worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simtest.sim.embedded.lighting import HEADLIGHT_CD, HEADLIGHT_PEAK, HEADLIGHT_SPREAD
from simtest.sim.embedded.shading import HEADLIGHT_SHAPE, LAMP_RADIUS, LAMP_REACH
from simtest.sim.embedded.shading_kernels import (
    BLOCK,
    ROWS,
    beam_constants,
    block_irradiance,
    block_transmission,
    exp_neg,
    lamps_within,
)
from simtest.sim.embedded.world import LAMP_CD, LAMP_HEIGHT


def irradiance_numpy(points, normals, lamps, heads, frame, radius=LAMP_RADIUS):  # noqa: ANN001, ANN201
    """The model of shading.py in float64 NumPy: (lamp weight, headlight lux) per point (N, 3)."""
    v = lamps[None, :, :] - points[:, None, :]  # (N, K, 3) point -> lamp
    dot = (normals[:, None, :] * v).sum(-1)
    d2 = np.maximum((v**2).sum(-1), 0.25)
    ok = (np.abs(v[..., 0]) <= radius) & (np.abs(v[..., 1]) <= radius) & (v[..., 2] > 0) & (dot > 0)
    w = np.where(ok, v[..., 2] * dot / d2**2, 0.0).sum(1)
    peak, spread_h, spread_v, cutoff, soft = HEADLIGHT_SHAPE
    e = (points[:, None, :] - heads[None, :, :]) @ frame.T  # (N, H, 3) headlight -> point, ego axes
    m = normals @ frame.T
    with np.errstate(divide="ignore", invalid="ignore"):
        across = e[..., 1] / e[..., 0] / spread_h
    d2 = np.maximum((e**2).sum(-1), 0.25)
    sin_el = e[..., 2] / np.sqrt(d2)
    cos_in = -(m[:, None, :] * e).sum(-1) / np.sqrt(d2)
    below = np.minimum(sin_el - peak, 0.0) / spread_v
    q2 = below**2 + across**2
    lit = (e[..., 0] > 0) & (np.abs(across) <= 6.5) & (q2 <= 42) & (sin_el < cutoff) & (cos_in > 0)
    cut = np.minimum((cutoff - sin_el) / soft, 1.0)
    h = np.where(lit, HEADLIGHT_CD * np.exp(-0.5 * np.where(lit, q2, 0.0)) * cut * cos_in / d2, 0.0).sum(1)
    return w, h


def run_blocks(points, normals, lamps, heads, frame, misses=None):  # noqa: ANN001, ANN201
    """block_irradiance over rays from an origin to ``points`` (misses: t = inf), block by block."""
    origin = np.array([0.5, -0.3, 1.6], np.float32)
    d = points - origin
    t = np.linalg.norm(d, axis=1)
    dirs = (d / t[:, None]).astype(np.float32)
    t = t.astype(np.float32)
    if misses is not None:
        t[misses] = np.inf
    beam = beam_constants(heads, frame, HEADLIGHT_SHAPE)
    w, h = np.empty(len(t), np.float32), np.empty(len(t), np.float32)
    scratch = np.empty((ROWS, BLOCK), np.float32)
    for lo in range(0, len(t), BLOCK):
        hi = min(lo + BLOCK, len(t))
        block_irradiance(dirs[lo:hi], t[lo:hi], normals[lo:hi].astype(np.float32), origin,
                         lamps.astype(np.float32), LAMP_RADIUS, beam, HEADLIGHT_SHAPE, HEADLIGHT_CD, scratch)
        w[lo:hi], h[lo:hi] = scratch[7, :hi - lo], scratch[8, :hi - lo]
    # what the kernel saw: the hit points it rebuilt from the rays
    seen = origin + dirs.astype(np.float64) * np.where(np.isfinite(t), t, 0.0)[:, None]
    return w, h, seen


def test_exp_neg_matches_exp_over_the_beam_range():
    x = np.linspace(-21.0, 0.0, 20_001).astype(np.float32)
    got = np.array([exp_neg(v) for v in x[::50]])
    want = np.exp(x[::50].astype(np.float64))
    assert np.max(np.abs(got / want - 1.0)) < 3e-6


def test_block_kernel_matches_the_numpy_model_for_lamps_and_headlights():
    rng = np.random.default_rng(7)
    n = 3 * BLOCK + 77  # several blocks and a short last one
    points = np.column_stack([rng.uniform(-10, 70, n), rng.uniform(-20, 20, n), rng.uniform(0, 3, n)])
    points[: n // 2, 2] = 0.0  # half on the road
    normals = rng.normal(size=(n, 3))
    normals[: n // 2] = (0.0, 0.0, 1.0)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    lamps = np.array([[x, y, LAMP_HEIGHT - 0.2] for x in (5.0, 35.0, 65.0, 95.0) for y in (-7.5, 7.5)])
    yaw = 0.3
    frame = np.array([[math.cos(yaw), math.sin(yaw), 0.0], [-math.sin(yaw), math.cos(yaw), 0.0], [0, 0, 1.0]])
    heads = np.array([[3.7, 0.65, 0.7], [3.7, -0.65, 0.7]]) @ frame  # ego -> world (frame is world -> ego)
    misses = rng.random(n) < 0.1
    w, h, seen = run_blocks(points, normals, lamps, heads, frame, misses)
    w_ref, h_ref = irradiance_numpy(seen, normals, lamps, heads, frame)
    w_ref[misses], h_ref[misses] = 0.0, 0.0
    assert (w[misses] == 0).all() and (h[misses] == 0).all()
    assert np.count_nonzero(w) > n // 4 and np.count_nonzero(h) > n // 10  # the test exercises both
    np.testing.assert_allclose(w * LAMP_CD, w_ref * LAMP_CD, rtol=2e-5, atol=1e-4)  # lux
    np.testing.assert_allclose(h, h_ref, rtol=2e-5, atol=1e-4)


def test_a_street_lamp_lights_the_road_as_a_cosine_emitter():
    """E = I h^2 / (h^2 + d^2)^2 at horizontal distance d from the foot of a lamp at height h
    (I cos(theta) towards the point, cos(theta) at the road, over r^2): 20 lux under the lamp."""
    h = LAMP_HEIGHT
    d = np.array([0.0, 3.0, 8.0, 20.0, 30.0])
    points = np.column_stack([d, np.zeros_like(d), np.zeros_like(d)])
    up = np.tile([0.0, 0.0, 1.0], (len(d), 1))
    w, _, _ = run_blocks(points, up, np.array([[0.0, 0.0, h]]), np.zeros((0, 3)), np.eye(3))
    want = np.where(d <= LAMP_RADIUS, LAMP_CD * h**2 / (h**2 + d**2) ** 2, 0.0)
    np.testing.assert_allclose(w * LAMP_CD, want, rtol=1e-5)
    assert w[0] * LAMP_CD == pytest.approx(20.0, rel=1e-5)


def test_low_beam_peak_falloff_and_cut_off():
    """A wall 20 m ahead facing the car: the peak intensity over d^2 at the peak elevation, exp(-1/2)
    of it one spread to the side, and nothing above the cut-off."""
    dist = 20.0
    head = np.array([[0.0, 0.0, 0.7]])
    at = [dist * math.tan(HEADLIGHT_PEAK)]  # straight ahead at the peak elevation
    side = dist * math.tan(HEADLIGHT_SPREAD[0])  # one horizontal spread: tan(azimuth) = tan(12 deg)
    points = np.array([[dist, 0.0, 0.7 + at[0]], [dist, side, 0.7 + at[0]], [dist, -side, 0.7 + at[0]],
                       [dist, 0.0, 0.7 + dist * math.tan(math.radians(2.0))]])
    facing = np.tile([-1.0, 0.0, 0.0], (len(points), 1))
    _, e, _ = run_blocks(points, facing, np.zeros((0, 3)), head, np.eye(3))
    r2 = ((points - head) ** 2).sum(1)
    cos_in = dist / np.sqrt(r2)
    assert e[0] == pytest.approx(HEADLIGHT_CD * cos_in[0] / r2[0], rel=1e-5)  # 45 lux
    assert e[1] == pytest.approx(e[2], rel=1e-6)  # symmetric
    assert e[1] == pytest.approx(HEADLIGHT_CD * math.exp(-0.5) * cos_in[1] / r2[1], rel=1e-5)
    assert e[3] == 0.0  # 2 degrees up: above the cut-off


def test_blocks_above_the_cut_off_are_skipped_exactly():
    """Building fronts above the low beam's cut-off get no light, blocks mixing them with the road
    the model's light: the per-block skip changes nothing."""
    rng = np.random.default_rng(3)
    n = 2 * BLOCK
    points = np.column_stack([rng.uniform(8, 60, n), rng.uniform(-15, 15, n), np.zeros(n)])
    points[:BLOCK, 2] = rng.uniform(3.0, 12.0, BLOCK)  # a whole block of upper floors
    points[BLOCK:BLOCK + 40, 2] = rng.uniform(3.0, 12.0, 40)
    normals = np.tile([-1.0, 0.0, 0.0], (n, 1))
    normals[BLOCK + 40:] = (0.0, 0.0, 1.0)
    heads = np.array([[3.7, 0.65, 0.7], [3.7, -0.65, 0.7]])
    _, h, seen = run_blocks(points, normals, np.zeros((0, 3)), heads, np.eye(3))
    _, h_ref = irradiance_numpy(seen, normals, np.zeros((0, 3)), heads, np.eye(3))
    assert (h[:BLOCK] == 0).all() and (h_ref[:BLOCK] == 0).all()
    assert np.count_nonzero(h[BLOCK:]) > BLOCK // 2
    np.testing.assert_allclose(h, h_ref, rtol=2e-5, atol=1e-4)


def test_block_transmission_is_koschmieder_within_float32():
    t = np.array([0.0, 1.0, 10.0, 50.0, 150.0, 400.0, 1e4, np.inf], np.float32)
    out = np.empty(len(t), np.float32)
    alpha = 3.0 / 50.0  # 50 m meteorological optical range: 5 % contrast left at 50 m
    block_transmission(t, alpha, out)
    want = np.exp(-alpha * t.astype(np.float64))
    want[want < math.exp(-21.0)] = 0.0  # nothing shows through below 8e-10
    np.testing.assert_allclose(out, want, rtol=3e-6, atol=0.0)
    assert out[3] == pytest.approx(0.0498, abs=1e-4) and out[-1] == 0.0


def test_lamps_within_reach_are_the_rows_numpy_selects_in_order():
    """The compiled reach test keeps exactly the lamps NumPy's float32 squared distance keeps, in order,
    also for lamps placed within a rounding step of the reach."""
    rng = np.random.default_rng(3)
    origin = rng.uniform(-5, 5, 3).astype(np.float32)
    far = rng.uniform(-150, 150, (400, 3))
    on_sphere = rng.standard_normal((400, 3))
    on_sphere *= LAMP_REACH / np.linalg.norm(on_sphere, axis=1, keepdims=True)  # about the boundary
    lamps = (np.concatenate([far, on_sphere]) + origin).astype(np.float32)
    want = lamps[((lamps - origin) ** 2).sum(1) < LAMP_REACH**2]
    got = lamps_within(lamps, origin, LAMP_REACH)
    assert 0 < len(got) < len(lamps)
    assert got.dtype == np.float32 and got.tobytes() == want.tobytes()
    assert lamps_within(lamps[:0], origin, LAMP_REACH).shape == (0, 3)
