"""A physical adversarial patch: a printed texture and where it is worn or stuck.

The texture is an H x W x 3 uint8 image in sRGB (row 0 at the top), exactly the
file one would print. Its surface reflectance (linear RGB albedo) is the sRGB
decoding squeezed into a printable gamut ``[ALBEDO_MIN, ALBEDO_MAX]``: no ink is
blacker than ~3 % or whiter than paper (~85 %). The placement names the actor
(a scenario actor name, or ``class:<cls>`` for every actor of a class), a face
of the actor (``front``/``back``/``left``/``right``/``top``, in the actor's own
frame: x forward, y left, z up), the patch size in metres and where its centre
sits on that face. The simulator finds the actor's actual surface under that
footprint, so a patch on a pedestrian's ``front`` lies on the chest, not on the
front of the (larger) ground-truth box.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SURFACES = ("front", "back", "left", "right", "top")
ALBEDO_MIN = 0.03  # darkest printable reflectance (black ink on matte paper)
ALBEDO_MAX = 0.85  # brightest (white paper)
CLASS_PREFIX = "class:"


class PatchError(ValueError):
    """A patch definition, file or placement that cannot be used (the message names it and the fix)."""


@dataclass(frozen=True)
class Placement:
    """Where a patch goes.

    ``target``: a scenario actor name, or ``class:<cls>`` (every actor of class
    ``cls``). ``surface``: face of the actor in its own frame. ``size``: (width,
    height) in metres on that face (for ``top``: across, along the actor).
    ``lateral``: centre offset (m) to the viewer's right when facing the surface
    (``top``: to the actor's right). ``elevation``: centre height as a fraction
    of the actor's height (side faces only; 0 = ground, 1 = top).
    """

    target: str = "class:pedestrian"
    surface: str = "front"
    size: tuple[float, float] = (0.34, 0.4)
    lateral: float = 0.0
    elevation: float = 0.66

    def __post_init__(self) -> None:
        if not isinstance(self.target, str) or not self.target.strip() or self.target == CLASS_PREFIX:
            raise PatchError(f"patch placement.target: expected an actor name or 'class:<cls>', got {self.target!r}")
        if self.surface not in SURFACES:
            raise PatchError(f"patch placement.surface: expected one of {list(SURFACES)}, got {self.surface!r}")
        size = tuple(float(s) for s in self.size)
        if len(size) != 2 or not all(math.isfinite(s) and 0.01 <= s <= 10.0 for s in size):
            raise PatchError(f"patch placement.size: expected (width, height) in metres within [0.01, 10], got {self.size!r}")
        object.__setattr__(self, "size", size)
        if not math.isfinite(self.lateral):
            raise PatchError(f"patch placement.lateral: must be a finite offset in metres, got {self.lateral!r}")
        if not (math.isfinite(self.elevation) and 0.0 <= self.elevation <= 1.0):
            raise PatchError(f"patch placement.elevation: must be a fraction of the actor height in [0, 1], got {self.elevation!r}")

    @property
    def target_class(self) -> str | None:
        """The class named by a ``class:<cls>`` target, else None."""
        return self.target[len(CLASS_PREFIX):] if self.target.startswith(CLASS_PREFIX) else None

    def applies_to(self, actor_name: str, actor_cls: str) -> bool:
        """Whether this placement puts a patch on the actor ``actor_name`` of class ``actor_cls``."""
        cls = self.target_class
        return actor_cls == cls if cls is not None else actor_name == self.target

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "placement") -> Placement:
        known = {"target", "surface", "size", "lateral", "elevation"}
        if not isinstance(data, Mapping):
            raise PatchError(f"{where}: expected a mapping with keys {sorted(known)}, got {type(data).__name__}")
        extra = set(data) - known
        if extra:
            raise PatchError(f"{where}: unknown keys {sorted(extra)}; allowed: {sorted(known)}")
        try:
            return cls(**{k: (tuple(v) if k == "size" else v) for k, v in data.items()})
        except PatchError as e:
            raise PatchError(f"{where}: {e}") from None
        except TypeError as e:
            raise PatchError(f"{where}: {e}") from None


DEFAULT_PLACEMENTS: Mapping[str, Placement] = {
    "pedestrian": Placement("class:pedestrian", "front", (0.36, 0.5), 0.0, 0.66),
    "vehicle": Placement("class:vehicle", "back", (1.0, 0.6), 0.0, 0.42),
    "cyclist": Placement("class:cyclist", "left", (0.5, 0.4), 0.0, 0.45),
}
"""Shirt front of a walker (a T-shirt print), tailgate of a vehicle, flank of a cyclist (class -> placement)."""


def check_texture(texture: Any, *, where: str = "patch texture") -> np.ndarray:
    """The texture as a contiguous H x W x 3 uint8 array, or :class:`PatchError`."""
    t = np.asarray(texture)
    if t.dtype != np.uint8:
        raise PatchError(f"{where}: expected uint8 sRGB values 0..255, got dtype {t.dtype}; "
                         "use texture_from_unit() for float textures in [0, 1]")
    if t.ndim != 3 or t.shape[2] != 3 or min(t.shape[:2]) < 2:
        raise PatchError(f"{where}: expected an H x W x 3 RGB image with H, W >= 2, got shape {t.shape}")
    return np.ascontiguousarray(t)


def texture_from_unit(x: np.ndarray) -> np.ndarray:
    """Quantise a float sRGB texture in [0, 1] (H, W, 3) to uint8 (round to nearest)."""
    x = np.asarray(x, np.float64)
    if not np.isfinite(x).all():
        raise PatchError("patch texture: float texture holds NaN or inf")
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding of values in [0, 1]."""
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def albedo_of(texture: np.ndarray) -> np.ndarray:
    """Linear RGB reflectance (H, W, 3) float32 of a uint8 sRGB texture, within the printable gamut."""
    lin = srgb_to_linear(check_texture(texture).astype(np.float64) / 255.0)
    return (ALBEDO_MIN + (ALBEDO_MAX - ALBEDO_MIN) * lin).astype(np.float32)


@dataclass(frozen=True)
class Patch:
    """A named patch: texture (H, W, 3) uint8 sRGB, placement and free-form metadata
    (for optimised patches: target model hash, objective, EOT ranges, seed)."""

    name: str
    texture: np.ndarray
    placement: Placement = field(default_factory=Placement)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or any(c in self.name for c in "/\\+ "):
            raise PatchError(f"patch name: expected a non-empty name without '/', '\\\\', '+' or spaces, got {self.name!r}")
        object.__setattr__(self, "texture", check_texture(self.texture, where=f"patch {self.name!r}: texture"))
        if not isinstance(self.placement, Placement):
            raise PatchError(f"patch {self.name!r}: placement must be a Placement, got {type(self.placement).__name__}")

    @property
    def albedo(self) -> np.ndarray:
        """Linear RGB reflectance of the printed texture (H, W, 3) float32."""
        return albedo_of(self.texture)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Patch) and self.name == other.name and self.placement == other.placement
                and dict(self.meta) == dict(other.meta) and np.array_equal(self.texture, other.texture))

    __hash__ = None  # type: ignore[assignment]


def random_texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Uniform random uint8 sRGB texture of (H, W) pixels drawn from ``rng`` (the control texture)."""
    h, w = (int(s) for s in shape)
    if h < 2 or w < 2:
        raise PatchError(f"random texture: need at least 2 x 2 pixels, got {shape}")
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def random_control(patch: Patch, rng: np.random.Generator, name: str = "random") -> Patch:
    """The control for ``patch``: same placement, size and resolution, uniformly random texture from ``rng``."""
    return Patch(name, random_texture(patch.texture.shape[:2], rng), patch.placement,
                 {"objective": "control", "control_for": patch.name})
