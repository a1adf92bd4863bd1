"""Pictures for people: projected boxes land on the objects, BEV footprints where the boxes are, render CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from simtest.commands.render import main as render_main
from simtest.sim.base import PRESETS
from simtest.sim.embedded import EmbeddedSimulator
from simtest.types import Detections, box_corners, project_points
from simtest.viz import CLASS_COLOURS, DETECTION_COLOUR, bev_image, camera_with_boxes


@pytest.fixture(scope="module")
def frame(small_rig):
    with EmbeddedSimulator(small_rig) as sim:
        sim.reset("stationary_car_ahead", PRESETS["clear_noon"], 0)
        return sim.step()


def test_camera_boxes_are_drawn_at_the_projected_corners(frame):
    img = camera_with_boxes(frame)
    cam = frame.cameras["front"]
    uv, z = project_points(cam.K, cam.T_ego_from_cam, box_corners(frame.objects.boxes[:1])[0])
    assert (z > 0).all()
    colour = np.array(CLASS_COLOURS["vehicle"])
    changed = np.any(img != cam.image, axis=-1)
    for u, v in uv.round().astype(int):
        if 0 <= u < cam.width and 0 <= v < cam.height:
            patch = img[max(v - 1, 0) : v + 2, max(u - 1, 0) : u + 2].reshape(-1, 3)
            assert (np.abs(patch.astype(int) - colour).sum(1) < 60).any()
    assert changed.sum() > 50
    det = Detections(boxes=frame.objects.boxes[:1] + [0, 4.0, 0, 0, 0, 0, 0], scores=np.array([0.9]), labels=np.array([0]))
    with_det = camera_with_boxes(frame, det)
    white = np.all(with_det >= np.array(DETECTION_COLOUR) - 20, axis=-1) & ~np.all(img >= 235, axis=-1)
    assert white.sum() > 20
    with pytest.raises(ValueError, match="no camera 'rear'"):
        camera_with_boxes(frame, camera="rear")


def test_bev_footprint_and_points_are_where_they_belong(frame):
    size = 400
    img = bev_image(frame, size=size, x_range=(-20.0, 80.0), y_range=(-50.0, 50.0))
    x, y = frame.objects.boxes[0, :2]
    u, v = int((50.0 - y) * size / 100), int((80.0 - x) * size / 100)
    window = img[v - 12 : v + 13, u - 12 : u + 13].reshape(-1, 3)
    assert (np.abs(window.astype(int) - np.array(CLASS_COLOURS["vehicle"])).sum(1) < 60).any()
    # lidar returns of the car (grey levels) fall inside that window too
    assert (window.max(1) >= 80).sum() > 5
    with pytest.raises(ValueError, match="no lidar 'roof'"):
        bev_image(frame, lidar="roof")


def test_render_command_writes_pngs(tmp_path: Path, capsys):
    rc = render_main(["stationary_car_ahead", "--conditions", "fog_light", "--frame", "1", "--out", str(tmp_path),
                      "--set", "target_x=50"])
    assert rc == 0
    cam = cv2.imread(str(tmp_path / "stationary_car_ahead_fog_light_0001_front.png"))
    bev = cv2.imread(str(tmp_path / "stationary_car_ahead_fog_light_0001_top_bev.png"))
    assert cam.shape == (384, 640, 3) and bev.shape[0] == bev.shape[1]
    assert "vehicle" in capsys.readouterr().out
    assert render_main(["stationary_car_ahead", "--set", "target_x=500", "--out", str(tmp_path)]) == 2
    assert "outside the range" in capsys.readouterr().out
    assert render_main(["stationary_car_ahead", "--conditions", "{\"fog_visibilty\": 3}", "--out", str(tmp_path)]) == 2
    assert "fog_visibilty" in capsys.readouterr().out
