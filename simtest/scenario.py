"""Scenario schema, loader and kinematics (backend-neutral).

A scenario is a YAML file in ``scenarios/`` (schema: ``scenarios/README.md``):
a world layout, the ego's motion, the actors' motions with triggers, and named
parameters that a sweep can vary. Loading validates every key and raises
:class:`ScenarioError` naming the file and the key (with a close-match hint for
typos).

World frame: right-handed, x along the main road, y left, z up, metres; yaw in
radians counter-clockwise from +x (YAML gives degrees). The road's centre line
is y = 0 and traffic keeps right, so the ego's lanes have y < 0.

Values in the scenario body may refer to parameters: ``speed: $child_speed`` or
an arithmetic expression ``x: "$gap + 25"`` (``+ - * /``, parentheses, numbers
and parameter names). :meth:`Scenario.with_params` re-resolves the body with new
values, so a sweep changes speeds, offsets and timing without editing files.

Motion is a pure function of time: :meth:`Scenario.ego_state` and
:meth:`Scenario.actor_states` give every pose at ``t`` seconds, so any backend
replays the same episode exactly.
"""

from __future__ import annotations

import ast
import bisect
import difflib
import functools
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
"""The scenario library shipped with simtest (``<repo>/scenarios``)."""

ACTOR_MODELS: dict[str, tuple[str, ...]] = {
    "vehicle": ("sedan", "hatchback", "suv", "van", "truck"),
    "pedestrian": ("adult", "child"),
    "cyclist": ("bicycle",),
}
"""Procedural asset models per object class."""

COLORS: dict[str, tuple[float, float, float]] = {
    "white": (0.85, 0.85, 0.85),
    "silver": (0.6, 0.62, 0.65),
    "grey": (0.35, 0.36, 0.38),
    "black": (0.04, 0.04, 0.045),
    "red": (0.65, 0.08, 0.07),
    "blue": (0.08, 0.18, 0.55),
    "green": (0.12, 0.4, 0.15),
    "yellow": (0.85, 0.7, 0.1),
    "orange": (0.85, 0.4, 0.08),
    "brown": (0.35, 0.22, 0.12),
    "beige": (0.7, 0.6, 0.45),
    "navy": (0.05, 0.07, 0.2),
}
"""Named albedos (linear RGB, 0..1) accepted for ``color``."""

LAYOUTS = ("straight", "intersection")
PROP_KINDS = ("building", "tree", "pole", "wall", "bus_stop")


class ScenarioError(ValueError):
    """A scenario file or parameter is invalid; the message names the file and the key."""


class ScenarioNotFoundError(ScenarioError, FileNotFoundError):
    """No scenario of that name in the library (and no such file)."""


def _hint(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# ---------------------------------------------------------------------------
# parameters and expressions
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """A scenario parameter a sweep can vary: a numeric ``range`` or a set of ``choices``."""

    name: str
    default: float | str
    range: tuple[float, float] | None = None
    choices: tuple[Any, ...] | None = None
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if (self.range is None) == (self.choices is None):
            raise ScenarioError(f"parameter {self.name!r}: give exactly one of 'range: [low, high]' or 'choices: [...]'")
        if self.range is not None:
            lo, hi = self.range
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ScenarioError(f"parameter {self.name!r}: range must be finite [low, high] with low <= high, got {list(self.range)}")
        self.check(self.default, where=f"parameter {self.name!r}.default")

    def check(self, value: Any, *, where: str = "") -> float | str:
        """Return ``value`` if allowed, else raise ScenarioError saying what is allowed."""
        where = where or f"parameter {self.name!r}"
        if self.choices is not None:
            if value not in self.choices:
                raise ScenarioError(f"{where}: {value!r} is not one of the choices {list(self.choices)}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"{where}: expected a number in {list(self.range)}, got {value!r}")
        lo, hi = self.range
        if not lo <= value <= hi:
            raise ScenarioError(f"{where}: {value} is outside the range [{lo}, {hi}] {self.unit}".rstrip())
        return float(value)

    def sample(self, rng: np.random.Generator) -> float | str:
        """Draw a value uniformly from the range (or one of the choices)."""
        if self.choices is not None:
            return self.choices[int(rng.integers(len(self.choices)))]
        lo, hi = self.range
        return float(rng.uniform(lo, hi))


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _evaluate(text: str, values: Mapping[str, Any], where: str) -> Any:
    """Evaluate ``$name`` or an arithmetic expression over parameter values."""
    expr = text.strip()[1:].strip()
    source = expr.replace("$", "")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise ScenarioError(f"{where}: cannot parse expression {text!r}; use e.g. '$speed' or '$gap + 20'") from None

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise ScenarioError(
                    f"{where}: unknown parameter {node.id!r} in {text!r}{_hint(node.id, list(values))}; "
                    f"declare it under 'parameters' (known: {sorted(values)})"
                )
            return values[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = ev(node.left), ev(node.right)
            if isinstance(a, str) or isinstance(b, str):
                raise ScenarioError(f"{where}: arithmetic on a text parameter in {text!r}")
            return _BINOPS[type(node.op)](a, b)
        raise ScenarioError(f"{where}: only numbers, parameter names, + - * / and parentheses are allowed in {text!r}")

    return ev(tree)


def _substitute(node: Any, values: Mapping[str, Any], where: str) -> Any:
    """Replace every ``$...`` string in a nested YAML structure by its value."""
    if isinstance(node, str) and node.strip().startswith("$"):
        return _evaluate(node, values, where)
    if isinstance(node, dict):
        return {k: _substitute(v, values, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values, f"{where}[{i}]") for i, v in enumerate(node)]
    return node


# ---------------------------------------------------------------------------
# typed readers for YAML nodes (errors name file and key)
# ---------------------------------------------------------------------------


class _Node:
    """A mapping from the YAML file with its location, read key by key."""

    def __init__(self, data: Any, where: str, known: Sequence[str]) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ScenarioError(f"{where}: expected a mapping with keys {list(known)}, got {type(data).__name__}")
        for key in data:
            if key not in known:
                raise ScenarioError(f"{where}.{key}: unknown key{_hint(str(key), known)} (allowed: {list(known)})")
        self.data, self.where = data, where

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.data:
            raise ScenarioError(f"{self.where}.{key}: required key is missing")
        return self.data[key]

    def number(self, key: str, default: float | None = None, *, low: float = -math.inf, high: float = math.inf) -> float:
        v = self.require(key) if default is None and key not in self.data else self.data.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ScenarioError(f"{self.where}.{key}: expected a finite number, got {v!r}")
        if not low <= v <= high:
            raise ScenarioError(f"{self.where}.{key}: {v} must lie in [{low}, {high}]")
        return float(v)

    def flag(self, key: str, default: bool) -> bool:
        v = self.data.get(key, default)
        if not isinstance(v, bool):
            raise ScenarioError(f"{self.where}.{key}: expected true or false, got {v!r}")
        return v

    def text(self, key: str, default: str | None = None, *, choices: Sequence[str] | None = None) -> str:
        v = self.require(key) if default is None and key not in self.data else self.data.get(key, default)
        if not isinstance(v, str):
            raise ScenarioError(f"{self.where}.{key}: expected text, got {v!r}")
        if choices is not None and v not in choices:
            raise ScenarioError(f"{self.where}.{key}: {v!r} is not one of {list(choices)}{_hint(v, choices)}")
        return v

    def points(self, key: str) -> tuple[tuple[float, float], ...]:
        v = self.require(key)
        where = f"{self.where}.{key}"
        if not isinstance(v, list):
            raise ScenarioError(f"{where}: expected a list of [x, y] points in metres, got {v!r}")
        return tuple(_point(p, f"{where}[{i}]") for i, p in enumerate(v))


def _point(p: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(p, (list, tuple))
        or len(p) != 2
        or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in p)
    ):
        raise ScenarioError(f"{where}: expected a point [x, y] in metres, got {p!r}")
    return float(p[0]), float(p[1])


def _color(v: Any, where: str) -> tuple[float, float, float]:
    if isinstance(v, str):
        if v not in COLORS:
            raise ScenarioError(f"{where}: unknown colour {v!r}{_hint(v, list(COLORS))} (named: {list(COLORS)}, or [r, g, b] in 0..1)")
        return COLORS[v]
    if (
        isinstance(v, (list, tuple))
        and len(v) == 3
        and all(isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 1 for c in v)
    ):
        return float(v[0]), float(v[1]), float(v[2])
    raise ScenarioError(f"{where}: expected a colour name or [r, g, b] with values in 0..1, got {v!r}")


# ---------------------------------------------------------------------------
# schema
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    """When motion starts: ``time`` seconds after the episode start, or when the ego
    comes within ``ego_distance`` metres of the actor's start point."""

    time: float | None = None
    ego_distance: float | None = None


@dataclass(frozen=True)
class Brake:
    """Constant deceleration ``decel`` (m/s^2) from ``time`` seconds until standstill."""

    time: float
    decel: float


@dataclass(frozen=True)
class Motion:
    """Follow the polyline ``path`` (world x, y in metres) at ``speed`` m/s.

    Without a trigger the motion runs at full speed from t = 0; with one, it starts
    from standstill when triggered and reaches ``speed`` at ``accel`` m/s^2 (inf =
    at once). ``yaw`` (rad) is the heading of a single-point path. At the end of
    the path the mover stops.
    """

    path: tuple[tuple[float, float], ...]
    speed: float = 0.0
    accel: float = math.inf
    trigger: Trigger | None = None
    brake: Brake | None = None
    yaw: float = 0.0

    @functools.cached_property
    def _polyline(self) -> tuple[list[tuple[float, float]], list[float]]:
        """Path vertices and cumulative arc length, as plain floats (poses are evaluated for every
        actor in every frame)."""
        pts = np.asarray(self.path, dtype=np.float64)
        seg = np.hypot(*np.diff(pts, axis=0).T) if len(pts) > 1 else np.zeros(0)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        return [(float(x), float(y)) for x, y in pts], [float(c) for c in cum]

    @property
    def length(self) -> float:
        """Path length in metres."""
        return self._polyline[1][-1]

    def distance(self, t: float, start: float | None) -> tuple[float, float]:
        """Arc length (m) and speed (m/s) at time ``t`` for a motion that starts at ``start`` (None = never)."""
        if start is None or t < start:
            return 0.0, 0.0
        ramp = self.speed / self.accel if (self.trigger is not None and math.isfinite(self.accel)) else 0.0

        def free(tau: float) -> tuple[float, float]:
            if tau < ramp:
                return 0.5 * self.accel * tau * tau, self.accel * tau
            return self.speed * tau - 0.5 * self.speed * ramp, self.speed

        if self.brake is None or t <= self.brake.time:
            s, v = free(t - start)
        else:
            tb = max(self.brake.time, start)
            sb, vb = free(tb - start)
            dt = t - tb
            stop = vb / self.brake.decel
            if dt >= stop:
                s, v = sb + vb * vb / (2 * self.brake.decel), 0.0
            else:
                s, v = sb + vb * dt - 0.5 * self.brake.decel * dt * dt, vb - self.brake.decel * dt
        if s >= self.length:
            return self.length, 0.0
        return s, v

    def pose(self, s: float) -> tuple[float, float, float]:
        """World (x, y, yaw) at arc length ``s`` (clamped to the path)."""
        pts, cum = self._polyline
        if len(pts) == 1:
            return pts[0][0], pts[0][1], self.yaw
        s = min(max(s, 0.0), cum[-1])
        i = min(max(bisect.bisect_right(cum, s) - 1, 0), len(pts) - 2)
        # Skip zero-length segments for the heading.
        j = i
        while j < len(pts) - 2 and cum[j + 1] - cum[j] <= 0:
            j += 1
        seg = cum[i + 1] - cum[i]
        u = 0.0 if seg <= 0 else (s - cum[i]) / seg
        (x0, y0), (x1, y1) = pts[i], pts[i + 1]
        return x0 + u * (x1 - x0), y0 + u * (y1 - y0), math.atan2(pts[j + 1][1] - pts[j][1], pts[j + 1][0] - pts[j][0])


@dataclass(frozen=True)
class ActorSpec:
    """One scripted road user. ``cls`` is the ground-truth class, ``model`` its asset."""

    name: str
    cls: str
    model: str
    color: tuple[float, float, float]
    motion: Motion


@dataclass(frozen=True)
class PropSpec:
    """Static scenery that is not a ground-truth object (building, tree, pole, wall, bus stop)."""

    kind: str
    position: tuple[float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    color: tuple[float, float, float] = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class WorldSpec:
    """Road layout and scenery.

    ``lanes`` per direction of ``lane_width`` metres; ``intersection_x`` is the
    centre of the cross road (layout ``intersection``); ``crosswalks`` are x
    positions of zebra crossings on the main road; ``buildings``, ``trees`` and
    ``street_lights`` add procedural scenery along both sides.
    """

    layout: str = "straight"
    lanes: int = 1
    lane_width: float = 3.5
    length: float = 260.0
    start_x: float = -60.0
    sidewalk_width: float = 3.0
    intersection_x: float = 60.0
    crosswalks: tuple[float, ...] = ()
    buildings: bool = True
    trees: bool = True
    street_lights: bool = True
    props: tuple[PropSpec, ...] = ()

    @property
    def road_half_width(self) -> float:
        return self.lanes * self.lane_width


@dataclass(frozen=True)
class Scenario:
    """A validated scenario with its parameter values applied.

    ``parameters`` maps a parameter name to its :class:`Parameter` (range or
    choices); ``values`` holds the values in use. ``duration`` (s) is the
    suggested episode length.
    """

    name: str
    description: str
    world: WorldSpec
    ego: Motion
    actors: tuple[ActorSpec, ...]
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    duration: float = 8.0
    source: str = "<memory>"
    body: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # -- parameters -------------------------------------------------------
    def with_params(self, params: Mapping[str, Any]) -> Scenario:
        """A copy with some parameter values changed (others keep theirs)."""
        values = dict(self.values)
        for key, value in params.items():
            if key not in self.parameters:
                raise ScenarioError(
                    f"{self.source}: scenario {self.name!r} has no parameter {key!r}{_hint(key, list(self.parameters))} "
                    f"(its parameters: {sorted(self.parameters)})"
                )
            values[key] = self.parameters[key].check(value, where=f"{self.source}: parameter {key!r}")
        return _build(dict(self.body), self.source, self.name, values)

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw every parameter from its range or choices (sorted by name, so reproducible)."""
        return {name: self.parameters[name].sample(rng) for name in sorted(self.parameters)}

    def sample(self, rng: np.random.Generator) -> Scenario:
        """A copy with every parameter drawn from ``rng``."""
        return self.with_params(self.sample_params(rng))

    # -- kinematics ------------------------------------------------------------
    def ego_state(self, t: float) -> MoverState:
        """Ego pose and speed at ``t`` seconds."""
        s, v = self.ego.distance(t, 0.0)
        return MoverState(*self.ego.pose(s), speed=v, travelled=s, moving=v > 0)

    def actor_states(self, t: float) -> list[MoverState]:
        """Every actor's pose and speed at ``t`` seconds (scenario order)."""
        out = []
        for actor, start in zip(self.actors, self.trigger_times):
            s, v = actor.motion.distance(t, start)
            out.append(MoverState(*actor.motion.pose(s), speed=v, travelled=s, moving=v > 0))
        return out

    @functools.cached_property
    def trigger_times(self) -> tuple[float | None, ...]:
        """When each actor starts moving (s), None if never within the episode (plus 10 s)."""
        return tuple(self._trigger_time(a.motion) for a in self.actors)

    def _trigger_time(self, motion: Motion) -> float | None:
        trig = motion.trigger
        if motion.speed <= 0:
            return None
        if trig is None:
            return 0.0
        if trig.time is not None:
            return trig.time
        x0, y0, _ = motion.pose(0.0)
        step = 0.005
        ts = np.arange(0.0, self.duration + 10.0, step)
        ego = np.array([self.ego.pose(self.ego.distance(t, 0.0)[0])[:2] for t in ts])
        near = np.flatnonzero(np.hypot(ego[:, 0] - x0, ego[:, 1] - y0) <= trig.ego_distance)
        return float(ts[near[0]]) if len(near) else None


@dataclass(frozen=True)
class MoverState:
    """World pose (x, y, yaw) and speed (m/s) of the ego or an actor; ``travelled`` is
    the arc length covered (m), which also drives a walker's gait phase."""

    x: float
    y: float
    yaw: float
    speed: float
    travelled: float
    moving: bool


# ---------------------------------------------------------------------------
# building from YAML
# ---------------------------------------------------------------------------

_TOP = ("name", "description", "duration", "parameters", "world", "ego", "actors")
_PARAM = ("default", "range", "choices", "unit", "description")
_WORLD = (
    "layout", "lanes", "lane_width", "length", "start_x", "sidewalk_width", "intersection_x",
    "crosswalks", "buildings", "trees", "street_lights", "props",
)
_MOTION = ("start", "path", "speed", "accel", "trigger", "brake", "yaw")
_ACTOR = ("name", "class", "model", "color", *_MOTION)
_PROP = ("kind", "position", "size", "yaw", "color")


def _parameters(raw: Any, where: str) -> dict[str, Parameter]:
    node = raw or {}
    if not isinstance(node, dict):
        raise ScenarioError(f"{where}: expected a mapping of parameter name -> {{default, range | choices}}")
    out = {}
    for name, spec in node.items():
        n = _Node(spec, f"{where}.{name}", _PARAM)
        rng = n.raw("range")
        if rng is not None and not (
            isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rng)
        ):
            raise ScenarioError(f"{where}.{name}.range: expected [low, high] numbers, got {rng!r}")
        choices = n.raw("choices")
        if choices is not None and not (isinstance(choices, list) and choices):
            raise ScenarioError(f"{where}.{name}.choices: expected a non-empty list, got {choices!r}")
        try:
            out[str(name)] = Parameter(
                name=str(name),
                default=n.require("default"),
                range=None if rng is None else (float(rng[0]), float(rng[1])),
                choices=None if choices is None else tuple(choices),
                unit=str(n.raw("unit", "")),
                description=str(n.raw("description", "")),
            )
        except ScenarioError as e:
            raise ScenarioError(f"{where}.{name}: {e}") from None
    return out


def _motion(n: _Node, *, allow_trigger: bool) -> Motion:
    if n.has("path") and n.has("start"):
        raise ScenarioError(f"{n.where}: give either 'start' (a standing point) or 'path' (a polyline), not both")
    path = n.points("path") if n.has("path") else (_point(n.require("start"), f"{n.where}.start"),)
    if not path:
        raise ScenarioError(f"{n.where}.path: needs at least one [x, y] point")
    speed = n.number("speed", 0.0, low=0.0, high=60.0)
    if speed > 0 and len(path) < 2:
        raise ScenarioError(f"{n.where}.speed: a moving mover needs a 'path' of at least two points")
    trigger = None
    if n.has("trigger"):
        if not allow_trigger:
            raise ScenarioError(f"{n.where}.trigger: the ego starts at t = 0 and cannot have a trigger")
        t = _Node(n.raw("trigger"), f"{n.where}.trigger", ("time", "ego_distance"))
        if t.has("time") == t.has("ego_distance"):
            raise ScenarioError(f"{t.where}: give exactly one of 'time' (s) or 'ego_distance' (m)")
        trigger = Trigger(
            time=t.number("time", low=0.0) if t.has("time") else None,
            ego_distance=t.number("ego_distance", low=0.0) if t.has("ego_distance") else None,
        )
    brake = None
    if n.has("brake"):
        b = _Node(n.raw("brake"), f"{n.where}.brake", ("time", "decel"))
        brake = Brake(time=b.number("time", low=0.0), decel=b.number("decel", low=0.1, high=15.0))
    accel = n.number("accel", 1e9, low=0.1) if n.has("accel") else math.inf
    return Motion(path=path, speed=speed, accel=accel, trigger=trigger, brake=brake,
                  yaw=math.radians(n.number("yaw", 0.0)))


def _world(raw: Any, where: str) -> WorldSpec:
    n = _Node(raw, where, _WORLD)
    crosswalks = n.raw("crosswalks", [])
    if not isinstance(crosswalks, list) or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in crosswalks):
        raise ScenarioError(f"{where}.crosswalks: expected a list of x positions in metres, got {crosswalks!r}")
    props = []
    raw_props = n.raw("props", [])
    if not isinstance(raw_props, list):
        raise ScenarioError(f"{where}.props: expected a list of props")
    for i, p in enumerate(raw_props):
        pn = _Node(p, f"{where}.props[{i}]", _PROP)
        size = pn.raw("size", [10.0, 10.0, 10.0])
        if not (isinstance(size, list) and len(size) == 3 and all(isinstance(s, (int, float)) and s > 0 for s in size)):
            raise ScenarioError(f"{pn.where}.size: expected [length, width, height] positive metres, got {size!r}")
        props.append(PropSpec(
            kind=pn.text("kind", choices=PROP_KINDS),
            position=_point(pn.require("position"), f"{pn.where}.position"),
            size=(float(size[0]), float(size[1]), float(size[2])),
            yaw=math.radians(pn.number("yaw", 0.0)),
            color=_color(pn.raw("color", "grey"), f"{pn.where}.color"),
        ))
    lanes = n.number("lanes", 1, low=1, high=4)
    if lanes != int(lanes):
        raise ScenarioError(f"{where}.lanes: expected a whole number of lanes per direction, got {lanes}")
    return WorldSpec(
        layout=n.text("layout", "straight", choices=LAYOUTS),
        lanes=int(lanes),
        lane_width=n.number("lane_width", 3.5, low=2.5, high=5.0),
        length=n.number("length", 260.0, low=50.0, high=2000.0),
        start_x=n.number("start_x", -60.0),
        sidewalk_width=n.number("sidewalk_width", 3.0, low=0.5, high=10.0),
        intersection_x=n.number("intersection_x", 60.0),
        crosswalks=tuple(float(c) for c in crosswalks),
        buildings=n.flag("buildings", True),
        trees=n.flag("trees", True),
        street_lights=n.flag("street_lights", True),
        props=tuple(props),
    )


def _actor(raw: Any, where: str) -> ActorSpec:
    n = _Node(raw, where, _ACTOR)
    cls = n.text("class", choices=tuple(ACTOR_MODELS))
    default_model = ACTOR_MODELS[cls][0]
    model = n.text("model", default_model, choices=ACTOR_MODELS[cls])
    motion_keys = {k: v for k, v in n.data.items() if k in _MOTION}
    motion = _motion(_Node(motion_keys, where, _MOTION), allow_trigger=True)
    default_color = {"vehicle": "silver", "pedestrian": "blue", "cyclist": "red"}[cls]
    return ActorSpec(
        name=n.text("name"),
        cls=cls,
        model=model,
        color=_color(n.raw("color", default_color), f"{where}.color"),
        motion=motion,
    )


def _build(body: dict[str, Any], source: str, name: str, values: Mapping[str, Any] | None = None) -> Scenario:
    top = _Node(body, source, _TOP)
    params = _parameters(top.raw("parameters"), f"{source}: parameters")
    vals = {k: p.default for k, p in params.items()}
    if values:
        vals.update(values)
    resolved = _substitute({k: v for k, v in body.items() if k != "parameters"}, vals, source)
    top = _Node(resolved, source, _TOP)
    duration = top.number("duration", 8.0, low=0.1, high=600.0)
    ego = _motion(_Node(top.raw("ego"), f"{source}: ego", _MOTION), allow_trigger=False)
    if ego.brake is not None and ego.brake.time < 0:
        raise ScenarioError(f"{source}: ego.brake.time must be >= 0")
    raw_actors = top.raw("actors", [])
    if not isinstance(raw_actors, list):
        raise ScenarioError(f"{source}: actors: expected a list of actors")
    actors = tuple(_actor(a, f"{source}: actors[{i}]") for i, a in enumerate(raw_actors))
    names = [a.name for a in actors]
    dupes = sorted({x for x in names if names.count(x) > 1})
    if dupes:
        raise ScenarioError(f"{source}: actors: names must be unique, {dupes} appear more than once")
    scenario_name = top.text("name", name)
    return Scenario(
        name=scenario_name,
        description=str(top.raw("description", "")),
        world=_world(top.raw("world"), f"{source}: world"),
        ego=ego,
        actors=actors,
        parameters=MappingProxyType(params),
        values=MappingProxyType(dict(vals)),
        duration=duration,
        source=source,
        body=MappingProxyType(body),
    )


def parse_scenario(text: str, source: str = "<string>", name: str = "scenario") -> Scenario:
    """Validate a scenario from YAML text; ``source`` names it in error messages."""
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ScenarioError(f"{source}: not valid YAML ({e})") from None
    if not isinstance(body, dict):
        raise ScenarioError(f"{source}: expected a mapping with keys {list(_TOP)}, got {type(body).__name__}")
    return _build(body, source, name)


def list_scenarios(directory: Path | str | None = None) -> list[str]:
    """Names of the scenarios in the library (file stems of ``*.yaml``), sorted."""
    folder = Path(directory) if directory is not None else SCENARIO_DIR
    return sorted(p.stem for p in folder.glob("*.yaml"))


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> Scenario:
    p = Path(path)
    return parse_scenario(p.read_text(encoding="utf-8"), source=str(p), name=p.stem)


def load_scenario(name_or_path: str | Path, *, directory: Path | str | None = None) -> Scenario:
    """Load ``scenarios/<name>.yaml`` from the library, or a YAML file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        path = candidate
    else:
        folder = Path(directory) if directory is not None else SCENARIO_DIR
        path = folder / f"{name_or_path}.yaml"
    if not path.is_file():
        known = list_scenarios(directory)
        raise ScenarioNotFoundError(
            f"scenario {str(name_or_path)!r}: no file {path}{_hint(str(name_or_path), known)} "
            f"(library: {known})"
        )
    return _load_cached(str(path.resolve()), path.stat().st_mtime)


__all__ = [
    "ACTOR_MODELS", "COLORS", "SCENARIO_DIR", "ActorSpec", "Brake", "Motion", "MoverState", "Parameter",
    "PropSpec", "Scenario", "ScenarioError", "ScenarioNotFoundError", "Trigger", "WorldSpec",
    "list_scenarios", "load_scenario", "parse_scenario",
]
