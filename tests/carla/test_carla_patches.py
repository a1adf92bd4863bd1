"""Physical patches on sim=carla: each patch's texture reaches its actor's object through
world.apply_color_texture_to_object (server stand-in), with clear errors for objects it cannot find."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

carla = pytest.importorskip("carla")

from carla_fixtures import plan, small_rig  # noqa: E402
from carla_standin import Registry, World  # noqa: E402

from perturbations.patch import LIBRARY_DIR, Patch, Placement, load_named  # noqa: E402
from simtest.sim.base import Conditions  # noqa: E402
from simtest.sim.carla import CarlaSimulator  # noqa: E402
from simtest.sim.carla.patches import actor_object_name  # noqa: E402


def make_sim(registry: Registry, **kw) -> CarlaSimulator:
    return CarlaSimulator(small_rig(), server={"port": 2000, "timeout": 1.0}, dt=0.05, sensor_timeout=0.2,
                          client_factory=registry, **kw)


@pytest.fixture
def no_probe(monkeypatch):
    monkeypatch.setattr("simtest.sim.carla.server.probe", lambda host, port, timeout: None)


def png_rgb(name: str) -> np.ndarray:
    bgr = cv2.imread(str(LIBRARY_DIR / f"{name}.png"), cv2.IMREAD_COLOR)
    return bgr[:, :, ::-1]


def test_pedestrian_patch_reaches_the_walker_object_with_the_png_texels(registry, no_probe):
    patch = load_named("ped_reference")  # placement class:pedestrian
    png = png_rgb("ped_reference")
    with make_sim(registry) as sim:
        sim.reset(plan(), Conditions(), seed=1, patches=(patch,))
        world = registry.servers[2000].world
        child = sim._episode.actors["child"]
        assert len(world.textures) == 1  # the car "lead" and the ego are not painted
        name, parameter, w, h, arr = world.textures[0]
        assert name == f"walker.pedestrian.0010_{child.id}"
        assert parameter == carla.MaterialParameter.Diffuse
        assert (h, w) == png.shape[:2] == (32, 32)
        # TextureColor rows start at the bottom: flipping back gives the PNG, texel for texel, opaque.
        np.testing.assert_array_equal(arr[::-1, :, :3], png)
        assert (arr[:, :, 3] == 255).all()
        assert sim.step().index == 0
        sim.reset(plan(), Conditions(), seed=2)  # CARLA cannot undo a texture: the map is reloaded
        assert registry.servers[2000].worlds_loaded == ["reload"]
        assert registry.servers[2000].world.textures == []


def test_no_patch_means_no_texture_call_and_no_reload(registry, no_probe):
    with make_sim(registry) as sim:
        sim.reset(plan(), Conditions(), seed=1)
        sim.reset(plan(), Conditions(), seed=2, patches=())
        # a class with no actor in the episode paints nothing either (as in the embedded simulator)
        cyclist = Patch("c", np.zeros((4, 4, 3), np.uint8), Placement("class:cyclist", "left", (0.5, 0.4)))
        sim.reset(plan(), Conditions(), seed=3, patches=(cyclist,))
        assert registry.servers[2000].world.textures == []
        assert registry.servers[2000].worlds_loaded == []


def test_named_target_and_vehicle_patch(registry, no_probe):
    tex = np.zeros((2, 3, 3), np.uint8)
    tex[0] = (10, 20, 30)
    on_lead = Patch("tail", tex, Placement("lead", "back", (1.0, 0.6)))
    with make_sim(registry) as sim:
        sim.reset(plan(), Conditions(), seed=1, patches=[on_lead])
        (name, _, w, h, arr), = registry.servers[2000].world.textures
        assert name == f"vehicle.tesla.model3_{sim._episode.actors['lead'].id}" and (w, h) == (3, 2)
        np.testing.assert_array_equal(arr[1, :, :3], np.tile([10, 20, 30], (3, 1)))  # image row 0 = bottom row 1


def test_unknown_object_or_actor_is_a_clear_error(registry, no_probe, monkeypatch):
    patch = load_named("ped_reference")
    # A map whose object names do not carry the actor ids (as Unreal names may not).
    monkeypatch.setattr(World, "get_names_of_all_objects",
                        lambda self: ["SM_Sign_Stop_2", "BP_Walker_Child_C_7", "BP_Walker_Adult_C_3"])
    with make_sim(registry) as sim:
        with pytest.raises(ValueError, match=r"actor 'child'.*sim\.patch_objects\.child=<object name>"):
            sim.reset(plan(), Conditions(), seed=1, patches=(patch,))
        assert registry.servers[2000].world.actors == {}  # the failed reset cleaned up
    with make_sim(registry, patch_objects={"child": "BP_Walker_Kid_C_7"}) as sim:
        with pytest.raises(ValueError, match=r"sim\.patch_objects\.child: no CARLA object named 'BP_Walker_Kid_C_7'"):
            sim.reset(plan(), Conditions(), seed=1, patches=(patch,))
    with make_sim(registry, patch_objects={"child": "BP_Walker_Child_C_7"}) as sim:
        sim.reset(plan(), Conditions(), seed=1, patches=(patch,))
        assert [t[0] for t in registry.servers[2000].world.textures] == ["BP_Walker_Child_C_7"]
    ghost = Patch("g", np.zeros((2, 2, 3), np.uint8), Placement("grandma"))
    with make_sim(registry) as sim, pytest.raises(ValueError, match=r"placement.target 'grandma' is not an actor"):
        sim.reset(plan(), Conditions(), seed=1, patches=(ghost,))
    with pytest.raises(ValueError, match="sim.patch_objects: expected a mapping"):
        make_sim(registry, patch_objects={"child": 3})


def test_two_patches_on_one_actor_are_refused(registry, no_probe):
    a = Patch("a", np.zeros((2, 2, 3), np.uint8), Placement("class:pedestrian"))
    b = Patch("b", np.zeros((2, 2, 3), np.uint8), Placement("child"))
    with make_sim(registry) as sim, pytest.raises(ValueError, match="'a' and 'b' both target actor 'child'"):
        sim.reset(plan(), Conditions(), seed=1, patches=(a, b))


def test_object_lookup_by_id_then_blueprint():
    names = ["BP_Wall_12", "walker.pedestrian.0010_105", "walker.pedestrian.0010_1050", "Ped_0010_C"]
    assert actor_object_name(names, "kid", 105, "walker.pedestrian.0010", {}, shared_blueprint=False) == names[1]
    # no name carries the id: the single name holding the blueprint, unless another actor shares it
    names = ["BP_Wall_12", "BP_Walker_Pedestrian_0010_C_4"]
    assert actor_object_name(names, "kid", 7, "walker.pedestrian.0010", {}, shared_blueprint=False) == names[1]
    with pytest.raises(ValueError, match="sim.patch_objects.kid"):
        actor_object_name(names, "kid", 7, "walker.pedestrian.0010", {}, shared_blueprint=True)
