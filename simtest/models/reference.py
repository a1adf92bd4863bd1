"""The shipped reference fusion detector: frames in, detections out.

:class:`ReferenceConfig` fixes everything outside the network's weights (BEV
grid, depth bins, input image size, classes, layer sizes); it is stored in the
model card, so weights and code cannot drift apart silently. :class:`Codec`
turns frames into the network's input arrays and its outputs into
:class:`~simtest.types.Detections`; it is shared by the PyTorch model and its
ONNX / TorchScript exports (:func:`reference_preprocess`,
:func:`reference_postprocess`).

``modalities`` switches a branch off: ``fusion`` (camera + lidar), ``camera``
(camera only) or ``lidar`` (lidar only). The same weights serve all three; the
network was trained with modality dropout for this. A frame that lacks a
sensor (e.g. a ``missing_camera`` fault) runs with that branch off.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simtest.models.base import load_state_dict, pick_device, sha256_text
from simtest.models.batches import BatchRunner
from simtest.models.bev import BevGrid, lidar_raster
from simtest.models.lift import DepthBins, frustum_cells, scale_intrinsics
from simtest.types import CLASSES, Detections, Frame

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_CARD = WEIGHTS_DIR / "reference.json"
MODALITIES: Mapping[str, tuple[bool, bool]] = {"fusion": (True, True), "camera": (True, False), "lidar": (False, True)}
"""Branch switches: name -> (camera on, lidar on)."""
INPUT_NAMES = ("image", "lidar", "cam_index", "cam_mask", "lidar_mask")
OUTPUT_NAMES = ("heatmap", "regression")


@dataclass(frozen=True)
class ReferenceConfig:
    """Everything about the reference model except its weights."""

    grid: BevGrid = field(default_factory=BevGrid)
    depth: DepthBins = field(default_factory=DepthBins)
    image_size: tuple[int, int] = (320, 192)
    classes: tuple[str, ...] = CLASSES
    cam_channels: int = 32
    lidar_bev_channels: int = 32

    def __post_init__(self) -> None:
        w, h = self.image_size
        if w % 16 or h % 16 or w < 32 or h < 32:
            raise ValueError(f"ReferenceConfig.image_size: width and height must be multiples of 16 and >= 32, got {w}x{h}")

    @property
    def feature_shape(self) -> tuple[int, int]:
        from simtest.models.network import ImageEncoder

        w, h = self.image_size
        return h // ImageEncoder.feature_stride, w // ImageEncoder.feature_stride

    def network(self) -> Any:
        """A freshly initialised :class:`~simtest.models.network.FusionNet` of this shape."""
        from simtest.models.network import FusionNet

        return FusionNet(
            num_classes=len(self.classes),
            lidar_channels=self.grid.lidar_channels,
            height_slices=len(self.grid.z_edges) - 1,
            depth_bins=self.depth.count,
            cam_channels=self.cam_channels,
            lidar_bev_channels=self.lidar_bev_channels,
            bev_shape=self.grid.bev_shape,
            bev_stride=self.grid.stride,
            upsample=self.grid.upsample,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid": self.grid.to_dict(),
            "depth": {"near": self.depth.near, "far": self.depth.far, "count": self.depth.count},
            "image_size": list(self.image_size),
            "classes": list(self.classes),
            "cam_channels": self.cam_channels,
            "lidar_bev_channels": self.lidar_bev_channels,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "config") -> ReferenceConfig:
        try:
            return cls(
                grid=BevGrid.from_dict(data["grid"]),
                depth=DepthBins(**data["depth"]),
                image_size=tuple(int(v) for v in data["image_size"]),
                classes=tuple(str(c) for c in data["classes"]),
                cam_channels=int(data["cam_channels"]),
                lidar_bev_channels=int(data["lidar_bev_channels"]),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"{where}: malformed reference model config ({type(e).__name__}: {e})") from None


class Codec:
    """Frames -> network input arrays; network outputs -> Detections (see :data:`INPUT_NAMES`)."""

    def __init__(self, config: ReferenceConfig) -> None:
        self.config = config
        self._cells: dict[bytes, np.ndarray] = {}

    def _cam_cells(self, K: np.ndarray, T: np.ndarray) -> np.ndarray:
        key = K.tobytes() + T.tobytes()
        if key not in self._cells:
            cfg = self.config
            self._cells[key] = frustum_cells(K, T, cfg.feature_shape, cfg.image_size[0] // cfg.feature_shape[1],
                                             cfg.depth, cfg.grid)
        return self._cells[key]

    def camera_input(self, image: np.ndarray, K: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Resized CHW uint8 image and its frustum cell indices."""
        w, h = self.config.image_size
        small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        Ks = scale_intrinsics(K, w / image.shape[1], h / image.shape[0])
        return np.ascontiguousarray(small.transpose(2, 0, 1)), self._cam_cells(Ks, np.asarray(T, np.float64))

    def encode(self, frames: Sequence[Frame], modalities: str = "fusion") -> dict[str, np.ndarray]:
        """Network inputs for a batch of frames (cameras sorted by name; missing ones padded and masked)."""
        if modalities not in MODALITIES:
            raise ValueError(f"modalities: expected one of {list(MODALITIES)}, got {modalities!r}")
        use_cam, use_lidar = MODALITIES[modalities]
        cfg = self.config
        w, h = cfg.image_size
        hf, wf = cfg.feature_shape
        ncam = max([1] + [len(f.cameras) for f in frames])
        dump = cfg.grid.bev_shape[0] * cfg.grid.bev_shape[1]
        images = np.zeros((len(frames), ncam, 3, h, w), np.uint8)
        cells = np.full((len(frames), ncam * cfg.depth.count * hf * wf), dump, np.int64)
        rasters = np.zeros((len(frames), cfg.grid.lidar_channels, *cfg.grid.shape), np.uint8)
        cam_mask = np.zeros(len(frames), np.float32)
        lidar_mask = np.zeros(len(frames), np.float32)
        n_cell = cfg.depth.count * hf * wf
        for i, f in enumerate(frames):
            if use_cam and f.cameras:
                for j, name in enumerate(sorted(f.cameras)):
                    cam = f.cameras[name]
                    images[i, j], cells[i, j * n_cell : (j + 1) * n_cell] = self.camera_input(cam.image, cam.K, cam.T_ego_from_cam)
                cam_mask[i] = 1.0
            if use_lidar and f.lidars:
                rasters[i] = lidar_raster([lid.points for _, lid in sorted(f.lidars.items())], cfg.grid)
                lidar_mask[i] = 1.0
        return {"image": images, "lidar": rasters, "cam_index": cells, "cam_mask": cam_mask, "lidar_mask": lidar_mask}

    def decode(self, heatmap: Any, regression: Any, *, score_threshold: float = 0.1) -> list[Detections]:
        """Detections from the network's outputs (torch tensors or NumPy arrays)."""
        import torch

        from simtest.models.targets import decode

        heat = heatmap if torch.is_tensor(heatmap) else torch.from_numpy(np.asarray(heatmap))
        reg = regression if torch.is_tensor(regression) else torch.from_numpy(np.asarray(regression))
        out = []
        for boxes, scores, labels in decode(heat.float(), reg.float(), self.config.grid, score_threshold=score_threshold):
            out.append(Detections(boxes=boxes, scores=scores, labels=labels, class_names=self.config.classes))
        return out


# ---------------------------------------------------------------------------
# model card
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelCard:
    """The JSON model card next to the weights: what was trained on what, and its sha256."""

    path: Path
    data: Mapping[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"model card {p} does not exist; pass card=<path to the .json card of the weights>")
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"model card {p}: not valid JSON ({e})") from None
        for key in ("name", "version", "weights", "sha256", "config"):
            if key not in data:
                raise ValueError(f"model card {p}: missing key {key!r}; regenerate it with tools/train_reference.py")
        return cls(p, data)

    @property
    def weights_path(self) -> Path:
        return self.path.parent / str(self.data["weights"])

    @property
    def config(self) -> ReferenceConfig:
        return ReferenceConfig.from_dict(self.data["config"], where=f"model card {self.path}: config")


# ---------------------------------------------------------------------------
# the detector
# ---------------------------------------------------------------------------


class ReferenceDetector:
    """The reference camera + lidar fusion detector (see the module docstring and the model card).

    ``card``: the JSON model card (default: the shipped one); ``modalities``:
    ``fusion`` | ``camera`` | ``lidar``; ``score_threshold``: lowest score
    reported (the operating point is set in matching); ``device``: ``auto``
    (CUDA when present) | ``cpu`` | ``cuda[:N]``; ``batch_size``: frames per
    forward pass. Batches run single-threaded, several at once
    (:class:`~simtest.models.batches.BatchRunner`), so detections do not depend
    on the thread count.
    """

    def __init__(
        self,
        card: str | None = None,
        modalities: str = "fusion",
        score_threshold: float = 0.1,
        device: str = "auto",
        batch_size: int = 4,
    ) -> None:
        import torch

        if modalities not in MODALITIES:
            raise ValueError(f"model.modalities: expected one of {list(MODALITIES)}, got {modalities!r}")
        if not 0.0 <= score_threshold < 1.0:
            raise ValueError(f"model.score_threshold: must lie in [0, 1), got {score_threshold}")
        self.card = ModelCard.load(card if card is not None else DEFAULT_CARD)
        self.config = self.card.config
        self.codec = Codec(self.config)
        self.modalities = modalities
        self.score_threshold = float(score_threshold)
        self._batches = BatchRunner(batch_size)
        self.device = pick_device(device)
        net = self.config.network()
        state = load_state_dict(self.card.weights_path, str(self.card.data["sha256"]))
        try:
            net.load_state_dict(state)
        except RuntimeError as e:
            raise ValueError(
                f"weights {self.card.weights_path} do not fit the architecture in {self.card.path} ({e}); "
                "the card and the weights come from different trainings"
            ) from None
        self.net = net.to(self.device).eval()
        self.name = f"reference-{modalities}"
        self.version = str(self.card.data["version"])
        self.content_hash = sha256_text(self.card.data["sha256"], modalities, self.score_threshold)
        self._torch = torch

    def predict(self, frames: Sequence[Frame]) -> list[Detections]:
        return self._batches.map(self._predict_batch, frames, concurrent=self.device.type == "cpu")

    def _predict_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        torch = self._torch
        inputs = self.codec.encode(frames, self.modalities)
        tensors = [torch.from_numpy(inputs[k]).to(self.device) for k in INPUT_NAMES]
        tensors[0], tensors[1] = tensors[0].float(), tensors[1].float()
        with torch.inference_mode():
            heat, reg = self.net(*tensors)
        return self.codec.decode(heat, reg, score_threshold=self.score_threshold)


@functools.lru_cache(maxsize=4)
def _default_codec(card: str) -> Codec:
    return Codec(ModelCard.load(card).config)


def reference_preprocess(frames: Sequence[Frame]) -> dict[str, np.ndarray]:
    """Pre-processing hook for exported reference models (ONNX / TorchScript): inputs by name."""
    inputs = _default_codec(str(DEFAULT_CARD)).encode(frames, "fusion")
    inputs["image"] = inputs["image"].astype(np.float32)
    inputs["lidar"] = inputs["lidar"].astype(np.float32)
    return inputs


def reference_postprocess(outputs: Sequence[np.ndarray], frames: Sequence[Frame]) -> list[Detections]:
    """Post-processing hook for exported reference models: (heatmap, regression) -> Detections."""
    return _default_codec(str(DEFAULT_CARD)).decode(outputs[0], outputs[1])
