"""``simtest evaluate RUN_DIR [--gates FILE] [--alpha A] [--seed S]``.

Prints the safety-gate table and the CVaR summary of a run, writes
``RUN_DIR/summary.json`` atomically and exits 0 when every gate passes, 1 when
any gate fails or is inconclusive, 2 on bad input (the message names the file
and the key to fix).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from simtest.metrics.summary import build_summary, write_summary

STATUS_STYLE = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow"}


def _fmt(x: Any, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def gate_table(summary: dict[str, Any]) -> Table:
    t = Table(title=f"Safety gates - run {summary['run_id']} ({summary['gates_source']})")
    for col in ("gate", "status", "miss rate", "bounds (1-sided)", "limit", "conf.", "n", "misses", "episodes", "deff", "more samples"):
        t.add_column(col, justify="left" if col in ("gate", "status") else "right")
    for g in summary["gates"]:
        t.add_row(
            g["name"], f"[{STATUS_STYLE[g['status']]}]{g['status']}[/]", _fmt(g["actual_value"]),
            f"[{_fmt(g['lower'])}, {_fmt(g['upper'])}]", _fmt(g["limit"]), _fmt(g["confidence"], ".2f"),
            str(g["n"]), str(g["misses"]), str(g["episodes"]), _fmt(g["design_effect"], ".2f"), str(g["samples_needed"]),
        )
    return t


def risk_table(summary: dict[str, Any]) -> Table:
    r = summary["risk"]
    t = Table(title=f"Tail risk: per-episode loss '{r['loss']}' over {r['episodes']} episodes (alpha = {r['alpha']:g})")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column(f"{r['confidence']:.0%} bootstrap interval", justify="right")
    t.add_row("mean", _fmt(r["mean"], ".4f"), "")
    t.add_row("VaR", _fmt(r["var"], ".4f"), f"[{_fmt(r['var_lower'], '.4f')}, {_fmt(r['var_upper'], '.4f')}]")
    t.add_row("CVaR", _fmt(r["cvar"], ".4f"), f"[{_fmt(r['cvar_lower'], '.4f')}, {_fmt(r['cvar_upper'], '.4f')}]")
    cells = ", ".join(f"{c.get('cell', '?')} ({c['share']:.0%})" for c in r["tail_cells"][:5])
    if cells:
        t.caption = f"tail cells (share of tail probability): {cells}"
    return t


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simtest evaluate", description="print the gate table and CVaR summary of a run; write summary.json")
    parser.add_argument("run_dir", help="run folder holding manifest.json and cells/")
    parser.add_argument("--gates", default=None, help="gate file (default: the run's config, else conf/safety/default.yaml)")
    parser.add_argument("--alpha", type=float, default=0.95, help="CVaR level in [0, 1) (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals (default 0)")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    try:
        summary = build_summary(args.run_dir, args.gates, alpha=args.alpha, seed=args.seed)
        path = write_summary(args.run_dir, summary)
    except ValueError as e:  # StoreError and GateError are ValueErrors with a message naming the fix
        print(f"simtest evaluate: error: {e}", file=sys.stderr)
        return 2
    console.print(gate_table(summary))
    console.print(risk_table(summary))
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}")
    style = STATUS_STYLE[summary["verdict"]]
    console.print(f"verdict: [{style}]{summary['verdict']}[/]  (summary written to {path})")
    return int(summary["exit_code"])
