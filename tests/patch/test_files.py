"""Patch definition and files: round trip with metadata, tamper detection, control, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from perturbations.patch import (
    ALBEDO_MAX,
    ALBEDO_MIN,
    DEFAULT_PLACEMENTS,
    Patch,
    PatchError,
    Placement,
    albedo_of,
    control_patches,
    load_patch,
    random_control,
    resolve_axis_value,
    save_patch,
)

META = {"target_model": "reference-fusion", "model_hash": "ab" * 32, "objective": "suppress pedestrian",
        "eot": {"distance": [6.0, 25.0], "heading": [-35.0, 35.0], "sun_altitude": [15.0, 70.0]}, "seed": 0}


def _patch(seed: int = 0) -> Patch:
    rng = np.random.default_rng(seed)
    return Patch("ped_v1", rng.integers(0, 256, (24, 20, 3), dtype=np.uint8), DEFAULT_PLACEMENTS["pedestrian"], META)


def test_round_trip_keeps_texture_placement_and_metadata(tmp_path):
    p = _patch()
    path = save_patch(p, tmp_path)
    q = load_patch(path)
    assert q == p
    assert np.array_equal(q.texture, p.texture) and q.texture.dtype == np.uint8
    assert q.meta["model_hash"] == META["model_hash"] and q.meta["eot"]["distance"] == [6.0, 25.0]
    assert q.placement.size == (0.36, 0.5)
    assert load_patch(tmp_path / "ped_v1.png") == p  # the PNG path finds its JSON


def test_edited_png_is_refused(tmp_path):
    import cv2

    p = _patch()
    save_patch(p, tmp_path)
    img = cv2.imread(str(tmp_path / "ped_v1.png"))
    img[0, 0] ^= 1
    cv2.imwrite(str(tmp_path / "ped_v1.png"), img)
    with pytest.raises(PatchError, match="modified or swapped"):
        load_patch(tmp_path / "ped_v1.json")


def test_bad_json_names_file_and_key(tmp_path):
    save_patch(_patch(), tmp_path)
    data = json.loads((tmp_path / "ped_v1.json").read_text())
    data["placement"]["surface"] = "bottom"
    (tmp_path / "ped_v1.json").write_text(json.dumps(data))
    with pytest.raises(PatchError, match=r"ped_v1.json: placement: .*surface.*bottom"):
        load_patch(tmp_path / "ped_v1.json")
    del data["meta"]
    (tmp_path / "ped_v1.json").write_text(json.dumps(data))
    with pytest.raises(PatchError, match="missing key 'meta'"):
        load_patch(tmp_path / "ped_v1.json")


@pytest.mark.parametrize("kwargs, field", [({"size": (0.0, 0.3)}, "size"), ({"elevation": 1.5}, "elevation"),
                                           ({"surface": "under"}, "surface"), ({"target": ""}, "target")])
def test_bad_placement_raises_naming_the_field(kwargs, field):
    with pytest.raises(PatchError, match=field):
        Placement(**kwargs)


def test_texture_must_be_uint8_rgb():
    with pytest.raises(PatchError, match="uint8"):
        Patch("x", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(PatchError, match="H x W x 3"):
        Patch("x", np.zeros((4, 4), np.uint8))


def test_albedo_is_decoded_srgb_in_the_printable_gamut():
    t = np.array([[[0, 0, 0], [255, 255, 255]], [[188, 188, 188], [10, 10, 10]]], np.uint8)
    a = albedo_of(t)
    assert a[0, 0, 0] == pytest.approx(ALBEDO_MIN) and a[0, 1, 0] == pytest.approx(ALBEDO_MAX)
    # sRGB 188 decodes to 0.5029 linear (IEC 61966-2-1); 10 is on the linear toe: 10/255/12.92
    assert a[1, 0, 0] == pytest.approx(ALBEDO_MIN + (ALBEDO_MAX - ALBEDO_MIN) * 0.50289, abs=1e-4)
    assert a[1, 1, 0] == pytest.approx(ALBEDO_MIN + (ALBEDO_MAX - ALBEDO_MIN) * 10 / 255 / 12.92, abs=1e-6)


def test_random_control_same_size_and_place_and_reproducible():
    p = _patch()
    a = random_control(p, np.random.default_rng(5))
    b = random_control(p, np.random.default_rng(5))
    c = random_control(p, np.random.default_rng(6))
    assert a.texture.shape == p.texture.shape and a.placement == p.placement
    assert np.array_equal(a.texture, b.texture) and not np.array_equal(a.texture, c.texture)
    # uniform over 0..255: mean 127.5, sd 73.9 -> the mean of 1440 values within 5 sigma
    assert abs(a.texture.mean() - 127.5) < 5 * 73.9 / np.sqrt(a.texture.size)


def test_axis_values(tmp_path):
    assert resolve_axis_value("none") == ()
    empty = control_patches(0, tmp_path)  # empty library: one control per default placement
    assert {p.placement for p in empty} == set(DEFAULT_PLACEMENTS.values())
    save_patch(_patch(), tmp_path)
    ctrl = resolve_axis_value("random", 0, tmp_path)
    assert len(ctrl) == 1 and ctrl[0].placement == _patch().placement and ctrl[0].texture.shape == (24, 20, 3)
    assert np.array_equal(ctrl[0].texture, resolve_axis_value("random", 0, tmp_path)[0].texture)
    assert resolve_axis_value("ped_v1", 0, tmp_path)[0] == _patch()
    # a second patch in the same place adds no second control (two quads would overlap)
    save_patch(Patch("ped_v2", _patch(1).texture, _patch().placement), tmp_path)
    assert len(resolve_axis_value("random", 0, tmp_path)) == 1
    assert (tmp_path / "ped_v2.png").stat().st_mode & 0o777 == 0o644
    with pytest.raises(PatchError, match="not in the library"):
        resolve_axis_value("ped_v3", 0, tmp_path)
    # a bigger patch on the same target: still one control for "random" (the first by name), while
    # random_<name> is the paired control of one patch, its size and place
    big = Placement(_patch().placement.target, "front", (0.4, 1.0), 0.0, 0.5)
    save_patch(Patch("ped_v9", np.zeros((48, 48, 3), np.uint8), big), tmp_path)
    ctrl = resolve_axis_value("random", 0, tmp_path)
    assert len(ctrl) == 1 and ctrl[0].placement == _patch().placement
    (paired,) = resolve_axis_value("random_ped_v9", 0, tmp_path)
    assert paired.placement == big and paired.texture.shape == (48, 48, 3) and paired.texture.std() > 50
    with pytest.raises(PatchError, match="not in the library"):
        resolve_axis_value("random_ped_v3", 0, tmp_path)


def test_shipped_patches_were_optimised_against_the_shipped_weights():
    """A retrained reference model makes the library stale: its patches must be optimised again."""
    from perturbations.patch import library_names, load_named
    from simtest.models.reference import DEFAULT_CARD, ModelCard

    card = ModelCard.load(DEFAULT_CARD)
    names = library_names()
    assert names, "the patch library is empty"
    for name in names:
        meta = load_named(name).meta
        assert meta["target_model_sha256"] == card.data["sha256"], (name, meta["target_model_version"])
        assert meta["target_model_version"] == card.data["version"], name
