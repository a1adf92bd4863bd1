"""Weather × lighting heatmaps of the miss rate, per class."""

from __future__ import annotations

import pandas as pd

from simtest.metrics.safety import miss_rates
from simtest.report import html, plots
from simtest.report.context import NONE_VALUES, ReportContext


def condition_rows(ctx: ReportContext) -> tuple[pd.DataFrame, str]:
    """The rows the heatmaps use and a sentence saying which: unperturbed cells when there are any."""
    r = ctx.roles
    gt = ctx.gt
    for axis in (r.perturbation, r.patch):
        if axis:
            clean = gt[gt[axis].astype(str).isin(NONE_VALUES)]
            if len(clean) and clean[[r.weather, r.lighting]].drop_duplicates().shape[0] == \
                    gt[[r.weather, r.lighting]].drop_duplicates().shape[0]:
                gt = clean
    used = "unperturbed cells only" if len(gt) < len(ctx.gt) else "all cells (other axes pooled)"
    return gt, used


def section(ctx: ReportContext) -> html.Section:
    r = ctx.roles
    title = "Weather × lighting"
    if not (r.weather and r.lighting):
        return html.Section("conditions", title, '<p class="note">Heatmaps need sweep axes named <code>weather</code> '
                            f'and <code>lighting</code>; this run has axes {html.esc(list(r.all))}.</p>')
    rows, used = condition_rows(ctx)
    crit = rows[rows["critical"].astype(bool)]
    panels = [("safety-critical miss rate", crit), ("miss rate, all objects", rows)]
    classes = sorted(rows["cls"].unique())
    w_order = list(dict.fromkeys(c.axes[r.weather] for c in ctx.manifest.cells.values()))
    l_order = list(dict.fromkeys(c.axes[r.lighting] for c in ctx.manifest.cells.values()))
    fig, axes = plots.new_figure(3.9 * len(classes) + 0.9, 2.9 * len(panels) + 0.4, ncols=len(classes), nrows=len(panels))
    vmax = 0.0
    tables = []
    for pi, (label, sub) in enumerate(panels):
        mr = miss_rates(sub, [r.weather, r.lighting, "cls"], method="clustered", confidence=ctx.confidence) if len(sub) else None
        if mr is not None:
            vmax = max(vmax, float(mr["miss_rate"].max()))
            tables.append(mr.assign(scope=label))
        for ci, cls in enumerate(classes):
            ax = axes[pi, ci]
            if mr is None or (mr["cls"] == cls).sum() == 0:
                ax.set_axis_off()
                ax.set_title(f"{cls}: no {label} samples")
                continue
            m = mr[mr["cls"] == cls]
            val = m.pivot(index=r.weather, columns=r.lighting, values="miss_rate").reindex(index=w_order, columns=l_order)
            lab = m.assign(t=[f"{v:.1%}\n[{lo:.1%}, {hi:.1%}]\nn={n}" for v, lo, hi, n in
                              zip(m["miss_rate"], m["lower"], m["upper"], m["n"])])
            lab = lab.pivot(index=r.weather, columns=r.lighting, values="t").reindex(index=w_order, columns=l_order).fillna("no samples")
            plots.heatmap(ax, val, lab, vmax=1.0, title=f"{cls}: {label}")
    im = axes.flat[0].images[0] if axes.flat[0].images else None
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label="miss rate", format=plots.matplotlib.ticker.PercentFormatter(1.0))
    for ax in axes.flat:
        for img in ax.images:
            img.set_clim(0.0, max(vmax, 1e-6))
    body = html.figure(plots.to_svg(fig, "conditions"),
                       f"Each tile: miss rate, two-sided {ctx.confidence:.0%} episode-clustered interval and object-frames n; "
                       f"{used}. Colour scale shared by all panels (0 to {vmax:.1%}).")
    if tables:
        t = pd.concat(tables)
        worst = t.sort_values("miss_rate", ascending=False).head(8)
        worst = worst[["scope", "cls", r.weather, r.lighting, "n", "misses", "miss_rate", "lower", "upper"]]
        worst = worst.rename(columns={"cls": "class", "miss_rate": "miss rate"})
        body += "<h3>Worst condition combinations</h3>" + html.table(
            worst, formats={k: html.fmt_pct for k in ("miss rate", "lower", "upper")})
    lead = "Where in the operational design domain the model misses objects."
    return html.Section("conditions", title, body, lead)
