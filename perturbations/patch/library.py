"""The shipped patch library and sweep-axis values.

``perturbations/patch/library/`` holds optimised patches (``<name>.png`` +
``<name>.json``). A sweep's ``patch`` axis takes ``none`` (no patch),
``random`` (the control: for each patched target - the first library patch by
name of each actor or class, or, with an empty library, every default
placement - a uniformly random texture of the same size and resolution in the
same place), ``random_<name>`` (the control of one library patch, for a paired
comparison with ``<name>``), or a library name / path to a patch ``.json``.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from perturbations.patch.definition import DEFAULT_PLACEMENTS, Patch, PatchError, random_control
from perturbations.patch.files import load_patch

LIBRARY_DIR = Path(__file__).parent / "library"
NO_PATCH = "none"
CONTROL = "random"
CONTROL_RESOLUTION = (64, 64)  # pixels of a control texture when no library patch sets the size


def library_names(directory: str | Path = LIBRARY_DIR) -> list[str]:
    """Names of the patches in the library (sorted)."""
    return sorted(p.stem for p in Path(directory).glob("*.json"))


def load_named(name: str, directory: str | Path = LIBRARY_DIR) -> Patch:
    """A library patch by name, or a patch from a ``.json`` path."""
    if name.endswith(".json"):
        return load_patch(name)
    path = Path(directory) / f"{name}.json"
    if not path.is_file():
        raise PatchError(f"patch {name!r}: not in the library {directory} (it has {library_names(directory)}); "
                         f"use {NO_PATCH!r}, {CONTROL!r}, a library name or a path to a patch .json")
    return load_patch(path)


def _control(template: Patch, seed: int) -> Patch:
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(template.name.encode())]))
    return random_control(template, rng, name=f"{CONTROL}_{template.name}")


def control_patches(seed: int = 0, directory: str | Path = LIBRARY_DIR) -> tuple[Patch, ...]:
    """The random-texture controls: one per patched target (actor or class), shaped like the first library patch
    of that target by name, or one per default placement when the library is empty. Each texture comes from a
    generator seeded by ``(seed, crc32(name))``, so the control is the same in every cell of a sweep."""
    templates, seen = [], set()
    for n in library_names(directory):  # one control per target: two quads on one actor would overlap
        t = load_named(n, directory)
        if t.placement.target not in seen:
            seen.add(t.placement.target)
            templates.append(t)
    if not templates:
        templates = [Patch(f"default_{cls}", np.zeros((*CONTROL_RESOLUTION, 3), np.uint8), placement)
                     for cls, placement in DEFAULT_PLACEMENTS.items()]
    return tuple(_control(t, seed) for t in templates)


def resolve_axis_value(value: object, seed: int = 0, directory: str | Path = LIBRARY_DIR) -> tuple[Patch, ...]:
    """The patches a ``patch`` sweep-axis value stands for (``none`` -> no patches)."""
    if value is None or value == NO_PATCH:
        return ()
    if value == CONTROL:
        return control_patches(seed, directory)
    if not isinstance(value, str):
        raise PatchError(f"sweep axis patch: expected {NO_PATCH!r}, {CONTROL!r} or a patch name, got {value!r}")
    if value.startswith(f"{CONTROL}_") and not (Path(directory) / f"{value}.json").is_file():
        return (_control(load_named(value[len(CONTROL) + 1:], directory), seed),)
    return (load_named(value, directory),)


__all__ = ["CONTROL", "LIBRARY_DIR", "NO_PATCH", "control_patches", "library_names", "load_named",
           "resolve_axis_value"]
