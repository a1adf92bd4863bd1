"""Weather and lighting levels of a sweep, composed into :class:`Conditions`.

A cell names its ``weather`` (what the atmosphere does) and its ``lighting``
(where the sun is, which lights are on) separately, so that a report can lay
them out as a weather x lighting table; any :class:`Conditions` field given as
an axis of its own (``fog_visibility``, ``rain_rate``, ``sun_altitude``, ...)
overrides both. Units follow :class:`Conditions`: rates in mm/h, optical range in
metres, sun angles in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from types import MappingProxyType
from typing import Any

from simtest.config import ConfigError, close_matches
from simtest.sim.base import Conditions

WEATHER: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "clear": {"cloudiness": 0.0},
        "cloudy": {"cloudiness": 0.8},
        "fog_light": {"cloudiness": 0.6, "fog_visibility": 300.0},
        "fog": {"cloudiness": 0.8, "fog_visibility": 100.0},
        "fog_dense": {"cloudiness": 0.9, "fog_visibility": 50.0},
        "rain_light": {"cloudiness": 0.7, "rain_rate": 2.5, "road_wetness": 0.6},
        "rain": {"cloudiness": 0.8, "rain_rate": 8.0, "road_wetness": 0.8},
        "rain_heavy": {"cloudiness": 1.0, "rain_rate": 25.0, "road_wetness": 1.0},
        "snow": {"cloudiness": 0.9, "snowfall_rate": 2.0},
    }
)
"""Weather levels: the atmospheric fields of :class:`Conditions`."""

LIGHTING: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "noon": {"sun_altitude": 60.0, "sun_azimuth": 135.0},
        "morning": {"sun_altitude": 20.0, "sun_azimuth": 90.0},
        "low_sun": {"sun_altitude": 5.0, "sun_azimuth": 0.0},
        "dusk": {"sun_altitude": 5.0, "sun_azimuth": 200.0, "headlights": True},
        "night": {"sun_altitude": -30.0, "street_lights": True, "headlights": True},
        "night_unlit": {"sun_altitude": -30.0, "headlights": True},
    }
)
"""Lighting levels: the sun and the night lights."""

CONDITION_FIELDS: frozenset[str] = frozenset(f.name for f in fields(Conditions))


def compose_conditions(axes: Mapping[str, Any], *, where: str = "cell") -> Conditions:
    """Conditions of a cell from its ``weather``, ``lighting`` and field axes.

    Missing ``weather`` means clear, missing ``lighting`` means noon. Unknown
    level names are a :class:`ConfigError` naming the axis and the known levels.
    """
    data: dict[str, Any] = {}
    for axis, table, default in (("weather", WEATHER, "clear"), ("lighting", LIGHTING, "noon")):
        level = axes.get(axis, default)
        if level not in table:
            raise ConfigError(
                f"{where}: {axis} {level!r} is not a known level{close_matches(str(level), list(table))}; "
                f"known: {sorted(table)}"
            )
        data.update(table[level])
    for name in CONDITION_FIELDS & set(axes):
        value = axes[name]
        data[name] = math.inf if name == "fog_visibility" and value in (None, "inf") else value
    try:
        return Conditions.from_dict(data, where=where)
    except (TypeError, ValueError) as e:
        raise ConfigError(str(e)) from None
