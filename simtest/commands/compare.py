"""``simtest compare BASE_RUN CANDIDATE_RUN [--out DIR] [--alpha A] [--tolerance T] [--correction holm|fdr]``.

Compares matching cells of two runs pairwise (McNemar on paired outcomes, paired episode
bootstrap; unpaired tests when seeds differ), corrects across cells and writes
``compare.html``, ``compare.json`` and ``compare-junit.xml``. Exit 1 when the candidate
has a significant regression beyond the tolerance (so a nightly job can block the
promotion), 0 otherwise, 2 on bad input (e.g. runs that share no cells).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from simtest.report.compare import POOLED, CompareOptions, check_run_dirs, compare_runs
from simtest.report.compare_page import write_outputs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simtest compare", description="compare a candidate run with a base run (paired statistics)")
    parser.add_argument("base", help="base run folder (e.g. yesterday's model)")
    parser.add_argument("candidate", help="candidate run folder (the model to promote)")
    parser.add_argument("--out", default=None, help="output folder (default: CANDIDATE/compare-<base run id>)")
    parser.add_argument("--alpha", type=float, default=0.05, help="family-wise (holm) or FDR level (default 0.05)")
    parser.add_argument("--tolerance", type=float, default=0.01,
                        help="absolute miss-rate increase tolerated before a significant change counts (default 0.01)")
    parser.add_argument("--correction", choices=("holm", "fdr"), default="holm", help="multiple-test correction (default holm)")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap replicates (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    args = parser.parse_args(argv)
    try:
        check_run_dirs(args.base, args.candidate)
        opts = CompareOptions(alpha=args.alpha, tolerance=args.tolerance, correction=args.correction,
                              n_boot=args.n_boot, seed=args.seed)
        cmp = compare_runs(args.base, args.candidate, opts)
        out = Path(args.out) if args.out else Path(args.candidate) / f"compare-{cmp.base['run_id']}"
        files = write_outputs(cmp, out)
    except ValueError as e:
        print(f"simtest compare: error: {e}", file=sys.stderr)
        return 2
    pooled = cmp.tests[cmp.tests["cell"] == POOLED]
    for _, r in pooled.iterrows():
        print(f"{r['cls']:>11} {r['scope']:>8}: miss {r['miss_base']:.4f} -> {r['miss_cand']:.4f} "
              f"diff {r['diff']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}] p_adj {r['p_adjusted']:.3g} "
              f"MDD {r['mdd']:.4f}  {r['verdict']}")
    print(f"{len(cmp.regressions)} regression(s), {len(cmp.improvements)} improvement(s) over "
          f"{len(cmp.matched_cells)} matched cells\nreport: {files.html}\njson:   {files.json}\njunit:  {files.junit}")
    return 1 if len(cmp.regressions) else 0
