"""Daylight, twilight and exposure against published figures and hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simtest.sim.base import Conditions
from simtest.sim.embedded.exposure import MIDDLE_GREY, MIN_METERED, encode, exposure_gain, metered_key
from simtest.sim.embedded.lighting import LUMA, air_mass, daylight


def test_air_mass_follows_kasten_young():
    assert air_mass(90.0) == pytest.approx(1.0, abs=1e-3)
    assert air_mass(30.0) == pytest.approx(1.995, abs=0.01)  # ~ 1 / sin(30 deg)
    assert air_mass(0.0) == pytest.approx(37.92, abs=0.05)  # the formula's horizon value


def test_sun_dims_and_reddens_as_it_sets():
    lights = [daylight(Conditions(sun_altitude=a)) for a in (60.0, 30.0, 10.0, 3.0)]
    lum = [float(li.sun_rgb @ LUMA) for li in lights]
    red_blue = [float(li.sun_rgb[0] / li.sun_rgb[2]) for li in lights]
    assert all(a > b for a, b in zip(lum, lum[1:]))
    assert all(a < b for a, b in zip(red_blue, red_blue[1:]))
    # clear noon-ish: direct ~ 80-100 klx, horizontal global ~ 80-110 klx
    noon = lights[0]
    glob = lum[0] * math.sin(math.radians(60)) + float(noon.sky_rgb @ LUMA)
    assert 70_000 < glob < 120_000


def test_twilight_and_night_illuminance():
    e = {alt: float(daylight(Conditions(sun_altitude=alt)).sky_rgb @ LUMA) for alt in (0.0, -6.0, -12.0, -30.0)}
    assert 300 < e[0.0] < 1000  # sunset
    assert 1 < e[-6.0] < 10  # end of civil twilight (~3 lux)
    assert e[-12.0] < 0.5 and e[-30.0] < 0.05


def test_clouds_move_light_from_the_beam_to_the_sky():
    clear, overcast = daylight(Conditions(cloudiness=0.0)), daylight(Conditions(cloudiness=1.0))
    assert float(overcast.sun_rgb @ LUMA) < 0.1 * float(clear.sun_rgb @ LUMA)
    assert float(overcast.sky_rgb @ LUMA) > float(clear.sky_rgb @ LUMA)


def test_auto_exposure_maps_the_key_to_middle_grey():
    img = np.full((8, 8, 3), 250.0, np.float32)
    assert metered_key(img, stride=1) == pytest.approx(250.0, rel=1e-4)  # luminance weights sum to 1
    gain = exposure_gain(250.0)
    assert gain == pytest.approx(MIDDLE_GREY / 250.0)
    # middle grey after the extended Reinhard curve (white = 4): 0.18 (1 + 0.18/16) / 1.18 = 0.1543,
    # sRGB-encoded 1.055 * 0.1543^(1/2.4) - 0.055 = 0.4293 -> 109.5 (a 4096-entry table: 109 or 110)
    assert int(encode(img, gain)[0, 0, 0]) in (109, 110)
    # below the metering floor the camera runs out of gain: a dark scene stays dark
    assert exposure_gain(0.01) == pytest.approx(MIDDLE_GREY / MIN_METERED)
