"""A user's own model plugs in through config alone; adapters check weights and outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import nn

from simtest.models.adapters import TorchDetector
from simtest.models.base import Detector, WeightsError, sha256_file
from simtest.types import Detections

from .synthetic import synthetic_frame

CONF = Path(__file__).resolve().parents[2] / "conf"


class UserNet(nn.Module):
    """A user's model, as they would write it: boxes at the centroids of above-ground lidar clusters.

    Clusters are the occupied cells of a ``cell``-metre grid; the reported box
    size is a learned parameter (so that a checkpoint matters).
    """

    def __init__(self, cell: float = 8.0, min_height: float = 0.3) -> None:
        super().__init__()
        self.cell, self.min_height = cell, min_height
        self.size = nn.Parameter(torch.tensor([1.0, 1.0, 1.0]))

    def forward(self, frames):
        out = []
        for f in frames:
            pts = torch.from_numpy(np.concatenate([lid.points for lid in f.lidars.values()]))
            pts = pts[pts[:, 2] > self.min_height, :3].double()
            keys, inverse = torch.unique(torch.floor(pts[:, :2] / self.cell), dim=0, return_inverse=True)
            n = torch.zeros(len(keys), dtype=pts.dtype).index_add_(0, inverse, torch.ones(len(pts), dtype=pts.dtype))
            centre = torch.zeros(len(keys), 3, dtype=pts.dtype).index_add_(0, inverse, pts) / n[:, None]
            size = self.size.detach().double().expand(len(keys), 3)
            boxes = torch.cat([centre, size, torch.zeros(len(keys), 1, dtype=pts.dtype)], dim=1)
            out.append({"boxes": boxes, "scores": torch.ones(len(keys)), "labels": torch.zeros(len(keys), dtype=torch.int64)})
        return out


class NotAModule:
    """Builds fine, but is not a torch.nn.Module."""


def user_preprocess(frames):
    return {"frames": list(frames)}


def user_postprocess(outputs, frames):
    return [Detections(boxes=o["boxes"].numpy(), scores=o["scores"].numpy() * 0.5, labels=o["labels"].numpy())
            for o in outputs]


BOXES = np.array([[12.0, 4.0, 0.8, 4.5, 1.9, 1.6, 0.0], [28.0, -12.0, 0.8, 4.5, 1.9, 1.6, 0.0]])


@pytest.fixture()
def checkpoint(tmp_path):
    net = UserNet()
    with torch.no_grad():
        net.size.copy_(torch.tensor([4.5, 1.9, 1.6]))
    path = tmp_path / "user.pt"
    torch.save(net.state_dict(), path)
    return path


def model_config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose(overrides=["+model=torch", *overrides]).model


def test_a_user_model_plugs_in_through_config_alone(checkpoint):
    cfg = model_config(f"model.module={__name__}.UserNet", f"model.checkpoint={checkpoint}",
                       f"model.sha256={sha256_file(checkpoint)}", "model.name=user-net", "model.version=2.1")
    det = instantiate(cfg)
    assert isinstance(det, Detector) and det.name == "user-net" and det.version == "2.1" and det.content_hash
    [out] = det.predict([synthetic_frame(BOXES, [0, 0])])
    order = np.argsort(out.boxes[:, 0])
    # the clusters' centroids are the box centres (symmetric surfaces); the size comes from the checkpoint
    np.testing.assert_allclose(out.boxes[order, :2], BOXES[:, :2], atol=1e-6)
    np.testing.assert_allclose(out.boxes[:, 3:6], np.tile([4.5, 1.9, 1.6], (2, 1)), atol=1e-6)


def test_hooks_and_kwargs_come_from_config(checkpoint):
    cfg = model_config(f"model.module={__name__}.UserNet", f"model.checkpoint={checkpoint}", "+model.kwargs.min_height=1.0",
                       f"model.preprocess={__name__}.user_preprocess", f"model.postprocess={__name__}.user_postprocess")
    [out] = instantiate(cfg).predict([synthetic_frame(BOXES, [0, 0])])
    # only points above 1 m count now (the boxes span 0..1.6 m): the centroids rise to ~1.35 m
    assert len(out) == 2 and np.all((out.boxes[:, 2] > 1.2) & (out.boxes[:, 2] < 1.5))
    np.testing.assert_allclose(out.scores, [0.5, 0.5])  # the postprocess hook ran


def test_the_content_hash_follows_the_weights(checkpoint, tmp_path):
    a = TorchDetector(UserNet, checkpoint=str(checkpoint))
    other = tmp_path / "other.pt"
    torch.save(UserNet().state_dict(), other)
    b = TorchDetector(UserNet, checkpoint=str(other))
    assert a.content_hash != b.content_hash
    assert TorchDetector(UserNet, checkpoint=str(checkpoint)).content_hash == a.content_hash


def test_a_wrong_checkpoint_digest_is_refused(checkpoint):
    with pytest.raises(WeightsError, match="sha256"):
        TorchDetector(UserNet, checkpoint=str(checkpoint), sha256="0" * 64)


def test_bad_module_and_bad_output_name_the_key():
    with pytest.raises(ValueError, match="model.module"):
        TorchDetector("no_such_package.Net")
    with pytest.raises(ValueError, match="model.module"):
        TorchDetector(f"{__name__}.NotAModule")

    class Bad(nn.Module):
        def forward(self, frames):
            return {"boxes": None}

    with pytest.raises(ValueError, match="one entry per frame"):
        TorchDetector(Bad).predict([synthetic_frame(BOXES, [0, 0])])
