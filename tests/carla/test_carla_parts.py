"""Frame collector, raw decoding, visible fraction, lidar labels/empty rays, sensor blueprints, patches."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pytest

carla = pytest.importorskip("carla")

from carla_standin import Registry  # noqa: E402
from carla_fixtures import small_rig  # noqa: E402

from simtest.sim.base import CameraSpec, LidarSpec, Mount, SensorRig  # noqa: E402
from simtest.sim.carla.decode import instance_ids, lidar_arrays  # noqa: E402
from simtest.sim.carla.lidar import empty_rays, transfer_labels  # noqa: E402
from simtest.sim.carla.patches import apply_texture, to_texture_color  # noqa: E402
from simtest.sim.carla.sensors import LidarOptions, lidar_attributes, sensor_plans  # noqa: E402
from simtest.sim.carla.sync import FrameCollector  # noqa: E402
from simtest.sim.carla.visibility import hull_areas, visible_fractions  # noqa: E402


@dataclass
class Msg:
    frame: int
    tag: str = ""


# ---------------------------------------------------------------- frame collector
def test_collector_assembles_one_message_per_sensor_of_the_frame():
    c = FrameCollector(["a", "b"], timeout=0.2)
    c.callback("a")(Msg(4, "old"))
    c.callback("a")(Msg(5, "a5"))
    c.callback("b")(Msg(6, "b6"))  # early: belongs to the next frame
    c.callback("b")(Msg(5, "b5"))
    got = c.collect(5)
    assert {k: v.tag for k, v in got.items()} == {"a": "a5", "b": "b5"}
    assert c.stale_messages == 1
    c.callback("a")(Msg(6, "a6"))
    assert {k: v.tag for k, v in c.collect(6).items()} == {"a": "a6", "b": "b6"}


def test_collector_times_out_and_counts_an_incomplete_frame():
    c = FrameCollector(["a", "b"], timeout=0.1)
    c.callback("a")(Msg(7))
    start = time.monotonic()
    assert c.collect(7) is None
    assert 0.09 <= time.monotonic() - start < 1.0
    assert c.incomplete_frames == 1 and c.last_missing == ("b",)
    # A late message of frame 7 is not used for frame 8.
    c.callback("b")(Msg(7))
    c.callback("a")(Msg(8))
    assert c.collect(8) is None and c.stale_messages == 1


def test_collector_rejects_bad_setup():
    with pytest.raises(ValueError, match="sensor_timeout"):
        FrameCollector(["a"], timeout=0)
    with pytest.raises(ValueError, match="unknown sensor"):
        FrameCollector(["a"], timeout=1).callback("b")


# ---------------------------------------------------------------- decoding
@dataclass
class Image:
    frame: int
    width: int
    height: int
    raw_data: bytes


@dataclass
class Sweep:
    frame: int
    channels: int
    counts: list
    raw_data: bytes

    def get_point_count(self, c):
        return self.counts[c]


def test_instance_ids_read_green_low_blue_high():
    bgra = np.zeros((2, 3, 4), np.uint8)
    bgra[0, 1] = (0x01, 0x2C, 4, 255)  # B=1, G=44: id 300
    assert instance_ids(Image(1, 3, 2, bgra.tobytes()))[0, 1] == 300


def test_lidar_rings_count_from_the_lowest_beam():
    pts = np.arange(6 * 4, dtype="<f4").reshape(6, 4)
    _, _, ring = lidar_arrays(Sweep(1, 3, [1, 2, 3], pts.tobytes()))
    # CARLA channel 0 is the top beam -> simtest ring 2.
    assert ring.tolist() == [2, 1, 1, 0, 0, 0]
    with pytest.raises(ValueError, match="per-channel counts"):
        lidar_arrays(Sweep(1, 3, [1, 1, 1], pts.tobytes()))


# ---------------------------------------------------------------- visibility
def test_visible_fraction_of_a_half_covered_box_facing_the_camera():
    # Camera at the ego origin looking along +x; a 2 m wide, 2 m high box face 10 m ahead.
    spec = CameraSpec(width=200, height=200, fov=90.0, mount=Mount())
    K, T = spec.K(), spec.T_ego_from_cam()
    box = np.array([[10.05, 0.0, 0.0, 0.1, 2.0, 2.0, 0.0]])  # 10 cm deep, so its hull is nearly the face
    area = hull_areas(box, K, T, 200, 200)[0]
    f = 100.0  # 200 / (2 tan 45 deg)
    assert area == pytest.approx((f * 2 / 10) ** 2, rel=0.1)  # 20 x 20 px
    ids = np.zeros((200, 200), np.int64)
    ids[90:110, 90:100] = 7  # the left half of the face is visible
    frac = visible_fractions(ids, np.array([7]), np.array(["vehicle"]), box, K, T, fill={"vehicle": 1.0})
    assert frac[0] == pytest.approx(0.5, abs=0.06)
    # Behind the camera: no pixels, fraction 0.
    behind = np.array([[-10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0]])
    assert visible_fractions(ids, np.array([7]), np.array(["vehicle"]), behind, K, T)[0] == 0.0


def test_box_straddling_the_camera_plane_is_clipped_not_inverted():
    spec = CameraSpec(width=64, height=64, fov=90.0, mount=Mount())
    box = np.array([[0.0, 3.0, 0.0, 10.0, 1.0, 1.0, 0.0]])  # from 5 m behind to 5 m ahead, to the left
    area = hull_areas(box, spec.K(), spec.T_ego_from_cam(), 64, 64)[0]
    assert 0 < area < 64 * 64 / 2


# ---------------------------------------------------------------- lidar helpers
def test_labels_transfer_from_the_nearest_semantic_point():
    xyz = np.array([[10.0, 0.0, 0.0], [20.0, 1.0, 0.0], [5.0, 5.0, 0.0]])
    sem = np.array([[10.005, 0.0, 0.0], [20.0, 1.0, 0.0], [5.5, 5.0, 0.0]])
    ids = np.array([42, 0, 42])
    assert transfer_labels(xyz, sem, ids, known_ids=[42], tolerance=0.02).tolist() == [42, -1, -1]


def test_empty_rays_are_the_unoccupied_azimuth_bins():
    spec = LidarSpec(beams=2, azimuth_steps=8, range=50.0, fov_up=0.0, fov_down=-10.0, mount=Mount())
    phase = math.radians(10.0)
    az = phase + np.arange(8) * (2 * math.pi / 8)
    # Ring 0 (-10 deg) returns on every ray but number 3; ring 1 (0 deg) only on rays 0 and 5.
    pts, rings = [], []
    for ring, rays in ((0, [0, 1, 2, 4, 5, 6, 7]), (1, [0, 5])):
        el = math.radians(-10.0 if ring == 0 else 0.0)
        for k in rays:
            pts.append([20 * math.cos(el) * math.cos(az[k]), 20 * math.cos(el) * math.sin(az[k]), 20 * math.sin(el)])
            rings.append(ring)
    dirs, ring_e = empty_rays(np.array(pts), np.array(rings), spec)
    assert sorted(zip(ring_e.tolist(), np.round(np.degrees(np.arctan2(dirs[:, 1], dirs[:, 0])) % 360).tolist())) == [
        (0, 145.0), (1, 55.0), (1, 100.0), (1, 145.0), (1, 190.0), (1, 280.0), (1, 325.0)
    ]
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0)


# ---------------------------------------------------------------- sensors
def test_lidar_blueprint_sweeps_once_per_step():
    spec = LidarSpec(beams=32, azimuth_steps=1000, fov_up=10.0, fov_down=-30.0, range=80.0)
    a = lidar_attributes(spec, dt=0.05, options=LidarOptions())
    assert a["rotation_frequency"] == "20.0" and a["points_per_second"] == str(32 * 1000 * 20)
    assert a["upper_fov"] == "10.0" and a["lower_fov"] == "-30.0" and a["channels"] == "32"
    assert a["dropoff_general_rate"] == "0.0"
    assert "dropoff_general_rate" not in lidar_attributes(spec, 0.05, None)  # semantic lidar
    with pytest.raises(ValueError, match="angles: uniform"):
        lidar_attributes(LidarSpec(angles="hdl64"), 0.05, None)


def test_every_camera_gets_an_aligned_instance_camera():
    rig = SensorRig(cameras={"front": CameraSpec(mount=Mount(x=1.5, y=0.2, z=1.6, yaw=5.0))}, lidars={})
    plans = {p.key: p for p in sensor_plans(rig, 0.05, LidarOptions())}
    rgb, inst = plans["rgb/front"], plans["instance/front"]
    assert inst.blueprint == "sensor.camera.instance_segmentation"
    assert inst.attributes == rgb.attributes
    assert np.allclose(rgb.transform.get_matrix(), inst.transform.get_matrix())
    assert rgb.transform.location.y == pytest.approx(-0.2) and rgb.transform.rotation.yaw == pytest.approx(-5.0)


# ---------------------------------------------------------------- patches
def test_patch_texture_reaches_the_named_object_upright():
    world = Registry()(host="localhost", port=2000).get_world()
    tex = np.zeros((3, 4, 3), np.uint8)
    tex[0, :] = (255, 0, 0)  # the top row is red
    tex[2, 3] = (0, 0, 255)
    apply_texture(world, "SM_Sign_Stop_2", tex)
    name, parameter, w, h, arr = world.textures[-1]
    assert (name, w, h) == ("SM_Sign_Stop_2", 4, 3)
    assert parameter == carla.MaterialParameter.Diffuse
    # CARLA textures start at the bottom row: image row 0 is texture row h - 1.
    np.testing.assert_array_equal(arr[::-1, :, :3], tex)
    assert to_texture_color(np.full((2, 2, 3), 0.5)).get(0, 0).r == 128


def test_patch_errors_name_the_problem():
    world = Registry()(host="localhost", port=2000).get_world()
    with pytest.raises(ValueError, match="closest names: \\['SM_Sign_Stop_2'\\]"):
        apply_texture(world, "SM_Sign_Stop_3", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="H x W x 3"):
        apply_texture(world, "SM_Sign_Stop_2", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="patch.parameter"):
        apply_texture(world, "SM_Sign_Stop_2", np.zeros((2, 2, 3), np.uint8), parameter="Albedo")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        apply_texture(world, "SM_Sign_Stop_2", np.full((2, 2, 3), 2.0))


def test_small_rig_is_valid_for_carla():
    assert len(sensor_plans(small_rig(), 0.05, LidarOptions())) == 4
