"""The gate table: PASS / FAIL / INCONCLUSIVE with bounds, limit and further samples needed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from simtest.report import html
from simtest.report.context import ReportContext


def gate_frame(gates: list[dict[str, Any]]) -> pd.DataFrame:
    """Gate dicts (``GateResult.to_dict``) as display rows."""
    rows = []
    for g in gates:
        filters = ", ".join(f"{k}={v}" for k, v in (g.get("filters") or {}).items())
        rows.append({
            "gate": g["name"], "status": html.badge(g["status"]), "subset": filters,
            "miss rate": g["actual_value"], "lower": g["lower"], "upper": g["upper"], "limit": g["limit"],
            "confidence": g["confidence"], "misses / n": f"{g['misses']:,} / {g['n']:,}",
            "episodes": g.get("episodes"), "design effect": g.get("design_effect"),
            "further miss-free samples": g["samples_needed"],
        })
    return pd.DataFrame(rows)


def section(ctx: ReportContext) -> html.Section:
    s = ctx.summary
    gates = s.get("gates") or []
    if not gates:
        body = '<p class="note">No gates were evaluated.</p>'
    else:
        sci = lambda v: html.fmt_num(v, 3)  # noqa: E731 - small formatter
        body = html.table(gate_frame(gates), raw=("status",), formats={
            "miss rate": sci, "lower": sci, "upper": sci, "limit": sci, "confidence": html.fmt_pct,
            "design effect": lambda v: html.fmt_num(v, 3), "further miss-free samples": html.fmt_num})
    units = sorted({str(g.get("units", "")) for g in gates})
    notes = "".join(f'<div class="warn">{html.esc(n)}</div>' for n in s.get("notes") or [])
    body = notes + body + (
        f'<p class="note">Units: {html.esc("; ".join(units) or "–")}. Gate file: {html.esc(s.get("gates_source", "–"))}. A gate PASSes when the one-sided upper '
        "bound of the miss rate is within its limit and FAILs when the lower bound exceeds it; otherwise it is "
        "INCONCLUSIVE. Bounds are one-sided at the gate's confidence and episode-clustered (design effect ≥ 1: frames "
        "of one episode are not independent). Further miss-free samples: object-frames without a miss after which "
        "the gate would pass at the measured design effect.</p>")
    lead = f"Verdict: {s.get('verdict', '–')}. Safety gates decide on the confidence bound, never on the point estimate."
    return html.Section("gates", "Safety gates", body, lead)
