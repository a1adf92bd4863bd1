"""Export the reference network to ONNX and TorchScript (inputs/outputs named as in :mod:`simtest.models.reference`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simtest.models.reference import INPUT_NAMES, OUTPUT_NAMES, ReferenceConfig

ONNX_OPSET = 17


def example_inputs(config: ReferenceConfig, batch: int = 1) -> tuple[Any, ...]:
    """Zero-valued inputs of the right shapes and dtypes (tracing needs concrete tensors)."""
    import torch

    w, h = config.image_size
    hf, wf = config.feature_shape
    dump = config.grid.bev_shape[0] * config.grid.bev_shape[1]
    return (
        torch.zeros(batch, 1, 3, h, w),
        torch.zeros(batch, config.grid.lidar_channels, *config.grid.shape),
        torch.full((batch, config.depth.count * hf * wf), dump, dtype=torch.int64),
        torch.ones(batch),
        torch.ones(batch),
    )


def export_onnx(net: Any, config: ReferenceConfig, path: str | Path) -> Path:
    """Write ``net`` (eval mode) as ONNX with a dynamic batch axis; returns the path."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    dynamic = {name: {0: "batch"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}
    torch.onnx.export(net, example_inputs(config), str(path), input_names=list(INPUT_NAMES),
                      output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic, opset_version=ONNX_OPSET, dynamo=False)
    return path


def export_torchscript(net: Any, config: ReferenceConfig, path: str | Path) -> Path:
    """Write ``net`` (eval mode) as a traced TorchScript module; returns the path."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        traced = torch.jit.trace(net.eval(), example_inputs(config), check_trace=False)
    traced.save(str(path))
    return path


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
