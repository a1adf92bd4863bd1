"""Server lifecycle: fail fast without a server, launch flags, crash and relaunch, memory limit."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

carla = pytest.importorskip("carla")

from carla_standin import Registry, listening_socket  # noqa: E402
from carla_fixtures import plan, small_rig  # noqa: E402

from simtest.sim.base import Conditions  # noqa: E402
from simtest.sim.carla import (  # noqa: E402
    CarlaConnectionError,
    CarlaMemoryExceeded,
    CarlaServerCrashed,
    CarlaSimulator,
    CarlaTimeoutError,
    ServerConfig,
)
from simtest.sim.carla.server import CarlaConnection, free_port_pair, launch_command, port_is_free  # noqa: E402


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_server_fails_fast_naming_host_port_and_fix():
    port = unused_port()
    sim = CarlaSimulator(small_rig(), server={"host": "127.0.0.1", "port": port, "timeout": 30.0})
    start = time.monotonic()
    with pytest.raises(CarlaConnectionError) as err:
        sim.reset(plan(), Conditions(), seed=0)
    assert time.monotonic() - start < 3.0  # not the 30 s RPC timeout
    msg = str(err.value)
    assert f"127.0.0.1:{port}" in msg
    assert f"CarlaUE4.sh -RenderOffScreen -carla-rpc-port={port}" in msg
    assert "sim.server.root" in msg
    sim.close()


def test_real_client_against_a_silent_port_times_out_as_rpc_timeout():
    sock, port = listening_socket()
    try:
        conn = CarlaConnection(ServerConfig(host="127.0.0.1", port=port, timeout=0.5))
        start = time.monotonic()
        with pytest.raises(CarlaTimeoutError, match=f"127.0.0.1:{port}"):
            conn.open()
        assert time.monotonic() - start < 10.0
    finally:
        sock.close()


def test_bad_server_config_names_the_key(tmp_path):
    with pytest.raises(ValueError, match="sim.server.port"):
        ServerConfig(port=70000)
    with pytest.raises(ValueError, match="sim.server.root"):
        ServerConfig(port=None)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['prot'\]"):
        ServerConfig.from_dict({"prot": 2000})
    with pytest.raises(ValueError, match="CarlaUE4.sh"):
        launch_command(ServerConfig(root=str(tmp_path), port=None), 2000)


def test_launch_command_has_off_screen_gpu_and_ports(fake_carla_root):
    cmd = launch_command(ServerConfig(root=str(fake_carla_root), port=None, gpu=1, quality="Low"), 4000)
    assert cmd[0] == str(fake_carla_root / "CarlaUE4.sh")
    for flag in ("-RenderOffScreen", "-carla-rpc-port=4000", "-carla-streaming-port=4001", "-graphicsadapter=1",
                 "-quality-level=Low", "-nosound"):
        assert flag in cmd


def test_gpu_auto_follows_the_workers_visible_device(fake_carla_root, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert "-graphicsadapter=3" in launch_command(ServerConfig(root=str(fake_carla_root), port=None, gpu="auto"), 4000)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert "-graphicsadapter=0" in launch_command(ServerConfig(root=str(fake_carla_root), port=None, gpu="auto"), 4000)
    with pytest.raises(ValueError, match="sim.server.gpu"):
        ServerConfig(gpu="first")


def test_free_port_pair_is_free():
    p = free_port_pair()
    assert port_is_free(p) and port_is_free(p + 1)


def launched_sim(fake_carla_root, registry: Registry, tmp_path, **server) -> CarlaSimulator:
    cfg = {"root": str(fake_carla_root), "port": None, "timeout": 1.0, "startup_timeout": 15.0, "log_dir": str(tmp_path)}
    cfg.update(server)
    return CarlaSimulator(small_rig(), server=cfg, sensor_timeout=0.2, client_factory=registry)


def test_crash_relaunches_server_we_launched_and_cleans_up(fake_carla_root, tmp_path):
    registry = Registry(probe_port=True)
    sim = launched_sim(fake_carla_root, registry, tmp_path)
    try:
        sim.reset(plan(False), Conditions(), seed=1)
        sim.step()
        server = sim.connection.server
        first_pid, first_port = server.process.pid, sim.connection.port
        assert "-RenderOffScreen" in (tmp_path / f"carla-server-{first_port}.log").read_text()
        os.killpg(first_pid, signal.SIGKILL)  # the server process we launched dies
        time.sleep(0.2)
        with pytest.raises(CarlaServerCrashed):
            sim.step()
        assert server.process is None  # the dead server's process group is reaped
        # The retry's reset relaunches a fresh server.
        sim.reset(plan(False), Conditions(), seed=1)
        assert sim.connection.relaunches == 1 and sim.stats["relaunches"] == 1
        assert server.process.pid != first_pid and server.is_alive()
        frame = sim.step()
        assert len(frame.objects) == 1
        new_world = registry.servers[sim.connection.port].world
        assert len(new_world.actors) == 2 + 4  # ego, lead car and the four sensors of this episode only
    finally:
        sim.close()
    assert new_world.actors == {}
    assert server.process is None  # stopped by close()
    with pytest.raises(ProcessLookupError):
        os.killpg(first_pid, 0)


def test_memory_limit_fails_the_cell_and_recycles_the_server(fake_carla_root, tmp_path):
    registry = Registry(probe_port=True)
    sim = launched_sim(fake_carla_root, registry, tmp_path, max_memory_gb=1e-4)  # ~100 KiB: any process exceeds it
    try:
        with pytest.raises(CarlaMemoryExceeded, match="max_memory_gb"):
            sim.reset(plan(False), Conditions(), seed=1)
        first = sim.connection.server
        assert first.process is None and first.launches == 1  # the bloated server was stopped
        with pytest.raises(CarlaMemoryExceeded):
            sim.reset(plan(False), Conditions(), seed=1)
        assert sim.connection.relaunches == 1  # ... and a fresh one launched for the retry
    finally:
        sim.close()


def test_rpc_timeout_on_a_launched_server_stops_it_and_relaunches_for_the_retry(fake_carla_root, tmp_path):
    registry = Registry(probe_port=True)
    sim = launched_sim(fake_carla_root, registry, tmp_path)
    try:
        sim.reset(plan(False), Conditions(), seed=1)
        stand_in = registry.servers[sim.connection.port]
        stand_in.timeout_at_frame = stand_in.world.frame + 1
        pid = sim.connection.server.process.pid
        with pytest.raises(CarlaTimeoutError):
            sim.step()
        assert stand_in.world.actors == {}
        assert sim.connection.server.process is None  # a hung server is not reused
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
        sim.reset(plan(False), Conditions(), seed=1)
        assert sim.connection.server.process.pid != pid and sim.connection.relaunches == 1
    finally:
        sim.close()
