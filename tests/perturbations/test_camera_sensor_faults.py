"""Vehicle camera faults against their physical laws (photon statistics, cos^4 vignetting,
linear-light exposure) and their geometric definitions."""

from __future__ import annotations

import numpy as np
import pytest

from contract_inputs import textured_image
from perturbations import perturb, perturb_recorded
from perturbations.camera import severities as sev
from perturbations.camera.image import linear_to_srgb8, srgb_to_linear
from perturbations.camera.sensor_faults import (
    ChannelFailureParams,
    DeadLinesParams,
    DeadPixelsParams,
    LowLightParams,
    OverExposureParams,
    RaindropParams,
    SunGlareParams,
    VignettingParams,
    apply_channel_failure,
    apply_dead_lines,
    apply_dead_pixels,
    apply_lens_raindrops,
    apply_low_light,
    apply_over_exposure,
    apply_sun_glare,
    apply_vignetting,
)


def _decode(v: np.ndarray) -> np.ndarray:
    v = v / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def test_srgb_tables_round_trip_every_code():
    codes = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_allclose(srgb_to_linear(codes), _decode(codes.astype(float)), rtol=1e-6)
    np.testing.assert_array_equal(linear_to_srgb8(srgb_to_linear(codes)), codes)


def test_low_light_noise_follows_photon_and_read_noise():
    level = 180
    x = np.full((256, 256, 3), level, np.uint8)
    p = LowLightParams(stops=4.0, read_noise_e=5.0, seed=2)
    y = apply_low_light(x, p)
    gain = 2.0 ** (p.stops * sev.LOW_LIGHT_GAIN_SHARE) / sev.LOW_LIGHT_FULL_WELL_E
    electrons_in = _decode(np.float64(level)) * sev.LOW_LIGHT_FULL_WELL_E * 2.0**-p.stops
    electrons_out = _decode(y.astype(float)) / gain  # back through the ISP gain and the sRGB curve
    assert electrons_out.mean() == pytest.approx(electrons_in, rel=0.02)
    # variance = photon count (shot noise) + read noise^2; 8-bit quantisation adds step^2 / 12
    step = (_decode(np.float64(level + 1)) - _decode(np.float64(level))) / gain
    assert electrons_out.var() == pytest.approx(electrons_in + p.read_noise_e**2 + step**2 / 12, rel=0.08)


def test_low_light_darkens_by_the_stops_not_recovered_by_gain():
    x = textured_image()
    y = apply_low_light(x, LowLightParams(stops=4.0, read_noise_e=0.0, seed=1))
    ratio = _decode(y.astype(float)).mean() / _decode(x.astype(float)).mean()
    assert ratio == pytest.approx(2.0 ** (-4.0 * (1 - sev.LOW_LIGHT_GAIN_SHARE)), rel=0.05)


def test_over_exposure_scales_linear_light_and_clips():
    x = np.array([[[10, 60, 200]]], np.uint8).repeat(32, 0).repeat(32, 1)
    y = apply_over_exposure(x, OverExposureParams(stops=1.0))
    want = np.clip(_decode(x.astype(float)) * 2.0, 0, 1)
    np.testing.assert_allclose(_decode(y.astype(float)), want, atol=0.01)
    assert (y[..., 2] == 255).all()  # 200 doubled in linear light saturates


def test_vignetting_gain_is_cos4_with_the_corner_gain():
    x = np.full((101, 151, 3), 200, np.uint8)
    y = apply_vignetting(x, VignettingParams(corner_gain=0.5))
    rel = _decode(y.astype(float)) / _decode(200.0)
    assert rel[50, 75, 0] == pytest.approx(1.0, abs=0.01)
    assert rel[0, 0, 0] == pytest.approx(0.5, abs=0.01) and rel[100, 150, 0] == pytest.approx(0.5, abs=0.01)
    # halfway to the corner: 1 / (1 + rho^2 / 4)^2 with (1 + rho^2)^-2 = 0.5
    rho2 = 0.5**-0.5 - 1
    assert rel[25, 37, 0] == pytest.approx(1 / (1 + rho2 * 0.25) ** 2, abs=0.015)


def test_sun_glare_is_brightest_at_the_sun():
    x = np.full((120, 200, 3), 20, np.uint8)
    y = apply_sun_glare(x, SunGlareParams(peak=0.2, radius=0.1, veil=0.02, sun_yx=(0.25, 0.75)))
    assert y.max() < 255  # not saturated, so the maximum is the sun
    assert np.unravel_index(y[..., 0].argmax(), y.shape[:2]) == pytest.approx((30, 150), abs=2)
    assert y[..., 0].min() > 20  # the veil lifts everything
    assert (y[..., 0] >= y[..., 2]).all()  # warm tint


def test_dead_pixels_share_and_kinds():
    x = np.full((200, 200, 3), 128, np.uint8)
    y = apply_dead_pixels(x, DeadPixelsParams(share=0.05, seed=3))
    hit = (y != 128).any(-1)
    assert hit.mean() == pytest.approx(0.05, abs=0.006)
    assert (y[..., 0] == y[..., 2]).all()  # defects are grey levels on all channels
    assert (y[hit][:, 0] == 0).mean() == pytest.approx(0.5, abs=0.05)
    assert (y[hit][:, 0] == 255).mean() == pytest.approx(0.25, abs=0.05)


def test_dead_lines_hit_exactly_the_recorded_rows_and_columns():
    x = textured_image()
    y, rec = perturb_recorded(x, "dead_lines", 5, np.random.default_rng(4))
    p = rec.params
    assert len(p.rows) + len(p.cols) == int(sev.DEAD_LINES_COUNT[4])
    other_cols = np.setdiff1d(np.arange(x.shape[1]), p.cols)
    for r, v in zip(p.rows, p.row_values):
        assert (y[r, other_cols] == v).all()
    for c, v in zip(p.cols, p.col_values):
        assert (y[:, c] == v).all()  # columns are written last
    on_a_line = np.zeros(x.shape[:2], bool)
    on_a_line[list(p.rows), :] = True
    on_a_line[:, list(p.cols)] = True
    np.testing.assert_array_equal(y[~on_a_line], x[~on_a_line])
    with pytest.raises(ValueError, match="row 500"):
        apply_dead_lines(x, DeadLinesParams(rows=(500,), cols=(), row_values=(0,), col_values=()))


def test_channel_failure_scales_one_channel_only():
    x = textured_image()
    y = apply_channel_failure(x, ChannelFailureParams(channel=1, loss=0.6))
    np.testing.assert_array_equal(y[..., [0, 2]], x[..., [0, 2]])
    np.testing.assert_allclose(y[..., 1], np.rint(x[..., 1] * 0.4), atol=0.51)


def test_frozen_frame_minifies_about_the_centre():
    x = textured_image(97, 129)
    y, rec = perturb_recorded(x, "frozen_frame", 5, np.random.default_rng(0))
    s = 1 + rec.params.depth_change
    np.testing.assert_array_equal(y[48, 64], x[48, 64])  # the focus of expansion stays put
    # a pixel 20 px right of the centre shows what is 20 * s px right of it now
    col = 64 + 20 * s
    lo = int(np.floor(col))
    want = x[48, lo] * (1 - (col - lo)) + x[48, lo + 1] * (col - lo)
    np.testing.assert_allclose(y[48, 84], want, atol=1.5)


def test_raindrops_change_only_the_pixels_under_drops():
    x = textured_image(120, 160)
    params = RaindropParams(centres_yx=np.array([[0.5, 0.5]]), radii=np.array([0.1]))
    y = apply_lens_raindrops(x, params)
    rows, cols = np.mgrid[0:120, 0:160]
    d = np.hypot(rows - 60, cols - 80)
    assert (y[d > 12.5] == x[d > 12.5]).all()
    assert (y[d < 8] != x[d < 8]).any(-1).mean() > 0.8


def test_raindrops_keep_the_same_drops_as_severity_grows():
    _, a = perturb_recorded(textured_image(), "lens_raindrops", 2, np.random.default_rng(5))
    _, b = perturb_recorded(textured_image(), "lens_raindrops", 4, np.random.default_rng(5))
    n = len(a.params.radii)
    np.testing.assert_array_equal(b.params.centres_yx[:n], a.params.centres_yx)


def test_lens_dirt_covers_about_the_tabulated_share():
    x = np.full((240, 320, 3), 200, np.uint8)
    covered = np.mean([(perturb(x, "lens_dirt", 4, np.random.default_rng(s))[..., 0] < 150).mean()
                       for s in range(6)])
    assert covered == pytest.approx(sev.LENS_DIRT_COVER[3], rel=0.35)
