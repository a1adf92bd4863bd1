"""Weather corruptions: fractal and layer properties, and closeness to the published outputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from contract_inputs import textured_image
from perturbations import perturb, perturb_recorded
from perturbations.camera import severities as sev
from perturbations.camera.weather import FogParams, apply_fog, fractal_field, frost_texture, plasma_fractal

imagecorruptions = pytest.importorskip("imagecorruptions")


def _reference(x: np.ndarray, severity: int, name: str, seed: int) -> np.ndarray:
    np.random.seed(seed)  # the published code draws from NumPy's global state  # noqa: NPY002
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return imagecorruptions.corrupt(x, severity=severity, corruption_name=name).astype(np.float64)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return textured_image(128, 192)


def test_plasma_fractal_spans_zero_to_one_and_is_seeded():
    a = plasma_fractal(64, 2.0, 5)
    assert a.dtype == np.float32 and a.min() == 0.0 and a.max() == 1.0
    np.testing.assert_array_equal(a, plasma_fractal(64, 2.0, 5))
    assert not np.array_equal(a, plasma_fractal(64, 2.0, 6))


def test_rougher_fractals_have_more_fine_detail():
    def detail(decay: float) -> float:
        f = np.stack([plasma_fractal(256, decay, s) for s in range(6)])
        return float(np.abs(np.diff(f, axis=-1)).mean())

    assert detail(1.4) > 2 * detail(2.0)


def test_coarse_fractal_field_is_close_to_the_full_one_statistically():
    full = np.stack([plasma_fractal(512, 1.7, s)[:300, :500] for s in range(8)])
    coarse = np.stack([fractal_field(300, 500, 1.7, s) for s in range(8)])
    assert coarse.shape == (8, 300, 500)
    assert coarse.mean() == pytest.approx(full.mean(), abs=0.06)
    assert coarse.std() == pytest.approx(full.std(), rel=0.2)


def test_fog_keeps_the_brightest_value_where_the_fractal_is_zero():
    x = np.full((64, 64, 3), 200, np.uint8)
    out = apply_fog(x, FogParams(strength=2.5, decay=1.7, seed=1))
    frac = fractal_field(64, 64, 1.7, 1)
    peak = 200 / 255
    want = (200 + 255 * 2.5 * frac) * peak / (peak + 2.5)
    np.testing.assert_allclose(out[..., 0], np.clip(np.rint(want), 0, 255), atol=1)


@pytest.mark.parametrize("name", ["fog", "snow", "spatter", "frost"])
@pytest.mark.parametrize("severity", [1, 3, 5])
def test_mean_change_close_to_the_published_one(image, name, severity):
    # averaged over seeds: the layers are random in both implementations
    ours = np.mean([np.abs(perturb(image, name, severity, np.random.default_rng(s)).astype(float) - image).mean()
                    for s in range(4)])
    theirs = np.mean([np.abs(_reference(image, severity, name, s) - image).mean() for s in range(4)])
    tolerance = 0.45 if name == "frost" else 0.3  # frost: procedural texture instead of photographs
    assert ours == pytest.approx(theirs, rel=tolerance)


def test_snow_whitens_and_adds_flakes_in_the_fall_direction(image):
    y, rec = perturb_recorded(image, "snow", 5, np.random.default_rng(2))
    assert -135 <= rec.params.angle_deg <= -45
    assert y.astype(float).mean() > image.mean() + 30


def test_spatter_is_water_at_three_and_mud_at_four():
    _, low = perturb_recorded(textured_image(), "spatter", 3, np.random.default_rng(0))
    _, high = perturb_recorded(textured_image(), "spatter", 4, np.random.default_rng(0))
    assert not low.params.mud and high.params.mud


def test_fractional_severity_below_one_fades_the_level_one_layer(image):
    full = perturb(image, "snow", 1, np.random.default_rng(3)).astype(float)
    half = perturb(image, "snow", 0.5, np.random.default_rng(3)).astype(float)
    np.testing.assert_allclose(half, image + 0.5 * (full - image), atol=1.0)


def test_frost_texture_is_procedural_bright_and_structured():
    t = frost_texture(120, 200, 4)
    assert t.shape == (120, 200) and 0 <= t.min() and t.max() <= 255
    assert 80 < t.mean() < 200
    assert (t > t.mean() + 60).mean() > 0.01  # crystal needles stand out of the haze
    camera = Path(__import__("perturbations").__file__).parent / "camera"
    shipped = [p for p in camera.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"}]
    assert shipped == []  # no frost photographs (the patch library's PNGs are optimised textures, not photos)
