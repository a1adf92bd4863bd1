"""Which sweep axes drive misses: main effects and two-way interactions over the design.

The unit is the episode (frames of one episode are correlated): the response is an
episode's miss fraction over its safety-critical object-frames (over all object-frames
when the run has too few safety-critical ones), weighted by its object-frame count.
Axes are factors (numeric axes with more than :data:`MAX_LEVELS` values are binned into
quintiles). A weighted linear model gives type-II sums of squares, as in a factorial
DOE analysis: a main effect is tested against the model with every main effect, a two-way
interaction A×B against the main-effects model plus A×B. F tests, and partial η² =
SS / (SS + SS_residual) as the effect size. Unbalanced designs (random or one-at-a-time
sweeps) are handled by the type-II comparison of nested models.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from simtest.metrics.safety import miss_rates
from simtest.report import html, plots
from simtest.report.context import ReportContext

MAX_LEVELS = 6
MIN_CRITICAL_EPISODES = 20


def episode_table(ctx: ReportContext) -> tuple[pd.DataFrame, str]:
    """Per episode: axis values, object-frames ``n``, ``misses`` and ``rate``; plus the outcome's name."""
    gt = ctx.gt
    crit = gt[gt["critical"].astype(bool)]
    use_crit = crit.groupby(["cell", "episode"]).ngroups >= MIN_CRITICAL_EPISODES
    rows, outcome = (crit, "safety-critical miss fraction") if use_crit else (gt, "miss fraction (all objects)")
    axes = list(ctx.roles.all)
    ep = (rows.assign(miss=(~rows["detected"].astype(bool)).astype(int))
          .groupby(["cell", "episode", *axes], observed=True, dropna=False)["miss"].agg(n="size", misses="sum").reset_index())
    ep["rate"] = ep["misses"] / ep["n"]
    return ep, outcome


def factors(ep: pd.DataFrame, axes: list[str]) -> dict[str, pd.Series]:
    """Axes that vary, as string-valued factors (many-valued numeric axes binned into quintiles)."""
    out = {}
    for a in axes:
        col = ep[a]
        if col.nunique(dropna=False) < 2:
            continue
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and col.nunique() > MAX_LEVELS:
            col = pd.qcut(col.astype(float), 5, duplicates="drop")
        out[a] = col.astype(str)
    return out


def _dummies(f: pd.Series) -> np.ndarray:
    levels = sorted(f.unique())
    return np.column_stack([(f == lv).to_numpy(float) for lv in levels[1:]])


def design(fs: dict[str, pd.Series], mains: list[str], pairs: list[tuple[str, str]]) -> np.ndarray:
    """Intercept, treatment-coded main effects and their pairwise products."""
    n = len(next(iter(fs.values())))
    cols = [np.ones((n, 1))]
    d = {a: _dummies(fs[a]) for a in set(mains) | {x for p in pairs for x in p}}
    cols += [d[a] for a in mains]
    for a, b in pairs:
        cols.append(np.einsum("ni,nj->nij", d[a], d[b]).reshape(n, -1))
    return np.hstack(cols)


def _fit(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, int]:
    sw = np.sqrt(w)
    Xw, yw = X * sw[:, None], y * sw
    beta, _, rank, _ = np.linalg.lstsq(Xw, yw, rcond=None)
    r = yw - Xw @ beta
    return float(r @ r), int(rank)


def anova(ep: pd.DataFrame, fs: dict[str, pd.Series]) -> pd.DataFrame:
    """Type-II ANOVA table: term, df, SS, F, p, partial η² (main effects, then interactions)."""
    y, w = ep["rate"].to_numpy(float), ep["n"].to_numpy(float)
    mains = list(fs)
    rss_full, rank_full = _fit(design(fs, mains, []), y, w)
    df_res = len(y) - rank_full
    rows = []
    for a in mains:
        rss_red, rank_red = _fit(design(fs, [m for m in mains if m != a], []), y, w)
        rows.append(_row(a, rss_red - rss_full, rank_full - rank_red, rss_full, df_res))
    for a, b in itertools.combinations(mains, 2):
        rss_int, rank_int = _fit(design(fs, mains, [(a, b)]), y, w)
        rows.append(_row(f"{a} × {b}", rss_full - rss_int, rank_int - rank_full, rss_int, len(y) - rank_int))
    return pd.DataFrame(rows)


def _row(term: str, ss: float, df: int, rss: float, df_res: int) -> dict:
    ss = max(ss, 0.0)
    if df <= 0 or df_res <= 0 or rss <= 0:
        return {"term": term, "df": df, "SS": ss, "F": np.nan, "p": np.nan, "partial_eta2": np.nan}
    f = (ss / df) / (rss / df_res)
    return {"term": term, "df": df, "SS": ss, "F": f, "p": float(stats.f.sf(f, df, df_res)),
            "partial_eta2": ss / (ss + rss)}


def section(ctx: ReportContext) -> html.Section:
    title = "What drives misses"
    ep, outcome = episode_table(ctx)
    fs = factors(ep, list(ctx.roles.all))
    if not fs:
        return html.Section("drivers", title, '<p class="note">No sweep axis varies in this run.</p>')
    table = anova(ep, fs)
    parts = []
    mains = table[~table["term"].str.contains("×")].sort_values("partial_eta2", ascending=False)
    # main-effect plot: marginal miss rates by level, one panel per axis (strongest first)
    rows = ctx.gt[ctx.gt["critical"].astype(bool)] if outcome.startswith("safety") else ctx.gt
    rows = rows.assign(**{a: s for a, s in factors(rows, list(fs)).items()})
    axes_order = list(mains["term"])
    ncols = min(5, len(axes_order))
    nrows = int(np.ceil(len(axes_order) / ncols))
    fig, axs = plots.new_figure(2.6 * ncols + 0.6, 2.5 * nrows, ncols=ncols, nrows=nrows)
    top = 0.0
    for ax, a in zip(axs.flat, axes_order):
        mr = miss_rates(rows, [a], method="clustered", confidence=ctx.confidence)
        plots.error_points(ax, mr, x=a, y="miss_rate", series=None)
        ax.set_title(a)
        plots.rate_axes(ax, ylabel="miss rate")
        ax.tick_params(axis="x", labelrotation=30)
        top = max(top, float(mr["upper"].max()))
    for ax in axs.flat[len(axes_order):]:
        ax.set_axis_off()
    for ax in axs.flat[: len(axes_order)]:
        ax.set_ylim(0, top * 1.05 + 1e-9)
    parts.append(html.figure(plots.to_svg(fig, "main-effects"),
                             f"Main effects: {outcome} by axis level (marginal over the other axes), with "
                             f"{ctx.confidence:.0%} episode-clustered intervals; panels ordered by effect size."))
    fmt = {"p": lambda v: html.fmt_num(v, 2), "partial_eta2": lambda v: html.fmt_num(v, 2),
           "SS": lambda v: html.fmt_num(v, 3), "F": lambda v: html.fmt_num(v, 3)}
    parts.append("<h3>Main effects</h3>" + html.table(mains, formats=fmt))
    inter = table[table["term"].str.contains("×")].sort_values("partial_eta2", ascending=False)
    if len(inter):
        parts.append("<h3>Two-way interactions</h3>" + html.table(inter, formats=fmt))
        best = inter.iloc[0]
        a, b = [s.strip() for s in best["term"].split("×")]
        mr = miss_rates(rows, [a, b], method="clustered", confidence=ctx.confidence)
        fig, axs = plots.new_figure(5.2, 2.8)
        ax = axs[0, 0]
        cats = sorted(mr[a].unique())
        for i, (lv, g) in enumerate(mr.groupby(b)):
            g = g.set_index(a).reindex(cats)
            ax.plot(range(len(cats)), g["miss_rate"], marker="o", color=plots.color_for(str(lv), i), label=f"{b}={lv}")
        ax.set_xticks(range(len(cats)), cats)
        ax.set_xlabel(a)
        plots.rate_axes(ax, ylabel="miss rate")
        ax.set_title(f"strongest interaction: {a} × {b}")
        ax.legend(fontsize=8)
        parts.append(html.figure(plots.to_svg(fig, "interaction"),
                                 "Non-parallel lines mean the effect of one axis depends on the level of the other."))
    parts.append(f'<p class="note">Response: per-episode {outcome} ({len(ep)} episodes), weighted by object-frames; '
                 "type-II sums of squares of a weighted linear model with every axis as a factor; F tests against the "
                 "residual of the model containing the term; partial η² = SS / (SS + SS_residual).</p>")
    lead = "Which sweep axes, and which pairs of axes, explain the misses."
    return html.Section("drivers", title, "".join(parts), lead)
