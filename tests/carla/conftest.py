"""Fixtures for the CARLA backend tests: a small rig, a hand-made episode plan, stand-in servers."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("carla")

from carla_standin import Registry  # noqa: E402

from simtest.sim.base import CameraSpec, LidarSpec, Mount, SensorRig  # noqa: E402
from simtest.sim.carla.episode import ActorPlan, EpisodePlan  # noqa: E402

EGO_SPEED = 10.0  # m/s along simtest world +x


def small_rig() -> SensorRig:
    """A 160 x 96 camera and a 16-beam x 180-step lidar: enough to check geometry, fast."""
    return SensorRig(
        cameras={"front": CameraSpec(width=160, height=96, fov=90.0, mount=Mount(x=1.5, z=1.6))},
        lidars={"top": LidarSpec(beams=16, azimuth_steps=180, range=60.0, fov_up=5.0, fov_down=-25.0, mount=Mount(z=1.9))},
    )


def _ego_pose(t: float) -> np.ndarray:
    return np.array([EGO_SPEED * t, 0.0, 0.0, 0.0])


def plan(with_pedestrian: bool = True) -> EpisodePlan:
    """Ego driving along +x; a parked car 25 m ahead; a pedestrian hidden behind it, 3 m further."""
    actors = [ActorPlan("lead", "vehicle", "vehicle.tesla.model3", lambda t: np.array([25.0, 0.0, 0.0, 0.0]))]
    if with_pedestrian:
        actors.append(
            ActorPlan("child", "pedestrian", "walker.pedestrian.0010", lambda t: np.array([28.0, 0.0, 0.0, 0.0]))
        )
    return EpisodePlan(map=None, ego=ActorPlan("ego", "vehicle", "vehicle.lincoln.mkz_2020", _ego_pose), actors=tuple(actors))


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def fake_carla_root(tmp_path: Path) -> Path:
    """A directory with a CarlaUE4.sh that starts a silent TCP listener on -carla-rpc-port."""
    root = tmp_path / "CARLA_0.9.16"
    root.mkdir()
    script = root / "CarlaUE4.sh"
    listener = textwrap.dedent(
        """
        import socket, sys, time
        port = int([a for a in sys.argv if a.startswith("-carla-rpc-port=")][0].split("=")[1])
        print("fake CARLA server args:", " ".join(sys.argv[1:]), flush=True)
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port)); s.listen(128)
        while True:
            c, _ = s.accept(); c.close()
        """
    )
    (root / "fake_server.py").write_text(listener)
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{root / "fake_server.py"}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert os.access(script, os.X_OK)
    return root
