"""The perturbation registry: a plain dict filled by a decorator.

A perturbation is two functions:

* ``sample(severity, shape, rng) -> Params`` draws every random choice from the
  ``numpy.random.Generator`` it is given and returns a frozen dataclass of host
  values (numbers, tuples, small numpy arrays, integer seeds for noise fields);
* ``apply(x, params) -> x`` is pure and deterministic: the same params replay the
  same output. The array module comes from ``x`` (NumPy on CPU, CuPy on GPU).

Register with the decorator on the sampler::

    @perturbation("gaussian_noise", kind="camera", apply=apply_gaussian_noise)
    def sample_gaussian_noise(severity, shape, rng) -> GaussianNoiseParams: ...

Registering a name twice is an error. :func:`perturb_recorded` returns the
:class:`Applied` record whose :func:`replay` reproduces the output exactly.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Kind = Literal["camera", "lidar", "fusion"]
KINDS: tuple[str, ...] = ("camera", "lidar", "fusion")
MAX_SEVERITY = 5.0


@dataclass(frozen=True)
class Perturbation:
    """A registered perturbation: its name, the sensor kind it acts on, and its two functions."""

    name: str
    kind: Kind
    sample: Callable[[float, tuple[int, ...], np.random.Generator], Any]
    apply: Callable[[Any, Any], Any]
    host_fallback: bool = False  # True when the GPU path copies to the host (documented per kernel)
    doc: str = ""


REGISTRY: dict[str, Perturbation] = {}


def perturbation(
    name: str, *, kind: Kind, apply: Callable[[Any, Any], Any], host_fallback: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator on a sampler that registers ``name``; a duplicate name raises ``ValueError``."""
    if kind not in KINDS:
        raise ValueError(f"perturbation {name!r}: kind must be one of {KINDS}, got {kind!r}")

    def register(sample: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise ValueError(f"perturbation {name!r} is already registered (by {REGISTRY[name].sample.__module__})")
        REGISTRY[name] = Perturbation(
            name=name, kind=kind, sample=sample, apply=apply, host_fallback=host_fallback,
            doc=(sample.__doc__ or apply.__doc__ or "").strip(),
        )
        return sample

    return register


def get(name: str) -> Perturbation:
    """The registered perturbation ``name``; an unknown name suggests the closest ones."""
    _load_builtins()
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown perturbation {name!r}{hint} (see perturbations.names())") from None


def names(kind: Kind | None = None) -> list[str]:
    """Registered names, optionally of one kind, sorted."""
    _load_builtins()
    return sorted(n for n, p in REGISTRY.items() if kind is None or p.kind == kind)


def check_severity(severity: float) -> float:
    """Severity as a float in [0, 5]; anything else is a ``ValueError``."""
    try:
        s = float(severity)
    except (TypeError, ValueError):
        raise ValueError(f"severity must be a number from 0 to {MAX_SEVERITY:g}, got {severity!r}") from None
    if not (math.isfinite(s) and 0.0 <= s <= MAX_SEVERITY):
        raise ValueError(f"severity must lie in [0, {MAX_SEVERITY:g}] (0 is the identity), got {severity!r}")
    return s


def severity_value(table: tuple[Any, ...], severity: float, identity: Any) -> Any:
    """Interpolate a published 1..5 severity table at a float severity.

    Severity 0 gives ``identity``; between 0 and 1 the value is interpolated from
    ``identity`` to ``table[0]``; integer severities give the table entries exactly.
    Entries may be numbers or tuples of numbers (interpolated element-wise).
    """
    s = check_severity(severity)
    if len(table) != 5:
        raise ValueError(f"a severity table has 5 entries (levels 1..5), got {len(table)}")
    levels = (identity, *table)
    lo = min(int(math.floor(s)), 4)
    t = s - lo
    a, b = levels[lo], levels[lo + 1]
    if t == 0.0:
        return a
    if isinstance(a, tuple):
        return tuple(x + t * (y - x) for x, y in zip(a, b))
    return a + t * (b - a)


@dataclass(frozen=True)
class Applied:
    """Record of one application: enough to replay it exactly (``replay``)."""

    name: str
    severity: float
    params: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (numpy arrays become lists)."""
        return {"name": self.name, "severity": self.severity, "params": _to_jsonable(dataclasses.asdict(self.params))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Applied:
        """Inverse of :meth:`to_dict`, rebuilding the perturbation's own Params type."""
        p = get(data["name"])
        ptype = _params_type(p)
        hints = {f.name: f for f in dataclasses.fields(ptype)}
        kwargs = {}
        for k, v in data["params"].items():
            if k not in hints:
                raise ValueError(f"replay record for {data['name']!r}: unknown params field {k!r}")
            kwargs[k] = _from_jsonable(v)
        return cls(name=data["name"], severity=float(data["severity"]), params=ptype(**kwargs))


def _params_type(p: Perturbation) -> type:
    ret = p.sample.__annotations__.get("return")
    if isinstance(ret, str):
        ret = p.sample.__globals__.get(ret)
    if not (isinstance(ret, type) and dataclasses.is_dataclass(ret)):
        raise ValueError(f"perturbation {p.name!r}: its sampler must be annotated with its Params dataclass")
    return ret


def _to_jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return {"__ndarray__": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, dict):
        return {k: _to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_to_jsonable(x) for x in v]
    return v


def _from_jsonable(v: Any) -> Any:
    if isinstance(v, dict) and "__ndarray__" in v:
        return np.asarray(v["__ndarray__"], dtype=v["dtype"])
    if isinstance(v, list):
        return tuple(_from_jsonable(x) for x in v)
    if isinstance(v, dict):
        return {k: _from_jsonable(x) for k, x in v.items()}
    return v


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape a sampler is given: the array's shape, a scan's point-array shape, or
    ``(len(frames),)`` for the frame sequence of a fusion-level perturbation."""
    if hasattr(x, "shape"):
        return tuple(int(d) for d in x.shape)
    if hasattr(x, "points"):
        return tuple(int(d) for d in x.points.shape)
    if isinstance(x, (list, tuple)):
        return (len(x),)
    return ()


def perturb_recorded(x: Any, name: str, severity: float, rng: np.random.Generator) -> tuple[Any, Applied]:
    """Apply ``name`` at ``severity`` with randomness from ``rng``; return output and its record."""
    p = get(name)
    s = check_severity(severity)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    params = p.sample(s, shape_of(x), rng)
    return p.apply(x, params), Applied(name=name, severity=s, params=params)


def perturb(x: Any, name: str, severity: float, rng: np.random.Generator) -> Any:
    """Apply the registered perturbation ``name`` at ``severity``."""
    return perturb_recorded(x, name, severity, rng)[0]


def replay(x: Any, applied: Applied) -> Any:
    """Re-apply a recorded application; gives the same bytes as the original."""
    return get(applied.name).apply(x, applied.params)


_BUILTINS = ("perturbations.camera", "perturbations.lidar", "perturbations.fusion")


def _load_builtins() -> None:
    """Import the built-in families so that their decorators have registered them."""
    import importlib

    for module in _BUILTINS:
        importlib.import_module(module)
