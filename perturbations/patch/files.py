"""Saving and loading patches: ``<name>.png`` (the printable texture) + ``<name>.json`` (metadata).

The JSON holds the placement, the metadata (target model hash, objective, EOT
ranges, seed, ...) and the SHA-256 of the texture's pixels, so a PNG that was
edited, re-encoded lossily or swapped for another is refused on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from perturbations.patch.definition import Patch, PatchError, Placement, check_texture

FORMAT_VERSION = 1


def texture_sha256(texture: np.ndarray) -> str:
    """SHA-256 of the texture's shape and uint8 pixels (independent of the PNG encoder)."""
    t = check_texture(texture)
    return hashlib.sha256(f"{t.shape[0]}x{t.shape[1]}:".encode() + t.tobytes()).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; patches are shared package data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_patch(patch: Patch, directory: str | os.PathLike[str]) -> Path:
    """Write ``<directory>/<name>.png`` and ``.json`` atomically; returns the JSON path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(patch.texture[..., ::-1]))
    if not ok:
        raise PatchError(f"patch {patch.name!r}: PNG encoding failed")
    meta = {
        "format_version": FORMAT_VERSION,
        "name": patch.name,
        "texture": f"{patch.name}.png",
        "texture_shape": list(patch.texture.shape),
        "texture_sha256": texture_sha256(patch.texture),
        "placement": patch.placement.to_dict(),
        "meta": dict(patch.meta),
    }
    try:
        text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise PatchError(f"patch {patch.name!r}: metadata is not plain JSON ({e}); use str/int/float/list/dict values") from None
    _atomic_write(d / f"{patch.name}.png", png.tobytes())
    _atomic_write(d / f"{patch.name}.json", (text + "\n").encode())
    return d / f"{patch.name}.json"


def load_patch(path: str | os.PathLike[str]) -> Patch:
    """Load a patch from its ``.json`` (or ``.png``) path, checking the texture against its hash."""
    p = Path(path)
    if p.suffix == ".png":
        p = p.with_suffix(".json")
    if not p.is_file():
        raise PatchError(f"patch file {p} does not exist; pass the .json written by save_patch or a library name")
    try:
        data: dict[str, Any] = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise PatchError(f"patch file {p}: not valid JSON ({e})") from None
    for key in ("format_version", "name", "texture", "texture_sha256", "placement", "meta"):
        if key not in data:
            raise PatchError(f"patch file {p}: missing key {key!r}; re-save the patch with save_patch")
    if data["format_version"] != FORMAT_VERSION:
        raise PatchError(f"patch file {p}: format_version {data['format_version']!r}, this simtest reads {FORMAT_VERSION}")
    png = p.parent / str(data["texture"])
    raw = cv2.imread(str(png), cv2.IMREAD_UNCHANGED) if png.is_file() else None
    if raw is None or raw.ndim != 3 or raw.shape[2] != 3 or raw.dtype != np.uint8:
        raise PatchError(f"patch file {p}: texture {png} is missing or not an 8-bit RGB PNG")
    texture = np.ascontiguousarray(raw[..., ::-1])
    got = texture_sha256(texture)
    if got != data["texture_sha256"]:
        raise PatchError(f"patch file {p}: texture {png.name} has sha256 {got[:12]}..., the metadata expects "
                         f"{str(data['texture_sha256'])[:12]}...: the PNG was modified or swapped; restore it")
    placement = Placement.from_dict(data["placement"], where=f"patch file {p}: placement")
    if not isinstance(data["meta"], dict):
        raise PatchError(f"patch file {p}: 'meta' must be a mapping")
    return Patch(str(data["name"]), texture, placement, data["meta"])
