"""Shared fixtures for the simulator tests: a small rig keeps them fast."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

from simtest.sim.base import CameraSpec, LidarSpec, Mount, SensorRig  # noqa: E402


@pytest.fixture(scope="session")
def small_rig() -> SensorRig:
    """A 320x192 camera and a 32-beam x 512-step lidar (same mounts as the default rig)."""
    return SensorRig(
        cameras={"front": CameraSpec(width=320, height=192, fov=90.0)},
        lidars={"top": LidarSpec(beams=32, azimuth_steps=512, mount=Mount(x=0.0, z=1.9))},
    )
