"""Weather and lighting levels compose into Conditions; field axes override them."""

from __future__ import annotations

import math

import pytest

from simtest.conditions import LIGHTING, WEATHER, compose_conditions
from simtest.config import ConfigError
from simtest.sim.base import KOSCHMIEDER


def test_weather_and_lighting_are_independent_parts_of_the_conditions():
    c = compose_conditions({"weather": "fog_dense", "lighting": "night"})
    assert c.fog_visibility == 50.0 and c.is_night and c.street_lights and c.headlights
    # Koschmieder: extinction = -ln(0.05) / MOR
    assert c.fog_alpha == pytest.approx(KOSCHMIEDER / 50.0)
    day = compose_conditions({"weather": "fog_dense"})
    assert day.fog_visibility == 50.0 and not day.is_night and day.sun_altitude == LIGHTING["noon"]["sun_altitude"]


def test_defaults_are_clear_noon_and_every_level_is_valid():
    c = compose_conditions({})
    assert math.isinf(c.fog_visibility) and c.rain_rate == 0 and c.sun_altitude == 60.0
    for w in WEATHER:
        for light in LIGHTING:
            compose_conditions({"weather": w, "lighting": light})


def test_condition_field_axes_override_the_levels():
    c = compose_conditions({"weather": "fog", "fog_visibility": 25.0, "sun_altitude": -10.0})
    assert c.fog_visibility == 25.0 and c.sun_altitude == -10.0 and c.is_night


def test_bad_levels_and_values_name_the_axis():
    with pytest.raises(ConfigError, match=r"weather 'foggy' is not a known level; did you mean 'fog'"):
        compose_conditions({"weather": "foggy"})
    with pytest.raises(ConfigError, match=r"cell x\.rain_rate"):
        compose_conditions({"rain_rate": -1.0}, where="cell x")
