"""Lidar raster, camera frustum geometry, CenterPoint targets and decoding, network branch switches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simtest.models.bev import MAX_Z_RANGE, BevGrid, lidar_raster
from simtest.models.lift import DepthBins, depth_bin_targets, frustum_cells
from simtest.models.network import count_parameters
from simtest.models.reference import Codec, ReferenceConfig
from simtest.models.targets import circle_nms, decode, encode
from simtest.sim.base import CameraSpec

from .synthetic import synthetic_frame

CFG = ReferenceConfig()
GRID = CFG.grid


def test_raster_counts_heights_and_intensity_by_hand():
    pts = np.array(
        [
            [0.25, 0.25, 0.5, 0.4],  # cell (80, 80), slice [0.25, 0.7)
            [0.30, 0.30, 0.5, 0.8],  # same cell and slice
            [0.30, 0.30, 1.0, 0.0],  # same cell, slice [0.7, 1.2)
            [-0.10, 0.25, 0.0, 1.0],  # row 79 (x in [-0.5, 0)), slice [-0.4, 0.25)
            [100.0, 0.0, 1.0, 1.0],  # outside the grid
            [0.25, 0.25, 9.0, 1.0],  # above the highest slice
        ],
        np.float32,
    )
    r = lidar_raster(pts, GRID)
    assert r.shape == (8, 192, 160) and r.dtype == np.uint8
    assert r[1, 80, 80] == 2 and r[2, 80, 80] == 1 and r[0, 80, 80] == 0
    assert r[0, 79, 80] == 1
    assert r[:6].sum() == 4  # the two out-of-range points are ignored
    zlo, zhi = MAX_Z_RANGE
    assert r[6, 80, 80] == round(1 + (1.0 - zlo) / (zhi - zlo) * 254)
    assert r[7, 80, 80] == round((0.4 + 0.8 + 0.0) / 3 * 255)
    assert r[6, 0, 0] == 0 and r[7, 0, 0] == 0  # empty cells stay zero


def test_raster_counts_saturate_and_merge_lidars():
    pts = np.tile(np.array([[10.1, -3.1, 1.0, 0.5]], np.float32), (300, 1))
    r = lidar_raster([pts[:200], pts[200:]], GRID)
    row, col = int((10.1 + 40) / 0.5), int((-3.1 + 40) / 0.5)
    assert r[2, row, col] == 255


def test_frustum_cells_follow_the_pinhole_model():
    spec = CameraSpec()
    K = spec.K() * np.array([[0.5], [0.5], [1.0]])  # the network sees a half-size image
    T = spec.T_ego_from_cam()
    depths = DepthBins()
    cells = frustum_cells(K, T, (24, 40), 8, depths, GRID).reshape(depths.count, 24, 40)
    f = K[0, 0]
    h, w = GRID.bev_shape
    i, j = 13, 27  # a feature pixel below the horizon, right of centre
    u, v = (j + 0.5) * 8, (i + 0.5) * 8
    for k, d in enumerate(depths.centres()):
        x, y, z = 1.5 + d, -d * (u - K[0, 2]) / f, 1.6 - d * (v - K[1, 2]) / f
        row, col = int(np.floor((x + 40) / 1.0)), int(np.floor((y + 40) / 1.0))  # 1 m BEV feature cells
        ok = -1.0 <= z <= 4.0 and 0 <= row < h and 0 <= col < w
        assert cells[k, i, j] == (row * w + col if ok else h * w), (k, d)
    # the top image row looks up: far points are far above the 4 m ceiling and are dumped
    assert cells[-1, 0, 20] == h * w


def test_depth_targets_take_the_nearest_lidar_return_of_each_feature_pixel():
    spec = CameraSpec()
    K = spec.K() * np.array([[0.5], [0.5], [1.0]])
    T = spec.T_ego_from_cam()
    depths = DepthBins()  # 2 m bins from 2 m

    def ego_point(i: int, j: int, d: float) -> list[float]:
        """The point at camera depth d on the ray through the centre of feature pixel (i, j)."""
        ray = np.linalg.inv(K) @ np.array([(j + 0.5) * 8, (i + 0.5) * 8, 1.0])
        p = T @ np.append(ray * d, 1.0)
        return [*p[:3], 0.5]

    pts = np.array([ego_point(13, 27, 31.0), ego_point(13, 27, 9.0), ego_point(13, 27, 20.0),  # nearest wins: bin 3
                    ego_point(5, 4, 57.9),  # last bin
                    ego_point(6, 6, 1.0), ego_point(7, 7, 70.0)],  # nearer than near / beyond far: no target
                   np.float32)
    t = depth_bin_targets(pts, K, T, (24, 40), 8, depths)
    assert t.dtype == np.int16 and t.shape == (24, 40)
    assert t[13, 27] == 3 and t[5, 4] == 27
    assert t[6, 6] == -1 and t[7, 7] == -1
    assert (t >= 0).sum() == 2
    behind = np.array([[-10.0, 0.0, 1.0, 0.5]], np.float32)  # behind the camera: never projected
    assert (depth_bin_targets(behind, K, T, (24, 40), 8, depths) == -1).all()
    with pytest.raises(ValueError, match="points_ego"):
        depth_bin_targets(np.zeros(3), K, T, (24, 40), 8, depths)


def test_targets_round_trip_through_decoding():
    boxes = np.array([[12.3, -4.2, 0.8, 4.6, 1.9, 1.6, 0.3], [25.9, 6.1, 0.9, 0.7, 0.6, 1.8, -2.0],
                      [-15.4, 2.2, 0.9, 1.8, 0.6, 1.7, 1.2]])
    labels = np.array([0, 1, 2])
    t = encode(boxes, labels, GRID, 3)
    assert t.heatmap.max() == pytest.approx(1.0)
    out_boxes, scores, out_labels = _decode_targets(t, 0.5)
    order = np.argsort(out_labels)
    np.testing.assert_allclose(out_boxes[order], boxes, atol=1e-4)
    np.testing.assert_array_equal(out_labels[order], labels)
    assert np.all(scores > 0.99)


def _decode_targets(t, threshold: float):
    h, w = GRID.out_shape
    heat = np.clip(t.heatmap, 1e-6, 1 - 1e-6)
    reg = np.zeros((8, h * w), np.float32)
    reg[:, t.index] = t.regression.T
    return decode(torch.from_numpy(np.log(heat / (1 - heat)))[None], torch.from_numpy(reg.reshape(1, 8, h, w)), GRID,
                  score_threshold=threshold)[0]


def test_two_pedestrians_in_adjacent_cells_decode_as_two_boxes():
    boxes = np.array([[20.3, 1.5, 0.9, 0.6, 0.6, 1.8, 0.0], [20.85, 1.6, 0.9, 0.6, 0.6, 1.8, 0.0]])  # 0.56 m apart
    t = encode(boxes, np.array([1, 1]), GRID, 3)
    rows = (boxes[:, 0] - GRID.x_min) // GRID.out_cell
    assert rows[1] - rows[0] == 1  # adjacent output cells
    assert len(t.index) == 12  # 2 x 9 cells, six shared: each regresses its nearer centre
    out_boxes, _, out_labels = _decode_targets(t, 0.2)
    assert len(out_boxes) == 2 and set(out_labels) == {1}
    np.testing.assert_allclose(out_boxes[np.argsort(out_boxes[:, 0])], boxes, atol=1e-4)


def test_two_pedestrians_a_metre_apart_in_one_bev_feature_cell_keep_two_peaks():
    """The crosswalk case that the 1 m output grid of reference 1.1.0 merged into one box."""
    boxes = np.array([[29.0, 5.33, 0.9, 0.62, 1.08, 1.75, 1.57], [29.8, 5.98, 0.9, 0.62, 1.08, 1.75, 1.57]])
    bev = np.floor((boxes[:, :2] - [GRID.x_min, GRID.y_min]) / GRID.bev_cell)
    assert (bev[0] == bev[1]).all()  # one 1 m BEV feature cell
    t = encode(boxes, np.array([1, 1]), GRID, 3)
    peaks = np.argwhere(t.heatmap[1] >= 1.0 - 1e-6)
    assert len(peaks) == 2
    out_boxes, _, _ = _decode_targets(t, 0.3)
    np.testing.assert_allclose(out_boxes[np.argsort(out_boxes[:, 0])], boxes, atol=1e-4)


def test_targets_drop_boxes_outside_the_grid():
    t = encode(np.array([[80.0, 0.0, 1.0, 4.0, 2.0, 1.5, 0.0]]), np.array([0]), GRID, 3)
    assert len(t.index) == 0 and t.heatmap.max() == 0


def test_circle_nms_keeps_the_best_of_close_peaks():
    centres = np.array([[0.0, 0.0], [0.5, 0.0], [3.0, 0.0]])
    kept = circle_nms(centres, np.array([0.4, 0.9, 0.5]), radius=1.0)
    assert sorted(kept.tolist()) == [1, 2]
    # per-proposal radii: a clash needs the distance within the smaller radius
    assert sorted(circle_nms(centres, np.array([0.4, 0.9, 0.5]), np.array([0.3, 1.0, 1.0])).tolist()) == [0, 1, 2]


def test_network_is_small_and_each_branch_switch_cuts_its_sensor():
    net = CFG.network().eval()
    assert count_parameters(net) <= 5_000_000
    frame = synthetic_frame(np.array([[15.0, 2.0, 0.8, 4.5, 1.9, 1.6, 0.0]]), np.array([0]))
    codec = Codec(CFG)
    x = codec.encode([frame], "fusion")
    t = {k: torch.from_numpy(v) for k, v in x.items()}
    t["image"], t["lidar"] = t["image"].float(), t["lidar"].float()
    with torch.no_grad():
        base = net(t["image"], t["lidar"], t["cam_index"], torch.zeros(1), t["lidar_mask"])
        other_image = net(torch.rand_like(t["image"]) * 255, t["lidar"], t["cam_index"], torch.zeros(1), t["lidar_mask"])
        both = net(t["image"], t["lidar"], t["cam_index"], t["cam_mask"], t["lidar_mask"])
        cam_only = net(t["image"], t["lidar"], t["cam_index"], t["cam_mask"], torch.zeros(1))
        cam_only_other = net(t["image"], t["lidar"] * 0 + 7, t["cam_index"], t["cam_mask"], torch.zeros(1))
    torch.testing.assert_close(base[0], other_image[0])  # camera off: the image does not matter
    torch.testing.assert_close(cam_only[0], cam_only_other[0])  # lidar off: the points do not matter
    assert not torch.allclose(base[0], both[0])  # the camera branch does contribute when on


def test_codec_masks_a_missing_sensor_and_rasterises_the_clusters():
    box = np.array([[15.0, 2.0, 0.8, 4.5, 1.9, 1.6, 0.0]])
    codec = Codec(CFG)
    with_cam = codec.encode([synthetic_frame(box, [0])], "fusion")
    no_cam = codec.encode([synthetic_frame(box, [0], camera=False)], "fusion")
    lidar_only = codec.encode([synthetic_frame(box, [0])], "lidar")
    assert with_cam["cam_mask"][0] == 1 and no_cam["cam_mask"][0] == 0 and lidar_only["cam_mask"][0] == 0
    assert with_cam["lidar_mask"][0] == 1
    r = with_cam["lidar"][0]
    row, col = int((15.0 + 40) / 0.5), int((2.0 - 0.95 + 40) / 0.5)  # a cell on the box's right side
    assert r[2:5, row, col].sum() > 0  # points at 0.7..1.8 m height
    with pytest.raises(ValueError, match="modalities"):
        codec.encode([synthetic_frame(box, [0])], "radar")
