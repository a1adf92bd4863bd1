"""Array-module plumbing: the module comes from the input array.

Kernels call :func:`namespace` on their input and use only that module's
functions (the Python array API), so the same code runs on NumPy, on CuPy and on
``array_api_strict`` (which the tests use to catch NumPy-only calls). Kernels that
need an image-processing routine ask :func:`ndimage` for the twin of
``scipy.ndimage`` that matches the input; where no twin exists they move the data
with :func:`to_host` / :func:`from_host` and say so in their registration
(``host_fallback=True``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np


def namespace(x: Any) -> ModuleType:
    """The array module of ``x`` (numpy, cupy, array_api_strict, ...)."""
    if isinstance(x, np.ndarray):
        return np
    get = getattr(x, "__array_namespace__", None)
    if get is None:
        raise ValueError(f"expected an array (numpy, cupy or another Array-API array), got {type(x).__name__}")
    return get()


def is_numpy(xp: ModuleType) -> bool:
    return xp is np


def is_cupy(xp: ModuleType) -> bool:
    return xp.__name__.split(".")[0] == "cupy"


def to_host(x: Any) -> np.ndarray:
    """Copy ``x`` to a NumPy array (no copy when it already is one)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get"):  # cupy
        return x.get()
    return np.from_dlpack(x)


def from_host(a: np.ndarray, like: Any) -> Any:
    """Move a NumPy array to the array module (and device) of ``like``."""
    xp = namespace(like)
    if xp is np:
        return a
    return xp.asarray(a)


def ndimage(xp: ModuleType) -> ModuleType | None:
    """``scipy.ndimage`` for NumPy, ``cupyx.scipy.ndimage`` for CuPy, None otherwise."""
    if xp is np:
        import scipy.ndimage

        return scipy.ndimage
    if is_cupy(xp):
        import cupyx.scipy.ndimage

        return cupyx.scipy.ndimage
    return None


def host_noise(seed: int, shape: tuple[int, ...], kind: str = "normal") -> np.ndarray:
    """A float32 noise field drawn on the host from ``seed`` ("normal" or "uniform" in [0, 1)).

    Params carry an integer seed rather than the field itself, so a replay record
    stays small; the field is regenerated identically on replay.
    """
    g = np.random.default_rng(seed)
    if kind == "normal":
        return g.standard_normal(shape, dtype=np.float32)
    if kind == "uniform":
        return g.random(shape, dtype=np.float32)
    raise ValueError(f"noise kind must be 'normal' or 'uniform', got {kind!r}")


def noise(like: Any, seed: int, shape: tuple[int, ...], kind: str = "normal") -> Any:
    """A float32 noise field in the array module of ``like``.

    On CuPy it is drawn on the device by CuPy's own generator (deterministic per
    seed, but not byte-equal to the CPU field); elsewhere on the host.
    """
    xp = namespace(like)
    if is_cupy(xp):
        g = xp.random.default_rng(seed)
        return g.standard_normal(shape, dtype=xp.float32) if kind == "normal" else g.random(shape, dtype=xp.float32)
    return from_host(host_noise(seed, shape, kind), like)


def draw_seed(rng: np.random.Generator) -> int:
    """A 63-bit integer seed for a noise field, drawn from the caller's generator."""
    return int(rng.integers(0, 2**63 - 1))
