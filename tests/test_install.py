"""The installed packages import, Open3D loads on a bare machine, and the console script runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np


def test_open3d_imports_through_the_loader():
    from simtest.open3d_loader import import_open3d

    o3d = import_open3d()
    # Use it, not just import it: a tiny ray-cast against a unit box hits its near face at 1.5 m.
    scene = o3d.t.geometry.RaycastingScene()
    box = o3d.t.geometry.TriangleMesh.from_legacy(o3d.geometry.TriangleMesh.create_box(1.0, 1.0, 1.0))
    scene.add_triangles(box)
    rays = o3d.core.Tensor(np.array([[-1.5, 0.5, 0.5, 1.0, 0.0, 0.0]], np.float32))
    t_hit = scene.cast_rays(rays)["t_hit"].numpy()
    np.testing.assert_allclose(t_hit, [1.5], rtol=1e-6)


def test_packages_import():
    import perturbations
    import simtest
    from simtest.metrics import matching, risk, safety, summary  # noqa: F401

    assert simtest.__version__
    assert callable(perturbations.perturb)


def test_console_script_help():
    exe = shutil.which("simtest", path=str(Path(sys.executable).parent)) or shutil.which("simtest")
    assert exe, "the 'simtest' console script is not installed; run pip install -e ."
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "evaluate" in out.stdout and "query" in out.stdout
    bad = subprocess.run([exe, "frobnicate"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown command" in bad.stderr
