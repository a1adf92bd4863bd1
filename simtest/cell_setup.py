"""What a cell's axis values mean to the runner.

Known axes: ``scenario`` (a name in the scenario library), ``patch`` (a
physical adversarial patch: ``none``, ``random`` for the random-texture
control, a library name or a patch ``.json``; see
:mod:`perturbations.patch.library`), ``weather`` and
``lighting`` (levels of :mod:`simtest.conditions`), any :class:`Conditions`
field (overrides), ``perturbation`` (a registered perturbation name, ``none``,
or several joined by ``+``, applied in that order) with ``severity`` (0-5),
``sample`` and ``replicate`` (they only change the cell's seed). Every other
axis is a parameter of the cell's scenario (``Scenario.parameters``), applied
with ``Scenario.with_params``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from perturbations import registry
from simtest.conditions import CONDITION_FIELDS, compose_conditions
from simtest.config import ConfigError, close_matches
from simtest.seeding import canonical
from simtest.sim.base import Conditions
from simtest.sweep import NO_PERTURBATION, SweepPlan

RUNNER_AXES = frozenset({"scenario", "patch", "weather", "lighting", "perturbation", "severity", "sample", "replicate"})


@dataclass(frozen=True)
class CellSetup:
    """A cell resolved: scenario name and parameters, conditions, perturbations."""

    scenario: str
    scenario_params: dict[str, Any] = field(default_factory=dict)
    conditions: Conditions = field(default_factory=Conditions)
    perturbations: tuple[str, ...] = ()
    severity: float = 0.0
    patch: str | None = None

    @property
    def scene_key(self) -> str:
        """What fixes the simulated world of an episode: scenario and its parameters.

        Cells that differ only in weather, lighting or perturbation share their
        episodes' simulator seeds, so their results pair up episode by episode.
        """
        return canonical({"scenario": self.scenario, "params": self.scenario_params})


def parse_perturbations(value: Any, *, where: str) -> tuple[str, ...]:
    """Perturbation names of an axis value (``none``, a name, or names joined by ``+``)."""
    if value is None or value == NO_PERTURBATION:
        return ()
    names = tuple(str(value).split("+"))
    known = registry.names()
    for name in names:
        if name not in known:
            raise ConfigError(
                f"{where}: unknown perturbation {name!r}{close_matches(name, known)}; "
                "see perturbations.registry.names() for the registered ones"
            )
    return names


def cell_setup(axes: Mapping[str, Any], default_scenario: str | None, *, where: str = "cell") -> CellSetup:
    """Resolve a cell's axes (scenario parameters are not checked here, see :func:`check_plan`)."""
    scenario = axes.get("scenario", default_scenario)
    if not scenario:
        raise ConfigError(f"{where}: no scenario; add a scenario axis or choose one with scenario=<name>")
    severity = axes.get("severity", 0)
    perts = parse_perturbations(axes.get("perturbation"), where=f"{where}: axis perturbation")
    try:
        severity = registry.check_severity(severity)
    except ValueError as e:
        raise ConfigError(f"{where}: axis severity: {e}") from None
    if perts and "severity" not in axes:
        raise ConfigError(f"{where}: perturbation {axes.get('perturbation')!r} needs a severity axis or baseline value")
    params = {k: v for k, v in axes.items() if k not in RUNNER_AXES and k not in CONDITION_FIELDS}
    return CellSetup(
        scenario=str(scenario),
        scenario_params=params,
        conditions=compose_conditions(axes, where=where),
        perturbations=perts,
        severity=severity,
        patch=None if axes.get("patch") in (None, "none") else str(axes["patch"]),
    )


def check_plan(plan: SweepPlan, default_scenario: str | None, load_scenario: Callable[[str], Any],
               list_scenarios: Callable[[], list[str]] | None = None) -> None:
    """Resolve every cell before anything runs; raise :class:`ConfigError` on the first bad one.

    Checks scenario names (with a close-match hint), that every extra axis is a
    parameter of its scenario, weather/lighting levels, condition values,
    perturbation names and severities.
    """
    known = list_scenarios() if list_scenarios is not None else None
    loaded: dict[str, Any] = {}
    for cell in plan.cells:
        where = f"sweep cell {cell.id}"
        setup = cell_setup(cell.axes, default_scenario, where=where)
        name = setup.scenario
        if name not in loaded:
            if known is not None and name not in known and Path(name).suffix not in (".yaml", ".yml"):
                raise ConfigError(
                    f"{where}: unknown scenario {name!r}{close_matches(name, known)}; the library has {sorted(known)}"
                )
            try:
                loaded[name] = load_scenario(name)
            except (FileNotFoundError, KeyError) as e:
                raise ConfigError(f"{where}: unknown scenario {name!r} ({e})") from None
        params = getattr(loaded[name], "parameters", {}) or {}
        for key in setup.scenario_params:
            if key not in params:
                raise ConfigError(
                    f"{where}: axis {key!r} is neither a sweep axis simtest knows ({sorted(RUNNER_AXES)} or a "
                    f"Conditions field) nor a parameter of scenario {name!r}{close_matches(key, list(params))} "
                    f"(its parameters: {sorted(params)})"
                )
        if setup.scenario_params:
            try:
                loaded[name].with_params(setup.scenario_params)
            except (ValueError, TypeError) as e:
                raise ConfigError(f"{where}: {e}") from None
        if setup.patch is not None:
            from perturbations.patch import resolve_axis_value

            try:
                resolve_axis_value(setup.patch, seed=plan.root_seed)
            except ValueError as e:
                raise ConfigError(f"{where}: axis patch: {e}") from None
