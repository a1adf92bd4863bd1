"""The suppression objective: gradients flow from the detector's heatmap into the texture; EOT sampling."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch

from perturbations.patch import DEFAULT_PLACEMENTS, Patch, PatchError, random_texture
from simtest.models.reference import ReferenceConfig, ReferenceDetector
from simtest.patch.eot import SURFACE_HEADING, EotRanges, sample_eot
from simtest.patch.objective import SuppressionObjective, total_variation
from simtest.patch.optimize import build_views, optimise_texture
from simtest.patch.render import texture_tensor
from simtest.sim.embedded import EmbeddedSimulator


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """A randomly initialised reference network with its card (tests the machinery, not an attack)."""
    d = tmp_path_factory.mktemp("model")
    cfg = ReferenceConfig()
    torch.manual_seed(0)
    torch.save(cfg.network().state_dict(), d / "w.pt")
    sha = hashlib.sha256((d / "w.pt").read_bytes()).hexdigest()
    (d / "card.json").write_text(json.dumps({"name": "random-init", "version": "0", "weights": "w.pt", "sha256": sha,
                                             "config": cfg.to_dict()}))
    return str(d / "card.json")


def test_eot_samples_are_reproducible_and_within_ranges():
    r = EotRanges(distance=(8.0, 12.0), heading=(-10.0, 10.0))
    a = sample_eot(r, "pedestrian", "back", 20, np.random.default_rng(3))
    b = sample_eot(r, "pedestrian", "back", 20, np.random.default_rng(3))
    assert a == b
    for s in a:
        assert 8.0 <= s.view.distance <= 12.0 and abs(s.view.heading - SURFACE_HEADING["back"]) <= 10.0
        assert s.model in ("adult", "child") and 0 <= s.frame <= 2
    with pytest.raises(PatchError, match="EotRanges.distance"):
        EotRanges(distance=(10.0, 5.0))


def test_total_variation_hand_values():
    t = torch.zeros(3, 2, 2)
    t[:, :, 1] = 1.0  # left column 0, right column 1: horizontal steps of 1, no vertical steps
    assert float(total_variation(t)) == pytest.approx(1.0)


def test_lidar_only_model_is_refused(card):
    det = ReferenceDetector(card=card, modalities="lidar", device="cpu")
    with pytest.raises(ValueError, match="no camera branch"):
        SuppressionObjective(det, "pedestrian")


def test_gradients_reach_the_texture_through_the_detector(monkeypatch, card):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    torch.set_num_threads(1)
    det = ReferenceDetector(card=card, modalities="camera", device="cpu")
    obj = SuppressionObjective(det, "pedestrian")
    rng = np.random.default_rng(0)
    patch = Patch("p", random_texture((16, 16), rng), DEFAULT_PLACEMENTS["pedestrian"])
    samples = sample_eot(EotRanges(distance=(6.0, 9.0), fog_probability=0.0, rain_probability=0.0, frames=(0, 0)),
                         "pedestrian", "front", 2, rng)
    with EmbeddedSimulator() as sim:
        views = build_views(sim, "pedestrian", samples, patch)
    assert len(views) == 2
    enc = [obj.encode(v) for v in views]
    # the window sits on the target: its centre cell is the walker's BEV cell
    grid = det.config.grid
    box = views[0].frame.objects.boxes[0]
    rows, cols = enc[0].window
    assert rows.start <= (box[0] - grid.x_min) / grid.out_cell < rows.stop
    assert cols.start <= (box[1] - grid.y_min) / grid.out_cell < cols.stop
    tex = texture_tensor(patch).requires_grad_(True)
    scores = obj.scores(enc, [v.render([tex]) for v in views])
    assert scores.shape == (2,) and ((scores > 0) & (scores < 1)).all()
    scores.sum().backward()
    assert tex.grad is not None and torch.isfinite(tex.grad).all() and tex.grad.abs().sum() > 0
    # the score is what the detector thresholds: the same network on the simulator's frame agrees
    with torch.no_grad():
        ref = obj.scores(enc, [torch.from_numpy(v.frame.cameras[v.camera].image.astype(np.float32)) for v in views])
    assert torch.allclose(scores.detach(), ref, atol=2e-3)
    # an optimisation step runs end to end and returns a quantised patch with the same placement
    res = optimise_texture(obj, views, patch, np.random.default_rng(1), steps=2, batch=2, lr=0.05)
    assert res.patch.texture.shape == patch.texture.shape and res.patch.placement == patch.placement
    assert len(res.history) == 2 and all(math.isfinite(h["score"]) for h in res.history)
    # a hinge above every view's score leaves nothing to suppress: the texture does not move
    idle = optimise_texture(obj, views, patch, np.random.default_rng(1), steps=2, batch=2, lr=0.05, tv_weight=0.0,
                            margin=0.999)
    assert np.array_equal(idle.patch.texture, patch.texture)
    with pytest.raises(ValueError, match="margin"):
        optimise_texture(obj, views, patch, np.random.default_rng(1), steps=1, margin=1.0)
