"""Export the shipped reference model (or another card's) to ONNX, and optionally TorchScript.

    python tools/export_onnx.py --out model.onnx [--card simtest/models/weights/reference.json] [--torchscript model.pt]

Then run it in a sweep with ``simtest model=onnx model.path=model.onnx`` (the
reference pre/post-processing hooks are the ONNX config's defaults). The script
checks that onnxruntime reproduces PyTorch's outputs on the example input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import onnxruntime as ort
    import torch

    from simtest.models.export import example_inputs, export_onnx, export_torchscript, max_abs_difference
    from simtest.models.reference import DEFAULT_CARD, INPUT_NAMES, ReferenceDetector

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    p.add_argument("--card", type=Path, default=DEFAULT_CARD, help="model card of the weights to export")
    p.add_argument("--torchscript", type=Path, default=None, help="also write a TorchScript file here")
    args = p.parse_args(argv)
    det = ReferenceDetector(card=str(args.card), device="cpu")
    path = export_onnx(det.net, det.config, args.out)
    inputs = example_inputs(det.config)
    with torch.no_grad():
        want = [t.numpy() for t in det.net(*inputs)]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {n: t.numpy() for n, t in zip(INPUT_NAMES, inputs)})
    diff = max(max_abs_difference(a, b) for a, b in zip(want, got))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB); max |onnx - torch| = {diff:.2e}")
    if args.torchscript is not None:
        ts = export_torchscript(det.net, det.config, args.torchscript)
        print(f"wrote {ts} ({ts.stat().st_size / 1e6:.2f} MB)")
    return 0 if np.isfinite(diff) and diff < 1e-3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
