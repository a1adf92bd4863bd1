"""Tail risk: VaR and CVaR with intervals, the loss distribution and the worst episodes with thumbnails.

Thumbnails are the frames the runner keeps per episode:
``RUN_DIR/thumbs/<cell>/ep<episode:03d>_camera.jpg`` and ``..._bev.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simtest.metrics.risk import episode_losses, episode_probabilities
from simtest.report import html, plots
from simtest.report.context import ReportContext

THUMBS = (("camera", "_camera.jpg", "image/jpeg"), ("bird's-eye", "_bev.png", "image/png"))


def thumbnail_paths(run_dir: Path, cell: str, episode: int) -> list[tuple[str, Path, str]]:
    base = run_dir / "thumbs" / cell / f"ep{int(episode):03d}"
    return [(label, base.with_name(base.name + suffix), mime) for label, suffix, mime in THUMBS]


def thumbnails_html(run_dir: Path, cell: str, episode: int) -> str:
    """Inline camera and BEV thumbnails of one episode, or a 'no thumbnail kept' note each."""
    out = []
    for label, path, mime in thumbnail_paths(run_dir, cell, episode):
        if path.is_file():
            out.append(f'<img alt="{html.esc(label)} frame of {html.esc(cell)} episode {episode}" '
                       f'title="{html.esc(label)}" src="{html.data_uri(path.read_bytes(), mime)}">')
        else:
            out.append(f'<span class="nothumb">no thumbnail kept ({html.esc(label)})</span>')
    return '<div class="thumbs">' + "".join(out) + "</div>"


def section(ctx: ReportContext, shown: int = 8) -> html.Section:
    risk = ctx.summary.get("risk") or {}
    title = "Tail risk (CVaR)"
    if not risk:
        return html.Section("tail-risk", title, '<p class="note">No risk summary in summary.json.</p>')
    a, conf = risk["alpha"], risk["confidence"]
    kp = html.kpis([
        ("mean loss", html.fmt_pct(risk["mean"]), ""),
        (f"VaR {a:.0%}", f"{html.fmt_pct(risk['var'])}", ""),
        (f"CVaR {a:.0%}", f"{html.fmt_pct(risk['cvar'])}", ""),
    ])
    ci = pd.DataFrame([
        {"measure": f"VaR at α = {a:g}", "estimate": risk["var"], "lower": risk["var_lower"], "upper": risk["var_upper"]},
        {"measure": f"CVaR at α = {a:g}", "estimate": risk["cvar"], "lower": risk["cvar_lower"], "upper": risk["cvar_upper"]},
        {"measure": "mean", "estimate": risk["mean"], "lower": None, "upper": None},
    ])
    parts = [kp, html.table(ci, formats={k: html.fmt_pct for k in ("estimate", "lower", "upper")}),
             f'<p class="note">Loss per episode: {html.esc(risk["loss"])} over {risk["episodes"]} episodes; '
             f"episodes weighted by the operational-design-domain prior: {'yes' if risk['weighted'] else 'no'}. "
             f"Intervals: {conf:.0%} stratified episode bootstrap ({risk.get('n_boot', 0)} replicates). CVaR is the "
             "expected loss in the worst (1 − α) of weighted driving, counting the boundary atom exactly "
             "(Rockafellar–Uryasev).</p>"]
    weights = {c: r.weight for c, r in ctx.manifest.cells.items()}
    ep = episode_losses(ctx.rows, loss=risk["loss"])
    probs = episode_probabilities(ep, weights if risk["weighted"] else None)
    fig, axs = plots.new_figure(7.5, 2.6)
    ax = axs[0, 0]
    bins = np.linspace(0, max(float(ep["loss"].max()), 1e-3) * 1.02, 30)
    ax.hist(ep["loss"], bins=bins, weights=probs, color="#9fb7cc", edgecolor="#1f5f99", linewidth=0.6)
    ax.axvline(risk["var"], color="#8a5a00", linestyle="--", label=f"VaR {a:g}")
    ax.axvline(risk["cvar"], color="#b3261e", label=f"CVaR {a:g}")
    ax.axvline(risk["mean"], color="#2a8a4a", linestyle=":", label="mean")
    ax.set_xlabel("episode loss")
    ax.set_ylabel("probability (ODD-weighted)")
    ax.legend()
    parts.append(html.figure(plots.to_svg(fig, "loss-distribution"), "Distribution of the per-episode loss."))
    tail = pd.DataFrame(risk.get("tail_episodes") or [])
    if len(tail):
        parts.append(f"<h3>Worst episodes (the {min(shown, len(tail))} largest losses in the tail)</h3>")
        cards = []
        for rank, r in enumerate(tail.head(shown).itertuples(index=False), start=1):
            axes = ctx.manifest.cells[r.cell].axes if r.cell in ctx.manifest.cells else {}
            plain = ",".join(f"{k}={v}" for k, v in axes.items())
            cell_note = "" if r.cell == plain else f"cell {html.esc(r.cell)} · "
            cards.append(
                f'<div class="episode"><div class="hd"><span>#{rank} · episode {int(r.episode)}</span>'
                f'<span class="loss">loss {html.fmt_pct(r.loss)}</span></div>'
                f'<div class="cond">{html.esc(ctx.describe_cell(axes) or r.cell)}</div>'
                f'<div class="cond">{cell_note}share of tail {html.fmt_pct(r.share)} · '
                f"contribution to CVaR {html.fmt_pct(r.contribution)}</div>"
                f"{thumbnails_html(ctx.run_dir, r.cell, int(r.episode))}</div>")
        parts.append('<div class="episodes">' + "".join(cards) + "</div>")
    cells = pd.DataFrame(risk.get("tail_cells") or [])
    if len(cells):
        cells["conditions"] = [ctx.describe_cell(ctx.manifest.cells[c].axes) if c in ctx.manifest.cells else ""
                               for c in cells["cell"]]
        parts.append("<h3>Cells that make up the tail</h3>" + html.table(
            cells[["conditions", "share", "contribution"]].head(12),
            formats={"share": html.fmt_pct, "contribution": html.fmt_pct}))
    lead = "How bad the worst part of the operational design domain is, not just the average."
    return html.Section("tail-risk", title, "".join(parts), lead)
