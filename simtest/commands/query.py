"""``simtest query RUN_DIR "SQL"``: run DuckDB SQL over a run's result rows.

Views: ``results`` (every row of every cell file) and ``cells`` (the manifest's
per-cell records with their axis values). Example::

    simtest query runs/nightly "SELECT cls, avg(NOT detected) AS miss_rate
                                FROM results WHERE row_type = 'gt' GROUP BY cls"
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simtest.store import query


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simtest query", description="run DuckDB SQL over a run's result rows")
    parser.add_argument("run_dir", help="run folder holding manifest.json and cells/")
    parser.add_argument("sql", help="SQL over the views 'results' and 'cells'")
    parser.add_argument("--max-rows", type=int, default=200, help="rows to print (default 200)")
    args = parser.parse_args(argv)
    try:
        df = query(args.run_dir, args.sql)
    except ValueError as e:
        print(f"simtest query: error: {e}", file=sys.stderr)
        return 2
    with_rows = df.head(args.max_rows)
    print(with_rows.to_string(index=False))
    if len(df) > args.max_rows:
        print(f"... {len(df) - args.max_rows} more rows (use --max-rows or LIMIT)")
    return 0
