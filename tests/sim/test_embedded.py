"""Behaviour of the embedded simulator: ground truth, weather, light, occlusion, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simtest.scenario import load_scenario, parse_scenario
from simtest.sim.base import PRESETS, CameraSpec, Conditions, Mount, SensorRig, Simulator
from simtest.sim.embedded import EmbeddedSimulator
from simtest.sim.embedded.camera import CameraRenderer
from simtest.sim.embedded.lighting import LUMA, daylight
from simtest.sim.embedded.materials import MATERIALS, material_arrays
from simtest.sim.embedded.meshes import EMPTY, box, cylinder, ground_strips, merge
from simtest.sim.embedded.scene import FrameScene
from simtest.sim.embedded.shading import LightRig, SurfaceParams
from simtest.sim.embedded.world import build_world
from simtest.types import box_corners, points_in_boxes, project_points


def run(rig: SensorRig, scenario, conditions, frames: list[int], seed: int = 0):
    with EmbeddedSimulator(rig) as sim:
        sim.reset(scenario, conditions, seed)
        out = {}
        for k in range(max(frames) + 1):
            f = sim.step()
            if k in frames:
                out[k] = f
    return out


def test_implements_the_simulator_protocol(small_rig):
    sim = EmbeddedSimulator(small_rig)
    assert isinstance(sim, Simulator)
    with pytest.raises(RuntimeError, match="call reset"):
        sim.step()
    with pytest.raises(ValueError, match="unknown preset 'foggy'"):
        sim.reset("cut_in", "foggy", 0)


@pytest.mark.parametrize("name, frame, min_seen", [("pedestrian_group_crosswalk", 28, 4), ("cut_in", 20, 1),
                                                    ("left_turn_across_path", 35, 2), ("child_occluded", 30, 3)])
def test_projected_boxes_contain_their_objects_pixels(small_rig, name, frame, min_seen):
    f = run(small_rig, name, PRESETS["clear_noon"], [frame])[frame]
    cam = f.cameras["front"]
    inst = f.meta["instance_ids"]["front"]
    seen = 0
    for i, oid in enumerate(f.objects.ids):
        v, u = np.nonzero(inst == oid)
        if not len(u):
            continue
        seen += 1
        uv, z = project_points(cam.K, cam.T_ego_from_cam, box_corners(f.objects.boxes[i : i + 1])[0])
        if (z <= 0.05).any():
            continue  # box crosses the image plane: its projection is unbounded
        lo, hi = uv.min(0) - 1.0, uv.max(0) + 1.0
        inside = (u + 0.5 >= lo[0]) & (u + 0.5 <= hi[0]) & (v + 0.5 >= lo[1]) & (v + 0.5 <= hi[1])
        assert inside.all(), f"object {oid}: {np.count_nonzero(~inside)} of its pixels outside its projected box"
        assert f.objects.visible_fraction[i] > 0
    assert seen >= min_seen


@pytest.mark.parametrize("name, frame", [("pedestrian_group_crosswalk", 25), ("cyclist_crossing", 30), ("cut_in", 10)])
def test_lidar_points_on_an_actor_lie_inside_its_box(small_rig, name, frame):
    f = run(small_rig, name, PRESETS["clear_noon"], [frame])[frame]
    lidar = f.lidars["top"]
    labels = np.asarray(lidar.labels)
    counted = 0
    for i, oid in enumerate(f.objects.ids):
        pts = lidar.points[labels == oid]
        assert len(pts) == f.objects.lidar_points[i]
        if len(pts):
            inside = points_in_boxes(pts, f.objects.boxes[i : i + 1], margin=0.02)[:, 0]
            assert inside.all(), f"object {oid}: {np.count_nonzero(~inside)} points outside its box"
            counted += len(pts)
    assert counted > 10
    # background points are not inside any actor's box (the actors are not hollow)
    bg = lidar.points[labels == -1]
    assert not points_in_boxes(bg, f.objects.boxes, margin=-0.05).any()


def _rms_contrast(image: np.ndarray) -> float:
    y = image.astype(np.float64) @ LUMA.astype(np.float64)
    return float(y.std() / max(y.mean(), 1e-9))


def test_contrast_and_lidar_range_fall_monotonically_as_fog_thickens(small_rig):
    contrast, reach = [], []
    for vis in (math.inf, 300.0, 100.0, 40.0, 15.0):
        cond = Conditions(cloudiness=0.5, fog_visibility=vis)
        f = run(small_rig, "stationary_car_ahead", cond, [5])[5]
        contrast.append(_rms_contrast(f.cameras["front"].image))
        lid = f.lidars["top"]
        hard = lid.points[np.asarray(lid.labels) != -2]
        reach.append(float(np.linalg.norm(hard[:, :3] - lid.origin, axis=1).max()))
    assert all(a > b for a, b in zip(contrast, contrast[1:])), contrast
    assert all(a > b for a, b in zip(reach, reach[1:])), reach
    assert reach[-1] < 3 * 15.0  # two-way loss exp(-2 alpha R) = 1e-5 at 3 MOR


def _render_one(world_mesh, materials, conditions, spec, T_world_from_ego, actors_mesh=EMPTY):
    scene = FrameScene(world_mesh, actors_mesh, np.zeros(actors_mesh.num_triangles, np.int32))
    table = material_arrays(materials)
    surf = SurfaceParams(table, conditions.road_wetness, 0.0, True)
    rig = LightRig(np.zeros((0, 3), np.float32), 0.0, np.zeros((0, 3), np.float32), np.eye(3, dtype=np.float32))
    return CameraRenderer(spec).render(scene, T_world_from_ego, daylight(conditions), rig, surf, conditions,
                                       np.random.default_rng(0))


def test_a_scene_centred_far_from_the_world_origin_casts_the_same_hits():
    # a wall 10 m ahead of a sensor 30 km from the world's origin: in world float32 coordinates
    # positions there are 2 mm apart; centred on the sensor, rays and hits are exact
    far = np.array([30000.0, -12000.0, 0.0])
    wall = box((far[0] + 10.25, far[1], 2.0), (0.5, 8.0, 4.0), material=3)
    ground = ground_strips(far[0] - 50, far[0] + 50, far[1] - 50, far[1] + 50, 0.0, material=0)
    world = merge([wall, ground])
    dirs = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.8, 0.0, -0.6]], np.float32)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    sensor = far + [0.0, 0.0, 1.5]
    centred = FrameScene(world, EMPTY, np.zeros(0, np.int32), origin=sensor)
    hits = centred.cast(np.hstack([np.zeros((3, 3), np.float32), dirs]))
    assert hits.t[0] == pytest.approx(10.0, abs=1e-5)  # the wall's near face
    assert not np.isfinite(hits.t[1])  # misses the wall and the ground: sky
    assert hits.t[2] == pytest.approx(2.5, abs=1e-5)  # the ground, 1.5 m below
    assert list(hits.material) == [3, -1, 0]
    hit_world = centred.to_world(np.array([0.0, 0.0, 0.0]) + dirs[[0, 2]] * hits.t[[0, 2], None])
    assert hit_world == pytest.approx(np.array([far + [10.0, 0, 1.5], far + [2.0, 0, 0]]), abs=1e-4)
    uncentred = FrameScene(world, EMPTY, np.zeros(0, np.int32))
    world_hits = uncentred.cast(np.hstack([np.tile(sensor.astype(np.float32), (3, 1)), dirs]))
    assert list(world_hits.material) == [3, -1, 0]
    assert world_hits.t[[0, 2]] == pytest.approx(hits.t[[0, 2]], abs=5e-3)  # same hits, coarser


def test_open_ends_are_missing_only_where_they_were_left_out():
    # rays straight up from below and straight down from above, through a box and a z cylinder
    def cast(mesh):
        scene = FrameScene(mesh, EMPTY, np.zeros(0, np.int32))
        up = [[0.0, 0.0, -5.0, 0.0, 0.0, 1.0]]
        down = [[0.0, 0.0, 10.0, 0.0, 0.0, -1.0]]
        return scene.cast(np.array(up + down, np.float32)).t

    closed, open_bottom = box((0, 0, 1), (2, 2, 2), 3), box((0, 0, 1), (2, 2, 2), 3, bottom=False)
    assert cast(closed) == pytest.approx([5.0, 8.0])
    assert cast(open_bottom) == pytest.approx([7.0, 8.0])  # from below: straight through to the top face
    assert open_bottom.num_triangles == closed.num_triangles - 2
    for caps, expected in (((True, True), [5.0, 8.0]), ((False, True), [7.0, 8.0]), ((True, False), [5.0, 10.0])):
        assert cast(cylinder((0, 0, 1), 0.5, 2.0, "z", 3, segments=6, caps=caps)) == pytest.approx(expected)
    # open at both ends: the rays run down the axis without touching the wall
    assert not np.isfinite(cast(cylinder((0, 0, 1), 0.5, 2.0, "z", 3, caps=(False, False)))).any()


def test_black_target_at_the_optical_range_has_five_percent_contrast():
    vis = 80.0
    scen = parse_scenario(f"""
ego: {{start: [0, 0]}}
world: {{buildings: false, trees: false, street_lights: false,
        props: [{{kind: wall, position: [{1.5 + vis + 0.5}, 0], size: [1.0, 60.0, 30.0], color: [0, 0, 0]}}]}}
""")
    world = build_world(scen.world, np.random.default_rng(0), np.zeros((0, 2)), len(MATERIALS))
    spec = CameraSpec(width=64, height=64, fov=60.0, mount=Mount(x=1.5, z=1.6))
    cond = Conditions(fog_visibility=vis, cloudiness=0.8)
    out = _render_one(world.mesh, MATERIALS + world.materials, cond, spec, np.eye(4))
    lum = out.radiance @ LUMA
    centre = lum[32, 32]
    assert out.hits.t.reshape(64, 64)[32, 32] == pytest.approx(vis, rel=1e-3)
    airlight = float(daylight(cond).airlight @ LUMA)
    assert (airlight - centre) / airlight == pytest.approx(0.05, abs=0.002)


def test_low_sun_in_view_veils_the_image():
    scen = parse_scenario("""
ego: {start: [0, 0]}
world: {buildings: false, trees: false, street_lights: false,
        props: [{kind: wall, position: [60, 0], size: [1.0, 60.0, 4.0], color: [0.1, 0.1, 0.1]}]}
""")
    world = build_world(scen.world, np.random.default_rng(0), np.zeros((0, 2)), len(MATERIALS))
    spec = CameraSpec(width=96, height=64, fov=60.0, mount=Mount(x=1.5, z=1.6))
    wall = {}
    for alt in (20.0, 60.0):  # sun ahead: in view above the low wall, or high above the view
        out = _render_one(world.mesh, MATERIALS + world.materials, Conditions(sun_altitude=alt, sun_azimuth=0.0),
                          spec, np.eye(4))
        assert out.hits.t.reshape(64, 96)[33, 48] == pytest.approx(60.0 - 1.5 - 0.5, rel=1e-3)
        wall[alt] = float((out.radiance @ LUMA).reshape(64, 96)[33, 48])
    # the wall's face is in its own shade either way; Stiles-Holladay veil 10 E / theta^2 at
    # theta ~ 20 deg adds ~2 % of the sun's illuminance (~1000 cd/m^2) to every pixel near the sun
    assert wall[20.0] > 3 * wall[60.0]


@pytest.mark.parametrize("azimuth", [0.0, 70.0, 160.0, 250.0, 315.0])
def test_shadows_point_away_from_the_sun(azimuth):
    altitude, height = 30.0, 6.0
    ground = ground_strips(-60, 60, -60, 60, 0.0, 0)
    pole = box((0.0, 0.0, height / 2), (1.0, 1.0, height), 0)
    cond = Conditions(sun_altitude=altitude, sun_azimuth=azimuth)
    # a camera 80 m up looking straight down
    spec = CameraSpec(width=200, height=200, fov=40.0, mount=Mount(z=80.0, pitch=90.0))
    out = _render_one(merge([ground, pole]), MATERIALS, cond, spec, np.eye(4))
    rays = out.rays
    p = rays[:, :3] + rays[:, 3:] * np.where(out.hits.hit, out.hits.t, 0)[:, None]
    lum = out.radiance.reshape(-1, 3) @ LUMA
    on_ground = out.hits.hit & (np.abs(p[:, 2]) < 0.01)
    dark = on_ground & (lum < 0.5 * np.median(lum[on_ground]))
    pts = p[dark, :2]
    assert len(pts) > 20
    away = -np.array([math.cos(math.radians(azimuth)), math.sin(math.radians(azimuth))])
    centroid = pts.mean(0)
    angle = math.degrees(math.acos(np.clip(centroid @ away / np.linalg.norm(centroid), -1, 1)))
    assert angle < 5.0
    # the tip of the shadow lies h / tan(altitude) beyond the pole (plus up to its half diagonal)
    reach = float((pts @ away).max())
    assert height / math.tan(math.radians(altitude)) - 0.5 < reach < height / math.tan(math.radians(altitude)) + 1.0


def test_night_is_darker_than_noon(small_rig):
    noon = run(small_rig, "pedestrian_dark_clothes_night", PRESETS["clear_noon"], [10])[10]
    night = run(small_rig, "pedestrian_dark_clothes_night", PRESETS["night"], [10])[10]
    unlit = run(small_rig, "pedestrian_dark_clothes_night", PRESETS["night_unlit"], [10])[10]
    y = {k: float((f.cameras["front"].image.astype(np.float64) @ LUMA).mean()) for k, f in
         (("noon", noon), ("night", night), ("unlit", unlit))}
    assert y["night"] < 0.6 * y["noon"]
    assert y["unlit"] < y["night"]  # street lamps add light


def test_occluded_child_is_hidden_until_it_steps_out(small_rig):
    scen = load_scenario("child_occluded")
    (t_child,) = [t for a, t in zip(scen.actors, scen.trigger_times) if a.name == "child"]
    child = [a.name for a in scen.actors].index("child")
    hidden, out = [], []
    with EmbeddedSimulator(small_rig) as sim:
        sim.reset(scen, PRESETS["clear_noon"], seed=0)
        for _ in range(34):
            f = sim.step()
            box = f.objects.boxes[child]
            vis = f.objects.visible_fraction[child]
            if f.timestamp < t_child:
                hidden.append(vis)
            elif box[1] > -1.0 and box[0] > 4.0:  # in the ego lane, ahead of the camera
                out.append(vis)
    assert len(hidden) >= 10 and len(out) >= 3
    assert max(hidden) < 0.2, hidden
    assert min(out) > 0.8, out


def test_same_seed_gives_byte_identical_frames(small_rig):
    cond = PRESETS["rain_heavy"]
    a = run(small_rig, "cyclist_crossing", cond, [3], seed=5)[3]
    b = run(small_rig, "cyclist_crossing", cond, [3], seed=5)[3]
    c = run(small_rig, "cyclist_crossing", cond, [3], seed=6)[3]
    assert a.cameras["front"].image.tobytes() == b.cameras["front"].image.tobytes()
    assert a.lidars["top"].points.tobytes() == b.lidars["top"].points.tobytes()
    assert np.array_equal(a.lidars["top"].labels, b.lidars["top"].labels)
    assert np.array_equal(a.objects.boxes, b.objects.boxes)
    assert a.cameras["front"].image.tobytes() != c.cameras["front"].image.tobytes()  # rain drops differ
    # a reset replays the episode regardless of what ran before
    with EmbeddedSimulator(small_rig) as sim:
        sim.reset("cut_in", PRESETS["snow"], 1)
        sim.step()
        sim.reset("cyclist_crossing", cond, 5)
        frames = [sim.step() for _ in range(4)]
    assert frames[3].cameras["front"].image.tobytes() == a.cameras["front"].image.tobytes()


def test_lidar_weather_echoes_are_labelled(small_rig):
    fog = run(small_rig, "stationary_car_ahead", PRESETS["fog_dense"], [0])[0].lidars["top"]
    clear = run(small_rig, "stationary_car_ahead", PRESETS["clear_noon"], [0])[0].lidars["top"]
    assert (np.asarray(fog.labels) == -2).sum() > 100  # fog backscatter, also on sky rays
    assert (np.asarray(clear.labels) == -2).sum() == 0
    assert (np.asarray(fog.labels) == -1).sum() < 0.8 * (np.asarray(clear.labels) == -1).sum()


def test_motion_distortion_smears_a_moving_scan():
    from simtest.sim.base import LidarSpec

    def scan(distort: bool):
        rig = SensorRig(cameras={}, lidars={"top": LidarSpec(beams=16, azimuth_steps=256, motion_distortion=distort)})
        return run(rig, "stationary_car_ahead", Conditions(), [20])[20]

    still, smeared = scan(False), scan(True)
    target = 0  # the stationary car
    for f in (still, smeared):
        assert f.objects.lidar_points[target] > 0
    pts_still = still.lidars["top"].points[np.asarray(still.lidars["top"].labels) == 1]
    pts_smear = smeared.lidars["top"].points[np.asarray(smeared.lidars["top"].labels) == 1]
    # the car ahead is scanned half a revolution (0.05 s) before the frame time: seen from
    # 0.05 s * v farther back, so it appears farther by that distance
    v = still.ego.speed
    shift = np.median(pts_smear[:, 0]) - np.median(pts_still[:, 0])
    assert shift == pytest.approx(0.05 * v, abs=0.15)


def test_wet_road_loses_grazing_ground_returns_first(small_rig):
    def ground_ranges(wetness: float) -> np.ndarray:
        lid = run(small_rig, "stationary_car_ahead", Conditions(road_wetness=wetness), [0])[0].lidars["top"]
        ground = (lid.points[:, 2] < 0.2) & (np.asarray(lid.labels) == -1)
        return np.linalg.norm(lid.points[ground, :2], axis=1)

    dry, wet = ground_ranges(0.0), ground_ranges(1.0)
    kept = lambda lo, hi: ((wet >= lo) & (wet < hi)).sum() / max(((dry >= lo) & (dry < hi)).sum(), 1)  # noqa: E731
    near, far = kept(3.0, 8.0), kept(15.0, 40.0)
    assert far < near < 1.0


@pytest.mark.parametrize("angles, beams", [("hdl64", 64), ("uniform", 128), ("uniform", 16)])
def test_lidar_rings_follow_the_beam_table(angles, beams):
    from simtest.sim.base import LidarSpec

    spec = LidarSpec(beams=beams, azimuth_steps=360, angles=angles)
    rig = SensorRig(cameras={}, lidars={"top": spec})
    lid = run(rig, "stationary_car_ahead", Conditions(), [0])[0].lidars["top"]
    rel = lid.points[:, :3] - lid.origin
    elevation = np.degrees(np.arctan2(rel[:, 2], np.hypot(rel[:, 0], rel[:, 1])))
    table = spec.elevations()
    assert lid.num_beams == beams and set(np.unique(lid.ring)) <= set(range(beams))
    np.testing.assert_allclose(elevation, table[lid.ring], atol=0.01)
    # one return per (ring, azimuth step) at most, azimuths on the 1-degree grid (half-step offset)
    az = np.degrees(np.arctan2(rel[:, 1], rel[:, 0]))
    np.testing.assert_allclose(((az - 0.5) % 1.0 + 0.5) % 1.0 - 0.5, 0.0, atol=0.01)
    assert len(lid.points) <= beams * 360
