"""Fixtures for the CARLA backend tests: stand-in servers and a fake CARLA install."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("carla")

from carla_standin import Registry  # noqa: E402


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def fake_carla_root(tmp_path: Path) -> Path:
    """A directory with a CarlaUE4.sh that starts a silent TCP listener on -carla-rpc-port."""
    root = tmp_path / "CARLA_0.9.16"
    root.mkdir()
    script = root / "CarlaUE4.sh"
    listener = textwrap.dedent(
        """
        import socket, sys, time
        port = int([a for a in sys.argv if a.startswith("-carla-rpc-port=")][0].split("=")[1])
        print("fake CARLA server args:", " ".join(sys.argv[1:]), flush=True)
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port)); s.listen(128)
        while True:
            c, _ = s.accept(); c.close()
        """
    )
    (root / "fake_server.py").write_text(listener)
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{root / "fake_server.py"}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert os.access(script, os.X_OK)
    return root
