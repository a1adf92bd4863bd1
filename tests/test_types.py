"""Data contracts: validation errors name the field, geometry helpers match hand calculations."""

from __future__ import annotations

import numpy as np
import pytest

from simtest.types import (
    Camera,
    Detections,
    EgoState,
    Frame,
    Lidar,
    Objects,
    bev_corners,
    box_corners,
    invert_transform,
    make_transform,
    points_in_boxes,
    project_points,
    rotation_rpy,
    rotation_z,
    transform_boxes,
    transform_points,
    wrap_angle,
)


def boxes(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=float).reshape(-1, 7)


CAR = [10.0, 2.0, 0.8, 4.0, 2.0, 1.6, 0.0]


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("length", np.nan, r"Objects.boxes\[0\].length: NaN or infinite"),
        ("width", -1.0, r"Objects.boxes\[0\].width: box sizes must be positive"),
        ("height", 0.0, r"Objects.boxes\[0\].height: box sizes must be positive"),
        ("x", np.inf, r"Objects.boxes\[0\].x: NaN or infinite"),
    ],
)
def test_bad_box_values_name_the_field(field, value, message):
    b = boxes(CAR)
    b[0, ["x", "y", "z", "length", "width", "height", "yaw"].index(field)] = value
    with pytest.raises(ValueError, match=message):
        Objects(ids=np.array([1]), labels=np.array([0]), boxes=b)


def test_objects_shape_errors():
    with pytest.raises(ValueError, match=r"Objects.boxes: expected shape \(N, 7\), got \(1, 6\)"):
        Objects(ids=np.array([1]), labels=np.array([0]), boxes=np.zeros((1, 6)))
    with pytest.raises(ValueError, match=r"Objects.labels: expected length 2"):
        Objects(ids=np.array([1, 2]), labels=np.array([0]), boxes=boxes(CAR, CAR))
    with pytest.raises(ValueError, match="Objects.labels: label 3 is not an index"):
        Objects(ids=np.array([1]), labels=np.array([3]), boxes=boxes(CAR))
    with pytest.raises(ValueError, match="Objects.ids: object ids must be unique"):
        Objects(ids=np.array([1, 1]), labels=np.array([0, 0]), boxes=boxes(CAR, CAR))
    with pytest.raises(ValueError, match=r"Objects.visible_fraction: must lie in \[0, 1\]"):
        Objects(ids=np.array([1]), labels=np.array([0]), boxes=boxes(CAR), visible_fraction=np.array([1.5]))
    with pytest.raises(ValueError, match=r"Objects.critical: expected shape \(1\)"):
        Objects(ids=np.array([1]), labels=np.array([0]), boxes=boxes(CAR), critical=np.array([True, False]))
    with pytest.raises(ValueError, match="Objects.ids: expected a numpy"):
        Objects(ids=[1], labels=np.array([0]), boxes=boxes(CAR))  # type: ignore[arg-type]


def test_objects_defaults_and_helpers():
    o = Objects(ids=np.array([1, 2]), labels=np.array([1, 0]), boxes=boxes([3, 4, 0, 1, 1, 1, 0], CAR))
    assert o.critical.tolist() == [False, False] and o.visible_fraction.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(o.distance, [5.0, np.hypot(10, 2)])
    assert o.class_of().tolist() == ["pedestrian", "vehicle"]
    assert len(o.select(np.array([False, True]))) == 1


def test_detections_validation():
    with pytest.raises(ValueError, match="Detections.scores: expected length 1 to match"):
        Detections(boxes=boxes(CAR), scores=np.array([0.5, 0.6]), labels=np.array([0]))
    with pytest.raises(ValueError, match="Detections.scores: contains NaN"):
        Detections(boxes=boxes(CAR), scores=np.array([np.nan]), labels=np.array([0]))
    b = boxes(CAR)
    b[0, 5] = -0.1
    with pytest.raises(ValueError, match=r"Detections.boxes\[0\].height"):
        Detections(boxes=b, scores=np.array([0.5]), labels=np.array([0]))
    assert len(Detections()) == 0


def test_sensor_validation():
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"Camera.image: expected an RGB array of shape \(H, W, 3\)"):
        Camera(image=np.zeros((4, 4), np.uint8), K=K, T_ego_from_cam=np.eye(4))
    with pytest.raises(ValueError, match="Camera.image: expected dtype uint8"):
        Camera(image=np.zeros((4, 4, 3), np.float32), K=K, T_ego_from_cam=np.eye(4))
    bad_T = np.eye(4)
    bad_T[0, 0] = 2.0
    with pytest.raises(ValueError, match="Camera.T_ego_from_cam: upper-left 3x3 block is not a proper rotation"):
        Camera(image=np.zeros((4, 4, 3), np.uint8), K=K, T_ego_from_cam=bad_T)
    with pytest.raises(ValueError, match=r"Lidar.points: expected shape \(N, 4\)"):
        Lidar(points=np.zeros((5, 3), np.float32), ring=np.zeros(5, np.int16))
    with pytest.raises(ValueError, match=r"Lidar.ring: expected shape \(5,\)"):
        Lidar(points=np.zeros((5, 4), np.float32), ring=np.zeros(4, np.int16))
    with pytest.raises(ValueError, match="Lidar.points: expected dtype float32"):
        Lidar(points=np.zeros((5, 4)), ring=np.zeros(5, np.int16))
    with pytest.raises(ValueError, match="EgoState.velocity"):
        EgoState(velocity=np.array([np.nan, 0, 0]))
    with pytest.raises(ValueError, match="Frame.ego: expected EgoState"):
        Frame(index=0, timestamp=0.0, ego=None)  # type: ignore[arg-type]


def test_frame_sensor_replacement_is_a_copy():
    lidar = Lidar(points=np.zeros((2, 4), np.float32), ring=np.zeros(2, np.int16))
    f = Frame(index=0, timestamp=0.0, ego=EgoState(velocity=np.array([5.0, 0, 0])), lidars={"top": lidar})
    g = f.with_lidar("top", None)
    assert "top" in f.lidars and "top" not in g.lidars
    assert f.ego.speed == 5.0


# ------------------------------------------------------------------ geometry


def test_box_corners_by_hand():
    c = box_corners(boxes([1, 2, 1, 4, 2, 2, 0]))[0]
    # front-left, rear-left, rear-right, front-right (bottom), then top.
    np.testing.assert_allclose(c[:4], [[3, 3, 0], [-1, 3, 0], [-1, 1, 0], [3, 1, 0]])
    np.testing.assert_allclose(c[4:, 2], 2.0)
    # Yaw 90 deg: the heading (length) now points along +y.
    c = bev_corners(boxes([0, 0, 0, 4, 2, 1, np.pi / 2]))[0]
    np.testing.assert_allclose(c, [[-1, 2], [-1, -2], [1, -2], [1, 2]], atol=1e-12)


def test_bev_corners_are_counter_clockwise():
    c = bev_corners(boxes(CAR, [0, 0, 0, 1, 3, 1, 2.0]))
    x, y = c[..., 0], c[..., 1]
    signed = 0.5 * (x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y).sum(1)
    np.testing.assert_allclose(signed, [8.0, 3.0])


def test_rigid_transforms_round_trip():
    rng = np.random.default_rng(0)
    T = make_transform(rotation_rpy(0.1, -0.2, 1.3), (1.0, -2.0, 0.5))
    p = rng.normal(size=(20, 3))
    np.testing.assert_allclose(transform_points(invert_transform(T), transform_points(T, p)), p, atol=1e-12)
    R = rotation_z(np.pi / 2)
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)  # counter-clockwise
    moved = transform_boxes(make_transform(rotation_z(np.pi / 2), (1, 0, 0)), boxes([2, 0, 0, 4, 2, 1, 0]))
    np.testing.assert_allclose(moved[0], [1, 2, 0, 4, 2, 1, np.pi / 2], atol=1e-12)  # (2,0) turned to (0,2), +1 in x
    assert wrap_angle(3 * np.pi / 2) == pytest.approx(-np.pi / 2)
    # Extra columns (intensity) pass through.
    pts = np.array([[1, 0, 0, 0.7]], np.float32)
    out = transform_points(make_transform(translation=(0, 0, 1)), pts)
    np.testing.assert_allclose(out, [[1, 0, 1, 0.7]], rtol=1e-6)
    assert out.dtype == np.float32


def test_points_in_boxes_rotated():
    b = boxes([0, 0, 0, 4, 1, 2, np.pi / 2])  # long along y after the rotation
    pts = np.array([[0, 1.9, 0], [1.9, 0, 0], [0, 0, 1.1]])
    assert points_in_boxes(pts, b)[:, 0].tolist() == [True, False, False]
    assert points_in_boxes(pts, b, margin=0.2)[:, 0].tolist() == [True, False, True]


def test_project_points_pinhole_by_hand():
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    # Camera looking along ego +x: camera z = ego x, camera x = -ego y, camera y = -ego z.
    R = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    T = make_transform(R, (0, 0, 1.5))
    uv, z = project_points(K, T, np.array([[10.0, 1.0, 1.5], [10.0, 0.0, 0.5]]))
    np.testing.assert_allclose(z, [10, 10])
    np.testing.assert_allclose(uv, [[320 - 50, 240], [320, 240 + 50]])
