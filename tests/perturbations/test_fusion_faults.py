"""Fusion-level faults (perturbations/fusion): misalignment, delays, missing sensors, drops, jitter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perturbations import Applied, perturb, perturb_recorded, replay
from perturbations.fusion import HISTORY_FRAMES, SLOTS
from perturbations.fusion.misalignment import (
    MisalignmentParams,
    apply_camera_misalignment,
    apply_lidar_misalignment,
)
from perturbations.fusion.sensors import DroppedFramesParams, MissingParams, apply_dropped_frames, apply_missing_camera
from perturbations.lidar.synthetic import make_scan
from simtest.sim.base import CameraSpec
from simtest.types import Camera, EgoState, Frame, Lidar, make_transform, project_points

SPEC = CameraSpec(width=320, height=192, fov=90.0)


def _frame(i: int, cameras=("front",)) -> Frame:
    s = make_scan(np.random.default_rng(i), beams=8, steps=128)
    cams = {
        name: Camera(image=np.full((192, 320, 3), i, np.uint8), K=SPEC.K(), T_ego_from_cam=SPEC.T_ego_from_cam(),
                     timestamp=0.1 * i)
        for name in cameras
    }
    T_lidar = make_transform(translation=s.origin)
    lid = Lidar(points=s.points, ring=s.ring, labels=s.labels, T_ego_from_lidar=T_lidar, timestamp=0.1 * i)
    return Frame(index=i, timestamp=0.1 * i, ego=EgoState(), cameras=cams, lidars={"top": lid})


@pytest.fixture(scope="module")
def history():
    return [_frame(i) for i in range(12)]


def _errors(e):
    return MisalignmentParams(errors=(tuple(e),) * SLOTS)


def test_camera_yaw_error_moves_projected_lidar_points_by_f_tan(history):
    frame = history[-1]
    cam = frame.cameras["front"]
    f = cam.K[0, 0]
    target = np.array([[40.0, 0.0, 1.6], [20.0, 3.0, 1.0]])  # on the optical axis, and off it
    uv0, _ = project_points(cam.K, cam.T_ego_from_cam, target)
    d = 0.01  # rad, counter-clockwise (the camera believes it looks left)
    out = apply_camera_misalignment(frame, _errors((0, 0, d, 0, 0, 0)))
    uv1, _ = project_points(cam.K, out.cameras["front"].T_ego_from_cam, target)
    assert uv1[0, 0] - uv0[0, 0] == pytest.approx(f * math.tan(d), rel=1e-6)  # points drift right
    assert uv1[0, 1] == pytest.approx(uv0[0, 1])
    # off-axis: pinhole law u - cx = -f tan(azimuth from the optical axis, ccw); the believed axis turned by d
    az = math.atan2(3.0, 20.0 - 1.5)
    assert uv1[1, 0] - cam.K[0, 2] == pytest.approx(-f * math.tan(az - d), rel=1e-6)
    np.testing.assert_array_equal(out.cameras["front"].image, cam.image)  # data untouched
    assert out.objects is frame.objects and out.timestamp == frame.timestamp


def test_camera_translation_error_shifts_pixels_by_focal_over_depth(history):
    frame = history[-1]
    cam = frame.cameras["front"]
    p = np.array([[21.5, 0.0, 1.6]])  # 20 m in front of the camera, on its axis
    out = apply_camera_misalignment(frame, _errors((0, 0, 0, 0, 0.5, 0)))  # camera believed 0.5 m left
    uv0, _ = project_points(cam.K, cam.T_ego_from_cam, p)
    uv1, _ = project_points(cam.K, out.cameras["front"].T_ego_from_cam, p)
    assert uv1[0, 0] - uv0[0, 0] == pytest.approx(cam.K[0, 0] * 0.5 / 20.0, rel=1e-6)


def test_lidar_misalignment_is_a_rigid_motion_about_the_sensor(history):
    frame = history[-1]
    lid = frame.lidars["top"]
    e = (0.0, 0.0, 0.02, 0.1, -0.2, 0.05)
    out = apply_lidar_misalignment(frame, _errors(e)).lidars["top"]
    o = lid.origin
    c, s = math.cos(0.02), math.sin(0.02)
    rel = lid.points[:, :3].astype(np.float64) - o
    expected = np.stack([c * rel[:, 0] - s * rel[:, 1], s * rel[:, 0] + c * rel[:, 1], rel[:, 2]], 1) + o + e[3:]
    np.testing.assert_allclose(out.points[:, :3], expected, atol=1e-4)
    np.testing.assert_array_equal(out.points[:, 3], lid.points[:, 3])
    np.testing.assert_array_equal(out.T_ego_from_lidar, lid.T_ego_from_lidar)  # the believed mount is unchanged


def test_misalignment_scale_follows_the_table(history):
    errs = [np.array(perturb_recorded(history, "spatial_misalignment_camera", s, np.random.default_rng(0))[1]
                     .params.errors) for s in (1, 5)]
    assert np.std(errs[1][:, :3]) > 3 * np.std(errs[0][:, :3])
    assert np.std(errs[1][:, 3:]) == pytest.approx(0.2, rel=0.5)


@pytest.mark.parametrize("modality", ["camera", "lidar"])
def test_temporal_delay_returns_the_kth_older_sensor_data(history, modality):
    for severity, k in ((1, 2), (3, 6), (5, 10)):
        out, rec = perturb_recorded(history, f"temporal_misalignment_{modality}", severity, np.random.default_rng(0))
        assert rec.params.delay == k
        old = history[-1 - k]
        if modality == "camera":
            assert out.cameras["front"] is old.cameras["front"]
            assert out.lidars["top"] is history[-1].lidars["top"]
        else:
            assert out.lidars["top"] is old.lidars["top"]
            assert out.cameras["front"] is history[-1].cameras["front"]
        assert out.index == history[-1].index and out.objects is history[-1].objects


def test_temporal_delay_degrades_gracefully_without_history(history):
    out, rec = perturb_recorded(history[-3:], "temporal_misalignment_camera", 5, np.random.default_rng(0))
    assert (rec.params.delay, rec.params.requested_delay) == (2, 10)
    assert out.cameras["front"] is history[-3].cameras["front"]
    single, rec1 = perturb_recorded([history[-1]], "temporal_misalignment_lidar", 5, np.random.default_rng(0))
    assert rec1.params.delay == 0 and single is history[-1]
    assert HISTORY_FRAMES == 10


def test_missing_sensors_are_removed(history):
    two = [_frame(1, cameras=("front", "rear"))]
    out = apply_missing_camera(two, MissingParams(missing=(False, True) + (False,) * (SLOTS - 2)))
    assert list(out.cameras) == ["front"]  # sorted order: front = slot 0, rear = slot 1
    gone = perturb(history, "missing_lidar", 5, np.random.default_rng(0))
    assert len(gone.lidars) == 0 and "front" in gone.cameras
    rates = [np.mean([perturb_recorded(history, "missing_camera", s, np.random.default_rng(i))[1].params.missing
                      for i in range(200)]) for s in (1, 3)]
    assert rates[0] == pytest.approx(0.2, abs=0.04) and rates[1] == pytest.approx(0.6, abs=0.04)


def test_dropped_frames_repeat_old_sensor_data_with_geometric_staleness(history):
    out = apply_dropped_frames(history, DroppedFramesParams(stale=3, requested_stale=3))
    assert out.cameras["front"] is history[-4].cameras["front"] and out.lidars["top"] is history[-4].lidars["top"]
    assert out.timestamp == history[-1].timestamp
    ks = np.array([perturb_recorded(history, "dropped_frames", 5, np.random.default_rng(i))[1].params.requested_stale
                   for i in range(2000)])
    p = 0.5  # P(k) = (1 - p) p^k
    assert (ks == 0).mean() == pytest.approx(1 - p, abs=0.04)
    assert (ks == 1).mean() == pytest.approx((1 - p) * p, abs=0.04)


def test_timestamp_jitter_moves_sensor_times_only(history):
    out, rec = perturb_recorded(history, "timestamp_jitter", 4, np.random.default_rng(3))
    assert out.timestamp == history[-1].timestamp
    assert out.cameras["front"].timestamp == pytest.approx(history[-1].cameras["front"].timestamp
                                                          + rec.params.camera_offsets[0])
    lidar_time = history[-1].lidars["top"].timestamp + rec.params.lidar_offsets[0]
    assert out.lidars["top"].timestamp == pytest.approx(lidar_time)
    np.testing.assert_array_equal(out.lidars["top"].points, history[-1].lidars["top"].points)


@pytest.mark.parametrize(
    "name",
    ["spatial_misalignment_camera", "spatial_misalignment_lidar", "temporal_misalignment_camera",
     "temporal_misalignment_lidar", "missing_camera", "missing_lidar", "dropped_frames", "timestamp_jitter"],
)
def test_identity_replay_and_json_round_trip(history, name):
    assert perturb(history, name, 0, np.random.default_rng(0)) is history[-1]
    out, rec = perturb_recorded(history, name, 3.5, np.random.default_rng(8))
    again = replay(history, Applied.from_dict(rec.to_dict()))
    for key in out.cameras:
        np.testing.assert_array_equal(again.cameras[key].T_ego_from_cam, out.cameras[key].T_ego_from_cam)
        assert again.cameras[key].image.tobytes() == out.cameras[key].image.tobytes()
    for key in out.lidars:
        assert again.lidars[key].points.tobytes() == out.lidars[key].points.tobytes()
    assert set(again.cameras) == set(out.cameras) and set(again.lidars) == set(out.lidars)


def test_bad_history_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        apply_dropped_frames([], DroppedFramesParams(stale=0, requested_stale=0))
    with pytest.raises(ValueError, match=r"frames\[0\]"):
        apply_missing_camera([np.zeros(3)], MissingParams(missing=(True,) * SLOTS))
