"""Adapters that turn a user's model into a simtest :class:`~simtest.models.base.Detector`.

Three back ends share one shape: a **pre-processing hook** turns a batch of
frames into the model's inputs, the model runs, and a **post-processing hook**
turns its outputs into one :class:`~simtest.types.Detections` per frame.

* ``preprocess(frames) -> dict[str, array]``: inputs by name, in the model's
  positional order (NumPy arrays or torch tensors).
* ``postprocess(outputs, frames) -> list[Detections]``: ``outputs`` is the
  model's output as a list of NumPy arrays (or, for :class:`TorchDetector`, the
  module's raw return value).

Hooks and modules are given as objects or as import paths
(``"my_pkg.my_module.my_fn"``), so that a Hydra config can name them. The
default hooks of :class:`TorchScriptDetector` and :class:`OnnxDetector` are the
reference model's (:func:`~simtest.models.reference.reference_preprocess`), so an
exported reference model runs with just its path.

Every adapter checks a weights file against ``sha256`` when one is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simtest.models.base import import_object, load_state_dict, pick_device, read_verified, sha256_file, sha256_text
from simtest.models.batches import BatchRunner
from simtest.types import Detections, Frame

REFERENCE_PRE = "simtest.models.reference.reference_preprocess"
REFERENCE_POST = "simtest.models.reference.reference_postprocess"


def frames_passthrough(frames: Sequence[Frame]) -> dict[str, Any]:
    """Default :class:`TorchDetector` pre-processing: the module receives the frames themselves."""
    return {"frames": list(frames)}


def to_detections(outputs: Any, frames: Sequence[Frame]) -> list[Detections]:
    """Default post-processing: a list (one per frame) of Detections or of mappings with boxes, scores, labels."""
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(frames):
        raise ValueError(
            f"model output: expected a list with one entry per frame ({len(frames)}), got {type(outputs).__name__}"
            f"{f' of length {len(outputs)}' if isinstance(outputs, (list, tuple)) else ''}; "
            "return one {'boxes','scores','labels'} mapping per frame or give a postprocess hook"
        )
    out = []
    for i, o in enumerate(outputs):
        if isinstance(o, Detections):
            out.append(o)
            continue
        if not isinstance(o, Mapping) or not {"boxes", "scores", "labels"} <= set(o):
            raise ValueError(f"model output[{i}]: expected Detections or a mapping with boxes, scores, labels, got {type(o).__name__}")
        out.append(Detections(
            boxes=_numpy(o["boxes"]).astype(np.float64).reshape(-1, 7),
            scores=_numpy(o["scores"]).astype(np.float64).reshape(-1),
            labels=_numpy(o["labels"]).astype(np.int64).reshape(-1),
        ))
    return out


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _check_batch(name: str, dets: Any, frames: Sequence[Frame]) -> list[Detections]:
    if not isinstance(dets, list) or len(dets) != len(frames) or not all(isinstance(d, Detections) for d in dets):
        raise ValueError(f"{name}: postprocess must return a list of {len(frames)} Detections, got {type(dets).__name__}")
    return dets


class TorchDetector:
    """A user's ``torch.nn.Module`` as a Detector.

    ``module``: the class (or its import path); ``kwargs``: its constructor
    arguments; ``checkpoint``: a state dict file loaded with
    ``torch.load(weights_only=True)`` (checked against ``sha256`` if given);
    ``preprocess`` / ``postprocess``: hooks (defaults: the module gets
    ``frames=...`` and returns one ``{boxes, scores, labels}`` per frame);
    ``device``: ``auto`` (CUDA when present) | ``cpu`` | ``cuda[:N]``;
    ``batch_size``: frames per forward pass (batches run single-threaded, several
    at once, so detections do not depend on the thread count: see
    :mod:`simtest.models.batches`).
    """

    def __init__(
        self,
        module: str | type,
        kwargs: Mapping[str, Any] | None = None,
        checkpoint: str | None = None,
        sha256: str | None = None,
        preprocess: str | Callable[..., Any] | None = None,
        postprocess: str | Callable[..., Any] | None = None,
        name: str | None = None,
        version: str = "",
        device: str = "auto",
        batch_size: int = 4,
    ) -> None:
        import torch

        self._batches = BatchRunner(batch_size)
        cls = import_object(module, key="model.module")
        try:
            net = cls(**dict(kwargs or {}))
        except TypeError as e:
            raise ValueError(f"model.kwargs: cannot build {getattr(cls, '__name__', cls)} ({e})") from None
        if not isinstance(net, torch.nn.Module):
            raise ValueError(f"model.module: {module!r} did not build a torch.nn.Module (got {type(net).__name__})")
        weights_hash = ""
        if checkpoint is not None:
            state = load_state_dict(checkpoint, sha256)
            try:
                net.load_state_dict(state)
            except RuntimeError as e:
                raise ValueError(f"model.checkpoint: {checkpoint} does not fit {type(net).__name__} ({e})") from None
            weights_hash = sha256 or sha256_file(checkpoint)
        self.device = pick_device(device)
        self.net = net.to(self.device).eval()
        self.preprocess = import_object(preprocess or frames_passthrough, key="model.preprocess")
        self.postprocess = import_object(postprocess or to_detections, key="model.postprocess")
        self.name = name or type(net).__name__
        self.version = str(version)
        self.content_hash = sha256_text(self.name, version, weights_hash, sorted((kwargs or {}).items()), preprocess, postprocess)
        self._torch = torch

    def _to_device(self, x: Any) -> Any:
        torch = self._torch
        if isinstance(x, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        if torch.is_tensor(x):
            return x.to(self.device)
        return x

    def predict(self, frames: Sequence[Frame]) -> list[Detections]:
        return self._batches.map(self._predict_batch, frames, concurrent=self.device.type == "cpu")

    def _predict_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        inputs = {k: self._to_device(v) for k, v in self.preprocess(frames).items()}
        with self._torch.inference_mode():
            outputs = self.net(**inputs)
        return _check_batch(self.name, self.postprocess(outputs, frames), frames)


class TorchScriptDetector:
    """A TorchScript file (``torch.jit.save``) as a Detector; inputs are passed positionally in hook order.

    ``batch_size``: frames per forward pass, run as in :class:`TorchDetector`."""

    def __init__(
        self,
        path: str,
        sha256: str | None = None,
        preprocess: str | Callable[..., Any] = REFERENCE_PRE,
        postprocess: str | Callable[..., Any] = REFERENCE_POST,
        name: str | None = None,
        version: str = "",
        device: str = "auto",
        batch_size: int = 4,
    ) -> None:
        import io

        import torch

        self._batches = BatchRunner(batch_size)
        data = read_verified(path, sha256, what="TorchScript")
        self.device = pick_device(device)
        try:
            self.net = torch.jit.load(io.BytesIO(data), map_location=self.device).eval()
        except Exception as e:  # noqa: BLE001 - any load failure means a bad file
            raise ValueError(f"model.path: {path} is not a TorchScript file ({type(e).__name__}: {e})") from None
        self.preprocess = import_object(preprocess, key="model.preprocess")
        self.postprocess = import_object(postprocess, key="model.postprocess")
        self.name = name or Path(path).stem
        self.version = str(version)
        self.content_hash = sha256_text(sha256 or sha256_file(path), preprocess, postprocess)
        self._torch = torch

    def predict(self, frames: Sequence[Frame]) -> list[Detections]:
        return self._batches.map(self._predict_batch, frames, concurrent=self.device.type == "cpu")

    def _predict_batch(self, frames: Sequence[Frame]) -> list[Detections]:
        torch = self._torch
        inputs = [torch.as_tensor(np.ascontiguousarray(v)).to(self.device) for v in self.preprocess(frames).values()]
        with torch.inference_mode():
            out = self.net(*inputs)
        outputs = [o.cpu().numpy() for o in (out if isinstance(out, (list, tuple)) else [out])]
        return _check_batch(self.name, self.postprocess(outputs, frames), frames)


class OnnxDetector:
    """An ONNX file run with onnxruntime as a Detector; inputs are fed by name.

    ``providers``: onnxruntime execution providers (default: CUDA when
    available, else CPU); ``threads``: intra-op threads (0 = onnxruntime's choice).
    """

    def __init__(
        self,
        path: str,
        sha256: str | None = None,
        preprocess: str | Callable[..., Any] = REFERENCE_PRE,
        postprocess: str | Callable[..., Any] = REFERENCE_POST,
        name: str | None = None,
        version: str = "",
        providers: Sequence[str] | None = None,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort

        data = read_verified(path, sha256, what="ONNX")
        available = ort.get_available_providers()
        wanted = list(providers) if providers else [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        unknown = [p for p in wanted if p not in available]
        if unknown:
            raise ValueError(f"model.providers: {unknown} not available in this onnxruntime; available: {available}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(data, sess_options=opts, providers=wanted)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types
            raise ValueError(f"model.path: {path} is not a loadable ONNX model ({type(e).__name__}: {e})") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.preprocess = import_object(preprocess, key="model.preprocess")
        self.postprocess = import_object(postprocess, key="model.postprocess")
        self.name = name or Path(path).stem
        self.version = str(version)
        self.content_hash = sha256_text(sha256 or sha256_file(path), preprocess, postprocess)

    def predict(self, frames: Sequence[Frame]) -> list[Detections]:
        inputs = {k: np.ascontiguousarray(_numpy(v)) for k, v in self.preprocess(frames).items()}
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"{self.name}: preprocess gave inputs {sorted(inputs)}, the ONNX model needs {missing}")
        outputs = self.session.run(None, {n: inputs[n] for n in self.input_names})
        return _check_batch(self.name, self.postprocess(outputs, frames), frames)
