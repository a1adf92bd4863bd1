"""Tail risk over episodes: per-episode losses, VaR and CVaR (Rockafellar–Uryasev).

Each episode gets one loss in [0, 1] (default: the fraction of its
safety-critical object-frames that were missed). Episodes carry probabilities:
equal by default, or from an operational-design-domain prior that gives each
cell its share of driving time (``CellRecord.weight`` in the run manifest), split
equally among the cell's episodes.

For a discrete loss distribution with probabilities ``p_i``:

* ``VaR_a = min{z : P(L <= z) >= a}``
* ``CVaR_a = VaR_a + E[(L - VaR_a)+] / (1 - a)``
  ``= [ (P(L <= VaR_a) - a) * VaR_a + sum_{L_i > VaR_a} p_i L_i ] / (1 - a)``

so ties at the VaR and the part of the boundary atom that lies inside the upper
``1 - a`` tail are counted exactly (Rockafellar & Uryasev 2002). ``a = 0`` gives
the mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from simtest.metrics.intervals import check_confidence
from simtest.metrics.safety import episode_keys

LOSSES = ("critical_miss_fraction", "closeness_weighted", "miss_fraction")
_TOL = 1e-12


def _check_alpha(alpha: float) -> float:
    a = float(alpha)
    if not (0.0 <= a < 1.0):
        raise ValueError(f"alpha: the CVaR level must lie in [0, 1), e.g. 0.95, got {alpha}")
    return a


def episode_losses(
    df: pd.DataFrame,
    *,
    loss: str = "critical_miss_fraction",
    reference_distance: float = 10.0,
) -> pd.DataFrame:
    """One loss per episode: columns episode keys (``run``/``cell``, ``episode``), ``loss``, ``exposure``.

    ``critical_miss_fraction``: missed / all safety-critical object-frames.
    ``closeness_weighted``: as above, each object-frame weighted by
    ``1 / (1 + distance / reference_distance)`` so near misses weigh more.
    ``miss_fraction``: missed / all ground-truth object-frames.
    ``exposure`` is the denominator (object-frames or their weight sum); an
    episode without exposure has loss 0 (nothing was there to miss).
    """
    if loss not in LOSSES:
        raise ValueError(f"episode_losses: loss {loss!r} is not one of {list(LOSSES)}")
    if not reference_distance > 0:
        raise ValueError(f"episode_losses: reference_distance must be positive metres, got {reference_distance}")
    keys = episode_keys(df)
    missing = [c for c in ("row_type", "detected", "critical", "distance") if c not in df.columns]
    if missing:
        raise ValueError(f"episode_losses: result rows lack column(s) {missing}")
    if df.empty:
        raise ValueError("episode_losses: no result rows; the run is empty")
    episodes = df[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    gt = df[df["row_type"] == "gt"]
    if loss != "miss_fraction":
        gt = gt[gt["critical"].astype(bool)]
    weight = np.ones(len(gt))
    if loss == "closeness_weighted":
        weight = 1.0 / (1.0 + gt["distance"].to_numpy(float) / reference_distance)
    missed = ~gt["detected"].astype(bool).to_numpy()
    agg = (
        pd.DataFrame({**{k: gt[k].to_numpy() for k in keys}, "w": weight, "wm": weight * missed})
        .groupby(keys, observed=True)[["w", "wm"]]
        .sum()
        .reset_index()
    )
    out = episodes.merge(agg, on=keys, how="left").fillna({"w": 0.0, "wm": 0.0})
    out["loss"] = np.where(out["w"] > 0, out["wm"] / out["w"].where(out["w"] > 0, 1.0), 0.0)
    out["exposure"] = out["w"]
    return out[keys + ["loss", "exposure"]]


def _normalise_weights(losses: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.full(len(losses), 1.0 / len(losses))
    w = np.asarray(weights, float)
    if w.shape != losses.shape:
        raise ValueError(f"var_cvar: weights have shape {w.shape}, losses {losses.shape}; give one weight per loss")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("var_cvar: weights must be finite, non-negative and not all zero")
    return w / w.sum()


def _sorted_var_cvar(l_sorted: np.ndarray, p_sorted: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """VaR and CVaR for losses sorted ascending with probabilities ``p_sorted`` (..., n); rows are samples."""
    cum = np.cumsum(p_sorted, axis=-1)
    cum /= cum[..., -1:]
    idx = np.argmax((cum >= alpha - _TOL) & (p_sorted > 0), axis=-1)
    var = np.take_along_axis(l_sorted, idx[..., None], axis=-1)[..., 0]
    if alpha == 0.0:
        mean = (p_sorted * l_sorted).sum(axis=-1) / p_sorted.sum(axis=-1)
        return var, mean
    cum_at = np.take_along_axis(cum, idx[..., None], axis=-1)[..., 0]
    pnorm = p_sorted / p_sorted.sum(axis=-1, keepdims=True)
    above = np.arange(l_sorted.shape[-1]) > idx[..., None]
    tail = np.where(above, pnorm * l_sorted, 0.0).sum(axis=-1)
    cvar = (np.maximum(cum_at - alpha, 0.0) * var + tail) / (1.0 - alpha)
    return var, np.maximum(cvar, var)


def var_cvar(losses: Any, alpha: float = 0.95, weights: Any = None) -> tuple[float, float]:
    """VaR and CVaR at level ``alpha`` of a discrete loss distribution (optionally weighted)."""
    a = _check_alpha(alpha)
    x = np.asarray(losses, float).ravel()
    if len(x) == 0:
        raise ValueError("var_cvar: no losses given")
    if not np.isfinite(x).all():
        raise ValueError("var_cvar: losses contain NaN or infinite values")
    p = _normalise_weights(x, None if weights is None else np.asarray(weights, float).ravel())
    order = np.argsort(x, kind="stable")
    var, cvar = _sorted_var_cvar(x[order], p[order], a)
    return float(var), float(cvar)


def tail_shares(losses: np.ndarray, probs: np.ndarray, alpha: float) -> np.ndarray:
    """Probability of each outcome that lies in the upper ``1 - alpha`` tail, divided by ``1 - alpha``.

    Shares sum to 1; an outcome tied at the VaR gets its part of the boundary atom
    (split in proportion to probability among the ties).
    """
    a = _check_alpha(alpha)
    p = probs / probs.sum()
    var, _ = var_cvar(losses, a, p)
    above = losses > var
    at = losses == var
    rest = max(0.0, (1.0 - a) - p[above].sum())
    p_at = p[at].sum()
    share = np.where(above, p, 0.0) + np.where(at, p * (rest / p_at if p_at > 0 else 0.0), 0.0)
    return share / (1.0 - a)


@dataclass(frozen=True)
class RiskSummary:
    """CVaR summary of a run: levels, bootstrap intervals and who makes up the tail."""

    alpha: float
    var: float
    cvar: float
    mean: float
    var_lower: float
    var_upper: float
    cvar_lower: float
    cvar_upper: float
    confidence: float
    loss: str
    episodes: int
    weighted: bool
    tail_episodes: tuple[Mapping[str, Any], ...] = ()
    tail_cells: tuple[Mapping[str, Any], ...] = ()
    n_boot: int = 0

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if not (self.cvar >= self.var - 1e-12 and self.cvar >= self.mean - 1e-12):
            raise ValueError(f"RiskSummary: CVaR {self.cvar} must be >= VaR {self.var} and >= mean {self.mean}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tail_episodes"] = [dict(r) for r in self.tail_episodes]
        d["tail_cells"] = [dict(r) for r in self.tail_cells]
        return d


def episode_probabilities(ep: pd.DataFrame, cell_weights: Mapping[str, float] | None) -> np.ndarray:
    """Probability of each episode: cell weight split equally among the cell's episodes (equal if no weights)."""
    if cell_weights is None:
        return np.full(len(ep), 1.0 / len(ep))
    if "cell" not in ep.columns:
        raise ValueError("cvar_summary: cell_weights need a 'cell' column in the result rows")
    cells = ep["cell"].astype(str)
    missing = sorted(set(cells) - set(cell_weights))
    if missing:
        raise ValueError(f"cvar_summary: no ODD weight for cell(s) {missing[:5]}; set CellRecord.weight in the manifest")
    w = cells.map(lambda c: float(cell_weights[c])).to_numpy(float)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("cvar_summary: ODD cell weights must be finite, non-negative and not all zero")
    per_cell = cells.map(cells.value_counts()).to_numpy(float)
    p = w / per_cell
    return p / p.sum()


def _bootstrap(
    ep: pd.DataFrame, losses: np.ndarray, probs: np.ndarray, alpha: float, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """VaR and CVaR of ``n_boot`` replicates resampling episodes within each cell (cell weights stay fixed)."""
    n = len(losses)
    strata = ep["cell"].astype(str).to_numpy() if "cell" in ep.columns else np.zeros(n, dtype=object)
    order = np.argsort(losses, kind="stable")
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    l_sorted, p_sorted = losses[order], probs[order]
    var, cvar = np.empty(n_boot), np.empty(n_boot)
    block = max(1, 2_000_000 // n)  # replicates per block, to bound memory
    for lo in range(0, n_boot, block):
        b = min(block, n_boot - lo)
        flat = []
        for members in groups:
            draws = members[rng.integers(0, len(members), size=(b, len(members)))]
            flat.append((np.arange(b)[:, None] * n + pos[draws]).ravel())
        counts = np.bincount(np.concatenate(flat), minlength=b * n).reshape(b, n).astype(float)
        v, c = _sorted_var_cvar(np.broadcast_to(l_sorted, (b, n)), counts * p_sorted, alpha)
        var[lo : lo + b], cvar[lo : lo + b] = v, c
    return var, cvar


def cvar_summary(
    df: pd.DataFrame,
    *,
    alpha: float = 0.95,
    cell_weights: Mapping[str, float] | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    loss: str = "critical_miss_fraction",
    max_tail: int = 20,
) -> RiskSummary:
    """VaR/CVaR of the per-episode loss, a stratified episode-bootstrap interval and the tail's make-up.

    ``tail_episodes``: episodes with a share of the tail, largest loss first
    (``share`` of the tail probability, ``contribution`` = share x loss, which
    sums to the CVaR). ``tail_cells``: the same per cell. ``n_boot = 0`` skips
    the bootstrap (intervals are then NaN).
    """
    a = _check_alpha(alpha)
    check_confidence(confidence, "cvar_summary: confidence")
    if n_boot and not isinstance(rng, np.random.Generator):
        raise ValueError("cvar_summary: pass rng=np.random.default_rng(seed) for the bootstrap (or n_boot=0)")
    ep = episode_losses(df, loss=loss)
    losses = ep["loss"].to_numpy(float)
    probs = episode_probabilities(ep, cell_weights)
    var, cvar = var_cvar(losses, a, probs)
    mean = float(np.dot(probs, losses))
    nan = float("nan")
    v_lo = v_hi = c_lo = c_hi = nan
    if n_boot:
        bv, bc = _bootstrap(ep, losses, probs, a, n_boot, rng)
        q = (1 - confidence) / 2
        v_lo, v_hi = (float(x) for x in np.quantile(bv, [q, 1 - q]))
        c_lo, c_hi = (float(x) for x in np.quantile(bc, [q, 1 - q]))
    share = tail_shares(losses, probs, a)
    tail = ep.assign(share=share, contribution=share * losses, probability=probs)
    tail = tail[tail["share"] > 0].sort_values(["loss", "share"], ascending=[False, False], kind="stable")
    keys = [k for k in episode_keys(ep) if k != "episode"]
    tail_eps = tuple(
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in tail.head(max_tail)[episode_keys(ep) + ["loss", "probability", "share", "contribution"]].to_dict("records")
    )
    if keys:
        cells = tail.groupby(keys, observed=True)[["share", "contribution"]].sum().reset_index()
        cells = cells.sort_values("contribution", ascending=False, kind="stable")
        tail_cells = tuple(
            {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in cells.head(max_tail).to_dict("records")
        )
    else:
        tail_cells = ()
    return RiskSummary(
        alpha=a, var=var, cvar=cvar, mean=mean, var_lower=v_lo, var_upper=v_hi, cvar_lower=c_lo, cvar_upper=c_hi,
        confidence=float(confidence), loss=loss, episodes=len(ep), weighted=cell_weights is not None,
        tail_episodes=tail_eps, tail_cells=tail_cells, n_boot=int(n_boot),
    )
