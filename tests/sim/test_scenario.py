"""Scenario library, schema validation, parameters and kinematics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simtest.scenario import (
    Parameter,
    ScenarioError,
    ScenarioNotFoundError,
    list_scenarios,
    load_scenario,
    parse_scenario,
)

ARCHETYPES = {
    "child_occluded", "adult_crossing_far_side", "pedestrian_along_lane", "cyclist_crossing", "cyclist_ahead",
    "stationary_car_ahead", "braking_lead_car", "cut_in", "left_turn_across_path", "pedestrian_group_crosswalk",
}

BASE = """
name: t
duration: 5
parameters:
  speed: {default: 10.0, range: [5.0, 15.0], unit: m/s}
world: {layout: straight, lanes: 1}
ego: {path: [[0, -1.75], [300, -1.75]], speed: $speed}
actors:
  - {name: walker, class: pedestrian, model: adult, path: [[40, -5], [40, 5]], speed: 1.5,
     trigger: {ego_distance: 20}}
"""


def test_library_covers_the_euro_ncap_archetypes_and_loads():
    names = list_scenarios()
    assert ARCHETYPES <= set(names)
    for name in names:
        s = load_scenario(name)
        assert s.name == name
        assert s.parameters, f"{name} exposes no sweep parameters"
        for p in s.parameters.values():  # every default is inside its own range
            p.check(p.default)


def test_load_by_path_and_unknown_name_hint(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text(BASE)
    assert load_scenario(path).name == "t"
    assert load_scenario(str(path)).actors[0].name == "walker"
    with pytest.raises(ScenarioNotFoundError, match="did you mean 'child_occluded'"):
        load_scenario("child_ocluded")


BAD_FILES = [
    ("ego: {path: [[0, 0], [1, 0]], sped: 3}", r"ego\.sped: unknown key; did you mean 'speed'"),
    ("nmae: x\nego: {start: [0, 0]}", r"nmae: unknown key; did you mean 'name'"),
    ("actors: [{name: a, class: pedestrian, start: [1, 1]}]", r"ego: .*required key|ego.*expected a mapping|ego\.start: required"),
    ("ego: {start: [0, 0]}\nactors: [{name: a, class: truck, start: [1, 1]}]",
     r"actors\[0\]\.class: 'truck' is not one of"),
    ("ego: {start: [0, 0]}\nactors: [{name: a, class: vehicle, model: sedna, start: [1, 1]}]",
     r"actors\[0\]\.model: 'sedna' is not one of .*did you mean 'sedan'"),
    ("ego: {start: [0, 0]}\nactors: [{name: a, class: vehicle, color: purpel, start: [1, 1]}]",
     r"actors\[0\]\.color: unknown colour 'purpel'"),
    ("ego: {path: [[0, 0], [9, 0]], speed: $sped}\nparameters: {speed: {default: 1, range: [0, 2]}}",
     r"ego\.speed: unknown parameter 'sped'.*did you mean 'speed'"),
    ("parameters: {v: {default: 30, range: [0, 20]}}\nego: {start: [0, 0]}", r"parameters\.v.*30.* outside the range"),
    ("parameters: {v: {default: 3}}\nego: {start: [0, 0]}", r"parameters\.v.*exactly one of 'range"),
    ("ego: {start: [0, 0]}\nactors: [{name: a, class: pedestrian, start: [1, 1]}, {name: a, class: pedestrian, start: [2, 1]}]",
     r"names must be unique, \['a'\]"),
    ("ego: {start: [0, 0]}\nactors: [{name: a, class: pedestrian, start: [1, 1], speed: 2}]",
     r"actors\[0\]\.speed: a moving mover needs a 'path'"),
    ("ego: {start: [0, 0]}\nactors: [{name: a, class: pedestrian, path: [[1, 1], [2, 2]], speed: 1, trigger: {time: 1, ego_distance: 3}}]",
     r"trigger: give exactly one of"),
    ("ego: {start: [0, 0]}\nworld: {layout: roundabout}", r"world\.layout: 'roundabout' is not one of"),
    ("ego: {start: [0, 0]\nactors: [", r"not valid YAML"),
    ("ego: {path: [[0, 0], [1]], speed: 1}", r"ego\.path\[1\]: expected a point \[x, y\]"),
    ("ego: {start: [0, 0], speed: -1}", r"ego\.speed: -1 must lie in \[0\.0, 60\.0\]"),
]


@pytest.mark.parametrize("text, message", BAD_FILES)
def test_each_bad_scenario_file_gives_its_clear_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path)
    assert str(path) in str(info.value), "the error must name the file"


def test_with_params_resolves_expressions_and_validates():
    s = load_scenario("cut_in")
    t = s.with_params({"start_gap": 5.0, "cut_start": 20.0, "cut_length": 30.0})
    path = t.actors[0].motion.path
    assert path[1] == (25.0, -1.75) and path[2] == (55.0, -5.25)
    assert s.actors[0].motion.path[0][0] == 12.0, "with_params must not change the original"
    with pytest.raises(ScenarioError, match="no parameter 'ego_sped'.*did you mean 'ego_speed'"):
        s.with_params({"ego_sped": 3})
    with pytest.raises(ScenarioError, match="outside the range"):
        s.with_params({"ego_speed": 99.0})
    with pytest.raises(ScenarioError, match="not one of the choices"):
        s.with_params({"model": "bus"})
    assert t.with_params({"model": "truck"}).actors[0].model == "truck"


def test_sampling_is_reproducible_from_the_explicit_rng():
    s = load_scenario("child_occluded")
    a = s.sample_params(np.random.default_rng(7))
    b = s.sample_params(np.random.default_rng(7))
    assert a == b
    for name, value in a.items():
        lo, hi = s.parameters[name].range
        assert lo <= value <= hi
    assert s.sample(np.random.default_rng(7)).values == {**dict(s.values), **a}
    assert Parameter("m", "x", choices=("x", "y")).sample(np.random.default_rng(0)) in ("x", "y")


def test_braking_kinematics_match_the_hand_calculation():
    # v = 15 m/s, decel 5 m/s^2 from t = 1 s: stops after 3 s having covered v^2 / (2 a) = 22.5 m
    s = parse_scenario("""
ego: {start: [0, 0]}
actors:
  - {name: lead, class: vehicle, path: [[0, 0], [500, 0]], speed: 15, brake: {time: 1.0, decel: 5.0}}
""")
    st = lambda t: s.actor_states(t)[0]  # noqa: E731
    assert st(1.0).x == pytest.approx(15.0)
    assert st(2.0).x == pytest.approx(15 + 15 - 2.5) and st(2.0).speed == pytest.approx(10.0)
    assert st(4.0).x == pytest.approx(15 + 22.5) and st(4.0).speed == 0.0
    assert st(9.0).x == pytest.approx(37.5)


def test_ego_distance_trigger_fires_when_the_ego_is_that_close():
    s = parse_scenario(BASE)
    # the walker waits at (40, -5); ego at y = -1.75 moving at 10 m/s: distance 20 when
    # (40 - x)^2 + 3.25^2 = 400  ->  x = 40 - sqrt(400 - 10.5625)
    expected = (40 - math.sqrt(400 - 3.25**2)) / 10.0
    (t0,) = s.trigger_times
    assert t0 == pytest.approx(expected, abs=0.006)
    assert s.actor_states(t0 - 0.01)[0].y == -5.0
    # instantaneous start (no accel given): 1.5 m/s along +y
    assert s.actor_states(t0 + 1.0)[0].y == pytest.approx(-5 + 1.5, abs=0.02)
    assert s.actor_states(t0 + 1.0)[0].yaw == pytest.approx(math.pi / 2)


def test_accelerating_start_and_path_end():
    s = parse_scenario("""
ego: {start: [0, 0]}
actors:
  - {name: c, class: pedestrian, path: [[0, 0], [0, 4]], speed: 2, accel: 4, trigger: {time: 1}}
""")
    st = lambda t: s.actor_states(t)[0]  # noqa: E731
    assert st(1.25).y == pytest.approx(0.5 * 4 * 0.25**2)  # still accelerating
    assert st(2.0).y == pytest.approx(2 * 1.0 - 0.5 * 2 * 0.5)  # ramp of 0.5 s costs 0.5 m
    assert st(10.0).y == 4.0 and st(10.0).speed == 0.0 and not st(10.0).moving
