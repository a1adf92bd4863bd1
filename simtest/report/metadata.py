"""Run metadata for reproduction: config, versions, model hash, seeds and per-cell status."""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata

import pandas as pd

from simtest.report import html
from simtest.report.context import ReportContext

PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "duckdb", "torch", "open3d-cpu", "onnxruntime", "matplotlib")


def environment() -> dict[str, str]:
    """Versions of Python and the key packages where the report was built."""
    env = {"python": sys.version.split()[0], "platform": platform.platform()}
    for p in PACKAGES:
        try:
            env[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            continue
    return env


def section(ctx: ReportContext) -> html.Section:
    m = ctx.manifest
    model = m.model or {}
    items = [("run id", m.run_id), ("created", m.created), ("simtest version", m.simtest_version),
             ("git commit", m.git_commit or "not a git checkout"), ("config hash", m.config_hash),
             ("root seed", m.root_seed), ("model", f"{model.get('name', '–')} {model.get('version', '')}".strip()),
             ("model hash", model.get("hash", "–")), ("axes", ", ".join(f"{k} ({v})" for k, v in m.axes.items())),
             ("report built with", ", ".join(f"{k} {v}" for k, v in environment().items()))]
    cells = pd.DataFrame([{"cell": k, "seed": c.seed, "weight": c.weight, "status": c.status, "rows": c.rows,
                           "attempts": c.attempts, "error": c.error or ""} for k, c in m.cells.items()])
    failed = cells[cells["status"] != "done"]
    parts = [html.definition_list(items)]
    if len(failed):
        parts.append(f'<div class="warn">{len(failed)} of {len(cells)} cells did not finish; their rows are missing '
                     "from every figure.</div>" + html.table(failed))
    parts.append('<p class="note">To reproduce: check out the git commit above, install this simtest version with '
                 "the repository's constraints, and run the config below (its hash must match) with the same root "
                 "seed; cell seeds derive from the root seed and the cell key, so any single cell can be rerun alone."
                 "</p>")
    parts.append("<details><summary>Run config (JSON)</summary><pre class=\"cfg\">"
                 + html.esc(json.dumps(m.config, indent=2, sort_keys=True, default=str)) + "</pre></details>")
    parts.append(f"<details><summary>All {len(cells)} cells: seeds, ODD weights, status</summary>"
                 + html.table(cells, formats={"seed": str, "weight": lambda v: html.fmt_num(v, 3)}) + "</details>")
    return html.Section("metadata", "Run metadata", "".join(parts), "Everything needed to reproduce this run.")
