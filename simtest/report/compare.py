"""Model-versus-model comparison of two runs of the same sweep (``simtest compare``).

Cells are matched by id (and must have the same axis values). Within a matched cell,
when both runs used the same cell seed and hold the same ground-truth rows (same
episode, frame, object id and class), outcomes are *paired* row by row; otherwise the
cell is compared *unpaired* at the episode level. For every class and scope
(safety-critical objects, all objects) there is one test per cell and one pooled over
all matched cells; p-values are corrected across the whole family (Holm or BH-FDR).
A result is a regression when the corrected p-value is below α and the candidate's miss
rate exceeds the base's by more than the tolerance; an improvement symmetrically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simtest.report import compare_stats as cs
from simtest.store import Manifest, RunStore

KEYS = ["cell", "episode", "frame", "object_id"]
SCOPES = ("critical", "all")
POOLED = "(all matched cells)"


class CompareError(ValueError):
    """Two runs that cannot be compared; the message says why and what to do."""


@dataclass(frozen=True)
class CompareOptions:
    """Decision settings: level α, tolerance on the miss-rate difference (absolute), correction."""

    alpha: float = 0.05
    tolerance: float = 0.01
    correction: str = "holm"
    confidence: float = 0.95
    power: float = 0.8
    n_boot: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"compare: alpha must be in (0, 1), got {self.alpha}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"compare: confidence must be in (0, 1), got {self.confidence}")
        if self.tolerance < 0:
            raise ValueError(f"compare: tolerance is an absolute miss-rate difference >= 0, got {self.tolerance}")
        if self.correction not in cs.CORRECTIONS:
            raise ValueError(f"compare: correction {self.correction!r} is not one of {cs.CORRECTIONS}")
        if self.n_boot < 100:
            raise ValueError(f"compare: n_boot must be at least 100, got {self.n_boot}")


@dataclass
class Comparison:
    """Everything ``simtest compare`` reports."""

    base: dict[str, Any]
    candidate: dict[str, Any]
    options: CompareOptions
    matched_cells: list[str]
    only_base: list[str]
    only_candidate: list[str]
    pairing: dict[str, str]  # cell -> "paired" | reason it is unpaired
    tests: pd.DataFrame

    @property
    def regressions(self) -> pd.DataFrame:
        return self.tests[self.tests["verdict"] == "REGRESSION"]

    @property
    def improvements(self) -> pd.DataFrame:
        return self.tests[self.tests["verdict"] == "IMPROVEMENT"]

    def to_dict(self) -> dict[str, Any]:
        tests = self.tests.astype(object).where(self.tests.notna(), None)
        return {
            "base": self.base,
            "candidate": self.candidate,
            "options": asdict(self.options),
            "verdict": "REGRESSION" if len(self.regressions) else "NO REGRESSION",
            "regressions": int(len(self.regressions)),
            "improvements": int(len(self.improvements)),
            "family_size": int(self.tests["p_value"].notna().sum()),
            "matched_cells": self.matched_cells,
            "only_base": self.only_base,
            "only_candidate": self.only_candidate,
            "pairing": self.pairing,
            "tests": tests.to_dict(orient="records"),
        }


def _run_info(run_dir: Path, manifest: Manifest) -> dict[str, Any]:
    return {"run_dir": str(run_dir), "run_id": manifest.run_id, "model": manifest.model,
            "created": manifest.created, "root_seed": manifest.root_seed, "config_hash": manifest.config_hash,
            "git_commit": manifest.git_commit, "simtest_version": manifest.simtest_version}


def _gt(store: RunStore) -> pd.DataFrame:
    df = store.read(columns=["cell", "episode", "frame", "object_id", "row_type", "cls", "detected", "critical"])
    gt = df[df["row_type"] == "gt"].drop(columns="row_type")
    gt = gt.assign(miss=~gt["detected"].astype(bool)).drop(columns="detected")
    return gt.reset_index(drop=True)


def _pairing(cell: str, b: pd.DataFrame, c: pd.DataFrame, mb: Manifest, mc: Manifest) -> str:
    if mb.cells[cell].seed != mc.cells[cell].seed:
        return "unpaired: different cell seeds"
    kb = b.sort_values(KEYS)[KEYS + ["cls"]].reset_index(drop=True)
    kc = c.sort_values(KEYS)[KEYS + ["cls"]].reset_index(drop=True)
    if len(kb) != len(kc) or not kb.equals(kc):
        return "unpaired: same seed but different ground-truth rows"
    return "paired"


def _episode_counts(rows: pd.DataFrame, value_cols: list[str]) -> pd.DataFrame:
    """Per (cell, episode, cls, critical): n and the sums of ``value_cols``."""
    g = rows.groupby(["cell", "episode", "cls", "critical"], observed=True)
    out = g[value_cols].sum()
    out["n"] = g.size()
    return out.reset_index()


def _by_stratum(counts: pd.DataFrame) -> dict[tuple[str, str], tuple[pd.DataFrame, dict[str, pd.DataFrame]]]:
    """Per (class, scope): episode-level sums, pooled and split by cell (computed once)."""
    out = {}
    for scope in SCOPES:
        sel = counts[counts["critical"]] if scope == "critical" else counts
        agg = sel.drop(columns="critical").groupby(["cls", "cell", "episode"], observed=True).sum().reset_index()
        for cls, g in agg.groupby("cls", observed=True):
            g = g.drop(columns="cls").reset_index(drop=True)
            out[(str(cls), scope)] = (g, {str(c): e.reset_index(drop=True) for c, e in g.groupby("cell", observed=True)})
    return out


def _select(tables: dict, cell: str, cls: str, scope: str) -> pd.DataFrame:
    pooled, per_cell = tables.get((cls, scope), (pd.DataFrame(), {}))
    return pooled if cell == POOLED else per_cell.get(cell, pd.DataFrame())


def _test_paired(ep: pd.DataFrame, rng: np.random.Generator, o: CompareOptions) -> dict[str, Any]:
    n = ep["n"].to_numpy(float)
    b, c = ep["b"].to_numpy(float), ep["c"].to_numpy(float)
    N = n.sum()
    lo, hi = cs.paired_bootstrap(n, b - c, ep["cell"].to_numpy(), rng=rng, n_boot=o.n_boot, confidence=o.confidence)
    _, p = cs.clustered_mcnemar(b, c)
    return {"n_base": N, "n_cand": N, "episodes": len(ep), "miss_base": ep["m_base"].sum() / N,
            "miss_cand": ep["m_cand"].sum() / N, "diff": (b.sum() - c.sum()) / N, "ci_low": lo, "ci_high": hi,
            "discordant_cand_worse": int(b.sum()), "discordant_cand_better": int(c.sum()),
            "p_exact_mcnemar": cs.mcnemar_exact(int(b.sum()), int(c.sum())), "p_value": p,
            "_n": n, "_m": ep["m_base"].to_numpy(float), "_s": ep["cell"].to_numpy(), "_d": b - c}


def _test_unpaired(eb: pd.DataFrame, ec: pd.DataFrame, rng: np.random.Generator, o: CompareOptions) -> dict[str, Any]:
    nb, mb = eb["n"].to_numpy(float), eb["miss"].to_numpy(float)
    nc, mc = ec["n"].to_numpy(float), ec["miss"].to_numpy(float)
    diff, _, p = cs.unpaired_test(nb, mb, nc, mc, eb["cell"].to_numpy(), ec["cell"].to_numpy())
    lo, hi = cs.unpaired_bootstrap((nb, mb, eb["cell"].to_numpy()), (nc, mc, ec["cell"].to_numpy()),
                                   rng=rng, n_boot=o.n_boot, confidence=o.confidence)
    return {"n_base": nb.sum(), "n_cand": nc.sum(), "episodes": len(eb) + len(ec), "miss_base": mb.sum() / nb.sum(),
            "miss_cand": mc.sum() / nc.sum(), "diff": diff, "ci_low": lo, "ci_high": hi,
            "discordant_cand_worse": None, "discordant_cand_better": None, "p_exact_mcnemar": None,
            "p_value": p, "_n": nb, "_m": mb, "_s": eb["cell"].to_numpy(), "_d": None}


def compare_runs(base_dir: str | Path, cand_dir: str | Path, options: CompareOptions | None = None) -> Comparison:
    """Compare the candidate run with the base run (see the module docstring)."""
    o = options or CompareOptions()
    sb, sc = RunStore(base_dir), RunStore(cand_dir)
    mb, mc = sb.load_manifest(), sc.load_manifest()
    gb, gc = _gt(sb), _gt(sc)
    cells_b, cells_c = set(gb["cell"].unique()), set(gc["cell"].unique())
    matched = sorted(cells_b & cells_c)
    if not matched:
        raise CompareError(
            f"{base_dir} and {cand_dir} share no finished cells (base has {len(cells_b)}, e.g. "
            f"{sorted(cells_b)[:2]}; candidate has {len(cells_c)}, e.g. {sorted(cells_c)[:2]}). "
            "Compare two runs of the same sweep (same sweep config, any model)."
        )
    for cell in matched:
        if mb.cells[cell].axes != mc.cells[cell].axes:
            raise CompareError(f"cell {cell!r}: axis values differ between the runs "
                               f"({mb.cells[cell].axes} vs {mc.cells[cell].axes}); the sweeps are not the same")
    gb, gc = gb[gb["cell"].isin(matched)], gc[gc["cell"].isin(matched)]
    by_cell_b, by_cell_c = dict(tuple(gb.groupby("cell"))), dict(tuple(gc.groupby("cell")))
    pairing = {cell: _pairing(cell, by_cell_b[cell], by_cell_c[cell], mb, mc) for cell in matched}
    paired_cells = [c for c in matched if pairing[c] == "paired"]
    unpaired_cells = [c for c in matched if c not in paired_cells]

    merged = gb[gb["cell"].isin(paired_cells)].merge(
        gc[gc["cell"].isin(paired_cells)][KEYS + ["miss"]], on=KEYS, suffixes=("_base", "_cand"))
    merged = merged.assign(m_base=merged["miss_base"], m_cand=merged["miss_cand"],
                           b=~merged["miss_base"] & merged["miss_cand"], c=merged["miss_base"] & ~merged["miss_cand"])
    paired_counts = _by_stratum(_episode_counts(merged, ["m_base", "m_cand", "b", "c"]))
    # all cells, unpaired view (used for unpaired cells and for the pooled test when pairing is mixed)
    counts_b = _by_stratum(_episode_counts(gb, ["miss"]))
    counts_c = _by_stratum(_episode_counts(gc, ["miss"]))

    rng = np.random.default_rng(o.seed)
    classes = sorted(set(gb["cls"]) | set(gc["cls"]))
    rows: list[dict[str, Any]] = []
    for cls in classes:
        for scope in SCOPES:
            units = [(cell, [cell]) for cell in matched] + [(POOLED, matched)]
            for label, cells in units:
                all_paired = all(pairing[c] == "paired" for c in cells)
                if all_paired:
                    ep = _select(paired_counts, label, cls, scope)
                    if ep.empty or ep["n"].sum() == 0:
                        continue
                    res = _test_paired(ep, rng, o)
                else:
                    eb, ec = _select(counts_b, label, cls, scope), _select(counts_c, label, cls, scope)
                    if eb.empty or ec.empty or eb["n"].sum() == 0 or ec["n"].sum() == 0:
                        continue
                    res = _test_unpaired(eb, ec, rng, o)
                rows.append({"cell": label, "cls": cls, "scope": scope,
                             "pairing": "paired" if all_paired else "unpaired", **res})
    tests = pd.DataFrame(rows)
    if tests.empty:
        raise CompareError(f"{base_dir} vs {cand_dir}: the matched cells hold no ground-truth rows to compare")
    m = int(tests["p_value"].notna().sum())
    tests["p_adjusted"] = np.nan
    ok = tests["p_value"].notna()
    tests.loc[ok, "p_adjusted"] = cs.adjust(tests.loc[ok, "p_value"].to_numpy(), o.correction)
    tests["mdd"] = [cs.minimal_detectable_difference(r["_n"], r["_m"], alpha=o.alpha / max(m, 1), power=o.power,
                                                     strata=r["_s"], paired_d_k=r["_d"])
                    for _, r in tests.iterrows()]
    tests["verdict"] = [cs.decide(d, p, alpha=o.alpha, tolerance=o.tolerance)
                        for d, p in zip(tests["diff"], tests["p_adjusted"].fillna(1.0))]
    tests = tests.drop(columns=["_n", "_m", "_s", "_d"])
    for col in ("n_base", "n_cand", "episodes"):
        tests[col] = tests[col].astype(int)
    return Comparison(base=_run_info(Path(base_dir), mb), candidate=_run_info(Path(cand_dir), mc), options=o,
                      matched_cells=matched, only_base=sorted(cells_b - cells_c), only_candidate=sorted(cells_c - cells_b),
                      pairing=pairing, tests=tests)


def check_run_dirs(base_dir: str | Path, cand_dir: str | Path) -> None:
    """Raise :class:`CompareError` early when either folder is not a run folder."""
    for name, d in (("BASE_RUN", base_dir), ("CANDIDATE_RUN", cand_dir)):
        if not RunStore(d).exists():
            raise CompareError(f"{name} {d}: no manifest.json here; point at a run folder (runs/<run>)")
