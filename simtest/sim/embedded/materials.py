"""Surface materials: visible albedo, lidar reflectivity and gloss.

Albedos are linear RGB diffuse reflectances (0..1); ``reflectivity`` is the
diffuse reflectance at the lidar's 905 nm wavelength (asphalt ~0.1, white paint
~0.6, vegetation ~0.5 in the near infrared, retro-reflective plates and lamps
higher). ``gloss`` is the share of a wet surface's water film that mirrors the
sky (roads and pavements get wet; cloth does not). Actors get their colour at
run time through per-actor paint materials appended after this table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Material:
    """One surface: ``albedo`` (linear RGB), lidar ``reflectivity``, ``wettable`` (road-like),
    ``emissive`` radiance (cd/m^2, lamps at night), ``snow`` (collects snow when upward-facing)."""

    name: str
    albedo: tuple[float, float, float]
    reflectivity: float
    wettable: bool = False
    emissive: float = 0.0
    snow: bool = True


MATERIALS: tuple[Material, ...] = (
    Material("asphalt", (0.09, 0.09, 0.095), 0.10, wettable=True),
    Material("lane_paint", (0.75, 0.75, 0.72), 0.55, wettable=True),
    Material("sidewalk", (0.42, 0.41, 0.39), 0.25, wettable=True),
    Material("curb", (0.55, 0.54, 0.52), 0.3, wettable=True),
    Material("grass", (0.10, 0.22, 0.06), 0.45),
    Material("building_wall", (0.55, 0.47, 0.40), 0.35),
    Material("building_glass", (0.10, 0.13, 0.16), 0.08, snow=False),
    Material("roof", (0.25, 0.2, 0.18), 0.2),
    Material("bark", (0.20, 0.13, 0.08), 0.3),
    Material("foliage", (0.08, 0.20, 0.06), 0.5),
    Material("metal_pole", (0.45, 0.46, 0.47), 0.4),
    Material("lamp", (0.9, 0.88, 0.8), 0.6, emissive=8000.0, snow=False),
    Material("tyre", (0.03, 0.03, 0.03), 0.05, snow=False),
    Material("window", (0.04, 0.05, 0.06), 0.05, snow=False),
    Material("chrome", (0.6, 0.6, 0.6), 0.5, snow=False),
    Material("tail_light", (0.5, 0.04, 0.03), 0.9, snow=False),
    Material("head_light", (0.85, 0.85, 0.8), 0.9, snow=False),
    Material("plate", (0.8, 0.8, 0.78), 0.9, snow=False),
    Material("skin", (0.55, 0.38, 0.3), 0.5, snow=False),
    Material("hair", (0.08, 0.05, 0.03), 0.2, snow=False),
    Material("shoe", (0.05, 0.05, 0.05), 0.1, snow=False),
    Material("trousers", (0.1, 0.11, 0.15), 0.3, snow=False),
    Material("bike_frame", (0.2, 0.2, 0.22), 0.35, snow=False),
    Material("concrete", (0.5, 0.5, 0.48), 0.3),
    Material("head_light_off", (0.85, 0.85, 0.8), 0.9, snow=False),
    Material("tail_light_off", (0.5, 0.04, 0.03), 0.9, snow=False),
)
"""The fixed material table; an index into it is a material id."""

MATERIAL_ID: dict[str, int] = {m.name: i for i, m in enumerate(MATERIALS)}

PAINT_REFLECTIVITY_SCALE = 0.9
"""Car paint / clothing at 905 nm: reflectivity ~ 0.9 x mean visible albedo + 0.05 (dark paint stays dark)."""


def paint(name: str, color: tuple[float, float, float]) -> Material:
    """A per-actor paint or clothing material of linear RGB ``color``."""
    mean = float(np.mean(color))
    return Material(name, tuple(float(c) for c in color), PAINT_REFLECTIVITY_SCALE * mean + 0.05, snow=False)


@dataclass(frozen=True)
class MaterialArrays:
    """A material table as arrays for vectorised shading (indexed by material id)."""

    albedo: np.ndarray  # (M, 3) float32
    reflectivity: np.ndarray  # (M,) float32
    wettable: np.ndarray  # (M,) bool
    emissive: np.ndarray  # (M,) float32
    snow: np.ndarray  # (M,) bool


def material_arrays(materials: tuple[Material, ...]) -> MaterialArrays:
    """Pack materials into arrays."""
    return MaterialArrays(
        albedo=np.array([m.albedo for m in materials], np.float32),
        reflectivity=np.array([m.reflectivity for m in materials], np.float32),
        wettable=np.array([m.wettable for m in materials], bool),
        emissive=np.array([m.emissive for m in materials], np.float32),
        snow=np.array([m.snow for m in materials], bool),
    )
