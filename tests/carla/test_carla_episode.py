"""The episode loop against the scripted server stand-in: frames, ground truth, sync, clean-up."""

from __future__ import annotations

import math

import numpy as np
import pytest

carla = pytest.importorskip("carla")

from carla_standin import Registry  # noqa: E402
from carla_fixtures import EGO_SPEED, plan, small_rig  # noqa: E402

from simtest.sim.base import PRESETS, Conditions, Simulator  # noqa: E402
from simtest.sim.carla import CarlaServerCrashed, CarlaServerError, CarlaSimulator, CarlaTimeoutError  # noqa: E402
from simtest.sim.carla.weather import weather_values  # noqa: E402
from simtest.types import points_in_boxes  # noqa: E402

DT = 0.05


def make_sim(registry: Registry, **kw) -> CarlaSimulator:
    kw.setdefault("sensor_timeout", 0.2)
    return CarlaSimulator(small_rig(), server={"port": 2000, "timeout": 1.0}, dt=DT, client_factory=registry, **kw)


@pytest.fixture
def no_probe(monkeypatch):
    """No real TCP server on port 2000 here: skip the fail-fast probe for stand-in connections."""
    monkeypatch.setattr("simtest.sim.carla.server.probe", lambda host, port, timeout: None)


def test_is_a_simulator(registry, no_probe):
    with make_sim(registry) as sim:
        assert isinstance(sim, Simulator)


def test_episode_frames_ego_and_ground_truth(registry, no_probe):
    with make_sim(registry) as sim:
        sim.reset(plan(), Conditions(), seed=7)
        frames = [sim.step() for _ in range(4)]
    for k, f in enumerate(frames):
        assert f.index == k
        assert f.timestamp == pytest.approx((k + 1) * DT)
        # The ego moved to x = v t in the (mirrored) world, facing +x.
        np.testing.assert_allclose(f.ego.T_world_from_ego[:3, 3], [EGO_SPEED * (k + 1) * DT, 0, 0], atol=1e-4)
        assert f.ego.speed == pytest.approx(EGO_SPEED, rel=1e-4)
        lead = f.objects.select(f.objects.class_of() == "vehicle")
        # Tesla box: 4.80 x 2.16 x 1.50 m, centre 0.75 m up, 25 m ahead in the world.
        np.testing.assert_allclose(
            lead.boxes[0], [25.0 - EGO_SPEED * (k + 1) * DT, 0.0, 0.75, 4.80, 2.16, 1.50, 0.0], atol=1e-4
        )
        np.testing.assert_allclose(lead.velocities[0], [0.0, 0.0], atol=1e-6)
        assert f.meta["world_frame"] == frames[0].meta["world_frame"] + k
    f = frames[-1]
    lidar = f.lidars["top"]
    assert lidar.points.dtype == np.float32 and lidar.num_beams == 16
    # Points labelled with the lead car's id lie inside its box, and their count is its lidar_points.
    lead_i = int(np.flatnonzero(f.objects.class_of() == "vehicle")[0])
    lead_id = f.objects.ids[lead_i]
    mine = lidar.points[lidar.labels == lead_id]
    assert len(mine) >= 6  # 2-degree azimuth steps: 3 columns x 3 rings at 23 m
    assert points_in_boxes(mine, f.objects.boxes[lead_i : lead_i + 1], margin=0.02).all()
    assert f.objects.lidar_points[lead_i] == len(mine)
    # The car hides the child (a 1.3 m walker 3 m behind a 1.5 m car): nearly invisible, car fully visible.
    child_i = int(np.flatnonzero(f.objects.class_of() == "pedestrian")[0])
    assert f.objects.visible_fraction[lead_i] == pytest.approx(1.0)
    assert f.objects.visible_fraction[child_i] < 0.2
    assert f.objects.lidar_points[child_i] < 0.2 * f.objects.lidar_points[lead_i]
    # Ground returns: the lowest ring hits the road ahead at the height of the road (z = 0 in the ego frame).
    ground = lidar.points[(lidar.ring == 0) & (lidar.labels == -1)]
    np.testing.assert_allclose(ground[:, 2], 0.0, atol=1e-3)
    img = f.cameras["front"].image
    assert img.shape == (96, 160, 3) and img.dtype == np.uint8


def test_in_path_and_critical_flags_follow_the_stopping_envelope(registry, no_probe):
    # Ego at 10 m/s: envelope D = v t_react + v^2 / (2 a_brake) + margin = 10 + 100/12 + 2 = 20.33 m
    # (shared defaults). The lead car (4.8 m long, centre 25 m ahead at t = 0) is in the lane all along;
    # its rear, at 25 - 10 t - 2.4 m, enters the envelope between t = 0.20 s (20.6 m) and t = 0.25 s (20.1 m).
    with make_sim(registry) as sim:
        sim.reset(plan(False), Conditions(), seed=0)
        frames = [sim.step() for _ in range(5)]
    assert [bool(f.objects.in_path[0]) for f in frames] == [True] * 5
    assert [bool(f.objects.critical[0]) for f in frames] == [False, False, False, False, True]


def test_child_becomes_visible_once_it_steps_out(registry, no_probe):
    from simtest.sim.carla.episode import ActorPlan, EpisodePlan

    base = plan()
    # The child runs out from behind the car to the ego's left at 20 m/s (a fast test), from t = 0.
    child = ActorPlan("child", "pedestrian", "walker.pedestrian.0010", lambda t: np.array([28.0, 2.0 * t * 10, 0.0, 0.0]))
    p = EpisodePlan(map=None, ego=base.ego, actors=(base.actors[0], child))
    with make_sim(registry) as sim:
        sim.reset(p, Conditions(), seed=1)
        fr = [sim.step() for _ in range(6)]
    vis = [float(f.objects.visible_fraction[f.objects.class_of() == "pedestrian"][0]) for f in fr]
    assert vis[0] < 0.2 and vis[-1] > 0.8


def test_sync_mode_traffic_manager_weather_lights(registry, no_probe):
    with make_sim(registry) as sim:
        sim.reset(plan(False), PRESETS["night"], seed=11)
        server = registry.servers[2000]
        world = server.world
        assert world.settings.synchronous_mode is True
        assert world.settings.fixed_delta_seconds == pytest.approx(DT)
        tm = server.traffic_managers[sim.tm_port]
        assert tm.synchronous is True and tm.seed == 11
        w = world.weather
        for key, value in weather_values(PRESETS["night"]).items():
            assert getattr(w, key) == pytest.approx(value, abs=1e-4), key
        assert world.lightmanager.street_on is True
        ego = [a for a in world.actors.values() if a.attributes.get("role_name") == "ego"][0]
        assert int(ego.light_state) & int(carla.VehicleLightState.LowBeam)
        sim.step()
    # close(): every actor destroyed, settings and the Traffic Manager back to asynchronous.
    assert world.actors == {}
    assert world.settings.synchronous_mode is False
    assert tm.synchronous is False


def test_missing_sensor_message_drops_the_frame(registry, no_probe):
    with make_sim(registry) as sim:
        sim.reset(plan(False), Conditions(), seed=3)
        f0 = sim.step()
        server = registry.servers[2000]
        server.drop.add((f0.meta["world_frame"] + 1, "lidar/top"))
        f1 = sim.step()
    # World frame f0+1 lacked its lidar: dropped and counted; the next complete frame is f0+2.
    assert f1.meta["world_frame"] == f0.meta["world_frame"] + 2
    assert f1.meta["dropped_frames"] == 1 and sim.stats["dropped_frames"] == 1
    assert f1.index == f0.index + 1
    assert f1.timestamp == pytest.approx(f0.timestamp + 2 * DT)
    # All sensors of f1 come from one tick: same timestamp for camera and lidar.
    assert f1.cameras["front"].timestamp == pytest.approx(f1.lidars["top"].timestamp)
    assert f1.lidars["top"].timestamp == pytest.approx(f1.timestamp)


def test_late_message_is_never_mixed_into_a_later_frame(registry, no_probe):
    with make_sim(registry) as sim:
        sim.reset(plan(False), Conditions(), seed=3)
        f0 = sim.step()
        registry.servers[2000].delay.add((f0.meta["world_frame"] + 1, "rgb/front"))
        f1 = sim.step()
        assert sim.stats["stale_messages"] >= 1
    # The late image of frame f0+1 arrived during frame f0+2 and was discarded, not used.
    assert f1.meta["world_frame"] == f0.meta["world_frame"] + 2
    assert f1.cameras["front"].timestamp == pytest.approx(f1.lidars["top"].timestamp)


def test_sensor_that_never_delivers_fails_the_episode_and_cleans_up(registry, no_probe):
    with make_sim(registry, max_dropped_frames=2) as sim:
        sim.reset(plan(False), Conditions(), seed=3)
        server = registry.servers[2000]
        f = server.world.frame
        server.drop.update({(f + k, "semantic/top") for k in range(1, 10)})
        with pytest.raises(CarlaTimeoutError, match="semantic/top"):
            sim.step()
        assert server.world.actors == {}
        assert server.world.settings.synchronous_mode is False


def test_rpc_timeout_fails_cleanly_and_next_episode_runs(registry, no_probe):
    with make_sim(registry) as sim:
        sim.reset(plan(False), Conditions(), seed=3)
        server = registry.servers[2000]
        server.timeout_at_frame = server.world.frame + 2
        sim.step()
        with pytest.raises(CarlaTimeoutError, match="time-out"):
            sim.step()
        assert server.world.actors == {}  # destroyed in the failure path
        assert server.world.settings.synchronous_mode is False  # restored
        sim.reset(plan(False), Conditions(), seed=3)  # the (external) server is still usable
        assert len(sim.step().objects) == 1
    assert server.world.actors == {}


def test_failed_spawn_destroys_what_was_spawned(registry, no_probe):
    registry.server_kw["fail_spawn_of"] = "walker.pedestrian.0010"
    with make_sim(registry) as sim:
        with pytest.raises(CarlaServerError, match="refused the request .*Spawn failed") as err:
            sim.reset(plan(), Conditions(), seed=3)
        assert not isinstance(err.value, (CarlaServerCrashed, CarlaTimeoutError))  # the server is fine
        assert sim.connection.client is not None  # and stays connected
        world = registry.servers[2000].world
        assert len(world.ever_spawned) == 2  # ego and lead car got spawned ...
        assert world.actors == {}  # ... and destroyed again
        assert world.settings.synchronous_mode is False


def test_map_is_loaded_once_with_a_longer_timeout(registry, no_probe):
    from simtest.sim.carla.episode import EpisodePlan

    p = plan(False)
    town = EpisodePlan(map="Town03", ego=p.ego, actors=p.actors)
    with make_sim(registry) as sim:
        sim.reset(town, Conditions(), seed=1)
        sim.reset(town, Conditions(), seed=2)
        server = registry.servers[2000]
        assert server.worlds_loaded == ["Town03"]  # not reloaded for the second episode
        assert sim.connection.client.timeout == 1.0  # restored after the load
        assert server.world.settings.synchronous_mode is True  # re-applied on the new world


def test_unknown_blueprint_names_the_config_key(registry, no_probe):
    from simtest.sim.carla.episode import ActorPlan, EpisodePlan

    odd = ActorPlan("odd", "vehicle", "vehicle.nonexistent.model", lambda t: np.array([20.0, 0.0, 0.0, 0.0]))
    with make_sim(registry) as sim:
        with pytest.raises(ValueError, match="sim.blueprints: .*'vehicle.nonexistent.model'"):
            sim.reset(EpisodePlan(map=None, ego=plan(False).ego, actors=(odd,)), Conditions(), seed=1)
        assert registry.servers[2000].world.actors == {}


def test_same_seed_same_lidar_bytes_under_fog(registry, no_probe):
    def run(seed: int) -> bytes:
        reg = Registry()
        with make_sim(reg) as sim:
            sim.reset(plan(False), Conditions(fog_visibility=60.0), seed=seed)
            return sim.step().lidars["top"].points.tobytes()

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_lidar_weather_follows_conditions(registry, no_probe):
    with make_sim(registry) as sim:
        sim.reset(plan(False), Conditions(), seed=2)
        clear = sim.step().lidars["top"]
        sim.reset(plan(False), Conditions(fog_visibility=40.0), seed=2)
        fog = sim.step().lidars["top"]
    r_clear = np.linalg.norm(clear.points[:, :3] - clear.origin, axis=1)
    r_fog = np.linalg.norm(fog.points[:, :3] - fog.origin, axis=1)
    hard_fog = fog.labels != -2
    # Fog (alpha = 3/40 m): far returns are lost as exp(-2 alpha R), backscatter echoes appear near the sensor.
    far = r_clear > 20
    assert hard_fog[...].sum() < len(clear.points)
    kept_far = (r_fog[hard_fog] > 20).sum() / far.sum()
    alpha = -math.log(0.05) / 40.0
    expected = np.mean(np.exp(-2 * alpha * r_clear[far]))
    assert kept_far == pytest.approx(expected, abs=0.05 + 3 * math.sqrt(expected / far.sum()))
    assert (fog.labels == -2).sum() > 0
    assert np.median(r_fog[~hard_fog]) < 15.0


def test_library_scenario_runs_on_a_real_road_network(no_probe):
    from carla_xodr import straight

    from simtest.scenario import load_scenario

    scenario = load_scenario("child_occluded")
    registry = Registry(xodr=straight(x0=-100.0, length=500.0))
    with make_sim(registry, anchors={"straight": {"map": None}}) as sim:
        sim.reset(scenario, Conditions(), seed=4)
        frames = [sim.step() for _ in range(3)]
    v = scenario.values["ego_speed"]
    for f in frames:
        t = f.timestamp
        # The anchor is the road centre at x = -100 + 10 (road behind the ego's start); ego in lane -1.
        np.testing.assert_allclose(f.ego.T_world_from_ego[:3, 3], [-90.0 + v * t, -1.75, 0.0], atol=1e-4)
        names = {int(i): n for i, n in zip(f.objects.ids, f.objects.class_of())}
        assert sorted(names.values()) == ["pedestrian", "vehicle", "vehicle", "vehicle"]
        # parked_1 (a van) stands at scenario (28.6, -4.6): relative to the ego at (v t, -1.75).
        van = f.objects.boxes[np.argmin(np.abs(f.objects.boxes[:, 0] - (28.6 - v * t)))]
        np.testing.assert_allclose(van[[0, 1, 6]], [28.6 - v * t, -4.6 + 1.75, 0.0], atol=1e-4)
        np.testing.assert_allclose(van[3:6], [5.92, 2.0, 2.58], atol=1e-4)
        # Parked cars at y = -2.85 (1 m half width) stay outside the +-1.5 m corridor; the waiting child too.
        assert not f.objects.in_path.any()


def test_ai_walker_is_driven_by_carlas_controller(registry, no_probe):
    from simtest.sim.carla.episode import ActorPlan, EpisodePlan

    walker = ActorPlan(
        "walker", "pedestrian", "walker.pedestrian.0001", lambda t: np.array([20.0, -6.0, 0.0, math.pi / 2]),
        controller="ai", ai_target=(20.0, 6.0, 0.0), ai_speed=2.0,
    )
    p = EpisodePlan(map=None, ego=plan(False).ego, actors=(walker,))
    with make_sim(registry) as sim:
        sim.reset(p, Conditions(), seed=1)
        world = registry.servers[2000].world
        ctrl = [a for a in world.actors.values() if a.type_id == "controller.ai.walker"][0]
        assert ctrl.started and ctrl.max_speed == 2.0
        assert (ctrl.target.x, ctrl.target.y) == (20.0, -6.0)  # simtest y = +6 is CARLA y = -6
        frames = [sim.step() for _ in range(3)]
    # The controller walks it towards simtest +y at 2 m/s; ground truth follows (velocity in the ego's axes).
    np.testing.assert_allclose(frames[-1].objects.velocities[0], [0.0, 2.0], atol=1e-4)
    assert frames[-1].objects.boxes[0, 1] > frames[0].objects.boxes[0, 1]
    assert world.actors == {} and not ctrl.is_alive


def test_rig_smoke_check_reports_what_it_saw(no_probe):
    from carla_xodr import straight

    from simtest.scenario import load_scenario
    from simtest.sim.carla.smoke import draw_boxes, run

    registry = Registry(xodr=straight(x0=-100.0, length=500.0))
    with make_sim(registry, anchors={"straight": {"map": None}}) as sim:
        rows = run(sim, load_scenario("child_occluded"), {"clear": PRESETS["clear_noon"], "fog": PRESETS["fog_dense"]}, 2)
    assert [r["conditions"] for r in rows] == ["clear", "fog"]
    for r in rows:
        assert r["dropped"] == 0 and len(r["objects"]) == 4 and r["reset_s"] > 0
        img = draw_boxes(r["frame"], "front")
        # Box edges are drawn in (255, 40, 40), a colour the stand-in never renders.
        assert ((img == (255, 40, 40)).all(axis=-1)).sum() > 50


def test_patch_texture_lasts_one_episode(registry, no_probe):
    tex = np.zeros((8, 8, 3), np.uint8)
    tex[:, :4] = (250, 250, 0)
    with make_sim(registry) as sim:
        with pytest.raises(RuntimeError, match="call reset"):
            sim.apply_texture("SM_Sign_Stop_2", tex)
        sim.reset(plan(False), Conditions(), seed=1)
        assert sim.object_names("Stop") == ["SM_Sign_Stop_2"]
        sim.apply_texture("SM_Sign_Stop_2", tex)
        world = registry.servers[2000].world
        name, _, w, h, arr = world.textures[-1]
        assert (name, w, h) == ("SM_Sign_Stop_2", 8, 8)
        np.testing.assert_array_equal(arr[::-1, :, :3], tex)
        sim.step()
        sim.reset(plan(False), Conditions(), seed=2)  # the next episode starts from a clean map
        assert registry.servers[2000].worlds_loaded == ["reload"]
        assert registry.servers[2000].world.textures == []
        assert registry.servers[2000].world.settings.synchronous_mode is True
        sim.reset(plan(False), Conditions(), seed=3)  # nothing painted: no reload
        assert registry.servers[2000].worlds_loaded == ["reload"]
