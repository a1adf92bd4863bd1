"""Pictures for people: camera images with projected boxes, bird's-eye views of lidar and boxes.

Used by ``simtest render``, the runner's thumbnails and the report. Ground-truth
boxes are drawn in class colours (thick when safety-critical), detections in
white with their score. Images are uint8 RGB.
"""

from __future__ import annotations

import cv2
import numpy as np

from simtest.types import Detections, Frame, bev_corners, box_corners, project_points

CLASS_COLOURS = {"vehicle": (40, 140, 255), "pedestrian": (255, 70, 70), "cyclist": (255, 200, 0)}
DETECTION_COLOUR = (255, 255, 255)
CRITICAL_COLOUR = (255, 0, 255)
_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]


def _colour(name: str) -> tuple[int, int, int]:
    return CLASS_COLOURS.get(name, (0, 255, 0))


def _draw_box3d(img: np.ndarray, corners_uv: np.ndarray, depth: np.ndarray, colour: tuple[int, int, int],
                thickness: int) -> None:
    for a, b in _EDGES:
        if depth[a] <= 0.1 or depth[b] <= 0.1:
            continue
        p0 = tuple(int(round(v)) for v in corners_uv[a])
        p1 = tuple(int(round(v)) for v in corners_uv[b])
        cv2.line(img, p0, p1, colour, thickness, cv2.LINE_AA)


def camera_with_boxes(frame: Frame, detections: Detections | None = None, camera: str = "front",
                      min_visible: float = 0.0) -> np.ndarray:
    """The camera image with ground-truth boxes (class colour; magenta outline when critical) and
    detections (white, with score). Objects seen by less than ``min_visible`` of their pixels are skipped."""
    if camera not in frame.cameras:
        raise ValueError(f"camera_with_boxes: frame has no camera {camera!r}; it has {sorted(frame.cameras)}")
    cam = frame.cameras[camera]
    img = np.ascontiguousarray(cam.image).copy()
    obj = frame.objects
    names = obj.class_of()
    for i in range(len(obj)):
        if obj.visible_fraction[i] <= min_visible:
            continue
        uv, z = project_points(cam.K, cam.T_ego_from_cam, box_corners(obj.boxes[i : i + 1])[0])
        if obj.critical[i]:
            _draw_box3d(img, uv, z, CRITICAL_COLOUR, 4)
        _draw_box3d(img, uv, z, _colour(str(names[i])), 2)
    if detections is not None and len(detections):
        for box, score in zip(detections.boxes, detections.scores):
            uv, z = project_points(cam.K, cam.T_ego_from_cam, box_corners(box[None])[0])
            _draw_box3d(img, uv, z, DETECTION_COLOUR, 1)
            front = z > 0.1
            if front.any():
                u, v = uv[front].min(0)
                cv2.putText(img, f"{score:.2f}", (int(u), max(int(v) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                            DETECTION_COLOUR, 1, cv2.LINE_AA)
    return img


def bev_image(
    frame: Frame,
    detections: Detections | None = None,
    lidar: str | None = None,
    size: int = 512,
    x_range: tuple[float, float] = (-20.0, 80.0),
    y_range: tuple[float, float] = (-50.0, 50.0),
) -> np.ndarray:
    """Bird's-eye view (``size`` x ``size`` px, x forward = up, y left = left) of one lidar's points
    (brightness = intensity; weather echoes in cyan), ground-truth footprints and detections."""
    if size < 32:
        raise ValueError(f"bev_image: size must be >= 32 px, got {size}")
    img = np.zeros((size, size, 3), np.uint8)
    sx = size / (x_range[1] - x_range[0])
    sy = size / (y_range[1] - y_range[0])

    def to_px(xy: np.ndarray) -> np.ndarray:
        u = (y_range[1] - xy[..., 1]) * sy
        v = (x_range[1] - xy[..., 0]) * sx
        return np.stack([u, v], -1)

    names = [lidar] if lidar is not None else sorted(frame.lidars)[:1]
    for name in names:
        if name not in frame.lidars:
            raise ValueError(f"bev_image: frame has no lidar {name!r}; it has {sorted(frame.lidars)}")
        scan = frame.lidars[name]
        pts = scan.points  # per point, in float32 (a thumbnail is drawn for every episode of a sweep)
        u = ((y_range[1] - pts[:, 1]) * sy).astype(np.int32)
        v = ((x_range[1] - pts[:, 0]) * sx).astype(np.int32)
        ok = (u >= 0) & (u < size) & (v >= 0) & (v < size)
        level = (80 + 175 * np.clip(pts[ok, 3], 0, 1)).astype(np.uint8)
        colour = np.repeat(level[:, None], 3, axis=1)
        if scan.labels is not None:
            colour[np.asarray(scan.labels)[ok] == -2] = (0, 200, 200)
        img[v[ok], u[ok]] = colour
    obj = frame.objects
    labels = obj.class_of()
    for i, corners in enumerate(bev_corners(obj.boxes)):
        poly = to_px(corners).astype(np.int32)
        if obj.critical[i]:
            cv2.polylines(img, [poly], True, CRITICAL_COLOUR, 3, cv2.LINE_AA)
        cv2.polylines(img, [poly], True, _colour(str(labels[i])), 1, cv2.LINE_AA)
    if detections is not None and len(detections):
        for corners in bev_corners(detections.boxes):
            cv2.polylines(img, [to_px(corners).astype(np.int32)], True, DETECTION_COLOUR, 1, cv2.LINE_AA)
    ego = to_px(np.array([[2.5, 0.95], [2.5, -0.95], [-2.0, -0.95], [-2.0, 0.95]])).astype(np.int32)
    cv2.fillPoly(img, [ego], (0, 255, 0))
    return img
