"""Physical-patch effect: miss-rate difference of each optimised patch against the random-texture control.

Per class and distance band, the difference miss(patch) − miss(random) with an
interval from an episode bootstrap (each arm's episodes resampled within cells that
share the other axis values) and a cluster-robust two-sample p-value
(:mod:`simtest.report.compare_stats`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simtest.report import compare_stats as cs
from simtest.report import html, plots
from simtest.report.context import NONE_VALUES, ReportContext
from simtest.report.distance import band_labels, with_band

CONTROL = "random"


def patch_effects(ctx: ReportContext, n_boot: int = 1000) -> pd.DataFrame:
    """One row per (patch, class, distance band): rates, difference, interval, p-value."""
    axis = ctx.roles.patch
    gt = with_band(ctx.gt)
    others = [a for a in ctx.roles.all if a != axis]
    stratum = gt[others].astype(str).agg("|".join, axis=1) if others else pd.Series("all", index=gt.index)
    gt = gt.assign(stratum=stratum, miss=(~gt["detected"].astype(bool)).astype(int))
    rng = np.random.default_rng(ctx.seed)
    names = sorted(v for v in gt[axis].astype(str).unique() if v not in NONE_VALUES and v != CONTROL)
    rows = []
    for name in names:
        for (cls, band), sub in gt[gt[axis].astype(str).isin([name, CONTROL])].groupby(["cls", "distance_band"]):
            arms = []
            for arm in (CONTROL, name):
                a = sub[sub[axis].astype(str) == arm].groupby(["cell", "episode"]).agg(
                    n=("miss", "size"), m=("miss", "sum"), s=("stratum", "first"))
                arms.append(a)
            if any(a.empty for a in arms):
                continue
            c, p = arms
            diff, _, pval = cs.unpaired_test(c["n"].to_numpy(), c["m"].to_numpy(), p["n"].to_numpy(), p["m"].to_numpy(),
                                             c["s"].to_numpy(), p["s"].to_numpy())
            lo, hi = cs.unpaired_bootstrap((c["n"].to_numpy(), c["m"].to_numpy(), c["s"].to_numpy()),
                                           (p["n"].to_numpy(), p["m"].to_numpy(), p["s"].to_numpy()),
                                           rng=rng, n_boot=n_boot, confidence=ctx.confidence)
            rows.append({"patch": name, "cls": cls, "distance_band": band, "n_control": int(c["n"].sum()),
                         "n_patch": int(p["n"].sum()), "miss_control": c["m"].sum() / c["n"].sum(),
                         "miss_patch": p["m"].sum() / p["n"].sum(), "effect": diff, "lower": lo, "upper": hi, "p": pval})
    return pd.DataFrame(rows)


def section(ctx: ReportContext) -> html.Section | None:
    axis = ctx.roles.patch
    if not axis:
        return None
    title = "Physical patch effect"
    if CONTROL not in set(ctx.gt[axis].astype(str)):
        return html.Section("patch", title, f'<p class="note">The <code>{axis}</code> axis has no <code>{CONTROL}</code> '
                            "control value, so no patch effect can be estimated; add the random-texture control.</p>")
    eff = patch_effects(ctx)
    if eff.empty:
        return html.Section("patch", title, '<p class="note">No optimised patch shares cells with the control.</p>')
    order = [b for b in band_labels() if b in set(eff["distance_band"])]
    classes = sorted(eff["cls"].unique())
    fig, axs = plots.new_figure(3.4 * len(classes) + 0.5, 2.9, ncols=len(classes))
    for ax, cls in zip(axs.flat, classes):
        plots.error_points(ax, eff[eff["cls"] == cls], x="distance_band", y="effect", series="patch", order=order)
        ax.axhline(0.0, color="#5b6775", linewidth=0.8)
        ax.set_title(f"{cls}: miss rate patch − random")
        plots.rate_axes(ax, ylabel="Δ miss rate")
        ax.tick_params(axis="x", labelrotation=20)
    plots.legend_below(fig, axs)
    body = html.figure(plots.to_svg(fig, "patch"),
                       f"Difference in miss rate against the random-texture control of the same size; bars are "
                       f"{ctx.confidence:.0%} episode-bootstrap intervals. Above zero: the patch makes objects harder to detect.")
    eff["distance_band"] = pd.Categorical(eff["distance_band"], categories=order, ordered=True)
    t = eff.sort_values(["patch", "cls", "distance_band"]).astype({"distance_band": str})
    body += html.table(t, formats={k: html.fmt_pct for k in ("miss_control", "miss_patch", "effect", "lower", "upper")}
                       | {"p": lambda v: html.fmt_num(v, 2)})
    return html.Section("patch", title, body, "Does the optimised patch raise the miss rate beyond a random texture?")
