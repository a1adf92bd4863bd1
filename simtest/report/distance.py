"""Distance-band breakdown of the miss rate and the distribution of first-detection distance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simtest.metrics.safety import miss_rates, track_metrics
from simtest.report import html, plots
from simtest.report.context import DISTANCE_BANDS, ReportContext


def band_labels(edges: tuple[float, ...] = DISTANCE_BANDS) -> list[str]:
    return [f"{lo:g}–{hi:g} m" if np.isfinite(hi) else f"≥ {lo:g} m" for lo, hi in zip(edges[:-1], edges[1:])]


def with_band(gt: pd.DataFrame, edges: tuple[float, ...] = DISTANCE_BANDS) -> pd.DataFrame:
    """Rows with a categorical ``distance_band`` column ([lo, hi) metres)."""
    band = pd.cut(gt["distance"].astype(float), bins=list(edges), right=False, labels=band_labels(edges))
    return gt.assign(distance_band=band.astype(str))


def section(ctx: ReportContext) -> html.Section:
    gt = with_band(ctx.gt)
    order = [b for b in band_labels() if b in set(gt["distance_band"])]
    parts = []
    fig, axes = plots.new_figure(9.6, 3.0, ncols=2)
    tables = []
    for ax, (label, sub) in zip(axes.flat, (("all objects", gt), ("safety-critical", gt[gt["critical"].astype(bool)]))):
        if sub.empty:
            ax.set_axis_off()
            continue
        mr = miss_rates(sub, ["distance_band", "cls"], method="clustered", confidence=ctx.confidence)
        plots.error_points(ax, mr, x="distance_band", y="miss_rate", series="cls",
                           order=[b for b in order if b in set(mr["distance_band"])])
        plots.rate_axes(ax, ylabel="miss rate")
        ax.set_title(f"miss rate by distance: {label}")
        ax.tick_params(axis="x", labelrotation=20)
        tables.append(mr.assign(scope=label))
    plots.legend_below(fig, axes)
    parts.append(html.figure(plots.to_svg(fig, "distance-bands"),
                             f"Points: miss rate; bars: two-sided {ctx.confidence:.0%} episode-clustered intervals."))
    if tables:
        t = pd.concat(tables)
        t["distance_band"] = pd.Categorical(t["distance_band"], categories=order, ordered=True)
        t = t.sort_values(["scope", "cls", "distance_band"])[["scope", "cls", "distance_band", "n", "misses",
                                                              "miss_rate", "lower", "upper", "episodes"]]
        parts.append("<details><summary>Distance-band table</summary>" + html.table(
            t.astype({"distance_band": str}), formats={k: html.fmt_pct for k in ("miss_rate", "lower", "upper")}) + "</details>")

    tracks = track_metrics(ctx.gt, ctx.frame_dt, critical_only=True)
    parts.append("<h3>First-detection distance of safety-critical objects</h3>")
    if tracks.empty:
        parts.append('<p class="note">No safety-critical objects in this run.</p>')
    else:
        det = tracks[tracks["first_detection_distance"].notna()]
        top = float(np.nanmax(tracks["first_distance"])) if len(tracks) else 60.0
        bins = np.linspace(0.0, max(top, 1.0), 25)
        fig, axes = plots.new_figure(9.6, 2.8, ncols=2)
        plots.histogram_by(axes[0, 0], {c: g["first_detection_distance"].to_numpy() for c, g in det.groupby("cls")},
                           bins=bins, xlabel="distance at first detection (m)")
        axes[0, 0].set_title("first-detection distance (detected tracks)")
        for i, (cls, g) in enumerate(det.groupby("cls")):
            v = np.sort(g["first_detection_distance"].to_numpy())
            axes[0, 1].step(v[::-1], np.arange(1, v.size + 1) / len(tracks[tracks["cls"] == cls]), where="post",
                            color=plots.color_for(cls, i), label=cls)
        axes[0, 1].set_xlabel("distance d (m)")
        plots.rate_axes(axes[0, 1], ylabel="tracks detected at ≥ d")
        axes[0, 1].set_title("share of tracks detected by distance d")
        plots.legend_below(fig, axes)
        parts.append(html.figure(plots.to_svg(fig, "first-detection"),
                                 "Per safety-critical track (one object in one episode): the distance at its first "
                                 "detection while critical. Right: the share of all tracks of a class already detected "
                                 "at distance d or farther (tracks never detected keep the curve below 100 %)."))
        q = tracks.groupby("cls").agg(
            tracks=("frames", "size"),
            never_detected=("first_detection_distance", lambda s: int(s.isna().sum())),
            median_first_detection_m=("first_detection_distance", "median"),
            p10_first_detection_m=("first_detection_distance", lambda s: s.quantile(0.10)),
            median_longest_miss_s=("longest_miss_s", "median"),
            max_longest_miss_s=("longest_miss_s", "max"),
        ).reset_index().rename(columns={
            "cls": "class", "never_detected": "never detected", "median_first_detection_m": "median first detection (m)",
            "p10_first_detection_m": "p10 first detection (m)", "median_longest_miss_s": "median longest miss (s)",
            "max_longest_miss_s": "max longest miss (s)"})
        parts.append(html.table(q))
        parts.append(f'<p class="note">Longest miss run: consecutive missed frames × {ctx.frame_dt:g} s per frame. '
                     "p10: 10 % of detected tracks are first detected closer than this.</p>")
    lead = "How the miss rate depends on range, and how early safety-critical objects are first seen."
    return html.Section("distance", "Distance bands and first detection", "".join(parts), lead)
