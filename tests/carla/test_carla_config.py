"""conf/sim/carla.yaml composes, passes the target-key check and builds a typed CarlaSimulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

pytest.importorskip("carla")

from carla_fixtures import small_rig  # noqa: E402

from simtest.config import check_target_keys  # noqa: E402
from simtest.sim.carla import CarlaSimulator, ServerConfig  # noqa: E402
from simtest.sim.carla.sensors import LidarOptions  # noqa: E402
from simtest.sim.carla.translate import Anchor  # noqa: E402
from simtest.sim.carla.weather import WeatherOptions  # noqa: E402

CONF = Path(__file__).resolve().parents[2] / "conf" / "sim" / "carla.yaml"


@pytest.mark.parametrize("partial", [False, True])
def test_config_builds_a_typed_simulator(partial):
    node = OmegaConf.to_container(OmegaConf.load(CONF), resolve=True)
    check_target_keys("sim", node)
    rig = small_rig()
    sim = instantiate(node, _partial_=True)(rig=rig) if partial else instantiate(node, rig=rig)
    assert isinstance(sim, CarlaSimulator) and sim.rig == rig
    assert isinstance(sim.server_config, ServerConfig) and sim.server_config.port == 2000
    assert isinstance(sim.weather_options, WeatherOptions) and isinstance(sim.lidar_options, LidarOptions)
    assert sim.anchors["intersection"] == Anchor(map="Town05")
    assert sim.blueprints["child"] == "walker.pedestrian.0011"
    assert sim.patch_objects == {}  # no override: objects found by actor id / blueprint


def test_misspelt_nested_keys_name_the_key():
    with pytest.raises(ValueError, match=r"sim.server: unknown key\(s\) \['hots'\]"):
        CarlaSimulator(small_rig(), server={"hots": "x"})
    with pytest.raises(ValueError, match=r"sim.weather: unknown key\(s\) \['fog'\]"):
        CarlaSimulator(small_rig(), weather={"fog": 1})
    with pytest.raises(ValueError, match=r"sim.anchors: unknown layout\(s\) \['roundabout'\]"):
        CarlaSimulator(small_rig(), anchors={"roundabout": {}})
    with pytest.raises(ValueError, match=r"sim.ground_truth: unknown key\(s\) \['halfwidth'\]"):
        CarlaSimulator(small_rig(), ground_truth={"halfwidth": 2.0})
    with pytest.raises(ValueError, match="sim.dt"):
        CarlaSimulator(small_rig(), dt=0.0)
    with pytest.raises(ValueError, match="sim.rig: expected a simtest.sim.base.SensorRig"):
        CarlaSimulator({"cameras": {}})
