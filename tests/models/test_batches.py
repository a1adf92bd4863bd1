"""Detections do not depend on the thread count (serial sweeps use every core, Ray actors one each)."""

from __future__ import annotations

import pytest
import torch

from simtest.models.batches import BatchRunner
from simtest.models.reference import ReferenceDetector

from .scenes import rendered_scene


@pytest.fixture
def restore_torch_threads():  # noqa: ANN201
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_reference_detections_are_byte_identical_on_one_and_two_threads(restore_torch_threads):
    frames = list(rendered_scene()) * 3  # nine frames: three batches of four, the last one short
    det = ReferenceDetector(device="cpu", batch_size=4)
    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out[threads] = det.predict(frames)
        assert torch.get_num_threads() == threads  # restored after the batches
    assert len(out[1]) == len(frames)
    for a, b in zip(out[1], out[2]):
        assert a.boxes.tobytes() == b.boxes.tobytes() and a.scores.tobytes() == b.scores.tobytes()
        assert a.labels.tolist() == b.labels.tolist()


def test_batch_runner_keeps_order_and_runs_each_batch_on_one_intra_op_thread(restore_torch_threads):
    torch.set_num_threads(2)
    seen = []

    def fn(batch):  # noqa: ANN001, ANN202
        seen.append(torch.get_num_threads())
        return [x * 10 for x in batch]

    assert BatchRunner(3).map(fn, list(range(8))) == [x * 10 for x in range(8)]
    assert seen == [1, 1, 1]
    with pytest.raises(ValueError, match="model.batch_size"):
        BatchRunner(0)
