"""The Detector protocol every model implements, and safe weight loading.

A detector turns frames into detections (boxes in the ego frame, scores in
[0, 1], class labels) and names itself: ``name``, ``version`` and a
``content_hash`` that changes whenever its outputs could (weights, settings),
which the results store records with every run. Models are built by Hydra
``_target_`` (``conf/model/*.yaml``).
"""

from __future__ import annotations

import hashlib
import importlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from simtest.types import Detections, Frame


@runtime_checkable
class Detector(Protocol):
    """What simtest needs of a perception model."""

    name: str
    version: str
    content_hash: str

    def predict(self, frames: Sequence[Frame]) -> list[Detections]:
        """One :class:`Detections` per frame, in order (boxes in each frame's ego frame)."""


class WeightsError(ValueError):
    """A weights file that is missing, truncated, tampered with or not what its model card says."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(*parts: object) -> str:
    """Hex SHA-256 of the parts' string forms, joined unambiguously."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def read_verified(path: str | Path, sha256: str | None, *, what: str = "weights") -> bytes:
    """The bytes of ``path`` after checking them against ``sha256`` (skipped when None).

    Raises :class:`WeightsError` naming the file when it is missing, empty or
    its digest differs (a truncated or modified file), with the fix.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{what} file {p} does not exist; check the path (or re-run the export/training tool)")
    data = p.read_bytes()
    if not data:
        raise WeightsError(f"{what} file {p} is empty (truncated download or copy?); restore it from the package")
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256.lower():
            raise WeightsError(
                f"{what} file {p} has sha256 {got}, but its model card expects {sha256}: the file is truncated, "
                "corrupted or was modified. Restore the original file, or retrain and write a new card."
            )
    return data


def load_state_dict(path: str | Path, sha256: str | None) -> dict[str, Any]:
    """A PyTorch state dict loaded with ``torch.load(weights_only=True)`` after the sha256 check.

    Never unpickles arbitrary objects; a file that is not a state dict raises
    :class:`WeightsError`.
    """
    import torch

    data = read_verified(path, sha256)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
        raise WeightsError(f"weights file {path} cannot be read as a PyTorch checkpoint ({type(e).__name__}: {e})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise WeightsError(f"weights file {path} does not hold a state dict (got {type(state).__name__})")
    return state


def pick_device(device: str = "auto") -> Any:
    """``torch.device``: ``auto`` takes CUDA when present, else the CPU."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"model.device: {device!r} is not a torch device ({e}); use auto, cpu or cuda[:N]") from None


def import_object(spec: str | Callable[..., Any], *, key: str) -> Any:
    """Resolve ``"package.module.attr"`` or ``"package.module:attr"`` (callables pass through).

    ``key`` names the config key in the error message.
    """
    if not isinstance(spec, str):
        return spec
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
    else:
        module_name, _, attr = spec.rpartition(".")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError) as e:
        raise ValueError(f"{key}: cannot import {spec!r} ({e}); give 'package.module.name' of an importable object") from None
    return obj
