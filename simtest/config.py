"""Typed schemas of the Hydra configuration, registered in Hydra's ConfigStore.

``conf/config.yaml`` starts from :class:`Config` (stored as ``simtest_schema``),
and the groups ``sweep``, ``executor``, ``run`` and ``logger`` start from their
own schemas (``<group>/<name>_schema``), so a misspelt key or a value of the
wrong type fails at start-up with OmegaConf's message naming the full key (for
example ``Key 'episods' not in 'SweepConfig'  full_key: sweep.episods``).

The ``sim`` and ``model`` groups hold a ``_target_`` and its keyword arguments;
:func:`check_target_keys` checks them against the target's signature before
anything is built, so a misspelt argument there fails at start-up too.

Only the entry point (``simtest.commands.run``) sees a ``DictConfig``; it turns
each section into these dataclasses (``OmegaConf.to_object``) and hands typed
objects to the library. Each dataclass checks its own values in
``__post_init__`` and raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

from simtest.sim.base import CameraSpec, LidarSpec, Mount, SensorRig


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the key and the fix."""


def close_matches(name: str, options: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for a near miss, else an empty string."""
    close = difflib.get_close_matches(str(name), list(options), n=2)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


# ---------------------------------------------------------------------------
# sweep
# ---------------------------------------------------------------------------

MODES = ("grid", "one_at_a_time", "random", "list")
DISTRIBUTIONS = ("uniform", "loguniform", "normal")


@dataclass
class AxisConfig:
    """One sweep axis.

    ``values``: the levels (grid, one_at_a_time, list; random draws among them).
    ``weights``: operational-design-domain prior probability of each level
    (normalised; the risk metrics reuse them as cell weights); uniform when omitted.
    ``dist`` with ``low``/``high`` (uniform, loguniform) or ``mean``/``std``
    (normal, optionally clipped to ``low``/``high``): a continuous prior, random mode only.
    """

    values: Optional[list[Any]] = None
    weights: Optional[list[float]] = None
    dist: Optional[str] = None
    low: Optional[float] = None
    high: Optional[float] = None
    mean: Optional[float] = None
    std: Optional[float] = None


@dataclass
class SweepConfig:
    """How the cells of a sweep are laid out.

    ``mode``: ``grid`` (cartesian product of every axis), ``one_at_a_time`` (the
    ``baseline`` plus one axis, or one ``linked`` group, varied at a time, fully
    crossed with the axes in ``cross``), ``random`` (``samples`` cells drawn from
    the axes' priors) or ``list`` (the explicit ``cells``).
    ``baseline``: the centre point of one_at_a_time; in every mode, keys that are
    not axes are held fixed and recorded as columns.
    ``linked``: groups of axes varied together (e.g. ``[perturbation, severity]``).
    ``episodes`` x ``frames``: the work of one cell; ``warmup_frames`` are simulated
    before the first recorded frame. ``dt``: the simulator's time step in seconds
    (null keeps the simulator config's), e.g. 0.5 s so that 12 frames span a 6 s
    scenario. ``root_seed`` seeds everything.
    """

    name: str = "default"
    mode: str = "grid"
    axes: dict[str, AxisConfig] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    linked: list[list[str]] = field(default_factory=list)
    cross: list[str] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    samples: int = 0
    episodes: int = 2
    frames: int = 10
    warmup_frames: int = 0
    dt: Optional[float] = None
    root_seed: int = 0

    def __post_init__(self) -> None:
        if self.dt is not None and not (math.isfinite(self.dt) and self.dt > 0):
            raise ConfigError(f"sweep.dt: must be a positive time step in seconds (or null), got {self.dt}")
        if self.mode not in MODES:
            raise ConfigError(f"sweep.mode: {self.mode!r} is not one of {list(MODES)}{close_matches(self.mode, MODES)}")
        for key in ("episodes", "frames"):
            if getattr(self, key) < 1:
                raise ConfigError(f"sweep.{key}: must be at least 1, got {getattr(self, key)}")
        if self.warmup_frames < 0:
            raise ConfigError(f"sweep.warmup_frames: must be >= 0, got {self.warmup_frames}")
        if self.root_seed < 0:
            raise ConfigError(f"sweep.root_seed: must be a non-negative integer, got {self.root_seed}")
        if self.mode == "random" and self.samples < 1:
            raise ConfigError(f"sweep.samples: random mode draws this many cells; must be >= 1, got {self.samples}")
        if self.mode == "list" and not self.cells:
            raise ConfigError("sweep.cells: list mode needs at least one cell, e.g. cells: [{scenario: cut_in, weather: fog}]")
        if self.mode != "list" and self.cells:
            raise ConfigError(f"sweep.cells: only list mode uses explicit cells; set sweep.mode=list or remove them (mode is {self.mode!r})")
        for name, axis in self.axes.items():
            _check_axis(name, axis, self.mode)


def _check_axis(name: str, axis: AxisConfig, mode: str) -> None:
    where = f"sweep.axes.{name}"
    if axis.values is None and axis.dist is None:
        raise ConfigError(f"{where}: give its levels as values: [...] (or dist: uniform|loguniform|normal in random mode)")
    if axis.values is not None and axis.dist is not None:
        raise ConfigError(f"{where}: give either values or dist, not both")
    if axis.values is not None:
        if len(axis.values) == 0:
            raise ConfigError(f"{where}.values: needs at least one level")
        keys = [repr(v) for v in axis.values]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"{where}.values: levels must be distinct, got {axis.values}")
        if axis.weights is not None:
            if len(axis.weights) != len(axis.values):
                raise ConfigError(f"{where}.weights: one prior weight per value expected ({len(axis.values)}), got {len(axis.weights)}")
            if any(not (math.isfinite(w) and w >= 0) for w in axis.weights) or sum(axis.weights) <= 0:
                raise ConfigError(f"{where}.weights: must be non-negative numbers with a positive sum, got {axis.weights}")
        return
    if mode != "random":
        raise ConfigError(f"{where}.dist: continuous axes need sweep.mode=random; in {mode} mode give values: [...]")
    if axis.weights is not None:
        raise ConfigError(f"{where}.weights: only applies to values; a dist is its own prior")
    if axis.dist not in DISTRIBUTIONS:
        raise ConfigError(f"{where}.dist: {axis.dist!r} is not one of {list(DISTRIBUTIONS)}{close_matches(str(axis.dist), DISTRIBUTIONS)}")
    if axis.dist in ("uniform", "loguniform"):
        if axis.low is None or axis.high is None or not axis.low < axis.high:
            raise ConfigError(f"{where}: dist {axis.dist} needs low < high, got low={axis.low}, high={axis.high}")
        if axis.dist == "loguniform" and axis.low <= 0:
            raise ConfigError(f"{where}.low: loguniform needs a positive low, got {axis.low}")
    else:
        if axis.mean is None or axis.std is None or not axis.std > 0:
            raise ConfigError(f"{where}: dist normal needs mean and a positive std, got mean={axis.mean}, std={axis.std}")


# ---------------------------------------------------------------------------
# executor, run, logger, matching
# ---------------------------------------------------------------------------

EXECUTORS = ("serial", "ray")


@dataclass
class ExecutorConfig:
    """Where cells run.

    ``kind``: ``serial`` (in this process) or ``ray`` (an actor pool; each actor
    owns its simulator and model). ``workers``: actors in the pool.
    ``num_cpus``/``num_gpus``: Ray resources per actor. ``threads``: threads per
    worker for torch, BLAS and OpenMP, and for a Ray actor's ray casting too
    (0 = the library default). Rows are bit-identical across executors and
    worker counts at equal ``threads``: torch's float reductions depend on it.
    ``address``: an existing Ray cluster (``auto`` or ``ray://host:10001``); null
    starts a local Ray. ``cell_timeout``: seconds before a cell counts as hung
    (0 = none).
    """

    kind: str = "serial"
    workers: int = 1
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    threads: int = 0
    address: Optional[str] = None
    cell_timeout: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"executor.kind: {self.kind!r} is not one of {list(EXECUTORS)}{close_matches(self.kind, EXECUTORS)}")
        if self.workers < 1:
            raise ConfigError(f"executor.workers: must be at least 1, got {self.workers}")
        if self.kind == "serial" and self.workers != 1:
            raise ConfigError(f"executor.workers: the serial executor has one worker, got {self.workers}; use executor=ray for more")
        if self.num_cpus < 0 or self.num_gpus < 0:
            raise ConfigError(f"executor.num_cpus/num_gpus: must be >= 0, got {self.num_cpus}/{self.num_gpus}")
        if self.threads < 0:
            raise ConfigError(f"executor.threads: must be >= 0 (0 = library default), got {self.threads}")
        if self.cell_timeout < 0:
            raise ConfigError(f"executor.cell_timeout: must be >= 0 seconds (0 = none), got {self.cell_timeout}")


@dataclass
class RunConfig:
    """Run-level behaviour.

    ``dir``: the run folder (results, manifest, logs, report); rerunning with the
    same folder resumes it. ``force``: resume even though the config changed.
    ``retries``: extra attempts of a failing cell, each with a fresh simulator.
    ``thumbnails``: keep one camera and one bird's-eye keyframe per episode.
    ``progress``: show the progress bar. ``evaluate``/``report``: run the gates,
    CVaR and report after the sweep.
    """

    dir: str = "runs/default"
    force: bool = False
    retries: int = 2
    thumbnails: bool = True
    progress: bool = True
    evaluate: bool = True
    report: bool = True
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ConfigError(f"run.retries: must be >= 0, got {self.retries}")
        if not self.dir:
            raise ConfigError("run.dir: must name a folder, e.g. run.dir=runs/nightly")
        levels = ("DEBUG", "INFO", "WARNING", "ERROR")
        if self.log_level.upper() not in levels:
            raise ConfigError(f"run.log_level: {self.log_level!r} is not one of {list(levels)}")


LOGGERS = ("none", "mlflow")


@dataclass
class LoggerConfig:
    """Experiment tracking: ``none`` or ``mlflow`` (``tracking_uri``, ``experiment``)."""

    kind: str = "none"
    tracking_uri: Optional[str] = None
    experiment: str = "simtest"

    def __post_init__(self) -> None:
        if self.kind not in LOGGERS:
            raise ConfigError(f"logger.kind: {self.kind!r} is not one of {list(LOGGERS)}{close_matches(self.kind, LOGGERS)}")
        if self.kind == "mlflow" and not self.tracking_uri:
            raise ConfigError("logger.tracking_uri: mlflow needs a tracking URI, e.g. logger.tracking_uri=file:./mlruns")


@dataclass
class MatchingConfig:
    """Detection-to-ground-truth matching (see :class:`simtest.metrics.matching.MatchConfig`).

    Thresholds are one number for every class or a ``{class: value}`` mapping.
    """

    method: str = "center"
    center_threshold: Any = 2.0
    iou_threshold: Any = field(default_factory=lambda: {"vehicle": 0.5, "pedestrian": 0.3, "cyclist": 0.3})
    score_threshold: Any = 0.3


# ---------------------------------------------------------------------------
# sensor rig
# ---------------------------------------------------------------------------


def spec_schema(spec: type, nested: Mapping[type, type] | None = None) -> type:
    """A mutable schema dataclass ``<Spec>Config`` with the fields and defaults of the frozen library ``spec``.

    The library's specs (:class:`CameraSpec`, :class:`LidarSpec`, :class:`Mount`)
    are the one source of the rig's keys and defaults; OmegaConf needs mutable
    dataclasses without ``Literal`` types, so each field keeps its type except
    that a ``Literal`` becomes ``str`` (the spec checks the value) and a field
    whose type is a key of ``nested`` becomes that schema.
    """
    nested = nested or {}
    hints = typing.get_type_hints(spec)
    proto = spec()
    fields = []
    for f in dataclasses.fields(spec):
        kind, default = hints[f.name], getattr(proto, f.name)
        if kind in nested:
            fields.append((f.name, nested[kind], field(default_factory=functools.partial(spec_config, nested[kind], default))))
        else:
            fields.append((f.name, str if typing.get_origin(kind) is typing.Literal else kind, field(default=default)))
    name = spec.__name__.removesuffix("Spec") + "Config"
    schema = dataclasses.make_dataclass(name, fields)
    schema.__module__ = __name__
    schema.__doc__ = f"Config schema of :class:`simtest.sim.base.{spec.__name__}` (same keys and defaults)."
    return schema


def spec_config(schema: type, value: Any) -> Any:
    """The ``schema`` instance holding the field values of the spec instance ``value``."""
    kwargs = {}
    for f in dataclasses.fields(schema):
        v = getattr(value, f.name)
        kwargs[f.name] = spec_config(f.type, v) if dataclasses.is_dataclass(f.type) else v
    return schema(**kwargs)


def config_spec(spec: type, value: Any) -> Any:
    """The frozen ``spec`` built from a schema instance (or any object with its field names)."""
    hints = typing.get_type_hints(spec)
    kwargs = {}
    for f in dataclasses.fields(spec):
        v = getattr(value, f.name)
        kwargs[f.name] = config_spec(hints[f.name], v) if dataclasses.is_dataclass(hints[f.name]) else v
    return spec(**kwargs)


MountConfig = spec_schema(Mount)
CameraConfig = spec_schema(CameraSpec, {Mount: MountConfig})
LidarConfig = spec_schema(LidarSpec, {Mount: MountConfig})


@dataclass
class RigConfig:
    """The ego's sensors by name."""

    cameras: dict[str, CameraConfig] = field(default_factory=lambda: {"front": CameraConfig()})
    lidars: dict[str, LidarConfig] = field(default_factory=lambda: {"top": LidarConfig()})


def to_rig(cfg: RigConfig) -> SensorRig:
    """The library's :class:`SensorRig` from its config (errors name ``rig.<sensor>``)."""
    cameras, lidars = {}, {}
    for group, spec, out in (("cameras", CameraSpec, cameras), ("lidars", LidarSpec, lidars)):
        for name, c in getattr(cfg, group).items():
            try:
                out[name] = config_spec(spec, c)
            except ValueError as e:
                raise ConfigError(f"rig.{group}.{name}: {e}") from None
    if not cameras and not lidars:
        raise ConfigError("rig: needs at least one camera or lidar")
    return SensorRig(cameras=cameras, lidars=lidars)


# ---------------------------------------------------------------------------
# the whole config
# ---------------------------------------------------------------------------


@dataclass
class Config:
    """The main job's config; ``sim``, ``model`` and ``scenario`` are group payloads.

    ``gates`` names a gate file ``conf/safety/<name>.yaml`` or gives a path to one.
    """

    sim: Any = None
    model: Any = None
    scenario: Any = None
    gates: str = "default"
    sweep: SweepConfig = field(default_factory=SweepConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    run: RunConfig = field(default_factory=RunConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    rig: RigConfig = field(default_factory=RigConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)


def register_configs() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="simtest_schema", node=Config)
    cs.store(group="sweep", name="sweep_schema", node=SweepConfig)
    cs.store(group="executor", name="executor_schema", node=ExecutorConfig)
    cs.store(group="run", name="run_schema", node=RunConfig)
    cs.store(group="logger", name="logger_schema", node=LoggerConfig)


def check_target_keys(section: str, node: Mapping[str, Any]) -> None:
    """Check a ``_target_`` mapping's keys against the target's signature.

    Raises :class:`ConfigError` naming ``<section>.<key>`` for an unknown key
    (with a close match) or an unimportable target, before anything is built.
    """
    if not isinstance(node, Mapping) or "_target_" not in node:
        raise ConfigError(f"{section}: needs a _target_ naming the class to build, e.g. {section}=embedded")
    target = str(node["_target_"])
    module_name, _, attr = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(f"{section}._target_: cannot import {target!r} ({e})") from None
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in node:
        if str(key).startswith("_") and str(key).endswith("_"):
            continue
        if key not in known:
            raise ConfigError(
                f"{section}.{key}: {target} takes no argument {key!r}{close_matches(str(key), known)} "
                f"(it takes {[k for k in known if k != 'self']})"
            )
