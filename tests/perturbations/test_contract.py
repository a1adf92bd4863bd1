"""The perturbation contract, generated from the registry for every registered perturbation.

For each one: shape and dtype kept (lidar: N x 4 float32, N may change), severity
0 is the identity, the same seed gives the same bytes, replaying the recorded
Params (directly and through the JSON form of ``Applied``) gives the same bytes,
degradation grows with severity (camera SSIM falls, lidar Chamfer distance grows,
fusion fault magnitude grows), and bad input gives a clear ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import perturbations
from perturbations import REGISTRY, Applied, perturb, perturb_recorded, replay
from contract_inputs import chamfer, fingerprint, frame_fault, make_history, psnr, ssim, textured_image

perturbations.names()  # import the built-in families
NAMES = sorted(REGISTRY)
CAMERA = [n for n in NAMES if REGISTRY[n].kind == "camera"]
LIDAR = [n for n in NAMES if REGISTRY[n].kind == "lidar"]
FUSION = [n for n in NAMES if REGISTRY[n].kind == "fusion"]

try:
    from perturbations.lidar.synthetic import make_scan
except ImportError:  # the lidar family is optional for the camera contract
    make_scan = None

# Published severity tables that are not monotone in the image change, and the weaker check used.
NON_MONOTONE = {
    # ImageNet-C saturate: levels 1-2 desaturate (x0.3, x0.1), levels 3-5 oversaturate (x2, x5, x20)
    "saturate": "levels 1-2 desaturate and 3-5 oversaturate (published table)",
}


# SSIM is computed on luma, which is blind to colour-only changes: these are scored by PSNR.
COLOUR_ONLY = {"saturate", "channel_failure"}


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return textured_image()


@pytest.fixture(scope="module")
def scan():
    if make_scan is None:
        pytest.skip("perturbations.lidar.synthetic.make_scan not available")
    return make_scan(np.random.default_rng(7), beams=16, steps=512)


@pytest.fixture(scope="module")
def history():
    return make_history()


def _input(name: str, image, request):
    kind = REGISTRY[name].kind
    if kind == "camera":
        return image
    return request.getfixturevalue("scan" if kind == "lidar" else "history")


def test_registry_is_not_empty_and_covers_the_issue():
    shared = {
        "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
        "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
        "speckle_noise", "gaussian_blur", "spatter", "saturate",
    }
    assert shared <= set(CAMERA)


@pytest.mark.parametrize("name", NAMES)
def test_sampler_declares_a_frozen_params_dataclass(name):
    ret = REGISTRY[name].sample.__annotations__.get("return")
    ret = REGISTRY[name].sample.__globals__.get(ret, ret) if isinstance(ret, str) else ret
    assert dataclasses.is_dataclass(ret) and ret.__dataclass_params__.frozen


@pytest.mark.parametrize("name", NAMES)
def test_shape_and_dtype_are_kept(name, image, request):
    x = _input(name, image, request)
    for severity in (0.5, 3, 5):
        y = perturb(x, name, severity, np.random.default_rng(1))
        kind = REGISTRY[name].kind
        if kind == "camera":
            assert y.shape == x.shape and y.dtype == np.uint8
        elif kind == "lidar":
            assert y.points.ndim == 2 and y.points.shape[1] == 4 and y.points.dtype == np.float32
            assert y.ring.shape == (y.points.shape[0],)
        else:
            assert set(y.cameras) <= set(x[-1].cameras) and set(y.lidars) <= set(x[-1].lidars)
            assert y.index == x[-1].index and y.timestamp == x[-1].timestamp
            for cam in y.cameras.values():
                assert cam.image.shape == x[-1].cameras["front"].image.shape and cam.image.dtype == np.uint8
            for lid in y.lidars.values():
                assert lid.points.shape[1] == 4 and lid.points.dtype == np.float32


@pytest.mark.parametrize("name", CAMERA)
def test_camera_works_at_the_smallest_size(name):
    x = textured_image(32, 33)
    y = perturb(x, name, 5, np.random.default_rng(2))
    assert y.shape == x.shape and y.dtype == np.uint8


def _current(x):
    return x[-1] if isinstance(x, list) else x


@pytest.mark.parametrize("name", NAMES)
def test_severity_zero_is_the_identity(name, image, request):
    x = _input(name, image, request)
    y = perturb(x, name, 0, np.random.default_rng(3))
    assert fingerprint(y) == fingerprint(_current(x))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_bytes(name, image, request):
    x = _input(name, image, request)
    a = perturb(x, name, 3, np.random.default_rng(11))
    b = perturb(x, name, 3, np.random.default_rng(11))
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize("name", NAMES)
def test_replay_gives_the_same_bytes_also_through_json(name, image, request):
    x = _input(name, image, request)
    y, applied = perturb_recorded(x, name, 2.5, np.random.default_rng(5))
    assert fingerprint(replay(x, applied)) == fingerprint(y)
    restored = Applied.from_dict(json.loads(json.dumps(applied.to_dict())))
    assert restored.name == name and restored.severity == 2.5
    assert fingerprint(replay(x, restored)) == fingerprint(y)


def _degradation(name, x, y) -> float:
    kind = REGISTRY[name].kind
    if kind == "camera":
        return -psnr(x, y) if name in COLOUR_ONLY else 1.0 - ssim(x, y)
    if kind == "lidar":
        return chamfer(np.asarray(x.points), np.asarray(y.points))
    return frame_fault(x[-1], y)


@pytest.mark.parametrize("name", NAMES)
def test_degradation_grows_with_severity(name, image, request):
    x = _input(name, image, request)
    seeds = range(1) if REGISTRY[name].kind != "fusion" else range(24)  # fusion faults are sparse events
    levels = (1, 3, 5)
    d = [np.mean([_degradation(name, x, perturb(x, name, s, np.random.default_rng(seed))) for seed in seeds])
         for s in levels]
    if REGISTRY[name].kind == "camera":
        assert all(math.isfinite(psnr(x, perturb(x, name, s, np.random.default_rng(0)))) for s in levels), (
            f"{name}: some level leaves the image unchanged"
        )
    assert d[2] > d[0], f"{name}: severity 5 ({d[2]:.4g}) degrades no more than severity 1 ({d[0]:.4g})"
    if name not in NON_MONOTONE:
        tol = 1e-9 + 0.02 * abs(d[2] - d[0])
        assert d[0] <= d[1] + tol and d[1] <= d[2] + tol, f"{name}: degradation not monotone over {levels}: {d}"


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("severity", [-0.5, 5.5, math.nan, "high"])
def test_severity_out_of_range_is_a_clear_error(name, severity, image, request):
    x = _input(name, image, request)
    with pytest.raises(ValueError, match="severity"):
        perturb(x, name, severity, np.random.default_rng(0))


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'gaussian_noise'"):
        perturb(textured_image(), "gausian_noise", 1, np.random.default_rng(0))


def test_rng_must_be_a_generator():
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        perturb(textured_image(), "gaussian_noise", 1, 0)


BAD_IMAGES = {
    "float dtype": (textured_image().astype(np.float32), "dtype uint8"),
    "4 channels": (np.concatenate([textured_image(), textured_image()[..., :1]], -1), r"\(H, W, 3\)"),
    "grey 2-D": (textured_image()[..., 0], r"\(H, W, 3\)"),
    "31 px high": (textured_image(31, 64), "at least 32"),
}


@pytest.mark.parametrize("name", CAMERA)
@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_image_is_a_clear_error_naming_the_perturbation(name, case):
    bad, message = BAD_IMAGES[case]
    with pytest.raises(ValueError, match=message) as err:
        perturb(bad, name, 3, np.random.default_rng(0))
    assert repr(name) in str(err.value)
    with pytest.raises(ValueError, match=message):  # apply checks too, for replay of a record on other data
        _, applied = perturb_recorded(textured_image(), name, 3, np.random.default_rng(0))
        replay(bad, applied)


@pytest.mark.parametrize("name", LIDAR)
def test_empty_cloud_is_a_clear_error(name, scan):
    empty = scan.take(np.zeros(len(scan), dtype=bool))
    with pytest.raises(ValueError, match="empty|no points|0 points"):
        perturb(empty, name, 3, np.random.default_rng(0))


def test_lidar_points_of_the_wrong_dtype_are_a_clear_error(scan):
    with pytest.raises(ValueError, match="float32"):
        dataclasses.replace(scan, points=scan.points.astype(np.float64))


@pytest.mark.parametrize("name", LIDAR)
def test_non_scan_input_is_a_clear_error(name):
    with pytest.raises(ValueError, match="Scan"):
        perturb(np.zeros((10, 4), np.float32), name, 3, np.random.default_rng(0))
