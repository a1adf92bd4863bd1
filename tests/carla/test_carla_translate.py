"""Scenario translation: anchors found on real (offline) carla.Map road networks, poses placed by hand-checked transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest

carla = pytest.importorskip("carla")

from carla_xodr import cross, straight  # noqa: E402

from simtest.scenario import load_scenario, parse_scenario  # noqa: E402
from simtest.sim.carla.translate import Anchor, find_anchor, translate, x_extent  # noqa: E402

SCENARIO = """
name: t
duration: 4.0
world: {layout: straight, lanes: 1}
ego: {path: [[0.0, -1.75], [400.0, -1.75]], speed: 10.0}
actors:
  - {name: car, class: vehicle, model: sedan, color: red, start: [30.0, -1.75]}
  - {name: kid, class: pedestrian, model: child, path: [[20.0, -5.0], [20.0, 5.0]], yaw: 90, speed: 2.0}
"""


def test_x_extent_covers_the_episode():
    lo, hi = x_extent(parse_scenario(SCENARIO), margin=10.0)
    assert lo == pytest.approx(-10.0) and hi == pytest.approx(50.0)  # ego reaches x = 40 m in 4 s


def test_straight_anchor_is_the_reference_line_of_the_first_fitting_stretch():
    m = carla.Map("straight", straight(x0=-100.0, length=400.0))
    w = parse_scenario(SCENARIO).world
    T = find_anchor(m, w, (-10.0, 50.0))
    # Lane -1 waypoints every 5 m from x = -100; the first with 10 m of road behind it is at x = -90.
    # Its reference line (the road centre, y = 0 in OpenDRIVE = simtest world) is 1.75 m to its left.
    np.testing.assert_allclose(T[:3, 3], [-90.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(T[:3, :3], np.eye(3), atol=1e-9)


def test_too_short_a_road_fails_naming_the_map_and_the_fix():
    m = carla.Map("straight", straight(x0=0.0, length=40.0))
    with pytest.raises(ValueError, match="map 'straight' has no two-way road .* pin sim.anchors.straight.location"):
        find_anchor(m, parse_scenario(SCENARIO).world, (-10.0, 50.0))


def test_two_lane_scenario_needs_two_lanes():
    m = carla.Map("straight", straight(lanes=1))
    two = parse_scenario(SCENARIO.replace("lanes: 1", "lanes: 2"))
    with pytest.raises(ValueError, match=">= 2 lane"):
        find_anchor(m, two.world, (-10.0, 50.0))
    assert find_anchor(carla.Map("s2", straight(lanes=2)), two.world, (-10.0, 50.0)) is not None


def test_intersection_anchor_puts_the_junction_at_intersection_x():
    m = carla.Map("cross", cross(centre_x=200.0, half=10.0, arm=150.0))
    s = load_scenario("left_turn_across_path")
    T = find_anchor(m, s.world, x_extent(s))
    # Scenario x = intersection_x (60 m) on the centre line must land on the junction centre (200, 0).
    p = T @ np.array([s.world.intersection_x, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(p[:3], [200.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(T[:3, :3], np.eye(3), atol=1e-9)


def test_pinned_anchor_and_translated_poses():
    # Scenario origin pinned at CARLA (100, 50, 0.5), scenario +x along CARLA yaw 90 (CARLA +y = simtest -y).
    anchor = Anchor(map="Town05", location=(100.0, 50.0, 0.5), yaw=90.0)
    T = anchor.transform()
    plan = translate(parse_scenario(SCENARIO), T, map_name="Town05")
    assert plan.map == "Town05" and plan.ego.blueprint == "vehicle.lincoln.mkz_2020"
    assert [a.blueprint for a in plan.actors] == ["vehicle.lincoln.mkz_2020", "walker.pedestrian.0011"]
    # Ego at t = 1 s: scenario (10, -1.75), heading +x. In the simtest world: origin (100, -50, 0.5) plus
    # 10 m along the heading (0, -1) and -1.75 m along the left (1, 0): (98.25, -60, 0.5), yaw -pi/2.
    np.testing.assert_allclose(plan.ego.pose(1.0), [98.25, -60.0, 0.5, -math.pi / 2], atol=1e-9)
    # The child walks scenario +y (yaw +90 deg) -> world +x (yaw 0); at t = 1 s it is at scenario (20, -3):
    # world (100, -50) + 20 * (0, -1) - 3 * (1, 0) = (97, -70).
    np.testing.assert_allclose(plan.actors[1].pose(1.0), [97.0, -70.0, 0.5, 0.0], atol=1e-9)
    assert plan.actors[0].colour == pytest.approx((0.65, 0.08, 0.07))
    with pytest.raises(ValueError, match="both location"):
        Anchor(location=(1.0, 2.0, 3.0))


def test_missing_blueprint_is_named():
    with pytest.raises(ValueError, match=r"sim.blueprints: no CARLA blueprint for \['child'\]"):
        translate(parse_scenario(SCENARIO), np.eye(4), map_name=None, blueprints={"sedan": "x", "ego": "y"})
