"""Physical adversarial patches: definition, files, library (see :mod:`.definition`).

Rendering them in the world is the simulator's job (``simtest.sim.embedded.patches``);
optimising them is ``simtest.patch``.
"""

from perturbations.patch.definition import (
    ALBEDO_MAX,
    ALBEDO_MIN,
    DEFAULT_PLACEMENTS,
    SURFACES,
    Patch,
    PatchError,
    Placement,
    albedo_of,
    random_control,
    random_texture,
    srgb_to_linear,
    texture_from_unit,
)
from perturbations.patch.files import load_patch, save_patch, texture_sha256
from perturbations.patch.library import CONTROL, LIBRARY_DIR, NO_PATCH, control_patches, library_names, load_named, resolve_axis_value

__all__ = [
    "ALBEDO_MAX", "ALBEDO_MIN", "CONTROL", "DEFAULT_PLACEMENTS", "LIBRARY_DIR", "NO_PATCH", "SURFACES", "Patch",
    "PatchError", "Placement", "albedo_of", "control_patches", "library_names", "load_named", "load_patch",
    "random_control", "random_texture", "resolve_axis_value", "save_patch", "srgb_to_linear", "texture_from_unit",
    "texture_sha256",
]
