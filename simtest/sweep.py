"""Sweep planning: axes -> cells.

Modes (see :class:`simtest.config.SweepConfig`):

* ``grid``: the cartesian product of every axis's values;
* ``one_at_a_time``: the baseline, then each factor (an axis, or a ``linked``
  group of axes varied jointly) moved to each of its other levels with the rest
  at the baseline; the whole design is repeated for every combination of the
  ``cross`` axes (e.g. each scenario);
* ``random``: ``samples`` cells drawn independently from each axis's prior
  (categorical ``values`` with ``weights``, or a continuous ``dist``); a
  ``sample`` column numbers the draws;
* ``list``: the explicit ``cells``, completed from the baseline.

Baseline keys that are not axes are held fixed and recorded as columns. A cell
whose ``perturbation`` is ``none`` has severity 0 and vice versa; cells that
become identical after that are planned once.

A cell's seed is :func:`simtest.seeding.derive_seed` of the root seed and the
cell's canonical axis values, so it does not depend on the order of the plan or
on how many workers run it. A cell's weight is the product over its axes of the
prior probability of its level (normalised ``weights``; 1 where an axis has no
weights); drawn cells (random mode) all weigh 1, since the draws already follow
the prior.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtest.config import AxisConfig, ConfigError, SweepConfig
from simtest.seeding import canonical, derive_seed, rng_for
from simtest.store import CELL_ID, RESERVED, axis_type_of

NO_PERTURBATION = "none"


@dataclass(frozen=True)
class Cell:
    """One unit of work: its id (file name), axis values, seed and prior weight."""

    id: str
    axes: dict[str, Any]
    seed: int
    weight: float = 1.0


@dataclass(frozen=True)
class SweepPlan:
    """The cells of a sweep and the work per cell."""

    name: str
    mode: str
    cells: tuple[Cell, ...]
    axis_types: dict[str, str]
    episodes: int
    frames: int
    warmup_frames: int
    root_seed: int

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def frames_total(self) -> int:
        """Simulated frames of the whole sweep, warm-up included."""
        return len(self.cells) * self.episodes * (self.frames + self.warmup_frames)

    def varied_axes(self) -> list[str]:
        """Axes that take more than one value across the cells."""
        return [a for a in self.axis_types if len({canonical(c.axes[a]) for c in self.cells}) > 1]


# ---------------------------------------------------------------------------
# cell ids and normalisation
# ---------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "inf" if v == math.inf else format(v, ".6g")
    return "null" if v is None else str(v)


def cell_id(axes: Mapping[str, Any]) -> str:
    """Readable id ``k=v,k=v`` in axis order; a hash id when that is not a valid file name."""
    text = ",".join(f"{k}={_fmt(v)}" for k, v in axes.items())
    if CELL_ID.match(text):
        return text
    return "cell-" + format(derive_seed(0, canonical(dict(axes))), "016x")


def normalise(axes: dict[str, Any]) -> dict[str, Any]:
    """Tie ``perturbation: none`` and ``severity: 0`` together (both mean clean sensors)."""
    if "perturbation" in axes and "severity" in axes:
        if axes["perturbation"] == NO_PERTURBATION or axes["perturbation"] is None:
            axes["perturbation"] = NO_PERTURBATION
            axes["severity"] = 0
        elif axes["severity"] == 0:
            axes["perturbation"] = NO_PERTURBATION
    return axes


# ---------------------------------------------------------------------------
# priors
# ---------------------------------------------------------------------------


def _prior(axis: AxisConfig, value: Any) -> float:
    if axis.values is None or axis.weights is None:
        return 1.0
    total = float(sum(axis.weights))
    for v, w in zip(axis.values, axis.weights):
        if canonical(v) == canonical(value):
            return float(w) / total
    return 1.0  # a baseline level outside the listed values carries no prior information


def _draw(name: str, axis: AxisConfig, rng: np.random.Generator) -> Any:
    if axis.values is not None:
        p = None
        if axis.weights is not None:
            w = np.asarray(axis.weights, dtype=float)
            p = w / w.sum()
        return axis.values[int(rng.choice(len(axis.values), p=p))]
    if axis.dist == "uniform":
        return float(rng.uniform(axis.low, axis.high))
    if axis.dist == "loguniform":
        return float(math.exp(rng.uniform(math.log(axis.low), math.log(axis.high))))  # type: ignore[arg-type]
    x = float(rng.normal(axis.mean, axis.std))
    lo = -math.inf if axis.low is None else axis.low
    hi = math.inf if axis.high is None else axis.high
    return float(min(max(x, lo), hi))


# ---------------------------------------------------------------------------
# expansion per mode
# ---------------------------------------------------------------------------


def _check_names(cfg: SweepConfig) -> None:
    for name in list(cfg.axes) + list(cfg.baseline):
        if name in RESERVED:
            raise ConfigError(f"sweep: axis {name!r} clashes with a result column; rename it")
        if name == "sample" and cfg.mode == "random":
            raise ConfigError("sweep: random mode numbers its draws in a 'sample' column; rename the axis 'sample'")
    for group in cfg.linked:
        for name in group:
            if name not in cfg.axes:
                raise ConfigError(f"sweep.linked: {name!r} is not an axis; axes are {list(cfg.axes)}")
    seen: set[str] = set()
    for group in cfg.linked:
        if seen & set(group):
            raise ConfigError(f"sweep.linked: axis {sorted(seen & set(group))} appears in two groups")
        seen |= set(group)
    for name in cfg.cross:
        if name not in cfg.axes:
            raise ConfigError(f"sweep.cross: {name!r} is not an axis; axes are {list(cfg.axes)}")
        if name in seen:
            raise ConfigError(f"sweep.cross: {name!r} is also in a linked group; an axis is either crossed or varied")


def _grid(cfg: SweepConfig) -> list[dict[str, Any]]:
    names = list(cfg.axes)
    fixed = {k: v for k, v in cfg.baseline.items() if k not in cfg.axes}
    levels = [cfg.axes[n].values for n in names]
    return [{**dict(zip(names, combo)), **fixed} for combo in itertools.product(*levels)]  # type: ignore[arg-type]


def _one_at_a_time(cfg: SweepConfig) -> list[dict[str, Any]]:
    linked = [list(g) for g in cfg.linked]
    in_group = {n for g in linked for n in g}
    factors = linked + [[n] for n in cfg.axes if n not in in_group and n not in cfg.cross]
    for group in factors:
        for name in group:
            if name not in cfg.baseline:
                raise ConfigError(
                    f"sweep.baseline.{name}: one_at_a_time varies each axis away from a baseline; "
                    f"give its baseline level, e.g. sweep.baseline.{name}={cfg.axes[name].values[0]!r}"  # type: ignore[index]
                )
    base = dict(cfg.baseline)
    out: list[dict[str, Any]] = []
    cross_levels = [cfg.axes[n].values for n in cfg.cross]
    for combo in itertools.product(*cross_levels):  # type: ignore[arg-type]
        centre = {**base, **dict(zip(cfg.cross, combo))}
        out.append(dict(centre))
        for group in factors:
            base_level = tuple(canonical(centre[n]) for n in group)
            for level in itertools.product(*(cfg.axes[n].values for n in group)):  # type: ignore[misc]
                if tuple(canonical(v) for v in level) == base_level:
                    continue
                out.append({**centre, **dict(zip(group, level))})
    order = list(cfg.axes) + [k for k in base if k not in cfg.axes]
    return [{k: c[k] for k in order} for c in out]


def _random(cfg: SweepConfig) -> list[dict[str, Any]]:
    rng = rng_for(cfg.root_seed, "plan", "random")
    fixed = {k: v for k, v in cfg.baseline.items() if k not in cfg.axes}
    out = []
    for i in range(cfg.samples):
        axes = {"sample": i}
        for name, axis in cfg.axes.items():
            axes[name] = _draw(name, axis, rng)
        out.append({**axes, **fixed})
    return out


def _listed(cfg: SweepConfig) -> list[dict[str, Any]]:
    names: list[str] = []
    for c in cfg.cells:
        names += [k for k in c if k not in names]
    names += [k for k in cfg.baseline if k not in names]
    out = []
    for i, c in enumerate(cfg.cells):
        full = {**cfg.baseline, **c}
        missing = [n for n in names if n not in full]
        if missing:
            raise ConfigError(
                f"sweep.cells[{i}]: no value for {missing}; give it in the cell or in sweep.baseline"
            )
        for key in c:
            if key in RESERVED:
                raise ConfigError(f"sweep.cells[{i}].{key}: clashes with a result column; rename it")
        out.append({n: full[n] for n in names})
    return out


EXPANDERS = {"grid": _grid, "one_at_a_time": _one_at_a_time, "random": _random, "list": _listed}


def plan_sweep(cfg: SweepConfig) -> SweepPlan:
    """Expand a sweep config into its cells (order: as designed; duplicates dropped)."""
    _check_names(cfg)
    raw = EXPANDERS[cfg.mode](cfg)
    cells: list[Cell] = []
    seen: dict[str, int] = {}
    for axes in raw:
        axes = normalise(dict(axes))
        key = canonical(axes)
        if key in seen:
            continue
        seen[key] = len(cells)
        weight = 1.0
        if cfg.mode != "random":
            for name, axis in cfg.axes.items():
                weight *= _prior(axis, axes[name])
        cells.append(Cell(id=cell_id(axes), axes=axes, seed=derive_seed(cfg.root_seed, "cell", key), weight=weight))
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):  # values that print alike (e.g. floats equal to 6 digits)
        cells = [
            Cell(id="cell-" + format(c.seed, "016x"), axes=c.axes, seed=c.seed, weight=c.weight) if ids.count(c.id) > 1 else c
            for c in cells
        ]
    names = list(cells[0].axes) if cells else []
    axis_types = {n: axis_type_of(c.axes[n] for c in cells) for n in names}
    return SweepPlan(
        name=cfg.name, mode=cfg.mode, cells=tuple(cells), axis_types=axis_types, episodes=cfg.episodes,
        frames=cfg.frames, warmup_frames=cfg.warmup_frames, root_seed=cfg.root_seed,
    )


def describe(plan: SweepPlan, limit: int | None = None) -> Iterable[str]:
    """Lines listing the cells (id, weight) for ``simtest plan``."""
    shown: Sequence[Cell] = plan.cells if limit is None else plan.cells[:limit]
    for c in shown:
        yield f"{c.id}  weight={c.weight:.4g}  seed={c.seed}"
    if limit is not None and len(plan.cells) > limit:
        yield f"... and {len(plan.cells) - limit} more"
