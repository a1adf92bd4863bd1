"""Every config group composes and instantiates; bad configs fail at start-up naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from simtest import scenario as scenarios
from simtest.cell_setup import check_plan
from simtest.commands import run as run_cmd
from simtest.commands.plan import compose
from simtest.config import ConfigError, check_target_keys, to_rig
from simtest.sweep import plan_sweep

CONF = Path(run_cmd.CONF_DIR)
SCRIPTED = ["sim=scripted", "model=scripted"]  # fast doubles (tests/runner/doubles.py)


@pytest.fixture(autouse=True, scope="module")
def scripted_groups():
    cs = ConfigStore.instance()
    cs.store(group="sim", name="scripted", node={"_target_": "runner.doubles.ScriptedSimulator", "dt": 0.1})
    cs.store(group="model", name="scripted", node={"_target_": "runner.doubles.ScriptedDetector"})


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_the_default_config_composes_with_every_group():
    cfg = compose([])
    for group in ("sim", "model", "scenario", "sweep", "executor", "run", "logger"):
        assert cfg[group] is not None, group
    assert cfg.hydra.runtime.choices["sweep"] == "default"


@pytest.mark.parametrize("option", options("sweep"))
def test_every_sweep_plans_and_resolves(option):
    cfg = compose(SCRIPTED + [f"sweep={option}"])
    plan = plan_sweep(OmegaConf.to_object(cfg.sweep))
    assert len(plan) >= 1
    check_plan(plan, cfg.hydra.runtime.choices["scenario"], scenarios.load_scenario, scenarios.list_scenarios)


@pytest.mark.parametrize("group", ["executor", "run", "logger"])
def test_every_typed_group_option_converts(group):
    for option in options(group):
        cfg = compose(SCRIPTED + [f"{group}={option}"])
        obj = OmegaConf.to_object(cfg[group])
        assert type(obj).__name__.lower().startswith(group[:3]), (group, option, obj)


@pytest.mark.parametrize("option", options("scenario"))
def test_every_scenario_loads_through_the_scenario_group(option):
    cfg = compose(SCRIPTED + [f"scenario={option}"])
    assert cfg.hydra.runtime.choices["scenario"] == option
    assert scenarios.load_scenario(option).name == cfg.scenario.name


@pytest.mark.parametrize("option", options("safety"))
def test_every_safety_config_gives_gates(option):
    job = run_cmd.typed_job(compose(SCRIPTED + [f"gates={option}"]))
    assert job.config["safety"]["source"].endswith(f"{option}.yaml") and job.config["safety"]["gates"]


def test_unknown_safety_file_names_the_choices():
    with pytest.raises(ConfigError, match=r"gates: no gate file .*use one of \['default'"):
        run_cmd.typed_job(compose(SCRIPTED + ["gates=strictest"]))


@pytest.mark.parametrize("option", options("sim"))
def test_every_sim_config_names_its_arguments(option):
    cfg = compose([f"sim={option}"] + SCRIPTED[1:])
    check_target_keys("sim", OmegaConf.to_container(cfg.sim, resolve=True))


def test_embedded_sim_and_reference_model_instantiate():
    from hydra.utils import instantiate

    job = run_cmd.typed_job(compose([]))
    rig = to_rig(job.rig)
    with run_cmd.Component(job.sim, {"rig": rig})() as sim:
        assert sim.rig == rig and sim.dt == job.sweep.dt
    model = instantiate(job.model)
    assert model.name and len(model.content_hash) == 64


@pytest.mark.parametrize("option", [o for o in options("model")])
def test_every_model_config_names_its_arguments(option):
    cfg = compose(SCRIPTED[:1] + [f"model={option}"])
    check_target_keys("model", OmegaConf.to_container(cfg.model, resolve=True))


# -- bad configs ------------------------------------------------------------------


def test_misspelt_key_on_the_command_line_names_it():
    with pytest.raises((HydraException, OmegaConfBaseException), match="episods"):
        compose(SCRIPTED + ["sweep.episods=3"])


def test_misspelt_key_in_a_yaml_file_names_the_full_key(tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "mine.yaml").write_text("defaults: [sweep_schema, _self_]\nepisods: 3\n")
    with pytest.raises((HydraException, OmegaConfBaseException), match=r"episods"):
        compose(SCRIPTED + [f"hydra.searchpath=[file://{tmp_path}]", "sweep=mine"])


def test_wrong_type_names_the_key():
    with pytest.raises((HydraException, OmegaConfBaseException), match=r"sweep\.frames|frames"):
        compose(SCRIPTED + ["sweep.frames=many"])


def test_misspelt_simulator_argument_is_caught_before_building():
    cfg = compose(SCRIPTED + ["+sim.dtt=0.2"])
    with pytest.raises(ConfigError, match=r"sim\.dtt: .* takes no argument 'dtt'; did you mean 'dt'"):
        check_target_keys("sim", OmegaConf.to_container(cfg.sim))


def test_unknown_scenario_option_lists_the_library():
    with pytest.raises((HydraException, OmegaConfBaseException), match=r"child_occluded"):
        compose(SCRIPTED + ["scenario=child_ocluded"])


def test_unknown_scenario_in_a_sweep_axis_suggests_the_close_one():
    cfg = compose(SCRIPTED + ["sweep=default", "sweep.axes.scenario.values=[child_ocluded]"])
    plan = plan_sweep(OmegaConf.to_object(cfg.sweep))
    with pytest.raises(ConfigError, match=r"unknown scenario 'child_ocluded'; did you mean 'child_occluded'"):
        check_plan(plan, None, scenarios.load_scenario, scenarios.list_scenarios)


@pytest.mark.parametrize(
    "override, match",
    [
        ("sweep.episodes=0", r"sweep\.episodes: must be at least 1"),
        ("executor.workers=0", r"executor\.workers: must be at least 1"),
        ("run.retries=-1", r"run\.retries"),
        ("sweep.mode=gird", r"did you mean 'grid'"),
        ("rig.cameras.front.fov=200", r"rig\.cameras\.front: camera\.fov"),
    ],
)
def test_impossible_values_give_their_error(override, match):
    cfg = compose(SCRIPTED + [override])
    with pytest.raises(ConfigError, match=match):
        run_cmd.typed_job(cfg) if not override.startswith("rig") else to_rig(OmegaConf.to_object(cfg.rig))


@pytest.mark.parametrize(
    "override, match",
    [
        ("sweep.axes.severity.values=[1,7]", r"axis severity: severity must lie in \[0, 5\]"),
        ("sweep.axes.weather.values=[clear,foggy]", r"weather 'foggy' is not a known level; did you mean 'fog'"),
        ("sweep.axes.perturbation.values=[lidar_dropuot]", r"unknown perturbation 'lidar_dropuot'; did you mean 'lidar_dropout'"),
    ],
)
def test_impossible_cells_are_refused_before_running(override, match):
    cfg = compose(SCRIPTED + ["sweep=smoke", override])
    plan = plan_sweep(OmegaConf.to_object(cfg.sweep))
    with pytest.raises(ConfigError, match=match):
        check_plan(plan, "child_occluded", scenarios.load_scenario, scenarios.list_scenarios)


# -- the main job end to end (scripted simulator and model) -----------------------


def test_main_job_runs_resumes_and_exits_2_on_bad_input(tmp_path, capsys):
    run_dir = tmp_path / "run"
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {name: vehicles, class: vehicle, metric: miss_rate, limit: 0.5}\n")
    args = SCRIPTED + ["sweep=smoke", f"run.dir={run_dir}", "run.progress=false", "run.report=false", f"gates={gates}"]
    code = run_cmd.main(args)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["safety"]["source"] == str(gates)
    assert len(manifest["cells"]) == 4 and all(c["status"] == "done" for c in manifest["cells"].values())
    assert (run_dir / "summary.json").is_file() and (run_dir / "run.log").is_file()
    assert code in (0, 1)  # the gates decide; the sweep itself succeeded
    assert run_cmd.main(args + ["run.retries=4"]) == code  # resume (run/executor settings may change)
    assert "4 already finished, 0 to run" in (run_dir / "run.log").read_text()
    capsys.readouterr()
    assert run_cmd.main(args + ["sweep.frames=4"]) == 2
    assert "changed: sweep" in capsys.readouterr().err
    assert run_cmd.main(SCRIPTED + ["sweep.episods=3", f"run.dir={tmp_path / 'x'}"]) == 2


def test_multirun_makes_one_resumable_run_folder_per_job(tmp_path):
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {name: vehicles, class: vehicle, metric: miss_rate, limit: 0.5}\n")
    sweep_dir = tmp_path / "multi"
    code = run_cmd.main(["-m", *SCRIPTED, "sweep=smoke", "sweep.root_seed=0,1", f"hydra.sweep.dir={sweep_dir}",
                         f"gates={gates}", "run.report=false", "run.progress=false"])
    assert code in (0, 1)
    seeds = []
    for job in ("0", "1"):
        manifest = json.loads((sweep_dir / job / "manifest.json").read_text())
        assert all(c["status"] == "done" for c in manifest["cells"].values())
        seeds.append(manifest["root_seed"])
    assert seeds == [0, 1]


def test_plan_prints_the_cells_their_count_and_an_estimate(capsys):
    from simtest.commands import plan as plan_cmd

    assert plan_cmd.main([*SCRIPTED, "sweep=smoke", "executor=ray"]) == 0
    out = capsys.readouterr().out
    assert out.count("weather=") == 4
    frames = 4 * 1 * 3
    assert f"4 cells x 1 episodes x 3 frames (+0 warm-up) = {frames} frames" in out
    expected = plan_cmd.estimate_seconds(frames, plan_cmd.SECONDS_PER_FRAME, 2, "ray")
    assert expected == pytest.approx(frames * plan_cmd.SECONDS_PER_FRAME / (2 * plan_cmd.RAY_EFFICIENCY))
    assert "estimated run time: 0m0" in out and "on 2 ray worker(s)" in out
    assert plan_cmd.main([*SCRIPTED, "sweep=smoke", "sweep.episodes=0"]) == 2
    assert "sweep.episodes: must be at least 1" in capsys.readouterr().err


def test_the_rig_schema_has_the_keys_and_defaults_of_the_library_specs():
    import dataclasses

    from simtest.config import CameraConfig, LidarConfig, RigConfig
    from simtest.sim.base import CameraSpec, LidarSpec, SensorRig

    for schema, spec in ((CameraConfig, CameraSpec), (LidarConfig, LidarSpec)):
        assert [f.name for f in dataclasses.fields(schema)] == [f.name for f in dataclasses.fields(spec)]
    assert to_rig(RigConfig()) == SensorRig()  # same defaults, mounts included
    cfg = OmegaConf.structured(RigConfig)
    cfg.lidars.top.angles = "hdl64"  # a Literal in the spec is a checked string in the schema
    cfg.cameras.front.mount.yaw = 5.0
    rig = to_rig(OmegaConf.to_object(cfg))
    assert rig.lidars["top"].angles == "hdl64" and rig.cameras["front"].mount.yaw == 5.0
    cfg.lidars.top.angles = "hdl32"
    with pytest.raises(ConfigError, match=r"rig\.lidars\.top: lidar\.angles"):
        to_rig(OmegaConf.to_object(cfg))
