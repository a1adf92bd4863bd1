"""What the patch optimiser minimises: the reference detector's belief that the patched actor is there.

For each view, the frame is encoded exactly as :class:`~simtest.models.reference.ReferenceDetector`
encodes it (lidar raster, camera frustum cells, modality masks), except that the
patched camera's image is the differentiable render, resized to the network's
input size by area averaging (``cv2.INTER_AREA``'s rule). The score is the
sigmoid heatmap of the target's class at its peak within ``radius`` metres of
the target's ground-truth centre in the bird's-eye view - the quantity the
detector thresholds into a detection. Suppression minimises its mean over views.
The lidar input is held fixed (the patch's ink changes the lidar reflectivity
only through its mean albedo).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from simtest.models.reference import INPUT_NAMES, MODALITIES, ReferenceDetector
from simtest.patch.render import PatchView


@dataclass(frozen=True)
class EncodedView:
    """A view's fixed network inputs, the patched camera's slot and the target's BEV window (rows, cols)."""

    view: PatchView
    inputs: dict[str, torch.Tensor]
    slot: int
    window: tuple[slice, slice]


class SuppressionObjective:
    """Differentiable detection score of the patched actor (class ``cls``) for the reference model."""

    def __init__(self, detector: ReferenceDetector, cls: str, radius: float = 1.5) -> None:
        if not isinstance(detector, ReferenceDetector):
            raise ValueError("SuppressionObjective: needs the reference detector (a torch network to differentiate); "
                             f"got {type(detector).__name__}")
        if not MODALITIES[detector.modalities][0]:
            raise ValueError(f"SuppressionObjective: the {detector.modalities!r} model has no camera branch, so a "
                             "camera-visible patch cannot reach it through gradients; attack 'fusion' or 'camera'")
        classes = detector.config.classes
        if cls not in classes:
            raise ValueError(f"SuppressionObjective.cls: {cls!r} is not a class of the model {list(classes)}")
        if not (math.isfinite(radius) and radius > 0):
            raise ValueError(f"SuppressionObjective.radius: must be positive metres, got {radius!r}")
        self.detector = detector
        self.cls = cls
        self.cls_index = classes.index(cls)
        self.radius = float(radius)
        for p in detector.net.parameters():
            p.requires_grad_(False)

    def target_index(self, view: PatchView) -> int:
        """Index (in the frame's objects) of the patched actor: the nearest object of the target class."""
        obj = view.frame.objects
        label = obj.class_names.index(self.cls) if self.cls in obj.class_names else -1
        cand = np.flatnonzero(obj.labels == label)
        if not len(cand):
            raise ValueError(f"SuppressionObjective: no {self.cls} in frame {view.frame.index}; the patch must be "
                             "worn by an actor of the attacked class")
        return int(cand[np.argmin(np.hypot(obj.boxes[cand, 0], obj.boxes[cand, 1]))])

    def encode(self, view: PatchView) -> EncodedView:
        """Encode a view once (everything but its patched image is fixed during optimisation)."""
        det = self.detector
        arrays = det.codec.encode([view.frame], det.modalities)
        inputs = {k: torch.from_numpy(arrays[k]) for k in INPUT_NAMES}
        inputs["image"] = inputs["image"].float()
        inputs["lidar"] = inputs["lidar"].float()
        slot = sorted(view.frame.cameras).index(view.camera)
        box = view.frame.objects.boxes[self.target_index(view)]
        grid = det.config.grid
        row, col = grid.out_cell_of(box[0], box[1])
        r = int(math.ceil(self.radius / grid.out_cell))
        h, w = grid.out_shape
        rows = slice(max(int(row) - r, 0), min(int(row) + r + 1, h))
        cols = slice(max(int(col) - r, 0), min(int(col) + r + 1, w))
        if rows.start >= rows.stop or cols.start >= cols.stop:
            raise ValueError(f"SuppressionObjective: the target at ({box[0]:.1f}, {box[1]:.1f}) m lies outside "
                             "the model's BEV grid; choose nearer viewpoints")
        return EncodedView(view, inputs, slot, (rows, cols))

    def scores(self, enc: Sequence[EncodedView], images: Sequence[torch.Tensor]) -> torch.Tensor:
        """Score (B,) of the target in each encoded view, given each view's rendered image (H, W, 3) 0..255."""
        w, h = self.detector.config.image_size
        batch = {k: torch.cat([e.inputs[k] for e in enc]) for k in INPUT_NAMES}
        cams = []
        for e, img in zip(enc, images):
            small = F.interpolate(img.permute(2, 0, 1)[None], size=(h, w), mode="area")[0]
            cam = e.inputs["image"][0].clone()
            cam[e.slot] = small
            cams.append(cam)
        batch["image"] = torch.stack(cams)
        heat, _ = self.detector.net(*(batch[k] for k in INPUT_NAMES))
        out = []
        for i, e in enumerate(enc):
            rows, cols = e.window
            out.append(torch.sigmoid(heat[i, self.cls_index, rows, cols].max()))
        return torch.stack(out)


def total_variation(texture: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring texels of a (3, H, W) texture (printability / smoothness)."""
    return (texture[:, 1:] - texture[:, :-1]).abs().mean() + (texture[:, :, 1:] - texture[:, :, :-1]).abs().mean()
