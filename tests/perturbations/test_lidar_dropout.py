"""Behaviour of the point-removing lidar kernels (perturbations/lidar/dropout.py)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from perturbations import perturb, perturb_recorded
from perturbations.lidar.dropout import (
    BeamMissingParams,
    BeamReductionParams,
    CutoutParams,
    SectorParams,
    apply_beam_missing,
    apply_beam_reduction,
    apply_local_cutout,
    apply_sector_loss,
    kept_rings,
    lost_rings,
)
from perturbations.lidar.synthetic import make_scan


@pytest.fixture(scope="module")
def scan():
    return make_scan(np.random.default_rng(0))


def _rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in a}


def _azimuth_deg(scan) -> np.ndarray:
    o = np.asarray(scan.origin)
    return np.degrees(np.arctan2(scan.points[:, 1] - o[1], scan.points[:, 0] - o[0]))


def test_random_dropout_removes_the_tabulated_share(scan):
    out = perturb(scan, "lidar_dropout", 5, np.random.default_rng(3))
    removed = 1 - len(out) / len(scan)
    assert abs(removed - 0.30) < 4 * math.sqrt(0.3 * 0.7 / len(scan))
    assert _rows(out.points) <= _rows(scan.points)  # survivors untouched


def test_beam_reduction_keeps_exactly_every_other_then_every_fourth_ring(scan):
    half = apply_beam_reduction(scan, BeamReductionParams(beams_per_64=32))
    assert set(np.unique(half.ring)) == set(range(0, 64, 2))
    assert len(half) == np.isin(scan.ring, np.arange(0, 64, 2)).sum()  # every point of a kept ring stays
    quarter = perturb(scan, "lidar_beam_reduction", 4, np.random.default_rng(0))
    assert set(np.unique(quarter.ring)) == set(range(0, 64, 4))
    assert kept_rings(64, 48).sum() == 48 and kept_rings(32, 16).tolist() == [True, False] * 16


def test_beam_missing_removes_whole_rings_only(scan):
    params = BeamMissingParams(fraction=0.25, seed=4)
    lost = lost_rings(64, params)
    assert len(lost) == 16 and len(set(lost.tolist())) == 16
    out = apply_beam_missing(scan, params)
    assert not np.isin(out.ring, lost).any()
    assert len(out) == (~np.isin(scan.ring, lost)).sum()


@pytest.mark.parametrize("start,width", [(-20.0, 45.0), (170.0, 30.0), (100.0, 200.0)])
def test_sector_loss_removes_only_that_azimuth_range(scan, start, width):
    out = apply_sector_loss(scan, SectorParams(start_deg=start, width_deg=width))
    rel = (_azimuth_deg(scan) - start) % 360.0
    inside = rel <= width
    near_edge = np.minimum(np.abs(rel - width), np.minimum(rel, 360 - rel)) < 1e-3
    expected = ~inside
    assert abs(len(out) - expected.sum()) <= near_edge.sum()
    rel_out = (_azimuth_deg(out) - start) % 360.0
    assert np.all((rel_out > width - 1e-3) | (rel_out < 1e-3) | (rel_out > 360 - 1e-3))


def test_fov_loss_keeps_the_frontal_field(scan):
    out = perturb(scan, "lidar_fov_loss", 5, np.random.default_rng(0))  # +-45 deg
    az = _azimuth_deg(out)
    assert np.all(np.abs(az) <= 45.0 + 1e-3)
    assert len(out) >= (np.abs(_azimuth_deg(scan)) < 45.0 - 1e-3).sum()


def test_local_cutout_empties_balls_and_keeps_the_rest(scan):
    params = CutoutParams(centres=(10, 50_000, 90_000), radius=2.0)
    out = apply_local_cutout(scan, params)
    centres = scan.points[list(params.centres), :3]
    d_in = np.linalg.norm(scan.points[:, None, :3] - centres[None], axis=2).min(axis=1)
    assert len(out) == (d_in > 2.0).sum()
    d_out = np.linalg.norm(out.points[:, None, :3] - centres[None], axis=2).min(axis=1)
    assert d_out.min() > 2.0
    # about 2 % of the scan per hole, as in 3D_Corruptions_AD
    _, rec = perturb_recorded(scan, "lidar_local_cutout", 5, np.random.default_rng(1))
    assert len(rec.params.centres) == 10


def test_range_limit_and_its_severity_interpolation(scan):
    r = np.linalg.norm(scan.points[:, :3] - np.asarray(scan.origin), axis=1)
    limits = []
    for s in (0.0, 0.5, 1.0, 3.0, 5.0):
        out, rec = perturb_recorded(scan, "lidar_range_limit", s, np.random.default_rng(0))
        limits.append(rec.params.max_range)
        assert len(out) == (r <= rec.params.max_range).sum()
    assert limits[0] == math.inf and limits[2] == 80.0 and limits[4] == 20.0
    assert limits == sorted(limits, reverse=True)


def test_bad_lidar_input_is_a_clear_error(scan):
    from perturbations import names
    from perturbations.lidar.scan import scan_from_numpy

    empty = scan_from_numpy(np.zeros((0, 4)), np.zeros(0))
    for name in names("lidar"):
        with pytest.raises(ValueError, match="empty"):
            perturb(empty, name, 2, np.random.default_rng(0))
        with pytest.raises(ValueError, match="scan_from_numpy"):
            perturb(scan.points, name, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="did you mean 'lidar_dropout'"):
        perturb(scan, "lidar_dropuot", 2, np.random.default_rng(0))


def test_polynomial_azimuth_matches_atan2(scan):
    from perturbations.lidar.rays import azimuth
    from perturbations.lidar.scan import scan_from_numpy

    o = np.asarray(scan.origin)
    np.testing.assert_allclose(azimuth(scan), np.arctan2(scan.points[:, 1] - o[1], scan.points[:, 0] - o[0]), atol=2e-6)
    axes = scan_from_numpy(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [-1, -1e-9, 0, 0]]),
                           np.zeros(5))
    np.testing.assert_allclose(azimuth(axes), [0, np.pi / 2, np.pi, -np.pi / 2, -np.pi], atol=1e-6)


def test_local_cutout_runs_on_array_api_strict_with_the_numpy_result(scan):
    xps = pytest.importorskip("array_api_strict")
    strict = dataclasses.replace(scan, points=xps.asarray(scan.points), ring=xps.asarray(scan.ring), labels=None)
    want = perturb(scan, "lidar_local_cutout", 5, np.random.default_rng(6))
    got = perturb(strict, "lidar_local_cutout", 5, np.random.default_rng(6))
    np.testing.assert_array_equal(np.asarray(got.points), want.points)
