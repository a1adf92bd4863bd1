"""Data contracts that flow between the stages of simtest.

Conventions (see DESIGN.md):

* Ego frame: right-handed, x forward, y left, z up, metres. Angles in radians,
  yaw counter-clockwise from +x.
* Boxes: ``(x, y, z, length, width, height, yaw)`` with ``z`` at the box centre;
  ``length`` runs along the box's heading, ``width`` across it.
* Camera frame: OpenCV convention (x right, y down, z forward); ``K`` maps
  camera-frame points to pixels; ``T_ego_from_cam`` maps camera-frame points to
  the ego frame.
* Class labels are integer indices into ``class_names`` (default :data:`CLASSES`).

Every container is a frozen dataclass that validates itself on construction and
raises :class:`ValueError` naming the field, the expected shape/dtype and what
was received. Arrays are not copied; treat them as read-only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

CLASSES: tuple[str, ...] = ("vehicle", "pedestrian", "cyclist")
"""Default object classes; label ``i`` means ``CLASSES[i]``."""

BOX_FIELDS: tuple[str, ...] = ("x", "y", "z", "length", "width", "height", "yaw")


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def _describe(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return f"array of shape {a.shape} and dtype {a.dtype}"
    return f"{type(a).__name__}"


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"


def _kind_names(kinds: str) -> str:
    names = {"f": "float", "i": "int", "u": "uint", "b": "bool"}
    return "/".join(names[k] for k in kinds)


def _check_array(
    owner: str,
    name: str,
    a: Any,
    shape: tuple[int | None, ...],
    kinds: str,
    *,
    finite: bool = False,
) -> None:
    """Raise ValueError unless ``a`` is an ndarray of ``shape`` (None = any) and dtype kind in ``kinds``."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{owner}.{name}: expected a numpy {_kind_names(kinds)} array of shape {_shape_text(shape)}, "
                         f"got {_describe(a)}")
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        raise ValueError(f"{owner}.{name}: expected shape {_shape_text(shape)}, got {a.shape}")
    if a.dtype.kind not in kinds:
        raise ValueError(f"{owner}.{name}: expected dtype {_kind_names(kinds)}, got {a.dtype}")
    if finite and a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0].tolist()
        raise ValueError(f"{owner}.{name}: contains NaN or infinite values (first at index {bad})")


def _check_length(owner: str, n: int, **arrays: np.ndarray) -> None:
    for name, a in arrays.items():
        if a.shape[0] != n:
            raise ValueError(f"{owner}.{name}: expected length {n} to match the other fields, got {a.shape[0]}")


def _check_transform(owner: str, name: str, T: Any) -> None:
    # Frames carry several transforms each: after the array checks, the 16 numbers are checked as
    # Python floats (finite, last row [0, 0, 0, 1], proper rotation: R R^T = I within np.allclose's
    # tolerances for atol=1e-5, and det R >= 0), a few microseconds with no NumPy call per check.
    _check_array(owner, name, T, (4, 4), "f")
    rows = T.tolist()
    if not all(math.isfinite(x) for row in rows for x in row):
        _check_array(owner, name, T, (4, 4), "f", finite=True)  # raises, naming the first bad entry
    if abs(rows[3][0]) > 1e-8 or abs(rows[3][1]) > 1e-8 or abs(rows[3][2]) > 1e-8 or abs(rows[3][3] - 1.0) > 1e-5 + 1e-8:
        raise ValueError(f"{owner}.{name}: last row of a rigid transform must be [0, 0, 0, 1], got {rows[3]}")
    (a, b, c, _), (d, e, f, _), (g, h, i, _) = rows[:3]
    proper = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g) >= 0
    for p, q in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)):  # R R^T is symmetric
        dot = rows[p][0] * rows[q][0] + rows[p][1] * rows[q][1] + rows[p][2] * rows[q][2]
        proper = proper and abs(dot - (p == q)) <= 1e-5 + 1e-5 * (p == q)
    if not proper:
        raise ValueError(f"{owner}.{name}: upper-left 3x3 block is not a proper rotation matrix")


def _check_boxes(owner: str, name: str, boxes: Any) -> None:
    _check_array(owner, name, boxes, (None, 7), "f")
    if boxes.size and not np.isfinite(boxes).all():
        row, col = np.argwhere(~np.isfinite(boxes))[0]
        raise ValueError(f"{owner}.{name}[{row}].{BOX_FIELDS[col]}: NaN or infinite value in box")
    sizes = boxes[:, 3:6]
    if sizes.size and (sizes <= 0).any():
        row, col = np.argwhere(sizes <= 0)[0]
        raise ValueError(
            f"{owner}.{name}[{row}].{BOX_FIELDS[3 + col]}: box sizes must be positive metres, got {sizes[row, col]}"
        )


def _check_labels(owner: str, labels: np.ndarray, class_names: tuple[str, ...]) -> None:
    _check_array(owner, "labels", labels, (None,), "iu")
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        bad = labels[(labels < 0) | (labels >= len(class_names))][0]
        raise ValueError(
            f"{owner}.labels: label {bad} is not an index into class_names {list(class_names)}"
        )


# ---------------------------------------------------------------------------
# geometry helpers
# ---------------------------------------------------------------------------


def rotation_z(yaw: float | np.ndarray) -> np.ndarray:
    """Rotation matrix (or stack of them) about +z by ``yaw`` radians (counter-clockwise)."""
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.zeros(np.shape(c) + (3, 3))
    R[..., 0, 0], R[..., 0, 1], R[..., 1, 0], R[..., 1, 1], R[..., 2, 2] = c, -s, s, c, 1.0
    return R


def rotation_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Rotation from roll (about x), pitch (about y), yaw (about z), applied as Rz @ Ry @ Rx."""
    cr, sr, cp, sp = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch)
    Rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    Ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    return rotation_z(yaw) @ Ry @ Rx


def make_transform(rotation: np.ndarray | None = None, translation: Any = (0.0, 0.0, 0.0)) -> np.ndarray:
    """4x4 homogeneous transform from a 3x3 rotation and a translation (metres)."""
    T = np.eye(4)
    if rotation is not None:
        T[:3, :3] = rotation
    T[:3, 3] = np.asarray(translation, dtype=np.float64)
    return T


def invert_transform(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform (exact, no general matrix inverse)."""
    Ti = np.eye(4)
    R = T[:3, :3]
    Ti[:3, :3] = R.T
    Ti[:3, 3] = -R.T @ T[:3, 3]
    return Ti


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to points of shape (..., 3) (extra columns are passed through)."""
    xyz = points[..., :3] @ T[:3, :3].T + T[:3, 3]
    if points.shape[-1] == 3:
        return xyz.astype(points.dtype, copy=False)
    return np.concatenate([xyz.astype(points.dtype, copy=False), points[..., 3:]], axis=-1)


def transform_boxes(T: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Move boxes by a transform whose rotation is about z only (yaw is updated, sizes kept)."""
    out = boxes.astype(np.float64, copy=True)
    out[:, :3] = transform_points(T, boxes[:, :3].astype(np.float64))
    out[:, 6] = wrap_angle(boxes[:, 6] + np.arctan2(T[1, 0], T[0, 0]))
    return out


def wrap_angle(a: np.ndarray | float) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def box_corners(boxes: np.ndarray) -> np.ndarray:
    """Corners of boxes, shape (N, 8, 3).

    Order: bottom face (z - h/2) counter-clockwise from front-left, then top face
    in the same order: front-left, rear-left, rear-right, front-right.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    dx, dy = boxes[:, 3:4] * _CORNER_X, boxes[:, 4:5] * _CORNER_Y  # (N, 8) offsets in the box frame
    c, s = np.cos(boxes[:, 6:7]), np.sin(boxes[:, 6:7])
    out = np.empty((len(boxes), 8, 3))
    out[..., 0] = boxes[:, 0:1] + (c * dx - s * dy)
    out[..., 1] = boxes[:, 1:2] + (s * dx + c * dy)
    out[..., 2] = boxes[:, 2:3] + boxes[:, 5:6] * _CORNER_Z
    return out


_CORNER_X = np.array([1, -1, -1, 1, 1, -1, -1, 1]) * 0.5
_CORNER_Y = np.array([1, 1, -1, -1, 1, 1, -1, -1]) * 0.5
_CORNER_Z = np.array([-1, -1, -1, -1, 1, 1, 1, 1]) * 0.5


def bev_corners(boxes: np.ndarray) -> np.ndarray:
    """Bird's-eye-view footprint corners, shape (N, 4, 2), counter-clockwise."""
    return box_corners(boxes)[:, :4, :2]


def points_in_boxes(points: np.ndarray, boxes: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Boolean matrix (N_points, N_boxes): point lies inside box (grown by ``margin`` metres)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if len(boxes) == 0 or len(points) == 0:
        return np.zeros((len(points), len(boxes)), dtype=bool)
    d = points[:, None, :3].astype(np.float64) - boxes[None, :, :3]  # (P, B, 3)
    c, s = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    lx = d[..., 0] * c + d[..., 1] * s
    ly = -d[..., 0] * s + d[..., 1] * c
    half = boxes[:, 3:6] / 2 + margin
    return (np.abs(lx) <= half[:, 0]) & (np.abs(ly) <= half[:, 1]) & (np.abs(d[..., 2]) <= half[:, 2])


def project_points(K: np.ndarray, T_ego_from_cam: np.ndarray, points_ego: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project ego-frame points (..., 3) to pixels (..., 2); also returns camera-frame depth (...)."""
    pc = transform_points(invert_transform(T_ego_from_cam), np.asarray(points_ego, dtype=np.float64))
    z = pc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (pc @ K.T)[..., :2] / z[..., None]
    return uv, z


# ---------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EgoState:
    """Ego pose in the world and its motion.

    ``T_world_from_ego`` maps ego-frame points to the world frame; ``velocity`` is
    in the ego frame (m/s); ``yaw_rate`` in rad/s; ``acceleration`` in m/s^2 along x.
    """

    T_world_from_ego: np.ndarray = field(default_factory=lambda: np.eye(4))
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    yaw_rate: float = 0.0
    acceleration: float = 0.0

    def __post_init__(self) -> None:
        _check_transform("EgoState", "T_world_from_ego", self.T_world_from_ego)
        _check_array("EgoState", "velocity", self.velocity, (3,), "f", finite=True)
        for name in ("yaw_rate", "acceleration"):
            v = getattr(self, name)
            if not np.isfinite(v):
                raise ValueError(f"EgoState.{name}: must be finite, got {v}")

    @property
    def speed(self) -> float:
        """Forward speed in m/s."""
        return float(self.velocity[0])


@dataclass(frozen=True)
class Camera:
    """One RGB image (uint8 H x W x 3) with its intrinsics and mount."""

    image: np.ndarray
    K: np.ndarray
    T_ego_from_cam: np.ndarray
    timestamp: float = 0.0

    def __post_init__(self) -> None:
        img = self.image
        if not hasattr(img, "shape") or len(img.shape) != 3 or img.shape[2] != 3:
            raise ValueError(
                f"Camera.image: expected an RGB array of shape (H, W, 3), got {_describe(img)}"
            )
        if img.dtype != np.uint8:
            raise ValueError(f"Camera.image: expected dtype uint8, got {img.dtype}")
        _check_array("Camera", "K", self.K, (3, 3), "f", finite=True)
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise ValueError(f"Camera.K: focal lengths must be positive, got fx={self.K[0, 0]}, fy={self.K[1, 1]}")
        _check_transform("Camera", "T_ego_from_cam", self.T_ego_from_cam)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True)
class Lidar:
    """One lidar sweep: float32 N x 4 (x, y, z, intensity) in the **ego** frame.

    ``ring`` is the beam index of each point (0 = lowest beam). ``labels``, when
    the simulator knows them, is the ground-truth object id hit by each point
    (-1 for background, -2 for weather particles). ``T_ego_from_lidar`` is the
    mount, so the sensor origin is ``T_ego_from_lidar[:3, 3]``. ``num_beams`` is the
    number of rings of the sensor (for beam-reduction faults).
    """

    points: np.ndarray
    ring: np.ndarray
    T_ego_from_lidar: np.ndarray = field(default_factory=lambda: np.eye(4))
    num_beams: int = 64
    labels: np.ndarray | None = None
    timestamp: float = 0.0

    def __post_init__(self) -> None:
        p = self.points
        if not hasattr(p, "shape") or len(p.shape) != 2 or p.shape[1] != 4:
            raise ValueError(f"Lidar.points: expected shape (N, 4) as x, y, z, intensity, got {_describe(p)}")
        if p.dtype != np.float32:
            raise ValueError(f"Lidar.points: expected dtype float32, got {p.dtype}")
        n = p.shape[0]
        if not hasattr(self.ring, "shape") or tuple(self.ring.shape) != (n,):
            raise ValueError(f"Lidar.ring: expected shape ({n},) to match points, got {_describe(self.ring)}")
        if self.labels is not None and (not hasattr(self.labels, "shape") or tuple(self.labels.shape) != (n,)):
            raise ValueError(f"Lidar.labels: expected shape ({n},) to match points, got {_describe(self.labels)}")
        _check_transform("Lidar", "T_ego_from_lidar", self.T_ego_from_lidar)
        if self.num_beams <= 0:
            raise ValueError(f"Lidar.num_beams: must be positive, got {self.num_beams}")

    @property
    def origin(self) -> np.ndarray:
        """Sensor origin in the ego frame."""
        return self.T_ego_from_lidar[:3, 3]


@dataclass(frozen=True)
class Objects:
    """Ground-truth objects of one frame, in the ego frame.

    ``visible_fraction`` is the share of the object's unoccluded camera pixels that
    are visible (0..1, 0 when outside every camera); ``lidar_points`` the number of
    lidar returns inside the box; ``in_path`` whether the object is in the ego's
    lateral corridor; ``critical`` whether it is in or entering that corridor within
    the stopping envelope.
    """

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 7)))
    velocities: np.ndarray | None = None
    visible_fraction: np.ndarray | None = None
    lidar_points: np.ndarray | None = None
    in_path: np.ndarray | None = None
    critical: np.ndarray | None = None
    class_names: tuple[str, ...] = CLASSES

    def __post_init__(self) -> None:
        o = "Objects"
        _check_array(o, "ids", self.ids, (None,), "iu")
        n = len(self.ids)
        _check_boxes(o, "boxes", self.boxes)
        _check_labels(o, self.labels, self.class_names)
        _check_length(o, n, labels=self.labels, boxes=self.boxes)
        if len(set(self.ids.tolist())) != n:
            raise ValueError(f"{o}.ids: object ids must be unique within a frame, got {self.ids.tolist()}")
        # Optional per-object columns get defaults so downstream code never sees None.
        defaults = {
            "velocities": lambda: np.zeros((n, 2)),
            "visible_fraction": lambda: np.ones(n),
            "lidar_points": lambda: np.zeros(n, np.int64),
            "in_path": lambda: np.zeros(n, bool),
            "critical": lambda: np.zeros(n, bool),
        }
        for name, default in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default())
        _check_array(o, "velocities", self.velocities, (n, 2), "f", finite=True)
        _check_array(o, "visible_fraction", self.visible_fraction, (n,), "f", finite=True)
        vf = self.visible_fraction
        if vf.size and (vf.min() < 0 or vf.max() > 1):
            raise ValueError(f"{o}.visible_fraction: must lie in [0, 1], got range [{vf.min()}, {vf.max()}]")
        _check_array(o, "lidar_points", self.lidar_points, (n,), "iu")
        _check_array(o, "in_path", self.in_path, (n,), "b")
        _check_array(o, "critical", self.critical, (n,), "b")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def distance(self) -> np.ndarray:
        """BEV distance from the ego origin to each box centre (metres)."""
        return np.hypot(self.boxes[:, 0], self.boxes[:, 1])

    def class_of(self) -> np.ndarray:
        """Class name of each object."""
        return np.asarray(self.class_names, dtype=object)[self.labels]

    def select(self, mask: np.ndarray) -> Objects:
        """Subset by a boolean mask or index array."""
        return replace(
            self,
            **{
                k: getattr(self, k)[mask]
                for k in ("ids", "labels", "boxes", "velocities", "visible_fraction", "lidar_points", "in_path", "critical")
            },
        )


@dataclass(frozen=True)
class Detections:
    """Model output for one frame: boxes (N x 7, ego frame), scores in [0, 1], labels."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 7)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    class_names: tuple[str, ...] = CLASSES

    def __post_init__(self) -> None:
        o = "Detections"
        _check_boxes(o, "boxes", self.boxes)
        _check_array(o, "scores", self.scores, (None,), "f")
        if self.scores.size and not np.isfinite(self.scores).all():
            raise ValueError(f"{o}.scores: contains NaN or infinite values; the model produced invalid output")
        _check_labels(o, self.labels, self.class_names)
        _check_length(o, len(self.boxes), scores=self.scores, labels=self.labels)

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, mask: np.ndarray) -> Detections:
        return replace(self, boxes=self.boxes[mask], scores=self.scores[mask], labels=self.labels[mask])


@dataclass(frozen=True)
class Frame:
    """Everything the sensors produced at one tick, plus exact ground truth.

    ``meta`` holds free-form annotations that travel with the frame (for example
    the Params of perturbations applied to it, or ``incomplete`` flags).
    """

    index: int
    timestamp: float
    ego: EgoState
    cameras: Mapping[str, Camera] = field(default_factory=dict)
    lidars: Mapping[str, Lidar] = field(default_factory=dict)
    objects: Objects = field(default_factory=Objects)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.ego, EgoState):
            raise ValueError(f"Frame.ego: expected EgoState, got {type(self.ego).__name__}")
        for name, cls in (("cameras", Camera), ("lidars", Lidar)):
            sensors = getattr(self, name)
            for key, s in sensors.items():
                if not isinstance(s, cls):
                    raise ValueError(f"Frame.{name}[{key!r}]: expected {cls.__name__}, got {type(s).__name__}")
            object.__setattr__(self, name, MappingProxyType(dict(sensors)))
        if not isinstance(self.objects, Objects):
            raise ValueError(f"Frame.objects: expected Objects, got {type(self.objects).__name__}")
        if not np.isfinite(self.timestamp):
            raise ValueError(f"Frame.timestamp: must be finite, got {self.timestamp}")

    def with_camera(self, name: str, camera: Camera | None) -> Frame:
        """A copy with camera ``name`` replaced (or removed when ``camera`` is None)."""
        cams = dict(self.cameras)
        if camera is None:
            cams.pop(name, None)
        else:
            cams[name] = camera
        return replace(self, cameras=cams)

    def with_lidar(self, name: str, lidar: Lidar | None) -> Frame:
        """A copy with lidar ``name`` replaced (or removed when ``lidar`` is None)."""
        lids = dict(self.lidars)
        if lidar is None:
            lids.pop(name, None)
        else:
            lids[name] = lidar
        return replace(self, lidars=lids)
