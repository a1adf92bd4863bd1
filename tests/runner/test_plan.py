"""Sweep planning: cell counts per mode, seeds independent of order, priors as weights."""

from __future__ import annotations

import math

import pytest

from simtest.config import AxisConfig, ConfigError, SweepConfig
from simtest.seeding import derive_seed
from simtest.sweep import plan_sweep


def ax(*values, weights=None):
    return AxisConfig(values=list(values), weights=None if weights is None else list(weights))


def test_grid_is_the_cartesian_product_with_fixed_baseline_columns():
    cfg = SweepConfig(mode="grid", axes={"scenario": ax("a", "b"), "weather": ax("clear", "fog", "rain"),
                                         "lighting": ax("noon", "night")}, baseline={"perturbation": "none"})
    plan = plan_sweep(cfg)
    assert len(plan) == 2 * 3 * 2
    assert len({c.id for c in plan.cells}) == 12
    assert all(c.axes["perturbation"] == "none" for c in plan.cells)
    assert list(plan.axis_types) == ["scenario", "weather", "lighting", "perturbation"]
    assert plan.frames_total == 12 * cfg.episodes * cfg.frames


def test_grid_plans_clean_sensors_once():
    # none x {1,3,5} and {p,q} x {0} all mean clean sensors: one cell, severity 0
    cfg = SweepConfig(mode="grid", axes={"perturbation": ax("none", "p", "q"), "severity": ax(0, 1, 3, 5)})
    plan = plan_sweep(cfg)
    assert len(plan) == 1 + 2 * 3
    clean = [c for c in plan.cells if c.axes["perturbation"] == "none"]
    assert len(clean) == 1 and clean[0].axes["severity"] == 0


def test_one_at_a_time_counts_linked_groups_and_crossed_axes():
    cfg = SweepConfig(
        mode="one_at_a_time",
        axes={"scenario": ax("s1", "s2", "s3"), "weather": ax("clear", "fog", "rain", "snow"),
              "lighting": ax("noon", "night"), "perturbation": ax("p", "q", "r"), "severity": ax(1, 3, 5)},
        baseline={"weather": "clear", "lighting": "noon", "perturbation": "none", "severity": 0},
        linked=[["perturbation", "severity"]], cross=["scenario"],
    )
    plan = plan_sweep(cfg)
    per_scenario = 1 + (4 - 1) + (2 - 1) + 3 * 3
    assert len(plan) == 3 * per_scenario
    s1 = [c for c in plan.cells if c.axes["scenario"] == "s1"]
    # every cell differs from the baseline in at most one factor
    for c in s1:
        moved = {k for k in ("weather", "lighting") if c.axes[k] != cfg.baseline[k]}
        moved |= {"degradation"} if c.axes["perturbation"] != "none" else set()
        assert len(moved) <= 1


def test_one_at_a_time_without_a_baseline_value_names_the_key():
    cfg = SweepConfig(mode="one_at_a_time", axes={"weather": ax("clear", "fog")})
    with pytest.raises(ConfigError, match=r"sweep\.baseline\.weather"):
        plan_sweep(cfg)


def test_random_draws_follow_the_prior_and_number_the_samples():
    cfg = SweepConfig(mode="random", samples=400, root_seed=3,
                      axes={"weather": ax("clear", "fog", weights=[0.9, 0.1]),
                            "fog_visibility": AxisConfig(dist="loguniform", low=20.0, high=500.0)})
    plan = plan_sweep(cfg)
    assert len(plan) == 400
    assert [c.axes["sample"] for c in plan.cells] == list(range(400))
    share = sum(c.axes["weather"] == "fog" for c in plan.cells) / 400
    assert abs(share - 0.1) < 4 * math.sqrt(0.1 * 0.9 / 400)  # binomial, 4 sigma
    vis = [c.axes["fog_visibility"] for c in plan.cells]
    assert 20.0 <= min(vis) and max(vis) <= 500.0
    # median of a log-uniform on [20, 500] is the geometric mean
    assert abs(sorted(vis)[200] / math.sqrt(20 * 500) - 1) < 0.25
    assert all(c.weight == 1.0 for c in plan.cells)
    assert plan_sweep(cfg) == plan  # same root seed, same plan


def test_list_mode_completes_cells_from_the_baseline():
    cfg = SweepConfig(mode="list", baseline={"weather": "clear", "lighting": "noon"},
                      cells=[{"scenario": "a"}, {"scenario": "b", "weather": "fog"}])
    plan = plan_sweep(cfg)
    assert [c.axes for c in plan.cells] == [
        {"scenario": "a", "weather": "clear", "lighting": "noon"},
        {"scenario": "b", "weather": "fog", "lighting": "noon"},
    ]


def test_list_mode_names_the_missing_value():
    cfg = SweepConfig(mode="list", cells=[{"scenario": "a", "weather": "fog"}, {"scenario": "b"}])
    with pytest.raises(ConfigError, match=r"sweep\.cells\[1\].*weather"):
        plan_sweep(cfg)


def test_seeds_depend_on_the_cell_not_on_its_position():
    a = plan_sweep(SweepConfig(mode="grid", root_seed=0, axes={"weather": ax("clear", "fog", "rain"), "lighting": ax("noon", "night")}))
    b = plan_sweep(SweepConfig(mode="grid", root_seed=0, axes={"weather": ax("rain", "clear"), "lighting": ax("night", "noon")}))
    seeds_a = {c.id: c.seed for c in a.cells}
    for c in b.cells:
        assert seeds_a[c.id] == c.seed
    assert len(set(seeds_a.values())) == len(seeds_a)
    other = plan_sweep(SweepConfig(mode="grid", root_seed=1, axes={"weather": ax("clear", "fog", "rain"), "lighting": ax("noon", "night")}))
    assert not set(seeds_a.values()) & {c.seed for c in other.cells}
    # seed 0 is a seed like any other: it differs from "no seed" and from seed 1
    assert derive_seed(0, "x") != derive_seed(1, "x")


def test_weights_are_the_product_of_axis_priors():
    cfg = SweepConfig(mode="grid", axes={"weather": ax("clear", "fog", weights=[8, 2]),
                                         "lighting": ax("noon", "night", weights=[3, 1])})
    w = {(c.axes["weather"], c.axes["lighting"]): c.weight for c in plan_sweep(cfg).cells}
    assert w[("fog", "night")] == pytest.approx(0.2 * 0.25)
    assert sum(w.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "gird"}, r"sweep\.mode.*did you mean 'grid'"),
        ({"episodes": 0}, r"sweep\.episodes"),
        ({"mode": "random"}, r"sweep\.samples"),
        ({"axes": {"weather": AxisConfig(values=["clear"], weights=[1, 2])}}, r"sweep\.axes\.weather\.weights"),
        ({"axes": {"fog": AxisConfig(dist="uniform", low=1, high=2)}}, r"sweep\.axes\.fog\.dist.*random"),
        ({"mode": "random", "samples": 3, "axes": {"fog": AxisConfig(dist="uniform", low=5, high=2)}}, r"low < high"),
        ({"axes": {"weather": AxisConfig(values=["fog", "fog"])}}, r"distinct"),
    ],
)
def test_impossible_sweep_values_name_the_key(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        plan_sweep(SweepConfig(**kwargs))


def test_axis_named_like_a_result_column_is_refused():
    with pytest.raises(ConfigError, match="clashes with a result column"):
        plan_sweep(SweepConfig(axes={"distance": ax(1, 2)}))
