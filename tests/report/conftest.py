"""Synthetic run stores shared by the report tests (built once per test session)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from report_synth import SyntheticSpec, make_run  # noqa: E402


@pytest.fixture(scope="session")
def report_run(tmp_path_factory) -> Path:
    """A run with perturbations, a patch axis (none/random/ped_patch), thumbnails and one failed cell."""
    root = tmp_path_factory.mktemp("report_runs")
    return make_run(root, SyntheticSpec(run_id="full", patches=("none", "random", "ped_patch"), episodes=3, failed_cells=1))


@pytest.fixture(scope="session")
def built_report(report_run):
    from simtest.report.build import build_report

    return build_report(report_run)


@pytest.fixture(scope="session")
def compare_runs_dir(tmp_path_factory) -> Path:
    """base, the same model with the same seeds, a rerun with other seeds, and a candidate with +5 pp critical-pedestrian misses."""
    root = tmp_path_factory.mktemp("compare_runs")
    make_run(root, SyntheticSpec(run_id="base"))
    make_run(root, SyntheticSpec(run_id="regressed", model_version="1.1.0", extra_critical_ped_miss=0.05))
    make_run(root, SyntheticSpec(run_id="rerun_a", root_seed=101))
    make_run(root, SyntheticSpec(run_id="rerun_b", root_seed=202))
    return root
