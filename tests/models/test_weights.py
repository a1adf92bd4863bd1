"""Weights load only when their bytes match the model card; nothing is ever unpickled blindly."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from simtest.models.base import WeightsError, sha256_file
from simtest.models.reference import DEFAULT_CARD, WEIGHTS_DIR, ReferenceConfig, ReferenceDetector


def write_card(folder: Path, weights: Path, **extra) -> Path:
    card = {"name": "reference-fusion", "version": "0.0.1", "weights": weights.name, "sha256": sha256_file(weights),
            "config": ReferenceConfig().to_dict(), **extra}
    path = folder / "card.json"
    path.write_text(json.dumps(card))
    return path


@pytest.fixture()
def card(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "w.pt"
    torch.save(ReferenceConfig().network().state_dict(), weights)
    return write_card(tmp_path, weights)


def test_a_matching_card_loads_and_names_the_model(card):
    det = ReferenceDetector(card=str(card), device="cpu")
    assert det.name == "reference-fusion" and det.version == "0.0.1"
    assert ReferenceDetector(card=str(card), modalities="lidar", device="cpu").content_hash != det.content_hash


def test_a_tampered_weights_file_is_refused(card):
    weights = card.parent / "w.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of a tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"sha256 .* truncated, corrupted or was modified"):
        ReferenceDetector(card=str(card), device="cpu")


def test_a_truncated_weights_file_is_refused(card):
    weights = card.parent / "w.pt"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="w.pt"):
        ReferenceDetector(card=str(card), device="cpu")
    weights.write_bytes(b"")
    with pytest.raises(WeightsError, match="empty"):
        ReferenceDetector(card=str(card), device="cpu")


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickle_with_code_is_never_executed_even_with_a_matching_digest(tmp_path, capsys):
    weights = tmp_path / "evil.pt"
    weights.write_bytes(pickle.dumps({"layer.weight": _Payload()}, protocol=2))
    card = write_card(tmp_path, weights)
    with pytest.raises(WeightsError, match="cannot be read as a PyTorch checkpoint"):
        ReferenceDetector(card=str(card), device="cpu")
    assert "must never run" not in capsys.readouterr().out


def test_weights_of_another_architecture_are_refused(tmp_path):
    weights = tmp_path / "w.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, weights)
    with pytest.raises(ValueError, match="do not fit the architecture"):
        ReferenceDetector(card=str(write_card(tmp_path, weights)), device="cpu")


def test_bad_cards_and_options_name_the_problem(tmp_path, card):
    (tmp_path / "bad.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ValueError, match="missing key 'version'"):
        ReferenceDetector(card=str(tmp_path / "bad.json"))
    with pytest.raises(ValueError, match="does not exist"):
        ReferenceDetector(card=str(tmp_path / "nope.json"))
    with pytest.raises(ValueError, match="model.modalities"):
        ReferenceDetector(card=str(card), modalities="radar")


def test_the_shipped_weights_match_their_card_and_fit_the_size_budget():
    card = json.loads(DEFAULT_CARD.read_text())
    assert sha256_file(WEIGHTS_DIR / card["weights"]) == card["sha256"]
    assert sum(p.stat().st_size for p in WEIGHTS_DIR.iterdir()) <= 20 * 2**20
    assert card["parameters"] <= 5_000_000
    det = ReferenceDetector(device="cpu")
    assert det.version == card["version"] and len(det.content_hash) == 64
