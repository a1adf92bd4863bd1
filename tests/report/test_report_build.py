"""`simtest report`: files, self-containment, and the numbers behind every section."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from simtest.metrics.summary import build_summary
from simtest.report import effects, fmea
from simtest.report.context import ReportContext
from simtest.report.degradation import curves, perturbation_subsets
from simtest.report.patch import patch_effects
from simtest.store import RunStore

SECTIONS = ("gates", "degradation", "conditions", "tail-risk", "distance", "fmea", "drivers", "patch", "metadata")


@pytest.fixture(scope="module")
def ctx(report_run) -> ReportContext:
    store = RunStore(report_run)
    return ReportContext(run_dir=report_run, manifest=store.load_manifest(), rows=store.read(),
                         summary=json.loads((report_run / "summary.json").read_text()) if (report_run / "summary.json").exists()
                         else build_summary(report_run))


def test_report_files_and_summary_match_evaluate(built_report, report_run):
    summary = json.loads(built_report.summary.read_text())
    again = build_summary(report_run)
    assert summary["verdict"] == again["verdict"] == "FAIL"
    assert [g["status"] for g in summary["gates"]] == [g["status"] for g in again["gates"]]
    assert summary["risk"]["cvar"] == pytest.approx(again["risk"]["cvar"])
    root = ET.parse(built_report.junit).getroot()
    cases = root.findall(".//testcase")
    gates = [c for c in cases if c.get("classname") == "simtest.gates"]
    assert [c.get("name") for c in gates] == [g["name"] for g in summary["gates"]]
    n_bad = sum(g["status"] != "PASS" for g in summary["gates"])
    assert int(root.find("testsuite").get("failures")) == n_bad
    assert int(root.find("testsuite").get("errors")) == len(summary["cells"]["failed"]) == 1


def test_html_is_self_contained_and_has_every_section(built_report):
    text = built_report.html.read_text()
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text), "external resource referenced"
    assert "url(http" not in text and "@import" not in text and "@font-face" not in text
    for sid in SECTIONS:
        m = re.search(rf'<section class="card" id="{sid}">(.*?)</section>', text, re.S)
        assert m, f"section {sid} missing"
        assert "<svg" in m.group(1) or "<table" in m.group(1), f"section {sid} has no figure or table"
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "element ids repeat (inline SVGs must not share ids)"
    for ref in re.findall(r"url\(#([^)]+)\)", text):
        assert ref in ids, f"dangling SVG reference #{ref}"


def test_tail_episodes_show_kept_thumbnails_and_say_when_none(built_report, report_run):
    summary = json.loads(built_report.summary.read_text())
    text = built_report.html.read_text()
    shown = summary["risk"]["tail_episodes"][:8]
    kept = [(r["cell"], r["episode"]) for r in shown
            if (report_run / "thumbs" / r["cell"] / f"ep{r['episode']:03d}_camera.jpg").is_file()]
    assert 0 < len(kept) < len(shown), "fixture should give tail episodes with and without thumbnails"
    tail = re.search(r'id="tail-risk">(.*?)</section>', text, re.S).group(1)
    assert tail.count("data:image/jpeg;base64,") == len(kept)
    assert tail.count("data:image/png;base64,") == len(kept)
    assert tail.count("no thumbnail kept (camera)") == len(shown) - len(kept)


def test_degradation_curves_follow_the_injected_slope(ctx):
    subsets = perturbation_subsets(ctx)
    assert set(subsets) == {"camera.gaussian_noise", "lidar.beam_missing"}
    rec, crit = curves(subsets["lidar.beam_missing"], 0.95)
    for cls, g in rec.groupby("cls"):
        g = g.sort_values("severity_level")
        assert g["rate"].iloc[-1] < g["rate"].iloc[0] - 0.1, cls
        assert (g["lo"] <= g["rate"]).all() and (g["rate"] <= g["hi"]).all()
    # one point by hand: severity 3, pedestrians, critical
    sub = subsets["lidar.beam_missing"]
    hand = sub[(sub["severity_level"] == 3) & (sub["cls"] == "pedestrian") & sub["critical"]]
    point = crit[(crit["severity_level"] == 3) & (crit["cls"] == "pedestrian")]
    assert point["rate"].iloc[0] == pytest.approx((~hand["detected"].astype(bool)).mean())
    assert set(sub.loc[sub["severity_level"] == 0, "perturbation"]) == {"none"}


def test_anova_matches_hand_computation_on_a_balanced_design():
    # 2x2 design, 3 episodes per cell, equal weights: classic two-way ANOVA
    a = np.repeat(["a0", "a1"], 6)
    b = np.tile(np.repeat(["b0", "b1"], 3), 2)
    y = np.array([0.1, 0.2, 0.3, 0.2, 0.3, 0.4, 0.5, 0.6, 0.4, 0.9, 0.8, 1.0])
    ep = pd.DataFrame({"A": a, "B": b, "rate": y, "n": 10})
    table = effects.anova(ep, effects.factors(ep, ["A", "B"])).set_index("term")
    grand = y.mean()
    ma = pd.Series(y).groupby(a).mean()
    mb = pd.Series(y).groupby(b).mean()
    ss_a = 6 * ((ma - grand) ** 2).sum() * 10  # weights n = 10 scale every SS
    ss_b = 6 * ((mb - grand) ** 2).sum() * 10
    cell = pd.Series(y).groupby([a, b]).mean()
    inter = [cell[(i, j)] - ma[i] - mb[j] + grand for i in ("a0", "a1") for j in ("b0", "b1")]
    ss_ab = 3 * np.sum(np.square(inter)) * 10
    ss_res = sum(((pd.Series(y)[(a == i) & (b == j)] - cell[(i, j)]) ** 2).sum()
                 for i in ("a0", "a1") for j in ("b0", "b1")) * 10
    assert table.loc["A", "SS"] == pytest.approx(ss_a)
    assert table.loc["B", "SS"] == pytest.approx(ss_b)
    assert table.loc["A × B", "SS"] == pytest.approx(ss_ab)
    f_ab = ss_ab / (ss_res / 8)
    assert table.loc["A × B", "F"] == pytest.approx(f_ab)


def test_drivers_find_the_injected_effects(ctx):
    ep, outcome = effects.episode_table(ctx)
    assert outcome.startswith("safety-critical")
    table = effects.anova(ep, effects.factors(ep, list(ctx.roles.all))).set_index("term")
    assert table.loc["weather", "p"] < 1e-6 and table.loc["lighting", "p"] < 1e-6
    inter = table[table.index.str.contains("×")]
    assert inter["partial_eta2"].idxmax() == "weather × lighting"  # the injected fog × night term


def test_fmea_ratings_and_occurrence(ctx):
    assert fmea.occurrence_rating(np.array([0.5, 0.1, 0.0999, 1e-3, 1e-7])).tolist() == [10, 10, 9, 5, 1]
    modes = fmea.failure_modes(ctx)
    assert (modes["RPN"] == modes["S"] * modes["O"] * modes["D"]).all()
    assert modes["RPN"].is_monotonic_decreasing
    top = modes.iloc[0]
    axes = list(ctx.roles.all)
    cells = [c for c in ctx.manifest.cells.values() if c.status != "failed"]
    total = sum(c.weight for c in cells)
    share = sum(c.weight for c in cells if all(c.axes[a] == top[a] for a in axes)) / total
    sel = ctx.gt[(ctx.gt["cls"] == top["cls"]) & (ctx.gt["critical"] == top["critical"])]
    for a in axes:
        sel = sel[sel[a] == top[a]]
    rate = (~sel["detected"].astype(bool)).mean()
    assert top["p_occurrence"] == pytest.approx(share * rate)
    assert top["S"] == fmea.SEVERITY[(top["cls"], bool(top["critical"]))]


def test_patch_effect_against_random_control(ctx):
    eff = patch_effects(ctx, n_boot=300)
    ped = eff[eff["cls"] == "pedestrian"]
    veh = eff[eff["cls"] == "vehicle"]
    assert set(eff["patch"]) == {"ped_patch"}
    assert (ped["lower"] > 0).sum() >= len(ped) - 1  # injected on pedestrians only
    assert ped["effect"].mean() > 0.1
    assert abs(veh["effect"].mean()) < 0.05
    assert ((veh["lower"] <= 0) & (veh["upper"] >= 0)).mean() >= 0.5
