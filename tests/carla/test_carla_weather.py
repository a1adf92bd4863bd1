"""Conditions -> carla.WeatherParameters mapping (real carla type), against the documented table."""

from __future__ import annotations

import math

import pytest

carla = pytest.importorskip("carla")

from simtest.sim.base import PRESETS, Conditions  # noqa: E402
from simtest.sim.carla.weather import WeatherOptions, conditions_to_weather, precipitation  # noqa: E402


def test_clear_noon_maps_to_a_clear_carla_sky():
    w = conditions_to_weather(Conditions())
    assert isinstance(w, carla.WeatherParameters)
    assert (w.cloudiness, w.precipitation, w.precipitation_deposits, w.wetness, w.fog_density) == (0, 0, 0, 0, 0)
    assert w.sun_altitude_angle == pytest.approx(60.0)
    assert w.wind_intensity == pytest.approx(10.0)


def test_rain_table_passes_through_carla_presets_at_the_ams_class_boundaries():
    # Light/moderate boundary 2.5 mm/h = SoftRain (30), moderate/heavy 7.6 mm/h = MidRain (60), 50 mm/h = HardRain.
    assert precipitation(2.5) == pytest.approx(carla.WeatherParameters.SoftRainNoon.precipitation)
    assert precipitation(7.6) == pytest.approx(carla.WeatherParameters.MidRainyNoon.precipitation)
    assert precipitation(50.0) == pytest.approx(carla.WeatherParameters.HardRainNoon.precipitation)
    assert precipitation(200.0) == 100.0
    assert precipitation(5.05) == pytest.approx(45.0)  # halfway between 2.5 and 7.6 by linear interpolation
    w = conditions_to_weather(Conditions(rain_rate=50.0, road_wetness=1.0, cloudiness=1.0))
    assert w.precipitation_deposits == pytest.approx(carla.WeatherParameters.HardRainNoon.precipitation_deposits)
    assert w.wetness == pytest.approx(100.0) and w.cloudiness == pytest.approx(100.0)
    assert w.wind_intensity == pytest.approx(100.0)


def test_puddles_need_a_wet_road():
    assert conditions_to_weather(Conditions(rain_rate=25.0, road_wetness=0.0)).precipitation_deposits == 0.0
    half = conditions_to_weather(Conditions(rain_rate=2.5, road_wetness=0.5))
    assert half.precipitation_deposits == pytest.approx(25.0) and half.wetness == pytest.approx(50.0)


@pytest.mark.parametrize("visibility,density", [(300.0, 100 * 2.9957 / 300 / 0.1), (50.0, 100 * 2.9957 / 50 / 0.1), (20.0, 100.0)])
def test_fog_density_is_linear_in_extinction(visibility, density):
    w = conditions_to_weather(Conditions(fog_visibility=visibility))
    assert w.fog_density == pytest.approx(density, rel=1e-3)
    assert w.fog_distance == 0.0 and w.fog_falloff == pytest.approx(0.2)


def test_fog_calibration_option():
    # Calibrated so that density 100 means V = 60 m (alpha = 0.0499): then V = 120 m renders at 50.
    opts = WeatherOptions(fog_alpha_at_full_density=-math.log(0.05) / 60.0)
    assert conditions_to_weather(Conditions(fog_visibility=120.0), opts).fog_density == pytest.approx(50.0, rel=1e-6)
    with pytest.raises(ValueError, match="fog_alpha_at_full_density"):
        WeatherOptions(fog_alpha_at_full_density=0.0)


def test_sun_azimuth_is_mirrored_with_the_world():
    # simtest azimuth is counter-clockwise from world +x; CARLA's world is mirrored in y.
    assert conditions_to_weather(Conditions(sun_azimuth=90.0)).sun_azimuth_angle == pytest.approx(270.0)
    assert conditions_to_weather(Conditions(sun_azimuth=-45.0)).sun_azimuth_angle == pytest.approx(45.0)
    assert conditions_to_weather(PRESETS["night"]).sun_altitude_angle == pytest.approx(-30.0)


def test_snow_has_no_carla_rendering_but_keeps_the_sky():
    w = conditions_to_weather(PRESETS["snow"])
    assert w.precipitation == 0.0 and w.cloudiness == pytest.approx(90.0)
