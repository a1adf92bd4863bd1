"""FMEA-style failure-mode table: severity × occurrence × detectability = risk priority number.

A failure mode is *a missed object of one class (safety-critical or not) under one
operating condition* (one combination of the sweep's axis values).

* **Severity S** (1–10) from class and criticality: :data:`SEVERITY`.
* **Occurrence O** (1–10) from the probability that a random object-frame seen in
  operation is of this mode: the condition's share of the operational-design-domain
  weights (the manifest's per-cell ``weight``) times the mode's miss rate, mapped through
  the log-scale table :data:`OCCURRENCE_SCALE`.
* **Detectability D** (1–10) from the score margin of the misses: how far the best
  same-class score near a missed object fell below the class's operating threshold,
  relative to the threshold (median over the mode's misses; no candidate box at all
  counts as the full margin). D = 1 + round(9·margin): a miss scored just below the
  threshold is easy to catch (e.g. by a monitor), one with no candidate at all is not.
  The threshold is the lowest score among the class's matched detections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simtest.report import html
from simtest.report.context import ReportContext

SEVERITY: dict[tuple[str, bool], int] = {
    ("pedestrian", True): 10, ("cyclist", True): 10, ("vehicle", True): 8,
    ("pedestrian", False): 5, ("cyclist", False): 5, ("vehicle", False): 3,
}
"""Severity by (class, safety-critical); other classes use :data:`SEVERITY_DEFAULT`."""
SEVERITY_DEFAULT = {True: 8, False: 3}

OCCURRENCE_SCALE: tuple[tuple[float, int], ...] = (
    (1e-1, 10), (5e-2, 9), (2e-2, 8), (1e-2, 7), (2e-3, 6), (5e-4, 5), (1e-4, 4), (1e-5, 3), (1e-6, 2),
)
"""(probability at or above, rating) per object-frame, highest first; below the last: 1."""


def occurrence_rating(p: np.ndarray) -> np.ndarray:
    """Map probabilities to the 1–10 occurrence scale."""
    p = np.asarray(p, float)
    out = np.ones(p.shape, dtype=int)
    for thr, rating in reversed(OCCURRENCE_SCALE):
        out = np.where(p >= thr, rating, out)
    return out


def thresholds(gt: pd.DataFrame) -> dict[str, float]:
    """Operating threshold per class: the lowest score among matched detections."""
    det = gt[gt["detected"].astype(bool) & gt["score"].notna()]
    return det.groupby("cls")["score"].min().astype(float).to_dict()


def failure_modes(ctx: ReportContext) -> pd.DataFrame:
    """Every failure mode with its S, O, D and RPN, highest risk first."""
    gt = ctx.gt
    axes = list(ctx.roles.all)
    thr = thresholds(gt)
    w = pd.DataFrame([{**c.axes, "weight": float(c.weight)} for k, c in ctx.manifest.cells.items()
                      if c.status != "failed"])
    w = w.groupby(axes, dropna=False)["weight"].sum().reset_index() if axes else pd.DataFrame({"weight": [w["weight"].sum()]})
    w["odd_share"] = w["weight"] / w["weight"].sum()
    miss = ~gt["detected"].astype(bool)
    t = gt["cls"].map(thr).astype(float)
    margin = np.where(gt["best_score"].notna() & (t > 0), ((t - gt["best_score"].astype(float)) / t).clip(0, 1), 1.0)
    work = gt[["cls", "critical", *axes]].assign(miss=miss.astype(int), margin=np.where(miss, margin, np.nan),
                                                 best=np.where(miss, gt["best_score"].astype(float), np.nan))
    keys = ["cls", "critical", *axes]
    g = work.groupby(keys, dropna=False, observed=True).agg(
        n=("miss", "size"), misses=("miss", "sum"), margin=("margin", "median"), best_score=("best", "median")).reset_index()
    g = g[g["misses"] > 0]
    g = g.merge(w[axes + ["odd_share"]], on=axes, how="left") if axes else g.assign(odd_share=1.0)
    g["miss_rate"] = g["misses"] / g["n"]
    g["p_occurrence"] = g["odd_share"].fillna(0.0) * g["miss_rate"]
    g["S"] = [SEVERITY.get((c, bool(k)), SEVERITY_DEFAULT[bool(k)]) for c, k in zip(g["cls"], g["critical"])]
    g["O"] = occurrence_rating(g["p_occurrence"].to_numpy())
    g["D"] = (1 + np.round(9 * g["margin"].fillna(1.0))).clip(1, 10).astype(int)
    g["RPN"] = g["S"] * g["O"] * g["D"]
    g["failure mode"] = [f"missed {'safety-critical ' if k else ''}{c}" for c, k in zip(g["cls"], g["critical"])]
    g["condition"] = [", ".join(f"{a}={r[a]}" for a in axes) for _, r in g.iterrows()] if axes else "all"
    return g.sort_values(["RPN", "p_occurrence"], ascending=False).reset_index(drop=True)


def section(ctx: ReportContext, top: int = 20) -> html.Section:
    modes = failure_modes(ctx)
    if modes.empty:
        return html.Section("fmea", "Failure modes (FMEA)", '<p class="note">No misses: no failure modes to rank.</p>')
    shown = modes.head(top).assign(rank=lambda d: np.arange(1, len(d) + 1))
    shown = shown[["rank", "failure mode", "condition", "misses", "n", "miss_rate", "odd_share", "p_occurrence",
                   "best_score", "S", "O", "D", "RPN"]]
    body = html.table(shown, formats={"miss_rate": html.fmt_pct, "odd_share": html.fmt_pct,
                                      "p_occurrence": lambda v: html.fmt_num(v, 2), "best_score": html.fmt_num})
    thr = ", ".join(f"{c} {v:.2f}" for c, v in sorted(thresholds(ctx.gt).items()))
    body += (f'<p class="note">{len(modes)} failure modes in total; the {min(top, len(modes))} with the highest risk '
             "priority number (RPN = S × O × D) are shown. S: 10 for a missed safety-critical pedestrian or cyclist, "
             "8 for a safety-critical vehicle, 5/3 otherwise. O: log scale of P(occurrence) = ODD share of the condition "
             "× miss rate (≥ 10 % → 10, … , < 10⁻⁶ → 1). D: 1 + 9 × median relative score margin of the misses below "
             f"the operating threshold (estimated thresholds: {html.esc(thr)}); best_score is the median best "
             "same-class score near the missed objects (– when no candidate box was near).</p>")
    lead = "Failure modes ranked by risk: what to fix first."
    return html.Section("fmea", "Failure modes (FMEA)", body, lead)
