"""CARLA left-handed <-> simtest right-handed conversions, with real carla types and hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

carla = pytest.importorskip("carla")

from simtest.sim.base import CameraSpec, Mount  # noqa: E402
from simtest.sim.carla.coords import (  # noqa: E402
    actor_box_world,
    matrix_to_transform,
    mount_to_transform,
    sensor_points_to_simtest,
    transform_to_matrix,
    vector_to_array,
    world_boxes_to_ego,
    world_velocity_to_ego,
)
from simtest.types import box_corners, project_points  # noqa: E402

S = np.diag([1.0, -1.0, 1.0, 1.0])


def test_location_mirrors_y():
    np.testing.assert_allclose(vector_to_array(carla.Location(x=3.0, y=4.0, z=5.0)), [3.0, -4.0, 5.0])


@pytest.mark.parametrize("pitch,yaw,roll", [(0, 90, 0), (10, 20, 30), (-35, -170, 12), (80, 45, -60)])
def test_transform_matches_carla_matrix_mirrored(pitch, yaw, roll):
    t = carla.Transform(carla.Location(1.5, -2.0, 3.0), carla.Rotation(pitch=pitch, yaw=yaw, roll=roll))
    M = np.array(t.get_matrix())  # CARLA's own (left-handed) matrix
    np.testing.assert_allclose(transform_to_matrix(t), S @ M @ S, atol=1e-6)
    back = matrix_to_transform(transform_to_matrix(t))
    np.testing.assert_allclose(np.array(back.get_matrix()), M, atol=1e-5)


def test_yaw_90_in_carla_faces_minus_y_in_simtest():
    # CARLA yaw +90 turns clockwise seen from above: from +x towards CARLA's +y (right).
    T = transform_to_matrix(carla.Transform(carla.Location(), carla.Rotation(yaw=90)))
    np.testing.assert_allclose(T[:3, 0], [0.0, -1.0, 0.0], atol=1e-12)  # forward
    np.testing.assert_allclose(T[:3, 1], [1.0, 0.0, 0.0], atol=1e-12)  # left


def test_pitch_up_points_forward_axis_up():
    T = transform_to_matrix(carla.Transform(carla.Location(), carla.Rotation(pitch=30)))
    np.testing.assert_allclose(T[:3, 0], [math.cos(math.radians(30)), 0.0, 0.5], atol=1e-12)


def test_box_at_known_pose_lands_at_hand_computed_ego_corners():
    # Ego at CARLA (10, 20, 0) facing CARLA yaw 90; target at CARLA (13, 30, 0), yaw 120,
    # box 4 x 2 x 1.5 m with its centre 0.75 m above the actor origin.
    ego_t = carla.Transform(carla.Location(10, 20, 0), carla.Rotation(yaw=90))
    tgt_t = carla.Transform(carla.Location(13, 30, 0), carla.Rotation(yaw=120))
    bb = carla.BoundingBox(carla.Location(0, 0, 0.75), carla.Vector3D(2.0, 1.0, 0.75))
    box_ego = world_boxes_to_ego(actor_box_world(tgt_t, bb)[None], transform_to_matrix(ego_t))[0]
    # By hand: the target is 10 m ahead (CARLA +y is the ego's forward) and 3 m to the ego's left
    # (CARLA +x is the ego's left when it faces CARLA +y), turned 30 deg clockwise -> yaw -pi/6.
    np.testing.assert_allclose(box_ego, [10.0, 3.0, 0.75, 4.0, 2.0, 1.5, -math.pi / 6], atol=1e-6)
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    fl = (10 + 2 * c + 1 * s, 3 - 2 * s + 1 * c)  # front-left: local (+2, +1) rotated by -30 deg
    rl = (10 - 2 * c + 1 * s, 3 + 2 * s + 1 * c)
    rr = (10 - 2 * c - 1 * s, 3 + 2 * s - 1 * c)
    fr = (10 + 2 * c - 1 * s, 3 - 2 * s - 1 * c)
    expected = np.array([[*p, 0.0] for p in (fl, rl, rr, fr)] + [[*p, 1.5] for p in (fl, rl, rr, fr)])
    np.testing.assert_allclose(box_corners(box_ego[None])[0], expected, atol=1e-6)


def test_corners_agree_with_carla_world_vertices():
    ego_t = carla.Transform(carla.Location(-4, 7, 0.2), carla.Rotation(yaw=-33))
    tgt_t = carla.Transform(carla.Location(5, -1, 0.0), carla.Rotation(yaw=71))
    bb = carla.BoundingBox(carla.Location(0.3, 0.1, 0.8), carla.Vector3D(2.3, 0.9, 0.8))
    ours = box_corners(world_boxes_to_ego(actor_box_world(tgt_t, bb)[None], transform_to_matrix(ego_t)))[0]
    verts = np.array([[v.x, v.y, v.z] for v in bb.get_world_vertices(tgt_t)])  # CARLA world, left-handed
    T_ego_world = np.linalg.inv(S @ np.array(ego_t.get_matrix()) @ S)
    theirs = (T_ego_world[:3, :3] @ (verts * [1, -1, 1]).T).T + T_ego_world[:3, 3]
    # Same 8 points (orders differ): match each of ours to its nearest.
    d = np.linalg.norm(ours[:, None] - theirs[None], axis=-1)
    assert d.min(axis=1).max() < 1e-4
    assert sorted(d.argmin(axis=1).tolist()) == list(range(8))


def test_mount_transform_places_points_like_simtest_mount():
    mount = Mount(x=1.5, y=0.5, z=1.6, yaw=10.0, pitch=-5.0, roll=2.0)
    t = mount_to_transform(mount)
    p = t.transform(carla.Location(10, 0, 0))  # CARLA's own math, left-handed
    ours = mount.T_ego_from_sensor() @ np.array([10.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose([p.x, -p.y, p.z], ours[:3], atol=1e-4)
    # Hand check without pitch/roll: yaw 10 deg to the left.
    flat = mount_to_transform(Mount(x=1.5, y=0.5, z=1.6, yaw=10.0)).transform(carla.Location(10, 0, 0))
    c, s = math.cos(math.radians(10)), math.sin(math.radians(10))
    np.testing.assert_allclose([flat.x, -flat.y, flat.z], [1.5 + 10 * c, 0.5 + 10 * s, 1.6], atol=1e-4)


def test_camera_projection_of_a_point_seen_by_carla_camera():
    # A point 20 m ahead and 2 m to the CARLA-right of a forward camera appears right of centre.
    spec = CameraSpec(width=640, height=384, fov=90.0, mount=Mount(x=1.5, z=1.6))
    cam_t = mount_to_transform(spec.mount)
    p_carla = cam_t.transform(carla.Location(20, 2, -1))  # in the ego's CARLA frame
    uv, z = project_points(spec.K(), spec.T_ego_from_cam(), np.array([p_carla.x, -p_carla.y, p_carla.z]))
    f = 320.0  # 640 / (2 tan 45 deg)
    np.testing.assert_allclose(uv, [320 + f * 2 / 20, 192 + f * 1 / 20], atol=1e-3)
    assert z == pytest.approx(20.0, abs=1e-4)


def test_lidar_points_mirror_and_velocity_rotates():
    np.testing.assert_allclose(sensor_points_to_simtest(np.array([[1.0, 2.0, 3.0, 0.5]])), [[1.0, -2.0, 3.0, 0.5]])
    ego = transform_to_matrix(carla.Transform(carla.Location(), carla.Rotation(yaw=90)))
    # Moving along CARLA +y (the ego's forward) at 5 m/s.
    np.testing.assert_allclose(world_velocity_to_ego(carla.Vector3D(0, 5, 0), ego), [5.0, 0.0], atol=1e-12)
