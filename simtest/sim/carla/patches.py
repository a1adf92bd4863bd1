"""Physical patch textures on CARLA objects (``world.apply_color_texture_to_object``).

A patch texture is an H x W x 3 array (uint8 0..255, or float 0..1) in image
order (row 0 at the top). CARLA's ``TextureColor`` has its origin at the
bottom-left, so rows are flipped on the way in. The target is a CARLA object
name as listed by ``world.get_names_of_all_objects()`` (an exact name: a typo is
an error that suggests the closest names, never a silent guess).
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

PARAMETERS = ("Diffuse", "Normal", "AO_Roughness_Metallic_Emissive", "Emissive")


def texture_to_uint8(texture: np.ndarray) -> np.ndarray:
    """Validate a patch texture and return it as H x W x 3 uint8."""
    t = np.asarray(texture)
    if t.ndim != 3 or t.shape[2] != 3 or t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"patch texture: expected an H x W x 3 RGB array, got shape {t.shape}")
    if t.dtype == np.uint8:
        return t
    if t.dtype.kind == "f":
        if not np.isfinite(t).all() or t.min() < 0 or t.max() > 1:
            raise ValueError("patch texture: float textures must hold finite values in [0, 1]")
        return np.round(t * 255.0).astype(np.uint8)
    raise ValueError(f"patch texture: expected uint8 (0..255) or float (0..1), got dtype {t.dtype}")


def to_texture_color(texture: np.ndarray) -> Any:
    """An H x W x 3 texture as a ``carla.TextureColor`` (rows flipped to CARLA's bottom-left origin)."""
    import carla

    t = texture_to_uint8(texture)
    h, w = t.shape[:2]
    out = carla.TextureColor(w, h)
    for y in range(h):
        row = t[h - 1 - y]
        for x in range(w):
            r, g, b = (int(v) for v in row[x])
            out.set(x, y, carla.Color(r, g, b, 255))
    return out


def resolve_object_name(world: Any, name: str) -> str:
    """``name`` itself when the world has an object of that exact name, else a ValueError with suggestions."""
    names = list(world.get_names_of_all_objects())
    if name in names:
        return name
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = f"; closest names: {close}" if close else ""
    raise ValueError(
        f"patch.object: no CARLA object named {name!r} in this map ({len(names)} objects){hint}. "
        "List them with world.get_names_of_all_objects()"
    )


def apply_texture(world: Any, object_name: str, texture: np.ndarray, parameter: str = "Diffuse") -> None:
    """Paint ``texture`` on ``object_name``'s material ``parameter`` (CARLA ``MaterialParameter`` name)."""
    import carla

    if parameter not in PARAMETERS:
        raise ValueError(f"patch.parameter: expected one of {list(PARAMETERS)}, got {parameter!r}")
    target = resolve_object_name(world, object_name)
    world.apply_color_texture_to_object(target, getattr(carla.MaterialParameter, parameter), to_texture_color(texture))
