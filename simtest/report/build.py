"""Assemble a run's report: ``report.html`` (self-contained), ``summary.json`` and ``junit.xml``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simtest.metrics.summary import build_summary, write_summary
from simtest.report import conditions, degradation, distance, effects, fmea, gates, html, metadata, patch, tail
from simtest.report.context import ReportContext
from simtest.report.junit import Case, junit_xml
from simtest.store import RunStore, atomic_write_bytes

REPORT = "report.html"
JUNIT = "junit.xml"


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    summary: Path
    junit: Path


def _banner(ctx: ReportContext) -> str:
    s = ctx.summary
    statuses = [g["status"] for g in s.get("gates") or []]
    crit = {r["cls"]: r for r in s.get("miss_rates", {}).get("by_class_critical", []) if r.get("critical")}
    risk = s.get("risk") or {}
    cells = s.get("cells", {})
    tiles = [("verdict", s.get("verdict", "–"), html.STATUS_CLASS.get(s.get("verdict", ""), "")),
             ("gates pass / fail / inconclusive",
              f"{statuses.count('PASS')} / {statuses.count('FAIL')} / {statuses.count('INCONCLUSIVE')}", "")]
    for cls in ("pedestrian", "cyclist", "vehicle"):
        if cls in crit:
            tiles.append((f"critical {cls} miss rate", html.fmt_pct(crit[cls]["miss_rate"]), ""))
    if risk:
        tiles.append((f"CVaR {risk['alpha']:g}", html.fmt_pct(risk["cvar"]), ""))
    tiles.append(("cells done / planned", f"{cells.get('done', 0)} / {cells.get('planned', 0)}",
                  "inconclusive" if cells.get("failed") else ""))
    tiles.append(("object-frames", f"{s.get('rows', {}).get('gt', 0):,}", ""))
    return html.kpis(tiles)


def junit_cases(summary: dict[str, Any]) -> list[Case]:
    """One case per gate (INCONCLUSIVE counts as a failure, as for ``simtest evaluate``) and per failed cell."""
    cases = []
    for g in summary.get("gates") or []:
        text = (f"{g['status']}: miss rate {g['actual_value']:.3g} ({g['misses']}/{g['n']}), bounds "
                f"[{g['lower']:.3g}, {g['upper']:.3g}] at {g['confidence']:g}, limit {g['limit']:.3g} {g.get('units', '')}")
        if g["status"] != "PASS":
            text += f"; {g['samples_needed']:,} further miss-free samples would be needed to pass"
        cases.append(Case(name=g["name"], classname="simtest.gates", outcome="passed" if g["status"] == "PASS" else "failure",
                          message=text, details=text, properties={"status": g["status"], "upper": f"{g['upper']:.6g}",
                                                                  "limit": f"{g['limit']:.6g}"}))
    for cell in summary.get("cells", {}).get("failed") or []:
        cases.append(Case(name=cell, classname="simtest.cells", outcome="error", message="cell failed; see manifest"))
    return cases


def build_report(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    gates_path: str | os.PathLike[str] | None = None,
    alpha: float = 0.95,
    confidence: float = 0.95,
    seed: int = 0,
) -> ReportFiles:
    """Evaluate ``run_dir`` and write the report files into ``out_dir`` (default: the run folder)."""
    store = RunStore(run_dir)
    manifest = store.load_manifest()
    summary = build_summary(run_dir, gates_path, alpha=alpha, seed=seed)
    ctx = ReportContext(run_dir=store.root, manifest=manifest, rows=store.read(), summary=summary,
                        confidence=confidence, seed=seed)
    built = [gates.section(ctx), degradation.section(ctx), conditions.section(ctx), tail.section(ctx),
             distance.section(ctx), fmea.section(ctx), effects.section(ctx), patch.section(ctx), metadata.section(ctx)]
    model = manifest.model or {}
    title = f"simtest safety report — {model.get('name', 'model')} {model.get('version', '')}".strip()
    subtitle = (f"run {manifest.run_id} · created {manifest.created} · model hash {str(model.get('hash', '–'))[:12]} · "
                f"config {manifest.config_hash[:12]} · root seed {manifest.root_seed}")
    doc = html.page(title, subtitle, [s for s in built if s is not None], banner=_banner(ctx),
                    footer=f"simtest {summary.get('evaluated_with', '')} · self-contained report, no external resources")
    out = Path(out_dir) if out_dir is not None else store.root
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / REPORT
    atomic_write_bytes(html_path, doc.encode("utf-8"))
    summary_path = write_summary(out, summary)
    junit_path = out / JUNIT
    props = {"run_id": manifest.run_id, "model_hash": str(model.get("hash", "")), "verdict": summary.get("verdict", "")}
    atomic_write_bytes(junit_path, junit_xml(f"simtest.{manifest.run_id}", junit_cases(summary), properties=props).encode())
    return ReportFiles(html=html_path, summary=summary_path, junit=junit_path)
