"""Digital corruptions: closed forms against the published HSV round trip, JPEG and pixelate
against Pillow, elastic displacement magnitudes against the published parameters."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from contract_inputs import textured_image
from perturbations import perturb, perturb_recorded
from perturbations.camera import severities as sev
from perturbations.camera.digital import ElasticParams, displacement_fields

imagecorruptions = pytest.importorskip("imagecorruptions")


def _reference(x: np.ndarray, severity: int, name: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return imagecorruptions.corrupt(x, severity=severity, corruption_name=name).astype(np.float64)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    img = textured_image(96, 128)
    img[:8, :8] = 0  # black and grey patches exercise the S = 0 and V = 0 branches of the HSV formulas
    img[8:16, :8] = 140
    return img


@pytest.mark.parametrize("name", ["brightness", "saturate", "contrast"])
@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_closed_forms_match_the_published_hsv_code(image, name, severity):
    got = perturb(image, name, severity, np.random.default_rng(0)).astype(np.float64)
    want = _reference(image, severity, name)
    # the published code truncates to 8 bits, we round: at most 1 DN apart, never more
    assert np.abs(got - want).max() <= 1.0


def test_contrast_keeps_the_channel_means(image):
    y = perturb(image, "contrast", 5, np.random.default_rng(0)).astype(np.float64)
    np.testing.assert_allclose(y.mean((0, 1)), image.mean((0, 1)), atol=0.6)
    assert y.std((0, 1)) == pytest.approx(image.std((0, 1)) * sev.CONTRAST_FACTOR[4], rel=0.1)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_jpeg_is_the_pillow_encoding_at_the_table_quality(image, severity):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=int(sev.JPEG_QUALITY[severity - 1]))
    want = np.asarray(Image.open(buf))
    got = perturb(image, "jpeg_compression", severity, np.random.default_rng(0))
    assert np.abs(got.astype(int) - want).max() <= 1  # same libjpeg; identical in practice


def test_jpeg_quality_falls_from_100_below_level_one():
    _, rec = perturb_recorded(textured_image(), "jpeg_compression", 0.5, np.random.default_rng(0))
    assert rec.params.quality == round(100 + 0.5 * (25 - 100))


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_pixelate_is_constant_on_blocks_and_close_to_pillow(image, severity):
    got = perturb(image, "pixelate", severity, np.random.default_rng(0))
    c = sev.PIXELATE_SCALE[severity - 1]
    h, w = image.shape[:2]
    small = (int(w * c), int(h * c))
    assert len(np.unique(got.reshape(-1, 3), axis=0)) <= small[0] * small[1]
    want = np.asarray(Image.fromarray(image).resize(small, Image.BOX).resize((w, h), Image.NEAREST)).astype(float)
    assert np.abs(got - want).mean() < 4.0  # OpenCV's area filter weights fractional pixels like Pillow's box


@pytest.mark.parametrize("severity", [1, 5])
def test_elastic_displacement_has_the_published_scale(severity):
    h, w = 384, 640
    alpha = sev.ELASTIC_ALPHA[severity - 1]
    dy, dx = displacement_fields(h, w, ElasticParams(alpha=alpha, seed=3))
    # uniform noise of half-width a = 0.005 h has variance a^2 / 3; a 2-D Gaussian smoothing with
    # sigmas (sy, sx) divides the variance by 4 pi sy sx (white noise, kernel much larger than a pixel)
    a, sy, sx = 0.005 * h, 0.01 * h, 0.01 * w
    want_std = alpha * a / np.sqrt(3) / np.sqrt(4 * np.pi * sy * sx)
    assert dy.std() == pytest.approx(want_std, rel=0.15)
    assert dx.std() == pytest.approx(want_std, rel=0.15)
    assert abs(float(np.corrcoef(dy.ravel(), dx.ravel())[0, 1])) < 0.1


def test_elastic_changes_the_image_as_much_as_the_published_one(image):
    got = perturb(image, "elastic_transform", 3, np.random.default_rng(1)).astype(float)
    want = _reference(image, 3, "elastic_transform")
    assert np.abs(got - image).mean() == pytest.approx(np.abs(want - image).mean(), rel=0.35)
