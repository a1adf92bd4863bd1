"""Inputs and measures shared by the registry-generic perturbation tests.

* camera: a synthetic textured RGB image (gradients, a checkerboard, sinusoids,
  fine noise) so that blur, noise, colour and geometric faults all show;
* lidar: the organised synthetic scan of ``perturbations.lidar.synthetic`` (small,
  16 x 512, to keep the tests fast);
* fusion: a history of :class:`simtest.types.Frame` with two cameras and a lidar.

Measures of how much a perturbation changed its input: PSNR and SSIM for images,
symmetric Chamfer distance over (x, y, z, intensity) for scans, and for frames
the "fault magnitude" in metres / frame periods / lost sensors (see ``frame_fault``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from simtest.types import Camera, EgoState, Frame, Lidar, make_transform, rotation_rpy

DT = 0.1  # s between frames of the synthetic history
REFERENCE_RANGE_M = 20.0  # an extrinsic rotation error is scored as the displacement of a point this far


def textured_image(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A deterministic uint8 H x W x 3 test image with structure at every scale and in every colour."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    checker = ((yy // 8 + xx // 8) % 2) * 80.0
    r = 40 + 120 * xx / w + checker
    g = 60 + 100 * (1 + np.sin(2 * np.pi * xx / 23.0) * np.cos(2 * np.pi * yy / 17.0)) / 2 * 1.5
    b = 50 + 150 * yy / h - checker / 2
    img = np.stack([r, g, b], -1) + np.random.default_rng(seed).normal(0, 6, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB, peak 255); inf for identical images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of the luma of two uint8 RGB images (Wang et al. 2004:
    Gaussian window sigma 1.5 px, K1 = 0.01, K2 = 0.03, L = 255)."""
    from scipy.ndimage import gaussian_filter

    w = np.array([0.299, 0.587, 0.114])
    x, y = a.astype(np.float64) @ w, b.astype(np.float64) @ w
    blur = lambda v: gaussian_filter(v, 1.5, truncate=3.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Chamfer distance (mean nearest-neighbour distance both ways) over x, y, z, intensity."""
    if len(a) == 0 or len(b) == 0:
        return math.inf if len(a) != len(b) else 0.0
    da, _ = cKDTree(b).query(a)
    db, _ = cKDTree(a).query(b)
    return float(da.mean() + db.mean())


def make_history(n: int = 6) -> list[Frame]:
    """``n`` frames, oldest first, 0.1 s apart: cameras 'front' and 'rear' (48 x 64) and a lidar 'top'."""
    from perturbations.lidar.synthetic import make_scan

    K = np.array([[40.0, 0, 32], [0, 40.0, 24], [0, 0, 1]])
    front = make_transform(rotation_rpy(-np.pi / 2, 0.0, -np.pi / 2), (1.5, 0.0, 1.6))
    rear = make_transform(rotation_rpy(-np.pi / 2, 0.0, np.pi / 2), (-1.0, 0.0, 1.6))
    frames = []
    for i in range(n):
        scan = make_scan(np.random.default_rng(i), beams=8, steps=128)
        cams = {
            name: Camera(image=textured_image(48, 64, seed=10 * i + k), K=K, T_ego_from_cam=T, timestamp=DT * i)
            for k, (name, T) in enumerate((("front", front), ("rear", rear)))
        }
        lid = Lidar(points=scan.points, ring=scan.ring, labels=scan.labels,
                    T_ego_from_lidar=make_transform(translation=scan.origin), num_beams=8, timestamp=DT * i)
        frames.append(Frame(index=i, timestamp=DT * i, ego=EgoState(), cameras=cams, lidars={"top": lid}))
    return frames


def _pose_error(T0: np.ndarray, T1: np.ndarray) -> float:
    """Displacement (m) of a point REFERENCE_RANGE_M along the sensor axis under the pose change."""
    d = np.linalg.inv(T0) @ T1
    cos = np.clip((np.trace(d[:3, :3]) - 1) / 2, -1.0, 1.0)
    return float(np.linalg.norm(d[:3, 3]) + REFERENCE_RANGE_M * math.acos(cos))


def frame_fault(clean: Frame, out: Frame) -> float:
    """How far ``out`` is from the clean current frame, summed over sensors.

    A lost sensor counts 1; a kept one its extrinsic error (m at 20 m), its
    timestamp error in frame periods, and for its data: the mean displacement (m)
    of lidar points when the points are the same ones moved, else 1 if the data
    are not the current data.
    """
    total = 0.0
    for group_clean, group_out, data, pose in (
        (clean.cameras, out.cameras, lambda s: s.image, lambda s: s.T_ego_from_cam),
        (clean.lidars, out.lidars, lambda s: s.points, lambda s: s.T_ego_from_lidar),
    ):
        for name, sensor in group_clean.items():
            if name not in group_out:
                total += 1.0
                continue
            o = group_out[name]
            total += _pose_error(pose(sensor), pose(o)) + abs(o.timestamp - sensor.timestamp) / DT
            a, b = data(sensor), data(o)
            if a.shape == b.shape and a.dtype == np.float32:
                total += float(np.linalg.norm(a[:, :3] - b[:, :3], axis=1).mean())
            else:
                total += 0.0 if a.shape == b.shape and np.array_equal(a, b) else 1.0
    return total


def fingerprint(x: object) -> bytes:
    """Every byte a perturbation could change: image, scan or frame."""
    if isinstance(x, np.ndarray):
        return repr((x.dtype.str, x.shape)).encode() + x.tobytes()
    if isinstance(x, Frame):
        parts = [repr((x.index, x.timestamp)).encode()]
        for name in sorted(x.cameras):
            c = x.cameras[name]
            parts += [name.encode(), fingerprint(c.image), fingerprint(np.asarray(c.T_ego_from_cam)),
                      repr(c.timestamp).encode()]
        for name in sorted(x.lidars):
            lid = x.lidars[name]
            parts += [name.encode(), fingerprint(lid.points), fingerprint(lid.ring),
                      fingerprint(np.asarray(lid.T_ego_from_lidar)), repr(lid.timestamp).encode()]
            if lid.labels is not None:
                parts.append(fingerprint(lid.labels))
        return b"|".join(parts)
    if hasattr(x, "points") and hasattr(x, "ring"):  # a lidar Scan
        parts = [fingerprint(np.asarray(x.points)), fingerprint(np.asarray(x.ring)), repr(x.origin).encode()]
        if x.labels is not None:
            parts.append(fingerprint(np.asarray(x.labels)))
        return b"|".join(parts)
    raise TypeError(f"no fingerprint for {type(x).__name__}")
