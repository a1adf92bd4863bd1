"""Patches in the embedded simulator: on the actor's real surface, riding with it as it moves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from perturbations.patch import DEFAULT_PLACEMENTS, Patch, PatchError, Placement, random_texture
from simtest.patch.render import capture_views
from simtest.patch.scenes import Viewpoint, single_actor_scenario
from simtest.sim.base import PRESETS
from simtest.sim.embedded import EmbeddedSimulator
from simtest.sim.embedded.assets import VEHICLES
from simtest.sim.embedded.patches import PATCH_STANDOFF, EpisodePatches, sample_bilinear
from simtest.types import box_corners, project_points, rotation_z


def _patch(placement: Placement, seed: int = 0) -> Patch:
    return Patch("p", random_texture((16, 16), np.random.default_rng(seed)), placement)


def test_patch_lies_on_the_torso_and_the_tailgate():
    walker = single_actor_scenario("pedestrian", "adult", Viewpoint(8.0)).actors
    car = single_actor_scenario("vehicle", "sedan", Viewpoint(8.0)).actors
    front = EpisodePatches([_patch(DEFAULT_PLACEMENTS["pedestrian"])], walker, 100).quads[0]
    back = EpisodePatches([_patch(replace_surface(DEFAULT_PLACEMENTS["pedestrian"], "back"))], walker, 100).quads[0]
    tail = EpisodePatches([_patch(DEFAULT_PLACEMENTS["vehicle"])], car, 100).quads[0]
    # adult torso: 0.24 m deep from z = 0.84 m, tapering linearly to 0.9 x 0.24 m at z = 1.49 m; the quad
    # touches its outermost point under the footprint, the lowest probe row at z = 1.155 - 0.5 * 4/9 m
    z_low = 0.66 * 1.75 - 0.5 * (0.5 - 0.5 / 9)
    chest = 0.12 - 0.012 * (z_low - 0.84) / 0.65
    assert front.corner[0] == pytest.approx(chest + PATCH_STANDOFF, abs=2e-4)
    assert back.corner[0] == pytest.approx(-chest - PATCH_STANDOFF, abs=2e-4)
    # sedan: rear face at -length/2
    assert tail.corner[0] == pytest.approx(-VEHICLES["sedan"].length / 2 - PATCH_STANDOFF, abs=1e-4)
    # size and orientation: u to the viewer's right, v down; centre at elevation * height
    assert np.allclose(front.e_u, [0, 0.36, 0]) and np.allclose(front.e_v, [0, 0, -0.5])
    assert np.allclose(tail.e_u, [0, -1.0, 0]) and np.allclose(tail.e_v, [0, 0, -0.6])
    centre = front.corner + 0.5 * front.e_u + 0.5 * front.e_v
    assert centre[2] == pytest.approx(0.66 * 1.75) and centre[1] == pytest.approx(0.0)


def replace_surface(p: Placement, surface: str) -> Placement:
    return Placement(p.target, surface, p.size, p.lateral, p.elevation)


def test_patch_off_the_body_is_an_error():
    walker = single_actor_scenario("pedestrian", "adult", Viewpoint(8.0)).actors
    with pytest.raises(PatchError, match="covers the actor under only"):
        EpisodePatches([_patch(Placement("class:pedestrian", "front", (0.3, 0.3), 0.8, 0.66))], walker, 100)


def test_bilinear_lookup_matches_grid_sample():
    rng = np.random.default_rng(1)
    tex = rng.random((7, 5, 3)).astype(np.float32)
    uv = rng.uniform(-0.1, 1.1, (200, 2))  # includes the border clamp
    ours = sample_bilinear(tex, uv)
    grid = torch.from_numpy((2 * uv - 1).astype(np.float32))[None, None]
    ref = F.grid_sample(torch.from_numpy(tex).permute(2, 0, 1)[None], grid, mode="bilinear", padding_mode="border",
                        align_corners=False)[0, :, 0].T.numpy()
    assert np.allclose(ours, ref, atol=1e-6)
    # texel centres hit the texel values exactly: u = (i + 0.5) / w
    centre = np.array([[(3 + 0.5) / 5, (2 + 0.5) / 7]])
    assert np.allclose(sample_bilinear(tex, centre)[0], tex[2, 3])


def test_placement_follows_the_walker(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    scen = single_actor_scenario("pedestrian", "adult", Viewpoint(9.0, 0.5, 35.0, 1.5))
    patch = _patch(DEFAULT_PLACEMENTS["pedestrian"])
    with EmbeddedSimulator() as sim:
        views = capture_views(sim, scen, PRESETS["clear_noon"], 0, [patch], [0, 20])
    assert len(views) == 2
    q = EpisodePatches([patch], scen.actors, 100).quads[0]
    local_centre = q.corner + 0.5 * q.e_u + 0.5 * q.e_v
    centroids, box_centres = [], []
    for v in views:
        cam = v.frame.cameras[v.camera]
        h, w = v.size
        idx = torch.cat([s.index for s in v.segments]).numpy()
        rows, cols = idx // w, idx % w
        grid = torch.cat([s.grid for s in v.segments]).numpy()
        # the whole texture is in view, and every patch pixel lies inside the walker's projected box
        assert grid.min(0).max() < -0.8 and grid.max(0).min() > 0.8
        uv, z = project_points(cam.K, cam.T_ego_from_cam, box_corners(v.frame.objects.boxes)[0])
        assert (z > 0).all()
        assert cols.min() >= uv[:, 0].min() - 1 and cols.max() <= uv[:, 0].max() + 1
        assert rows.min() >= uv[:, 1].min() - 1 and rows.max() <= uv[:, 1].max() + 1
        centroids.append(np.array([cols.mean(), rows.mean()]))
        # where the patch centre should be: its local position moved with the walker's box pose (ego frame)
        x, y, _, _, _, _, yaw = v.frame.objects.boxes[0]
        centre = rotation_z(yaw) @ local_centre + np.array([x, y, 0.0])
        box_centres.append(project_points(cam.K, cam.T_ego_from_cam, centre[None])[0][0])
    walked = np.linalg.norm(views[1].frame.objects.boxes[0, :2] - views[0].frame.objects.boxes[0, :2])
    assert walked == pytest.approx(1.5 * 2.0, rel=1e-3)  # 20 frames of 0.1 s at 1.5 m/s
    shift = centroids[1] - centroids[0]
    assert np.linalg.norm(shift) > 10  # it moved in the image ...
    # ... and sits where the walker's pose puts the patch centre, in both frames
    for c, b in zip(centroids, box_centres):
        assert np.linalg.norm(c - b) < 1.5
