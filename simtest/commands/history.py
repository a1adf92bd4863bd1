"""``simtest history RESULTS_ROOT [--out DIR]``: trend of key metrics per model version across runs.

Scans every run folder under RESULTS_ROOT with DuckDB, prints one line per run (versions
in order) and writes ``history.html``, ``history.csv`` and ``history.json`` (default
folder: RESULTS_ROOT/history). Exit 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from simtest.report.history import build_history
from simtest.report.history_page import write_outputs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simtest history", description="trend of key metrics per model version across runs")
    parser.add_argument("root", help="results root holding run folders (searched recursively)")
    parser.add_argument("--out", default=None, help="output folder (default: ROOT/history)")
    parser.add_argument("--alpha", type=float, default=0.95, help="CVaR level (default 0.95)")
    args = parser.parse_args(argv)
    try:
        h = build_history(args.root, alpha=args.alpha)
        files = write_outputs(h, Path(args.root), Path(args.out) if args.out else Path(args.root) / "history")
    except ValueError as e:
        print(f"simtest history: error: {e}", file=sys.stderr)
        return 2
    cols = ["version", "run_id", "created", "object_frames", "miss_rate", "crit_pedestrian_miss", f"cvar_{args.alpha:g}", "verdict"]
    print(h.runs[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"versions ordered by {h.ordered_by}: {' < '.join(h.versions)}\nreport: {files.html}\ncsv:    {files.csv}")
    return 0
