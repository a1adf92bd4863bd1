"""Ego-motion distortion against hand-computed shifts; incomplete echo; wet ground."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from perturbations import perturb
from perturbations.lidar.echo import ABOVE_GROUND_M, IncompleteEchoParams, apply_incomplete_echo
from perturbations.lidar.motion import MotionParams, apply_motion_distortion
from perturbations.lidar.scan import scan_from_numpy
from perturbations.lidar.synthetic import make_scan
from perturbations.lidar.weather import WetGroundParams, apply_wet_ground, fresnel_reflectance


def _points(*xy):
    return scan_from_numpy(np.array([[x, y, 0.5, 0.3] for x, y in xy]), np.zeros(len(xy)))


def test_straight_motion_shift_matches_hand_calculation():
    # clockwise sweep: t = -T (pi + az) / (2 pi); T = 0.1 s, v = 10 m/s
    scan = _points((10.0, 0.0), (0.0, 10.0), (0.0, -10.0))
    out = apply_motion_distortion(scan, MotionParams(speed=10.0, yaw_rate=0.0, sweep_period=0.1))
    # ahead: t = -0.05 s -> the ego was 0.5 m behind -> the point appears 0.5 m farther
    # left (azimuth +90 deg): t = -0.075 s -> +0.75 m in x; right (-90 deg): t = -0.025 s -> +0.25 m
    np.testing.assert_allclose(out.points[:, 0], [10.5, 0.75, 0.25], atol=1e-5)
    np.testing.assert_allclose(out.points[:, 1:], scan.points[:, 1:], atol=1e-6)


def test_yaw_motion_rotates_by_the_heading_change():
    scan = _points((10.0, 0.0))
    w = 0.5
    out = apply_motion_distortion(scan, MotionParams(speed=0.0, yaw_rate=w, sweep_period=0.1))
    psi = w * -0.05  # heading at the measurement instant relative to the sweep end
    np.testing.assert_allclose(out.points[0, :2], [10 * math.cos(psi), -10 * math.sin(psi)], atol=1e-5)


def test_turning_motion_matches_the_arc_by_hand():
    # ahead (t = -0.05 s) and left (t = -0.075 s) at v = 20 m/s, w = -0.4 rad/s: on the arc the ego was at
    # (v sin(psi) / w, v (1 - cos(psi)) / w) with heading psi = w t; the point is reported as R(-psi) (p - position)
    scan = _points((10.0, 0.0), (0.0, 12.0))
    v, w = 20.0, -0.4
    out = apply_motion_distortion(scan, MotionParams(speed=v, yaw_rate=w, sweep_period=0.1))
    for (x, y), t, got in zip([(10.0, 0.0), (0.0, 12.0)], (-0.05, -0.075), out.points):
        psi = w * t
        qx, qy = x - v * math.sin(psi) / w, y - v * (1 - math.cos(psi)) / w
        want = (math.cos(psi) * qx + math.sin(psi) * qy, -math.sin(psi) * qx + math.cos(psi) * qy)
        np.testing.assert_allclose(got[:2], want, atol=2e-5)
        assert got[2] == np.float32(0.5) and got[3] == np.float32(0.3)


def test_motion_distortion_grows_with_severity():
    scan = make_scan(np.random.default_rng(0), beams=16, steps=512)
    shifts = [
        np.linalg.norm(perturb(scan, "lidar_motion_distortion", s, np.random.default_rng(1)).points[:, :2]
                       - scan.points[:, :2], axis=1).mean()
        for s in (1, 3, 5)
    ]
    assert shifts[0] < shifts[1] < shifts[2]


def test_incomplete_echo_thins_objects_only():
    scan = make_scan(np.random.default_rng(0))
    out = apply_incomplete_echo(scan, IncompleteEchoParams(fraction=0.8, seed=3))
    assert (out.labels == -1).sum() == (scan.labels == -1).sum()
    n_obj = (scan.labels >= 0).sum()
    lost = 1 - (out.labels >= 0).sum() / n_obj
    assert abs(lost - 0.8) < 4 * math.sqrt(0.16 / n_obj)
    unlabelled = scan_from_numpy(scan.points, scan.ring, origin=scan.origin)
    out2 = apply_incomplete_echo(unlabelled, IncompleteEchoParams(fraction=1.0, seed=3))
    assert np.all(out2.points[:, 2] <= ABOVE_GROUND_M)
    assert len(out2) == (scan.points[:, 2] <= ABOVE_GROUND_M).sum()


def test_fresnel_reflectance_of_water():
    cos_i = np.array([1.0, 0.0, math.cos(math.atan(1.33))])
    r = fresnel_reflectance(cos_i)
    assert r[0] == pytest.approx(((1.33 - 1) / (1.33 + 1)) ** 2, rel=1e-6)  # normal incidence, ~2 %
    assert r[1] == pytest.approx(1.0)  # grazing: total specular loss
    assert r[2] == pytest.approx(0.5 * ((1 - 1.33**2) / (1 + 1.33**2)) ** 2 * 1.0, rel=1e-3)  # Brewster: rp = 0


def test_wet_ground_loses_grazing_ground_returns_first():
    scan = make_scan(np.random.default_rng(0))
    out = apply_wet_ground(scan, WetGroundParams(wetness=1.0, seed=2))
    o = np.asarray(scan.origin)
    ground = (scan.points[:, 2] < 0.2) & (scan.labels == -1)
    assert (out.labels >= 0).sum() == (scan.labels >= 0).sum()  # objects untouched
    r_in = np.linalg.norm(scan.points[:, :3] - o, axis=1)
    out_ground = (out.points[:, 2] < 0.2) & (out.labels == -1)
    r_out = np.linalg.norm(out.points[:, :3] - o, axis=1)
    bins = ((0, 5), (5, 10), (10, 20), (20, 60))
    kept = [((r_out[out_ground] >= a) & (r_out[out_ground] < b)).sum() / ((r_in[ground] >= a) & (r_in[ground] < b)).sum()
            for a, b in bins]
    assert all(x > y for x, y in zip(kept, kept[1:])), kept
    assert kept[-1] < 0.2


def test_motion_distortion_runs_on_array_api_strict_with_the_numpy_bytes():
    xps = pytest.importorskip("array_api_strict")
    scan = make_scan(np.random.default_rng(0), beams=16, steps=512)
    strict = dataclasses.replace(scan, points=xps.asarray(scan.points), ring=xps.asarray(scan.ring), labels=None)
    want = perturb(scan, "lidar_motion_distortion", 4, np.random.default_rng(2))
    got = perturb(strict, "lidar_motion_distortion", 4, np.random.default_rng(2))
    np.testing.assert_array_equal(np.asarray(got.points), want.points)
