"""Matplotlib figures rendered to inline SVG strings for the self-contained reports.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot global state).
Each SVG gets a unique id salt so several can live in one HTML page without clashing
clip-path or marker ids, and carries no date, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

CLASS_COLORS = {"pedestrian": "#c2372b", "cyclist": "#2a8a4a", "vehicle": "#1f5f99"}
PALETTE = ("#1f5f99", "#c2372b", "#2a8a4a", "#8a5a00", "#6a3d9a", "#0f7c8c", "#b15928", "#555555")
MISS_CMAP = LinearSegmentedColormap.from_list("miss", ["#f4fbf6", "#fde9a9", "#f08a4b", "#b3261e", "#5c0f0b"])

_STYLE = {
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e8ee",
    "grid.linewidth": 0.7,
    "legend.frameon": False,
    "svg.fonttype": "none",
    "font.family": ["DejaVu Sans", "sans-serif"],
}


def color_for(name: str, index: int) -> str:
    """Stable colour: fixed per known class, else from the palette by position."""
    return CLASS_COLORS.get(name, PALETTE[index % len(PALETTE)])


def new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1) -> tuple[Figure, np.ndarray]:
    """A figure of ``width`` × ``height`` inches and its axes as a 2-D array."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def to_svg(fig: Figure, key: str) -> str:
    """Serialise a figure to an ``<svg>`` element string (no XML prolog), ids salted by ``key``."""
    buf = io.StringIO()
    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": f"simtest-{key}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "simtest"})
    text = buf.getvalue()
    svg = text[text.find("<svg"):]
    # make every element id unique within the page (matplotlib numbers groups per figure)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', svg)
    # let CSS scale the figure down (viewBox kept), never up beyond ~1.1 px per point
    max_px = round(fig.get_figwidth() * 72 * 1.1)
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', rf'<svg\1 role="img" style="max-width:{max_px}px;width:100%"',
                  svg, count=1)


def rate_axes(ax, *, ylabel: str, percent: bool = True) -> None:
    ax.set_ylabel(ylabel)
    if percent:
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))


def band_lines(
    ax,
    curves: pd.DataFrame,
    *,
    x: str,
    y: str,
    series: str,
    lower: str = "lower",
    upper: str = "upper",
) -> None:
    """One line per value of ``series`` with a shaded ``lower``–``upper`` confidence band."""
    for i, (name, g) in enumerate(curves.groupby(series, sort=True)):
        g = g.sort_values(x)
        c = color_for(str(name), i)
        ax.fill_between(g[x], g[lower], g[upper], color=c, alpha=0.16, linewidth=0)
        ax.plot(g[x], g[y], marker="o", ms=3.5, color=c, label=str(name), linewidth=1.6)


def heatmap(
    ax,
    values: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    vmax: float,
    title: str,
) -> object:
    """Annotated heatmap of a rows × columns table of rates (NaN cells left blank)."""
    data = values.to_numpy(dtype=float)
    im = ax.imshow(np.ma.masked_invalid(data), cmap=MISS_CMAP, vmin=0.0, vmax=max(vmax, 1e-9), aspect="auto")
    ax.set_xticks(range(values.shape[1]), [str(c) for c in values.columns])
    ax.set_yticks(range(values.shape[0]), [str(r) for r in values.index])
    ax.set_xlabel(str(values.columns.name or ""))
    ax.set_ylabel(str(values.index.name or ""))
    ax.grid(False)
    ax.set_title(title)
    for (r, c), text in np.ndenumerate(labels.to_numpy(dtype=object)):
        if text:
            dark = np.isfinite(data[r, c]) and data[r, c] > 0.55 * max(vmax, 1e-9)
            ax.text(c, r, text, ha="center", va="center", fontsize=8.5, color="white" if dark else "#1d2733")
    return im


def error_points(
    ax,
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    series: str | None,
    lower: str = "lower",
    upper: str = "upper",
    order: Sequence[str] | None = None,
) -> None:
    """Points with asymmetric error bars over a categorical ``x``, dodged by ``series``."""
    cats = list(order) if order is not None else list(dict.fromkeys(df[x].astype(str)))
    pos = {c: i for i, c in enumerate(cats)}
    groups = [(None, df)] if series is None else list(df.groupby(series, sort=True))
    width = 0.6 / max(len(groups), 1)
    for i, (name, g) in enumerate(groups):
        xs = np.array([pos[str(v)] for v in g[x]], dtype=float) + (i - (len(groups) - 1) / 2) * width
        yv = g[y].to_numpy(float)
        err = np.vstack([yv - g[lower].to_numpy(float), g[upper].to_numpy(float) - yv]).clip(min=0)
        c = color_for(str(name), i) if name is not None else PALETTE[0]
        ax.errorbar(xs, yv, yerr=err, fmt="o", ms=4, capsize=2.5, color=c, label=None if name is None else str(name))
    ax.set_xticks(range(len(cats)), cats)


def legend_below(fig: Figure, axes: np.ndarray) -> None:
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6))


def histogram_by(
    ax,
    samples: Mapping[str, np.ndarray],
    *,
    bins: np.ndarray,
    xlabel: str,
) -> None:
    """Overlaid step histograms, one per key (e.g. per class)."""
    for i, (name, vals) in enumerate(samples.items()):
        if len(vals):
            ax.hist(vals, bins=bins, histtype="step", linewidth=1.6, color=color_for(name, i), label=f"{name} (n={len(vals)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("tracks")
