"""Raw CARLA sensor messages -> numpy arrays (frames stay CARLA's until coords.py).

Layouts (CARLA 0.9.x sensor reference):

* camera images: ``raw_data`` is H x W x 4 uint8 in BGRA order;
* instance segmentation: R = semantic tag, G + 256 B = the actor id's low 16 bits;
* ``sensor.lidar.ray_cast``: float32 (x, y, z, intensity) per point in the
  sensor's (left-handed) frame, grouped by channel, channel 0 the *highest* beam;
* ``sensor.lidar.ray_cast_semantic``: (x, y, z, cos_inc_angle: float32,
  object_idx, object_tag: uint32) per point, grouped the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SEMANTIC_POINT = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("cos_inc_angle", "<f4"), ("object_idx", "<u4"), ("object_tag", "<u4")]
)


def _bgra(image: Any) -> np.ndarray:
    raw = np.frombuffer(image.raw_data, dtype=np.uint8)
    expected = image.height * image.width * 4
    if raw.size != expected:
        raise ValueError(f"camera frame {image.frame}: {raw.size} bytes for a {image.width}x{image.height} BGRA image ({expected} expected)")
    return raw.reshape(image.height, image.width, 4)


def rgb_image(image: Any) -> np.ndarray:
    """``carla.Image`` -> H x W x 3 uint8 RGB (a copy)."""
    return np.ascontiguousarray(_bgra(image)[..., 2::-1])


def instance_ids(image: Any) -> np.ndarray:
    """Instance-segmentation ``carla.Image`` -> H x W int64 of actor ids modulo 65536."""
    bgra = _bgra(image)
    return bgra[..., 1].astype(np.int64) | (bgra[..., 0].astype(np.int64) << 8)


def _rings(measurement: Any, n: int) -> np.ndarray:
    channels = int(measurement.channels)
    counts = np.array([measurement.get_point_count(c) for c in range(channels)], dtype=np.int64)
    if counts.sum() != n:
        raise ValueError(f"lidar frame {measurement.frame}: per-channel counts sum to {counts.sum()}, not the {n} points sent")
    # CARLA channel 0 is the top beam; simtest ring 0 is the lowest.
    return np.repeat(np.arange(channels - 1, -1, -1, dtype=np.int32), counts)


def lidar_arrays(measurement: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``carla.LidarMeasurement`` -> (xyz (N, 3) CARLA sensor frame, intensity (N,), ring (N,))."""
    pts = np.frombuffer(measurement.raw_data, dtype="<f4").reshape(-1, 4)
    return pts[:, :3], pts[:, 3], _rings(measurement, len(pts))


def semantic_lidar_arrays(measurement: Any) -> tuple[np.ndarray, np.ndarray]:
    """``carla.SemanticLidarMeasurement`` -> (xyz (N, 3) CARLA sensor frame, object_idx (N,) int64)."""
    pts = np.frombuffer(measurement.raw_data, dtype=SEMANTIC_POINT)
    xyz = np.stack([pts["x"], pts["y"], pts["z"]], axis=1)
    return xyz, pts["object_idx"].astype(np.int64)
