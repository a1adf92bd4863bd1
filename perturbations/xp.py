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

import math
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


_U32 = np.float32(2.0**-32)
_ANGLE_STEP = np.float32(2.0 * math.pi * 2.0**-24)  # rad per step of a 24-bit angle
_LOW32 = np.uint64(0xFFFFFFFF)
_NOISE_CHUNK = 32768
"""Words turned into noise per step: the temporaries stay in the cache and in the
allocator's small-block pool, so a large field costs little beyond its own pages."""


def host_noise(seed: int, shape: tuple[int, ...], kind: str = "normal") -> np.ndarray:
    """A float32 noise field drawn on the host from ``seed``: "normal" N(0, 1) or "uniform" on [0, 1).

    Params carry an integer seed rather than the field itself, so a replay record
    stays small; the field is regenerated identically on replay.

    "uniform" is numpy's float32 ``random`` of ``default_rng(seed)``. "normal" is
    Box-Muller on the raw 64-bit words of an SFC64 generator seeded with ``seed``, at
    about 60 % of the cost of numpy's float32 ziggurat here: each word gives the pair
    ``sqrt(-2 ln u) (cos 2 pi v, sin 2 pi v)`` with ``u = (k + 1/2) 2^-32`` (rounded to
    float32) from its low 32 bits, so ``|z| <= 6.8`` (P(|z| > 6.8) ~ 1e-11), and ``v``
    from its top 24 bits. The first half of the field holds the cosine values, the
    second half the sine values. Same seed, same bytes on one machine; numpy's SIMD
    ``log``/``sin``/``cos`` may differ in the last ulp between CPU types.
    """
    if kind == "uniform":
        return np.random.default_rng(seed).random(shape, dtype=np.float32)
    if kind != "normal":
        raise ValueError(f"noise kind must be 'normal' or 'uniform', got {kind!r}")
    size = math.prod(shape)
    half = (size + 1) // 2
    bits = np.random.SFC64(seed)
    out = np.empty(2 * half, dtype=np.float32)
    for start in range(0, half, _NOISE_CHUNK):
        stop = min(start + _NOISE_CHUNK, half)
        words = bits.random_raw(stop - start)
        angle = (words >> np.uint64(40)).astype(np.float32)
        angle *= _ANGLE_STEP
        radius = np.bitwise_and(words, _LOW32, out=words).astype(np.float32)
        radius *= _U32
        radius += np.float32(0.5) * _U32
        np.log(radius, out=radius)
        radius *= np.float32(-2.0)
        np.sqrt(radius, out=radius)
        first, second = out[start:stop], out[half + start : half + stop]
        np.cos(angle, out=first)
        first *= radius
        np.sin(angle, out=second)
        second *= radius
    return out[:size].reshape(shape)


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


SPLITMIX_GOLDEN, SPLITMIX_MIX1, SPLITMIX_MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
"""SplitMix64 constants (Steele, Lea & Flood 2014), shared with the compiled kernels that draw in place."""


def counter_uniform(like: Any, seed: int, shape: tuple[int, ...]) -> Any:
    """Float32 uniforms on [0, 1) in the array module (and device) of ``like``, counter-based.

    Element ``k`` (C order) is the SplitMix64 output for state ``seed + (k + 1) * golden``, its top 24
    bits times 2^-24. Every element depends only on ``(seed, k)``, so a compiled kernel can draw the
    one it needs where it needs it (``perturbations/lidar/weather_compiled.py``), and every backend,
    CuPy included, gives the same bytes.
    """
    xp = namespace(like)
    u64 = xp.uint64
    n = math.prod(shape)
    z = xp.asarray(seed % 2**64, dtype=u64) + xp.arange(1, n + 1, dtype=u64) * xp.asarray(SPLITMIX_GOLDEN, dtype=u64)
    z = (z ^ (z >> xp.asarray(30, dtype=u64))) * xp.asarray(SPLITMIX_MIX1, dtype=u64)
    z = (z ^ (z >> xp.asarray(27, dtype=u64))) * xp.asarray(SPLITMIX_MIX2, dtype=u64)
    z = z ^ (z >> xp.asarray(31, dtype=u64))
    u = xp.astype(z >> xp.asarray(40, dtype=u64), xp.float32) * xp.asarray(2.0**-24, dtype=xp.float32)
    return xp.reshape(u, shape)


def draw_seed(rng: np.random.Generator) -> int:
    """A 63-bit integer seed for a noise field, drawn from the caller's generator."""
    return int(rng.integers(0, 2**63 - 1))
