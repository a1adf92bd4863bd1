"""In-path and safety-critical flags against hand calculations."""

from __future__ import annotations

import numpy as np
import pytest

from simtest.sim.ground_truth import PathConfig, path_flags, stopping_distance


def ped(x: float, y: float) -> list[float]:
    return [x, y, 0.9, 0.6, 0.6, 1.8, 0.0]


def test_stopping_distance_formula():
    cfg = PathConfig(t_react=1.2, a_brake=7.0, margin=1.5)
    v = 13.9
    assert stopping_distance(v, cfg) == pytest.approx(v * 1.2 + v * v / 14.0 + 1.5)
    assert stopping_distance(0.0, cfg) == 1.5


def test_in_path_is_the_corridor_overlap():
    cfg = PathConfig(half_width=1.5, path_length=60.0)
    boxes = np.array([ped(30, 0), ped(30, 1.75), ped(30, 1.85), ped(70, 0), ped(-3, 0)])
    in_path, _ = path_flags(boxes, np.zeros((5, 2)), 10.0, cfg)
    # footprint half width 0.3: overlaps |y| <= 1.5 iff |y| - 0.3 <= 1.5
    assert in_path.tolist() == [True, True, False, False, False]


def test_rotated_footprint_uses_its_corners():
    cfg = PathConfig(half_width=1.5)
    car = np.array([[20.0, 3.6, 0.7, 4.6, 1.8, 1.4, 0.0], [20.0, 3.6, 0.7, 4.6, 1.8, 1.4, np.pi / 4]])
    in_path, _ = path_flags(car, np.zeros((2, 2)), 10.0, cfg)
    # aligned: nearest edge at 3.6 - 0.9 = 2.7 > 1.5; rotated 45 deg: a corner reaches
    # 3.6 - (2.3 + 0.9) / sqrt(2) = 1.34 < 1.5
    assert in_path.tolist() == [False, True]


def test_critical_means_inside_or_entering_the_stopping_envelope():
    cfg = PathConfig(half_width=1.5, t_react=1.0, a_brake=6.0, margin=2.0)
    v = 10.0  # envelope = 10 + 100/12 + 2 = 20.33 m, stopping time 1 + 10/6 = 2.67 s
    boxes = np.array([ped(15, 0), ped(25, 0), ped(15, -5), ped(15, -5), ped(15, -9)])
    vel = np.array([[0, 0], [0, 0], [0, 1.5], [0, -1.5], [0, 1.5]])
    in_path, critical = path_flags(boxes, vel, v, cfg)
    assert in_path.tolist() == [True, True, False, False, False]
    # 1: inside the envelope; 2: beyond it (in path, not critical); 3: walks 4 m in
    # 2.67 s, enough to reach y = -1.8 + ... (edge at -5 + 0.3 + 4 = -0.7); 4: walks away;
    # 5: needs 9 - 0.3 - 1.5 = 7.2 m, more than 4 m.
    assert critical.tolist() == [True, False, True, False, False]


def test_stationary_ego_still_flags_objects_within_the_margin():
    _, critical = path_flags(np.array([ped(1.5, 0), ped(5, 0)]), np.zeros((2, 2)), 0.0, PathConfig(margin=2.0))
    assert critical.tolist() == [True, False]


def test_curved_path_follows_the_yaw_rate():
    # turning left on a 20 m radius: the path passes (20 sin 45deg, 20 (1 - cos 45deg)) = (14.1, 5.9)
    boxes = np.array([ped(14.14, 5.86), ped(14.14, 0.0)])
    in_path, _ = path_flags(boxes, np.zeros((2, 2)), 10.0, yaw_rate=10.0 / 20.0)
    assert in_path.tolist() == [True, False]


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="ground_truth.a_brake: must be a positive number"):
        PathConfig(a_brake=0.0)
    with pytest.raises(ValueError, match=r"sim.ground_truth: unknown key\(s\) \['half_widht'\]"):
        PathConfig.from_mapping({"half_widht": 2.0}, where="sim.ground_truth")
