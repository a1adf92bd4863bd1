"""Every camera and lidar kernel runs on ``array_api_strict`` and gives the NumPy bytes.

No GPU exists where the tests run, so the backend-generic code paths are run on
``array_api_strict`` arrays instead: a kernel that calls a NumPy function on its
input (which would break on CuPy) fails here, because the strict array's
``__array__`` is made to raise for the duration of the test. Kernels that need
OpenCV copy to the host explicitly (``perturbations.xp.to_host``, DLPack) and are
registered with ``host_fallback=True``; the filters used by the others take the
``cupyx.scipy.ndimage`` twin on CuPy and copy only off NumPy/CuPy (see
``perturbations/camera/filters.py``). Fusion-level faults act on ``Frame`` objects
of NumPy arrays and are not array kernels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import perturbations
from perturbations import REGISTRY, perturb_recorded, replay
from contract_inputs import textured_image

xps = pytest.importorskip("array_api_strict")
perturbations.names()
StrictArray = type(xps.asarray(0))

CAMERA = sorted(n for n, p in REGISTRY.items() if p.kind == "camera")
LIDAR = sorted(n for n, p in REGISTRY.items() if p.kind == "lidar")

# Camera kernels that run OpenCV on a host copy on every backend (documented in their modules).
EXPECTED_HOST_FALLBACK = {"pixelate", "jpeg_compression"}
# Kernels whose NumPy path takes an OpenCV arithmetic shortcut that rounds its own way: <= 1 DN apart.
NUMPY_SHORTCUTS = {"frost": "cv2.addWeighted blends in OpenCV's fixed point"}
# Lidar kernels whose NumPy float32 path is compiled (perturbations/lidar/weather_compiled.py): the same
# arithmetic, but their exp/log (exp32, log32) may differ from NumPy's in the last ulp, which the inverse-CDF lookups
# of echo ranges can amplify to ~1e-5.
COMPILED_ON_NUMPY = {"lidar_fog", "lidar_rain", "lidar_snow"}


@pytest.fixture(autouse=True)
def numpy_calls_on_strict_arrays_raise(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise TypeError("a NumPy function was called on an array_api_strict array (not backend-generic)")

    monkeypatch.setattr(StrictArray, "__array__", refuse, raising=False)


def test_host_fallbacks_are_the_documented_ones():
    assert {n for n in CAMERA if REGISTRY[n].host_fallback} == EXPECTED_HOST_FALLBACK


@pytest.mark.parametrize("name", CAMERA)
def test_camera_kernel_on_strict_arrays_gives_the_numpy_bytes(name):
    x = textured_image()
    want, applied = perturb_recorded(x, name, 3.5, np.random.default_rng(4))
    got = replay(xps.asarray(x), applied)
    assert isinstance(got, StrictArray), f"{name} returned {type(got).__name__}, not the input's array type"
    assert got.dtype == xps.uint8 and tuple(got.shape) == x.shape
    if name in NUMPY_SHORTCUTS:
        diff = np.abs(np.from_dlpack(got).astype(int) - want)
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, NUMPY_SHORTCUTS[name]
    else:
        np.testing.assert_array_equal(np.from_dlpack(got), want, err_msg=name)


@pytest.mark.parametrize("name", LIDAR)
def test_lidar_kernel_on_strict_arrays_gives_the_numpy_points(name):
    make_scan = pytest.importorskip("perturbations.lidar.synthetic").make_scan
    scan = make_scan(np.random.default_rng(3), beams=16, steps=256)
    strict = dataclasses.replace(
        scan, points=xps.asarray(scan.points), ring=xps.asarray(scan.ring),
        labels=None if scan.labels is None else xps.asarray(scan.labels),
    )
    want, applied = perturb_recorded(scan, name, 3.5, np.random.default_rng(4))
    got = replay(strict, applied)
    assert isinstance(got.points, StrictArray), f"{name} returned {type(got.points).__name__} points"
    if name in COMPILED_ON_NUMPY:
        assert tuple(got.points.shape) == want.points.shape, name  # the same returns kept, lost and moved
        np.testing.assert_allclose(np.from_dlpack(got.points), want.points, rtol=1e-4, atol=1e-6, err_msg=name)
    else:
        np.testing.assert_array_equal(np.from_dlpack(got.points), want.points, err_msg=name)


def test_the_guard_catches_a_numpy_call():
    with pytest.raises(TypeError, match="not backend-generic"):
        np.clip(xps.asarray(np.arange(4.0)), 0.0, 1.0)
