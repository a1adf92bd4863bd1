"""Missed-detection rates with confidence bounds, detection figures, track figures and safety gates.

Input is a DataFrame of result rows (``simtest.store.RESULT_SCHEMA`` plus axis
columns). A *sample* is one ground-truth object in one frame (a ``gt`` row); a
*miss* is such a row with ``detected == False``. Episodes are identified by
``(run, cell, episode)`` (whichever of those columns exist) and are the unit of
independence: frames of one episode are correlated.

Gates
-----
Gates are read from ``conf/safety/*.yaml``::

    defaults:                 # optional, apply to every gate
      confidence: 0.95
      method: clustered       # clustered (default) | clopper-pearson | wilson
    gates:
      - name: pedestrian-critical       # unique
        class: pedestrian               # one of the classes (vehicle, pedestrian, cyclist)
        metric: miss_rate               # the only metric so far: misses / object-frames
        limit: 1.0e-3                   # in (0, 1)
        confidence: 0.95                # one-sided level of each bound
        units: misses per object-frame  # free text, shown in reports
        critical: true                  # optional filters: true/false
        in_path: true
        distance: [0, 40]               # metres, [lo, hi)
        visibility: [0.5, 1.0]          # visible fraction, [lo, hi]
        where: {weather: [fog, rain]}   # optional axis filters: value or list of values
        min_episodes: 5                 # fewer distinct episodes -> at best INCONCLUSIVE
        description: free text

A gate is PASS when the one-sided upper bound of the miss rate is at or below
the limit, FAIL when the one-sided lower bound is above it, else INCONCLUSIVE.
Each bound is at the gate's confidence (together a two-sided interval at
``2c - 1``), so the PASS and the FAIL verdicts each err with probability at most
``1 - c``.

**Clustering decision.** Gate bounds use the episode-clustered Korn–Graubard
interval by default: Clopper–Pearson on the effective sample size ``n / deff``,
with the design effect ``deff`` (>= 1) measured from how misses cluster in
episodes. A burst of misses in one episode therefore counts for less evidence
than the same misses spread over many. With zero misses the clustering cannot
be measured and ``deff = 1``; ``min_episodes`` guards against a PASS from a
handful of long episodes. ``samples_needed`` is the number of further miss-free
object-frames (at the measured design effect) after which the gate would pass;
with no misses it is zero-failure planning, ``n >= ln(1-c)/ln(1-p)``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simtest.metrics import intervals
from simtest.metrics.intervals import clopper_pearson, episode_bootstrap, wilson
from simtest.types import CLASSES

__all__ = [
    "Gate", "GateError", "GateResult", "GateStatus", "clopper_pearson", "detection_summary", "episode_bootstrap",
    "episode_keys", "evaluate_gates", "gates_from_dict", "load_gates", "miss_rates", "track_metrics", "wilson",
    "with_bands",
]

RATE_METHODS = ("clopper-pearson", "wilson", "bootstrap", "clustered")
DISTANCE_EDGES: tuple[float, ...] = (0.0, 10.0, 20.0, 30.0, 50.0, 80.0, math.inf)
"""Default distance bands (m, BEV from the ego origin), [lo, hi)."""
VISIBILITY_EDGES: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Default visible-fraction bands, (lo, hi] with 0 in the first band."""
GATE_METHODS = ("clustered", "clopper-pearson", "wilson")
GATE_METRICS = ("miss_rate",)


class GateError(ValueError):
    """A gate file or a gate that cannot be evaluated; the message names the file, the gate and the fix."""


def episode_keys(df: pd.DataFrame) -> list[str]:
    """Columns that identify an episode: ``run``, ``cell``, ``episode`` (those present)."""
    if "episode" not in df.columns:
        raise ValueError("result rows: column 'episode' is missing; pass rows read from a run store")
    return [c for c in ("run", "cell", "episode") if c in df.columns]


def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: result rows lack column(s) {missing}; available: {list(df.columns)}")


def _gt_rows(df: pd.DataFrame, what: str) -> pd.DataFrame:
    _require(df, ["row_type", "detected"], what)
    gt = df[df["row_type"] == "gt"]
    if gt["detected"].isna().any():
        raise ValueError(f"{what}: some ground-truth rows have detected = null; the result rows are corrupt")
    return gt


def _episode_counts(gt: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group and episode: object-frames ``n`` and ``misses``."""
    keys = by + [k for k in episode_keys(gt) if k not in by]
    missed = (~gt["detected"].astype(bool)).astype(np.int64)
    return (
        pd.DataFrame({**{k: gt[k] for k in keys}, "miss": missed})
        .groupby(keys, sort=True, observed=True, dropna=False)["miss"]
        .agg(n="size", misses="sum")
        .reset_index()
    )


def miss_rates(
    df: pd.DataFrame,
    by: Sequence[str] = (),
    *,
    method: str = "clopper-pearson",
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Missed-detection rate per group of ``by`` columns, with a two-sided interval.

    Columns: the ``by`` columns, ``n`` (object-frames), ``misses``,
    ``miss_rate``, ``lower``, ``upper``, ``recall`` (1 - miss rate) and
    ``episodes``. ``method``: ``clopper-pearson`` and ``wilson`` treat
    object-frames as independent; ``clustered`` (Korn–Graubard) and
    ``bootstrap`` (resampling episodes; needs ``rng``) account for episodes.
    """
    by = list(by)
    if method not in RATE_METHODS:
        raise ValueError(f"miss_rates: method {method!r} is not one of {list(RATE_METHODS)}")
    intervals.check_confidence(confidence, "miss_rates: confidence")
    if method == "bootstrap" and not isinstance(rng, np.random.Generator):
        raise ValueError("miss_rates: method='bootstrap' needs rng=np.random.default_rng(seed)")
    gt = _gt_rows(df, "miss_rates")
    _require(gt, by, "miss_rates")
    if gt.empty:
        raise ValueError("miss_rates: there are no ground-truth rows to compute a miss rate from")
    per_ep = _episode_counts(gt, by)
    if by:
        grouped = per_ep.groupby(by, sort=True, observed=True, dropna=False)
        out = grouped.agg(n=("n", "sum"), misses=("misses", "sum"), episodes=("n", "size")).reset_index()
        group_id = grouped.ngroup().to_numpy()
    else:
        out = pd.DataFrame({"n": [per_ep["n"].sum()], "misses": [per_ep["misses"].sum()], "episodes": [len(per_ep)]})
        group_id = np.zeros(len(per_ep), np.int64)
    k, n = out["misses"].to_numpy(float), out["n"].to_numpy(float)
    if method == "clopper-pearson":
        lo, hi = clopper_pearson(k, n, confidence)
    elif method == "wilson":
        lo, hi = wilson(k, n, confidence)
    else:
        lo, hi = np.empty(len(out)), np.empty(len(out))
        ep_k, ep_n = per_ep["misses"].to_numpy(float), per_ep["n"].to_numpy(float)
        order = np.argsort(group_id, kind="stable")
        bounds = np.searchsorted(group_id[order], np.arange(len(out) + 1))
        for g in range(len(out)):
            sel = order[bounds[g] : bounds[g + 1]]
            if method == "bootstrap":
                lo[g], hi[g] = episode_bootstrap(ep_k[sel], ep_n[sel], confidence=confidence, n_boot=n_boot, rng=rng)
            else:
                deff = intervals.design_effect(ep_k[sel], ep_n[sel])
                lo[g], hi[g] = intervals.clustered_bounds(k[g], n[g], deff, confidence, one_sided=False)
    out["miss_rate"] = k / n
    out["lower"], out["upper"] = lo, hi
    out["recall"] = 1.0 - out["miss_rate"]
    out["n"] = out["n"].astype(np.int64)
    out["misses"] = out["misses"].astype(np.int64)
    out["episodes"] = out["episodes"].astype(np.int64)
    return out[by + ["n", "misses", "miss_rate", "lower", "upper", "recall", "episodes"]]


def _band_labels(edges: Sequence[float], unit: str) -> list[str]:
    def fmt(v: float) -> str:
        return "inf" if math.isinf(v) else f"{v:g}"

    return [f"{fmt(lo)}-{fmt(hi)}{unit}" for lo, hi in zip(edges[:-1], edges[1:])]


def with_bands(
    df: pd.DataFrame,
    distance_edges: Sequence[float] = DISTANCE_EDGES,
    visibility_edges: Sequence[float] = VISIBILITY_EDGES,
) -> pd.DataFrame:
    """A copy of ``df`` with ordered categorical ``distance_band`` ("10-20 m") and ``visibility_band`` columns.

    Distance bands are [lo, hi); visibility bands (lo, hi] with 0 in the first.
    Group :func:`miss_rates` by them for degradation curves.
    """
    for name, edges in (("distance_edges", distance_edges), ("visibility_edges", visibility_edges)):
        if len(edges) < 2 or any(b <= a for a, b in zip(edges[:-1], edges[1:])):
            raise ValueError(f"with_bands: {name} must be at least two increasing values, got {list(edges)}")
    _require(df, ["distance", "visible_fraction"], "with_bands")
    out = df.copy()
    out["distance_band"] = pd.cut(out["distance"], list(distance_edges), right=False,
                                  labels=_band_labels(distance_edges, " m"))
    out["visibility_band"] = pd.cut(out["visible_fraction"], list(visibility_edges), right=True, include_lowest=True,
                                    labels=_band_labels(visibility_edges, ""))
    return out


def _frame_keys(df: pd.DataFrame) -> list[str]:
    return episode_keys(df) + ["frame"]


def detection_summary(df: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Recall, false positives per frame and precision per group of ``by`` columns.

    Columns: ``by``, ``frames``, ``gt``, ``detected``, ``false_positives``,
    ``recall``, ``fp_per_frame``, ``precision``. Frames are those with at least
    one row; for per-frame columns (cell axes, ego speed) the denominator is the
    frames of that group, for per-object columns (class, distance) every frame
    of the surrounding group counts. A frame with neither objects nor false
    positives stores no row, so ``fp_per_frame`` may be slightly high.
    """
    by = list(by)
    _require(df, ["row_type", "detected", "frame"] + by, "detection_summary")
    fkeys = _frame_keys(df)
    frame_level = [c for c in by if c in fkeys or df.groupby(fkeys, observed=True)[c].nunique(dropna=False).max() <= 1]
    is_gt = (df["row_type"] == "gt").to_numpy()
    det = df["detected"].fillna(False).astype(bool).to_numpy() & is_gt
    work = pd.DataFrame({**{c: df[c] for c in set(by) | set(fkeys)}, "gt": is_gt, "det": det, "fp": ~is_gt})
    if by:
        out = work.groupby(by, sort=True, observed=True, dropna=False)[["gt", "det", "fp"]].sum().reset_index()
    else:
        out = work[["gt", "det", "fp"]].sum().to_frame().T
    frames = work.drop_duplicates(fkeys + frame_level)
    if frame_level:
        counts = frames.groupby(frame_level, observed=True, dropna=False).size().rename("frames").reset_index()
        out = out.merge(counts, on=frame_level, how="left")
    else:
        out["frames"] = len(frames)
    out = out.rename(columns={"det": "detected", "fp": "false_positives"})
    for c in ("gt", "detected", "false_positives", "frames"):
        out[c] = out[c].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["recall"] = np.where(out["gt"] > 0, out["detected"] / out["gt"].clip(lower=1), np.nan)
        out["fp_per_frame"] = out["false_positives"] / out["frames"]
        tp_fp = out["detected"] + out["false_positives"]
        out["precision"] = np.where(tp_fp > 0, out["detected"] / tp_fp.clip(lower=1), np.nan)
    return out[by + ["frames", "gt", "detected", "false_positives", "recall", "fp_per_frame", "precision"]]


def track_metrics(df: pd.DataFrame, frame_dt: float, *, critical_only: bool = True) -> pd.DataFrame:
    """Per object track (run/cell, episode, object): misses over time.

    Only the frames in which the object is safety-critical count when
    ``critical_only``. Columns: episode keys, ``object_id``, ``cls``,
    ``frames``, ``missed_frames``, ``longest_miss_frames``, ``longest_miss_s``
    (longest run of consecutive missed frames times ``frame_dt`` seconds; a gap
    in frame indices ends a run), ``first_distance`` (m, at the first counted
    frame) and ``first_detection_distance`` (m, NaN when never detected).
    """
    if not (isinstance(frame_dt, (int, float)) and math.isfinite(frame_dt) and frame_dt > 0):
        raise ValueError(f"track_metrics: frame_dt must be a positive number of seconds, got {frame_dt!r}")
    gt = _gt_rows(df, "track_metrics")
    _require(gt, ["object_id", "frame", "cls", "distance", "critical"], "track_metrics")
    if critical_only:
        gt = gt[gt["critical"].astype(bool)]
    keys = episode_keys(gt) + ["object_id"]
    cols = keys + ["cls", "frame", "distance", "detected"]
    if gt.empty:
        return pd.DataFrame(
            columns=keys + ["cls", "frames", "missed_frames", "longest_miss_frames", "longest_miss_s",
                            "first_distance", "first_detection_distance"]
        )
    g = gt[cols].sort_values(keys + ["frame"], kind="stable").reset_index(drop=True)
    track = g.groupby(keys, sort=False, observed=True).ngroup().to_numpy()
    frame = g["frame"].to_numpy(np.int64)
    miss = ~g["detected"].astype(bool).to_numpy()
    # A run of misses breaks at a hit, at a new track, or at a gap in frame indices.
    new_run = np.ones(len(g), bool)
    new_run[1:] = (track[1:] != track[:-1]) | (frame[1:] != frame[:-1] + 1) | ~miss[:-1]
    run_id = np.cumsum(new_run)
    run_len = np.bincount(run_id, weights=miss.astype(float))
    run_track = np.zeros(len(run_len), np.int64)
    run_track[run_id] = track
    n_tracks = int(track.max()) + 1
    longest = np.zeros(n_tracks)
    np.maximum.at(longest, run_track[1:], run_len[1:])
    first_row = np.r_[0, np.flatnonzero(track[1:] != track[:-1]) + 1]
    hit_rows = np.flatnonzero(~miss)  # rows are sorted by track then frame
    hit_tracks, first_of_track = np.unique(track[hit_rows], return_index=True)
    first_hit = np.full(n_tracks, -1, np.int64)
    first_hit[hit_tracks] = hit_rows[first_of_track]
    dist = g["distance"].to_numpy(float)
    out = g.loc[first_row, keys + ["cls"]].reset_index(drop=True)
    out["frames"] = np.bincount(track, minlength=n_tracks)
    out["missed_frames"] = np.bincount(track, weights=miss, minlength=n_tracks).astype(np.int64)
    out["longest_miss_frames"] = longest.astype(np.int64)
    out["longest_miss_s"] = longest * float(frame_dt)
    out["first_distance"] = dist[first_row]
    out["first_detection_distance"] = np.where(first_hit >= 0, dist[np.maximum(first_hit, 0)], np.nan)
    return out


# ---------------------------------------------------------------------------
# gates
# ---------------------------------------------------------------------------


class GateStatus(enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


def _band(where: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2):
        raise GateError(f"{where}: expected a [low, high] pair, got {value!r}")
    try:
        lo, hi = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise GateError(f"{where}: expected two numbers, got {value!r}") from None
    if math.isnan(lo) or math.isnan(hi) or lo >= hi:
        raise GateError(f"{where}: need low < high, got {value!r}")
    return lo, hi


@dataclass(frozen=True)
class Gate:
    """One safety gate: a limit on the miss rate of a subset of ground-truth object-frames."""

    name: str
    cls: str
    limit: float
    metric: str = "miss_rate"
    confidence: float = 0.95
    units: str = "misses per object-frame"
    method: str = "clustered"
    critical: bool | None = None
    in_path: bool | None = None
    distance: tuple[float, float] | None = None
    visibility: tuple[float, float] | None = None
    where: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    min_episodes: int = 1
    description: str = ""
    classes: tuple[str, ...] = CLASSES
    source: str = "<gates>"

    def __post_init__(self) -> None:
        at = f"{self.source}: gate {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise GateError(f"{self.source}: a gate needs a non-empty 'name'")
        if self.cls not in self.classes:
            raise GateError(f"{at}: unknown class {self.cls!r} in key 'class'; use one of {list(self.classes)}")
        if self.metric not in GATE_METRICS:
            raise GateError(f"{at}: metric {self.metric!r} is not one of {list(GATE_METRICS)}")
        if not (isinstance(self.limit, (int, float)) and 0.0 < float(self.limit) < 1.0):
            raise GateError(f"{at}: 'limit' must be a miss rate in (0, 1), e.g. 1.0e-3, got {self.limit!r}")
        if not (isinstance(self.confidence, (int, float)) and 0.0 < float(self.confidence) < 1.0):
            raise GateError(f"{at}: 'confidence' must lie in (0, 1), e.g. 0.95, got {self.confidence!r}")
        if self.method not in GATE_METHODS:
            raise GateError(f"{at}: 'method' {self.method!r} is not one of {list(GATE_METHODS)}")
        for key in ("critical", "in_path"):
            if getattr(self, key) not in (None, True, False):
                raise GateError(f"{at}: {key!r} must be true or false, got {getattr(self, key)!r}")
        object.__setattr__(self, "distance", _band(f"{at}: 'distance'", self.distance))
        object.__setattr__(self, "visibility", _band(f"{at}: 'visibility'", self.visibility))
        if not isinstance(self.where, Mapping):
            raise GateError(f"{at}: 'where' must map axis names to a value or a list of values")
        where = {}
        for axis, v in self.where.items():
            vals = tuple(v) if isinstance(v, (list, tuple)) else (v,)
            if not vals:
                raise GateError(f"{at}: 'where.{axis}' lists no values")
            where[str(axis)] = vals
        object.__setattr__(self, "where", where)
        if not (isinstance(self.min_episodes, int) and self.min_episodes >= 1):
            raise GateError(f"{at}: 'min_episodes' must be a positive integer, got {self.min_episodes!r}")

    def filters(self) -> dict[str, Any]:
        """The subset this gate looks at, as plain data (for reports)."""
        out: dict[str, Any] = {"class": self.cls}
        for key in ("critical", "in_path", "distance", "visibility"):
            if getattr(self, key) is not None:
                out[key] = list(v) if isinstance(v := getattr(self, key), tuple) else v
        out.update({f"where.{k}": list(v) for k, v in self.where.items()})
        return out

    def select(self, gt: pd.DataFrame) -> pd.DataFrame:
        """The ground-truth rows this gate covers."""
        at = f"{self.source}: gate {self.name!r}"
        mask = np.array(gt["cls"] == self.cls, dtype=bool)
        for key in ("critical", "in_path"):
            if getattr(self, key) is not None:
                mask &= (gt[key].astype(bool) == getattr(self, key)).to_numpy()
        for key, col in (("distance", "distance"), ("visibility", "visible_fraction")):
            band = getattr(self, key)
            if band is not None:
                v = gt[col].to_numpy(float)
                mask &= (v >= band[0]) & ((v < band[1]) if key == "distance" else (v <= band[1]))
        for axis, vals in self.where.items():
            if axis not in gt.columns:
                raise GateError(f"{at}: 'where.{axis}' names no column of the run; axes are the sweep's axis names")
            mask &= gt[axis].isin(list(vals)).to_numpy()
        return gt[mask]


_GATE_KEYS = {
    "name", "class", "metric", "limit", "confidence", "units", "method", "critical", "in_path", "distance",
    "visibility", "where", "min_episodes", "description",
}
_DEFAULT_KEYS = {"confidence", "method", "units", "min_episodes"}


def gates_from_dict(data: Any, *, source: str = "<gates>", classes: Sequence[str] = CLASSES) -> list[Gate]:
    """Gates from the parsed YAML structure described in the module docstring."""
    if not isinstance(data, Mapping) or "gates" not in data:
        raise GateError(f"{source}: expected a mapping with a 'gates' list at the top level")
    unknown_top = set(data) - {"gates", "defaults"}
    if unknown_top:
        raise GateError(f"{source}: unknown top-level key(s) {sorted(unknown_top)}; allowed: 'defaults', 'gates'")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping) or set(defaults) - _DEFAULT_KEYS:
        raise GateError(f"{source}: 'defaults' may only set {sorted(_DEFAULT_KEYS)}, got {defaults!r}")
    items = data["gates"]
    if not isinstance(items, list) or not items:
        raise GateError(f"{source}: 'gates' must be a non-empty list of gates")
    gates, seen = [], set()
    for i, item in enumerate(items):
        where = f"{source}: gates[{i}]"
        if not isinstance(item, Mapping):
            raise GateError(f"{where}: expected a mapping, got {item!r}")
        unknown = set(item) - _GATE_KEYS
        if unknown:
            raise GateError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_GATE_KEYS)}")
        for key in ("name", "class", "limit"):
            if key not in item:
                raise GateError(f"{where}: missing key {key!r}")
        kwargs = {**defaults, **{("cls" if k == "class" else k): v for k, v in item.items()}}
        kwargs["where"] = kwargs.get("where") or {}
        gate = Gate(**kwargs, classes=tuple(classes), source=source)
        if gate.name in seen:
            raise GateError(f"{where}: duplicate gate name {gate.name!r}")
        seen.add(gate.name)
        gates.append(gate)
    return gates


def load_gates(path: str | Path, *, classes: Sequence[str] = CLASSES) -> list[Gate]:
    """Read and validate a gate file (``conf/safety/*.yaml``)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise GateError(f"{path}: cannot read the gate file ({e.strerror}); check the --gates path") from None
    except yaml.YAMLError as e:
        raise GateError(f"{path}: not valid YAML ({e})") from None
    return gates_from_dict(data, source=str(path), classes=classes)


@dataclass(frozen=True)
class GateResult:
    """Verdict of one gate, with the evidence (scenario_runner-style actual vs. limit)."""

    name: str
    status: GateStatus
    actual_value: float
    lower: float
    upper: float
    limit: float
    confidence: float
    units: str
    n: int
    misses: int
    samples_needed: int
    episodes: int = 0
    design_effect: float = 1.0
    method: str = "clustered"
    metric: str = "miss_rate"
    filters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.status, GateStatus):
            raise ValueError(f"GateResult.status: expected a GateStatus, got {self.status!r}")
        if not (0.0 <= self.lower <= self.actual_value <= self.upper <= 1.0):
            raise ValueError(
                f"GateResult {self.name!r}: need 0 <= lower <= actual <= upper <= 1, got "
                f"{self.lower}, {self.actual_value}, {self.upper}"
            )
        if self.n <= 0 or not (0 <= self.misses <= self.n) or self.samples_needed < 0:
            raise ValueError(f"GateResult {self.name!r}: inconsistent counts n={self.n}, misses={self.misses}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["filters"] = dict(self.filters)
        return d


def evaluate_gate(gt: pd.DataFrame, gate: Gate) -> GateResult:
    """Evaluate one gate on ground-truth rows (see module docstring for the decision rule)."""
    sub = gate.select(gt)
    if sub.empty:
        raise GateError(
            f"{gate.source}: gate {gate.name!r} selects no ground-truth rows ({gate.filters()}); "
            "the run has no samples for it: widen its filters or add scenarios that contain such objects"
        )
    per_ep = _episode_counts(sub, [])
    ep_k, ep_n = per_ep["misses"].to_numpy(float), per_ep["n"].to_numpy(float)
    k, n = float(ep_k.sum()), float(ep_n.sum())
    deff = intervals.design_effect(ep_k, ep_n) if gate.method == "clustered" else 1.0
    lo, hi = intervals.one_sided_bounds(k, n, gate.confidence, gate.method, deff)
    rate = k / n
    lo, hi = min(lo, rate), max(hi, rate)
    if lo > gate.limit:
        status = GateStatus.FAIL
    elif hi <= gate.limit and len(per_ep) >= gate.min_episodes:
        status = GateStatus.PASS
    else:
        status = GateStatus.INCONCLUSIVE
    needed = 0 if status is GateStatus.PASS else intervals.samples_needed(k, n, gate.limit, gate.confidence, gate.method, deff)
    return GateResult(
        name=gate.name, status=status, actual_value=rate, lower=lo, upper=hi, limit=float(gate.limit),
        confidence=float(gate.confidence), units=gate.units, n=int(n), misses=int(k), samples_needed=int(needed),
        episodes=len(per_ep), design_effect=deff, method=gate.method, metric=gate.metric, filters=gate.filters(),
    )


def evaluate_gates(df: pd.DataFrame, gates: Sequence[Gate]) -> list[GateResult]:
    """Evaluate every gate on the result rows ``df``; raises :class:`GateError` on an unusable gate."""
    if not gates:
        raise GateError("evaluate_gates: no gates given; load them with load_gates('conf/safety/default.yaml')")
    gt = _gt_rows(df, "evaluate_gates")
    _require(gt, ["cls", "critical", "in_path", "distance", "visible_fraction"], "evaluate_gates")
    return [evaluate_gate(gt, g) for g in gates]
