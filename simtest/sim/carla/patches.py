"""Physical patch textures on CARLA objects (``world.apply_color_texture_to_object``).

A patch texture is an H x W x 3 array (uint8 0..255, or float 0..1) in image
order (row 0 at the top). CARLA's ``TextureColor`` has its origin at the
bottom-left, so rows are flipped on the way in. The target is a CARLA object
name as listed by ``world.get_names_of_all_objects()`` (an exact name: a typo is
an error that suggests the closest names, never a silent guess).

For the ``patch`` sweep axis, :func:`patch_assignments` maps each
:class:`perturbations.patch.Patch` to the episode actors its placement targets
and :func:`actor_object_name` finds each actor's object (``sim.patch_objects``
override, else by actor id, else by blueprint). CARLA replaces the object's
whole diffuse texture, so the placement's face, size and position are not
honoured (docs/carla.md, "The patch sweep axis on CARLA").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from perturbations.patch import Patch

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


def _normalised(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _has_id(name: str, actor_id: int) -> bool:
    return re.search(rf"(?<!\d){actor_id}(?!\d)", name) is not None


def actor_object_name(names: Sequence[str], role: str, actor_id: int, blueprint: str,
                      overrides: Mapping[str, str], *, shared_blueprint: bool) -> str:
    """The CARLA object name (from ``world.get_names_of_all_objects()``) of the actor ``role``.

    ``sim.patch_objects[role]`` wins when set (it must name an existing object).
    Otherwise the names carrying the actor id as a whole number are the
    candidates (narrowed by the blueprint when several); when none carries it,
    the one name holding the blueprint (``walker.pedestrian.0010`` ->
    ``pedestrian0010``, case and separators ignored), provided no other actor of
    the episode uses that blueprint. Anything else is a ValueError naming the fix.
    """
    fix = (f"set sim.patch_objects.{role}=<object name> (list the names with CarlaSimulator.object_names() "
           "or world.get_names_of_all_objects() while the episode runs)")
    if role in overrides:
        name = overrides[role]
        if name not in names:
            close = difflib.get_close_matches(name, list(names), n=5, cutoff=0.5)
            raise ValueError(f"sim.patch_objects.{role}: no CARLA object named {name!r} in this map "
                             f"({len(names)} objects; closest {close}); {fix}")
        return name
    key = _normalised(blueprint.split(".", 1)[-1])
    by_id = [n for n in names if _has_id(n, actor_id)]
    if len(by_id) > 1:
        by_id = [n for n in by_id if key in _normalised(n)]
    if len(by_id) == 1:
        return by_id[0]
    if not by_id and not shared_blueprint:
        by_bp = [n for n in names if key in _normalised(n)]
        if len(by_bp) == 1:
            return by_bp[0]
    raise ValueError(f"patch on actor {role!r} (CARLA id {actor_id}, blueprint {blueprint}): cannot tell which of "
                     f"the map's {len(names)} objects it is (candidates by id: {by_id[:5]}); {fix}")


def check_patch_objects(value: Mapping[str, Any] | None) -> dict[str, str]:
    """Validate ``sim.patch_objects`` (actor role -> CARLA object name)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()):
        raise ValueError(f"sim.patch_objects: expected a mapping of actor role -> CARLA object name (strings), got {value!r}")
    return dict(value)


def patch_assignments(patches: Sequence[Patch], actors: Sequence[tuple[str, str]]) -> list[tuple[Patch, str]]:
    """(patch, actor role) pairs: each patch on the actors ``(name, cls)`` its placement targets.

    A ``class:`` target matching no actor adds nothing (as in the embedded
    simulator); a named target that is not in the episode is a ValueError. CARLA
    paints an actor's whole diffuse texture, so two patches on one actor are a
    ValueError rather than a silent overwrite.
    """
    out: list[tuple[Patch, str]] = []
    owner: dict[str, str] = {}
    for p in patches:
        if not isinstance(p, Patch):
            raise ValueError(f"simulator patches: expected perturbations.patch.Patch objects, got {type(p).__name__}")
        roles = [name for name, cls in actors if p.placement.applies_to(name, cls)]
        if not roles and p.placement.target_class is None:
            raise ValueError(f"patch {p.name!r}: placement.target {p.placement.target!r} is not an actor of this "
                             f"episode (actors: {[n for n, _ in actors]}); fix the patch .json's placement.target")
        for role in roles:
            if role in owner:
                raise ValueError(f"patches {owner[role]!r} and {p.name!r} both target actor {role!r}: CARLA paints "
                                 "the whole object texture, so only one patch per actor is possible on sim=carla")
            owner[role] = p.name
            out.append((p, role))
    return out
