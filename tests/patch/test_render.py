"""The differentiable patch render matches the simulator's own render, and gradients reach the texture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perturbations.patch import DEFAULT_PLACEMENTS, Patch, albedo_of, random_texture
from simtest.patch.render import albedo_from_srgb, capture_views, texture_tensor
from simtest.patch.scenes import Viewpoint, single_actor_scenario
from simtest.sim.base import PRESETS
from simtest.sim.embedded import EmbeddedSimulator


def _patches(seed: int) -> tuple[Patch, Patch]:
    rng = np.random.default_rng(seed)
    return tuple(Patch("p", random_texture((12, 12), rng), DEFAULT_PLACEMENTS["pedestrian"]) for _ in range(2))


@pytest.fixture(scope="module")
def scene():
    return single_actor_scenario("pedestrian", "adult", Viewpoint(7.0, 0.3, 15.0, 1.0))


@pytest.mark.parametrize("conditions", ["clear_noon", "fog_light", "rain_heavy", "night"])
def test_matches_simulator_render_of_another_texture(monkeypatch, scene, conditions):
    """Captured with texture A, rendered differentiably with texture B == the simulator's render of B."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    a, b = _patches(1)
    with EmbeddedSimulator() as sim:
        (view,) = capture_views(sim, scene, PRESETS[conditions], 7, [a], [3])
        sim.reset(scene, PRESETS[conditions], 7, patches=[b])
        sim_b = [sim.step() for _ in range(4)][3].cameras[view.camera].image.astype(np.float64)
    ours_b = view.render([texture_tensor(b)]).detach().numpy()
    ours_a = view.render([texture_tensor(a)]).detach().numpy()
    sim_a = view.frame.cameras[view.camera].image.astype(np.float64)
    mask = np.zeros(view.size[0] * view.size[1], bool)
    mask[torch.cat([s.index for s in view.segments]).numpy()] = True
    mask = mask.reshape(view.size)
    assert mask.sum() > 200
    # the simulator quantises through an 8-bit LUT of 4096 entries: within 1.5 levels of the analytic curve
    for ours, ref in ((ours_a, sim_a), (ours_b, sim_b)):
        assert np.abs(ours - ref).max() <= 1.5
        assert np.abs(ours - ref).mean() < 0.5
    # while the two textures differ visibly on the patch (else the comparison would prove nothing)
    assert np.abs(sim_a - sim_b)[mask].mean() > 8.0


def test_albedo_mapping_matches_the_patch_definition():
    t = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, 2)
    ours = albedo_from_srgb(torch.from_numpy(t.astype(np.float32) / 255)).numpy()
    assert np.allclose(ours, albedo_of(t), atol=1e-6)


def test_gradients_reach_the_texture(monkeypatch, scene):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    a, _ = _patches(2)
    with EmbeddedSimulator() as sim:
        (view,) = capture_views(sim, scene, PRESETS["clear_noon"], 0, [a], [0])
    tex = texture_tensor(a).double().requires_grad_(True)
    view64 = type(view)(view.frame, view.camera, view.base.double(),
                        tuple(type(s)(s.texture, s.index, s.grid.double(), s.shade.double()) for s in view.segments),
                        view.size, view.conditions)
    weights = torch.from_numpy(np.random.default_rng(0).random((*view.size, 3)))
    loss = (view64.render([tex]) * weights).sum()
    loss.backward()
    g = tex.grad
    assert g is not None and torch.isfinite(g).all()
    assert (g.abs().sum(0) > 0).float().mean() > 0.9  # nearly every texel is seen and moves the image
    # central finite difference on one texel and channel agrees with autograd
    c, i, j = 1, 5, 6
    eps = 1e-4
    with torch.no_grad():
        plus, minus = tex.clone(), tex.clone()
        plus[c, i, j] += eps
        minus[c, i, j] -= eps
        fd = ((view64.render([plus]) * weights).sum() - (view64.render([minus]) * weights).sum()) / (2 * eps)
    assert float(g[c, i, j]) == pytest.approx(float(fd), rel=1e-4)
