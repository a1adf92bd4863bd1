"""``simtest patch``: show prints the metadata and renders; errors are clear and exit with 2."""

from __future__ import annotations

import json

import cv2
import numpy as np

from perturbations.patch import DEFAULT_PLACEMENTS, Patch, random_texture, save_patch
from simtest.cli import main


def test_show_prints_metadata_and_renders(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    p = Patch("car_test", random_texture((8, 8), np.random.default_rng(0)), DEFAULT_PLACEMENTS["vehicle"], {"seed": 4})
    path = save_patch(p, tmp_path)
    out = tmp_path / "show.png"
    assert main(["patch", "show", str(path), "--render", str(out)]) == 0
    text = capsys.readouterr().out
    shown = json.loads(text[: text.rindex("}") + 1])
    assert shown["meta"] == {"seed": 4} and shown["placement"]["surface"] == "back"
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] == 384 and img.shape[1] == 640 + 384


def test_evaluate_refuses_the_training_seed(tmp_path, capsys):
    p = Patch("ped_test", random_texture((8, 8), np.random.default_rng(0)), DEFAULT_PLACEMENTS["pedestrian"], {"seed": 7})
    path = save_patch(p, tmp_path)
    assert main(["patch", "evaluate", str(path), "--seed", "7"]) == 2
    assert "held-out samples need another seed" in capsys.readouterr().err


def test_unknown_patch_name(capsys):
    assert main(["patch", "show", "no_such_patch"]) == 2
    assert "not in the library" in capsys.readouterr().err
