"""Outputs of ``simtest compare``: a self-contained HTML page, JSON and JUnit XML."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simtest.metrics.summary import json_safe
from simtest.report import html, plots
from simtest.report.compare import POOLED, Comparison
from simtest.report.junit import Case, junit_xml
from simtest.store import atomic_write_bytes

COLUMNS = ["cell", "cls", "scope", "pairing", "n_base", "n_cand", "episodes", "miss_base", "miss_cand", "diff",
           "ci_low", "ci_high", "p_exact_mcnemar", "p_value", "p_adjusted", "mdd", "verdict"]


@dataclass(frozen=True)
class CompareFiles:
    html: Path
    json: Path
    junit: Path


def _label(run: dict) -> str:
    m = run.get("model") or {}
    return f"{m.get('name', '?')} {m.get('version', '')} ({run['run_id']})".strip()


def _forest(pooled: pd.DataFrame, tolerance: float) -> str:
    pooled = pooled.sort_values(["scope", "cls"])
    labels = [f"{c} · {s}" for c, s in zip(pooled["cls"], pooled["scope"])]
    fig, axs = plots.new_figure(7.0, 0.45 * len(pooled) + 1.2)
    ax = axs[0, 0]
    y = np.arange(len(pooled))
    ax.axvspan(-tolerance, tolerance, color="#eef2f6", label=f"tolerance ±{tolerance:.1%}")
    ax.axvline(0, color="#5b6775", linewidth=0.8)
    colors = {"REGRESSION": "#b3261e", "IMPROVEMENT": "#1b7f3b", "NO CHANGE": "#1f5f99"}
    for yi, (_, r) in zip(y, pooled.iterrows()):
        ax.errorbar(r["diff"], yi, xerr=[[max(r["diff"] - r["ci_low"], 0)], [max(r["ci_high"] - r["diff"], 0)]],
                    fmt="o", color=colors[r["verdict"]], capsize=3)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(plots.matplotlib.ticker.PercentFormatter(1.0, decimals=1))
    ax.set_xlabel("miss rate: candidate − base (positive = candidate worse)")
    ax.legend(loc="lower right", fontsize=8)
    return plots.to_svg(fig, "compare-forest")


HEADERS = {"n_base": "n base", "n_cand": "n cand.", "miss_base": "miss base", "miss_cand": "miss cand.",
           "diff": "Δ miss", "ci_low": "Δ low", "ci_high": "Δ high", "p_exact_mcnemar": "p exact",
           "p_value": "p", "p_adjusted": "p adj.", "mdd": "MDD"}


def _table(df: pd.DataFrame, *, drop: tuple[str, ...] = ()) -> str:
    shown = df[[c for c in COLUMNS if c in df.columns and c not in drop]].copy()
    shown["verdict"] = [html.badge(v) for v in shown["verdict"]]
    p = lambda v: html.fmt_num(v, 2)  # noqa: E731 - small formatter
    fmt = {"miss_base": html.fmt_pct, "miss_cand": html.fmt_pct, "diff": html.fmt_pct, "ci_low": html.fmt_pct,
           "ci_high": html.fmt_pct, "mdd": html.fmt_pct, "p_exact_mcnemar": p, "p_value": p, "p_adjusted": p}
    shown = shown.rename(columns=HEADERS)
    return html.table(shown, raw=("verdict",), formats={HEADERS.get(k, k): f for k, f in fmt.items()})


def render_html(cmp: Comparison) -> str:
    o, t = cmp.options, cmp.tests
    verdict = "REGRESSION" if len(cmp.regressions) else "NO REGRESSION"
    n_paired = sum(v == "paired" for v in cmp.pairing.values())
    banner = html.kpis([
        ("verdict", verdict, "fail" if len(cmp.regressions) else "pass"),
        ("regressions", str(len(cmp.regressions)), "fail" if len(cmp.regressions) else ""),
        ("improvements", str(len(cmp.improvements)), "pass" if len(cmp.improvements) else ""),
        ("matched cells (paired)", f"{len(cmp.matched_cells)} ({n_paired})", ""),
        ("tests in family", str(int(t["p_value"].notna().sum())), ""),
    ])
    pooled = t[t["cell"] == POOLED]
    ped = pooled[(pooled["cls"] == "pedestrian") & (pooled["scope"] == "critical")]
    mdd_text = (f" For safety-critical pedestrians the smallest increase these sample sizes detect with "
                f"{o.power:.0%} power is {html.fmt_pct(ped['mdd'].iloc[0])}." if len(ped) else "")
    method = (
        f"Paired cells (same cell seed, identical ground truth): McNemar on the paired object-frame outcomes — the exact "
        f"test is shown, the decision uses its episode-clustered form (Durkalski 2003) referred to F(1, K−1); interval: "
        f"paired bootstrap over episodes within cells ({o.n_boot} replicates). Unpaired cells (different seeds): "
        f"cluster-robust two-sample test with Satterthwaite t and an episode bootstrap per run. Correction across all "
        f"{int(t['p_value'].notna().sum())} tests: {'Holm (family-wise)' if o.correction == 'holm' else 'Benjamini–Hochberg (FDR)'} "
        f"at α = {o.alpha:g}. A regression needs p_adjusted < α and a difference above the tolerance {o.tolerance:.2%}; "
        f"an improvement symmetrically. MDD: smallest difference detectable with {o.power:.0%} power at the per-test "
        f"level α/m (Bonferroni, conservative).{mdd_text}")
    sections = [html.Section("summary", "Pooled over all matched cells",
                             html.figure(_forest(pooled, o.tolerance),
                                         f"Difference in miss rate with {o.confidence:.0%} intervals, per class and "
                                         "scope (safety-critical objects / all objects).") + _table(pooled, drop=("cell",)),
                             method)]
    flagged = t[(t["verdict"] != "NO CHANGE") & (t["cell"] != POOLED)]
    sections.append(html.Section("flagged", "Flagged cells", _table(flagged) if len(flagged) else
                                 '<p class="note">No single cell differs significantly after correction.</p>'))
    sections.append(html.Section("all-tests", "All tests", "<details><summary>Every cell × class × scope</summary>"
                                 + _table(t[t["cell"] != POOLED]) + "</details>"))
    unmatched = [(f"only in base ({len(cmp.only_base)})", ", ".join(cmp.only_base[:20]) or "–"),
                 (f"only in candidate ({len(cmp.only_candidate)})", ", ".join(cmp.only_candidate[:20]) or "–")]
    unpaired = sorted({v for v in cmp.pairing.values() if v != "paired"})
    runs = [("base", _label(cmp.base)), ("base run dir", cmp.base["run_dir"]),
            ("base model hash", (cmp.base.get("model") or {}).get("hash", "–")),
            ("candidate", _label(cmp.candidate)), ("candidate run dir", cmp.candidate["run_dir"]),
            ("candidate model hash", (cmp.candidate.get("model") or {}).get("hash", "–")),
            ("pairing", f"{n_paired} of {len(cmp.matched_cells)} cells paired" + (f"; others {', '.join(unpaired)}" if unpaired else "")),
            *unmatched]
    sections.append(html.Section("runs", "Runs compared", html.definition_list(runs)))
    return html.page(f"simtest compare — {_label(cmp.candidate)} vs {_label(cmp.base)}",
                     f"base {cmp.base['run_id']} · candidate {cmp.candidate['run_id']} · α = {o.alpha:g} · "
                     f"tolerance {o.tolerance:.2%} · {o.correction}", sections, banner=banner,
                     footer="simtest compare · self-contained report, no external resources")


def junit_cases(cmp: Comparison) -> list[Case]:
    cases = []
    for _, r in cmp.tests.iterrows():
        text = (f"{r['verdict']}: miss rate {r['miss_base']:.4f} -> {r['miss_cand']:.4f} (diff {r['diff']:+.4f}, "
                f"CI [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}], p_adj {r['p_adjusted']:.3g}, MDD {r['mdd']:.4f}, {r['pairing']})")
        cases.append(Case(name=f"{r['cls']}/{r['scope']}/{r['cell']}", classname="simtest.compare",
                          outcome="failure" if r["verdict"] == "REGRESSION" else "passed", message=text, details=text))
    return cases


def write_outputs(cmp: Comparison, out_dir: str | Path) -> CompareFiles:
    """Write ``compare.html``, ``compare.json`` and ``compare-junit.xml`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = CompareFiles(out / "compare.html", out / "compare.json", out / "compare-junit.xml")
    atomic_write_bytes(files.html, render_html(cmp).encode("utf-8"))
    atomic_write_bytes(files.json, (json.dumps(json_safe(cmp.to_dict()), indent=2, allow_nan=False) + "\n").encode())
    props = {"base": cmp.base["run_id"], "candidate": cmp.candidate["run_id"]}
    atomic_write_bytes(files.junit, junit_xml("simtest.compare", junit_cases(cmp), properties=props).encode())
    return files
