"""``simtest report RUN_DIR [--out DIR] [--gates FILE] [--alpha A] [--seed S]``.

Writes the self-contained ``report.html``, ``summary.json`` and ``junit.xml`` of a run
(into the run folder unless ``--out``). Exit code as ``simtest evaluate``: 0 when every
gate passes, 1 when any fails or is inconclusive, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from simtest.report.build import build_report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simtest report", description="write the HTML report, summary.json and junit.xml of a run")
    parser.add_argument("run_dir", help="run folder holding manifest.json and cells/")
    parser.add_argument("--out", default=None, help="output folder (default: the run folder)")
    parser.add_argument("--gates", default=None, help="gate file (default: the run's config, else conf/safety/default.yaml)")
    parser.add_argument("--alpha", type=float, default=0.95, help="CVaR level in [0, 1) (default 0.95)")
    parser.add_argument("--confidence", type=float, default=0.95, help="level of the two-sided intervals in plots (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals (default 0)")
    args = parser.parse_args(argv)
    try:
        files = build_report(args.run_dir, args.out, gates_path=args.gates, alpha=args.alpha,
                             confidence=args.confidence, seed=args.seed)
    except ValueError as e:  # StoreError, GateError: the message names the file/key and the fix
        print(f"simtest report: error: {e}", file=sys.stderr)
        return 2
    summary = json.loads(files.summary.read_text())
    print(f"verdict: {summary['verdict']}\nreport:  {files.html}\nsummary: {files.summary}\njunit:   {files.junit}")
    return int(summary["exit_code"])
