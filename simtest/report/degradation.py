"""Degradation curves: recall and safety-critical miss rate against severity, per perturbation.

Severity 0 is the unperturbed baseline (cells whose ``perturbation`` is ``none``), shared
by every curve. Rates are pooled over the other axes; bands are two-sided
episode-clustered (Korn–Graubard) intervals from :func:`simtest.metrics.safety.miss_rates`.
"""

from __future__ import annotations

import pandas as pd

from simtest.metrics.safety import miss_rates
from simtest.report import html, plots
from simtest.report.context import NONE_VALUES, ReportContext


def perturbation_subsets(ctx: ReportContext) -> dict[str, pd.DataFrame]:
    """Per perturbation: its gt rows (plus the unperturbed baseline) with a ``severity_level`` column."""
    gt, r = ctx.gt, ctx.roles
    out: dict[str, pd.DataFrame] = {}
    if r.perturbation and r.severity:
        is_none = gt[r.perturbation].astype(str).isin(NONE_VALUES)
        base = gt[is_none].assign(severity_level=0.0)
        for name in sorted(set(gt.loc[~is_none, r.perturbation].astype(str))):
            sub = gt[gt[r.perturbation].astype(str) == name]
            out[name] = pd.concat([base, sub.assign(severity_level=sub[r.severity].astype(float))], ignore_index=True)
    for axis in r.severity_axes:
        others = [a for a in r.severity_axes if a != axis]
        clean = gt[(gt[others] == 0).all(axis=1)] if others else gt
        sub = clean if len(clean) else gt
        name = axis.removesuffix("_severity").removesuffix(".severity")
        out[name] = sub.assign(severity_level=sub[axis].astype(float))
    return out


def curves(sub: pd.DataFrame, confidence: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(recall curve, critical miss-rate curve)`` per severity level and class."""
    rec = miss_rates(sub, ["severity_level", "cls"], method="clustered", confidence=confidence)
    rec = rec.assign(rate=rec["recall"], lo=1 - rec["upper"], hi=1 - rec["lower"])
    crit_rows = sub[sub["critical"].astype(bool)]
    crit = (miss_rates(crit_rows, ["severity_level", "cls"], method="clustered", confidence=confidence)
            if len(crit_rows) else rec.iloc[0:0])
    crit = crit.assign(rate=crit["miss_rate"], lo=crit["lower"], hi=crit["upper"])
    return rec, crit


def section(ctx: ReportContext) -> html.Section:
    subsets = perturbation_subsets(ctx)
    lead = ("Recall (left) and safety-critical miss rate (right) against perturbation severity, one line per "
            f"class; shaded bands are two-sided {ctx.confidence:.0%} episode-clustered intervals. Severity 0 is "
            "the unperturbed baseline; other axes are pooled.")
    if not subsets:
        body = '<p class="note">This run has no perturbation axis (a <code>perturbation</code> axis with a numeric ' \
               '<code>severity</code>, or numeric <code>&lt;name&gt;_severity</code> axes), so there are no curves.</p>'
        return html.Section("degradation", "Degradation curves", body, lead)
    figs, drops = [], []
    for i, (name, sub) in enumerate(subsets.items()):
        rec, crit = curves(sub, ctx.confidence)
        fig, axes = plots.new_figure(7.6, 2.9, ncols=2)
        plots.band_lines(axes[0, 0], rec, x="severity_level", y="rate", series="cls", lower="lo", upper="hi")
        plots.rate_axes(axes[0, 0], ylabel="recall")
        axes[0, 0].set_title(f"{name}\nrecall")
        if len(crit):
            plots.band_lines(axes[0, 1], crit, x="severity_level", y="rate", series="cls", lower="lo", upper="hi")
        plots.rate_axes(axes[0, 1], ylabel="safety-critical miss rate")
        axes[0, 1].set_title(f"{name}\nsafety-critical miss rate")
        for ax in axes.flat:
            ax.set_xlabel("severity")
            ax.set_xticks(sorted(sub["severity_level"].unique()))
        plots.legend_below(fig, axes)
        figs.append(html.figure(plots.to_svg(fig, f"degradation-{i}")))
        for cls, g in rec.groupby("cls"):
            g = g.sort_values("severity_level")
            c = crit[crit["cls"] == cls].sort_values("severity_level")
            drops.append({"perturbation": name, "class": cls, "recall clean": g["rate"].iloc[0],
                          "recall worst severity": g["rate"].iloc[-1], "Δ recall": g["rate"].iloc[-1] - g["rate"].iloc[0],
                          "critical miss clean": c["rate"].iloc[0] if len(c) else float("nan"),
                          "critical miss worst severity": c["rate"].iloc[-1] if len(c) else float("nan")})
    table = pd.DataFrame(drops).sort_values("Δ recall")
    pct = {k: html.fmt_pct for k in table.columns if k not in ("perturbation", "class")}
    body = ('<div class="grid">' + "".join(figs) + "</div><h3>Sensitivity ranking</h3>"
            '<p class="note">Recall and safety-critical miss rate at the clean baseline and at the highest severity '
            "tested, most damaging first.</p>" + html.table(table, formats=pct))
    return html.Section("degradation", "Degradation curves", body, lead)
