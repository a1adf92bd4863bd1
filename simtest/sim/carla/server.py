"""The CARLA server: connect to a running one, or launch and own one.

:class:`ServerConfig` says where the server is (``host``/``port``) or where CARLA
is installed (``root``) so simtest starts its own: off-screen, on GPU ``gpu``,
on a free port. :class:`CarlaConnection` opens the client, watches the server's
health (process alive, resident memory below the limit) and, when simtest
launched the server, stops it after a failure and relaunches it on the next
``open``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from simtest.sim.carla.errors import (
    CarlaConnectionError,
    CarlaMemoryExceeded,
    CarlaServerCrashed,
    CarlaServerError,
    classify_rpc_error,
)

log = logging.getLogger(__name__)

LAUNCHER = "CarlaUE4.sh"
"""The launch script of a packaged CARLA 0.9.x (Unreal Engine 4) release."""

ClientFactory = Callable[[str, int], Any]


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is, or how to launch it.

    ``port`` is the RPC port (the streaming port is ``port + 1``); with ``root``
    set and ``port`` null a free pair is chosen. ``timeout`` bounds every RPC
    call (s); ``startup_timeout`` the wait for a launched server (s);
    ``max_memory_gb`` the resident memory of a launched server before it is
    recycled. ``tm_port`` is the Traffic Manager's port (null: a free one).
    ``gpu``: the render GPU of a launched server; ``auto`` takes the GPU Ray
    assigned to this worker (else the first of ``CUDA_VISIBLE_DEVICES``, else 0).
    """

    host: str = "localhost"
    port: int | None = 2000
    timeout: float = 20.0
    root: str | None = None
    gpu: int | Literal["auto"] | None = None
    off_screen: bool = True
    quality: Literal["Low", "Epic"] = "Epic"
    extra_args: tuple[str, ...] = ()
    startup_timeout: float = 120.0
    max_memory_gb: float | None = None
    tm_port: int | None = None
    probe_timeout: float = 2.0
    log_dir: str | None = None

    def __post_init__(self) -> None:
        w = "sim.server"
        if self.port is not None and not 1 <= self.port <= 65534:
            raise ValueError(f"{w}.port: must be a TCP port in [1, 65534] (port + 1 streams data), got {self.port}")
        if self.port is None and self.root is None:
            raise ValueError(f"{w}.port: null (choose a free port) needs {w}.root, the CARLA install to launch")
        for name in ("timeout", "startup_timeout", "probe_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{w}.{name}: must be positive seconds, got {getattr(self, name)}")
        if self.gpu is not None and self.gpu != "auto" and not (isinstance(self.gpu, int) and self.gpu >= 0):
            raise ValueError(f"{w}.gpu: must be a GPU index >= 0, 'auto' or null, got {self.gpu!r}")
        if self.quality not in ("Low", "Epic"):
            raise ValueError(f"{w}.quality: expected 'Low' or 'Epic', got {self.quality!r}")
        if self.max_memory_gb is not None and not self.max_memory_gb > 0:
            raise ValueError(f"{w}.max_memory_gb: must be positive GiB or null, got {self.max_memory_gb}")
        if self.root is not None and self.host not in ("localhost", "127.0.0.1"):
            raise ValueError(f"{w}.host: simtest launches servers on this machine only; set host: localhost (got {self.host!r})")
        object.__setattr__(self, "extra_args", tuple(self.extra_args))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "sim.server") -> ServerConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(data))


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_pair(host: str = "127.0.0.1", attempts: int = 50) -> int:
    """A port ``p`` such that ``p`` (RPC) and ``p + 1`` (streaming) are both free."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            p = s.getsockname()[1]
        if p < 65535 and port_is_free(p + 1, host):
            return p
    raise CarlaServerError(f"no free pair of TCP ports found on {host} after {attempts} attempts")


def how_to_start(port: int) -> str:
    return (
        f"Start a server with `/path/to/CARLA_0.9.16/{LAUNCHER} -RenderOffScreen -carla-rpc-port={port}` "
        f"(or `docker run --gpus all --net=host carlasim/carla:0.9.16 ./{LAUNCHER} -RenderOffScreen "
        f"-carla-rpc-port={port}`), or set sim.server.root=/path/to/CARLA_0.9.16 so simtest launches its own"
    )


def probe(host: str, port: int, timeout: float) -> None:
    """Fail fast, naming host, port and the fix, when nothing accepts TCP at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise CarlaConnectionError(f"no CARLA server at {host}:{port} ({e}). {how_to_start(port)}.") from None


def resolve_gpu(gpu: int | str | None) -> int | None:
    """The physical GPU index for ``gpu`` (``auto``: Ray's assignment, then CUDA_VISIBLE_DEVICES, then 0)."""
    if gpu != "auto":
        return None if gpu is None else int(gpu)
    try:
        import ray

        if ray.is_initialized():
            ids = ray.get_gpu_ids()
            if ids:
                return int(ids[0])
    except ImportError:
        pass
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return int(first) if first.isdigit() else 0


def launch_command(config: ServerConfig, port: int) -> list[str]:
    """The command line that starts a CARLA server for ``config`` on ``port``."""
    if config.root is None:
        raise ValueError("sim.server.root: not set; cannot launch a CARLA server")
    script = Path(config.root).expanduser() / LAUNCHER
    if not script.is_file() or not os.access(script, os.X_OK):
        raise ValueError(
            f"sim.server.root: {script} is not an executable file; point root at an unpacked CARLA 0.9.x "
            f"release (the folder holding {LAUNCHER})"
        )
    cmd = [str(script), f"-carla-rpc-port={port}", f"-carla-streaming-port={port + 1}", "-nosound"]
    if config.off_screen:
        cmd.append("-RenderOffScreen")
    gpu = resolve_gpu(config.gpu)
    if gpu is not None:
        cmd.append(f"-graphicsadapter={gpu}")
    cmd.append(f"-quality-level={config.quality}")
    return cmd + list(config.extra_args)


def process_group_rss(pgid: int) -> int:
    """Resident memory (bytes) of every process in process group ``pgid`` (Linux /proc)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            statm = Path(entry.path, "statm").read_text().split()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        rest = stat.rsplit(")", 1)[1].split()
        if int(rest[2]) == pgid:
            total += int(statm[1]) * page
    return total


@dataclass
class CarlaServer:
    """A CARLA server process that simtest launched and owns (its own process group)."""

    config: ServerConfig
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    launches: int = 0
    log_path: Path | None = field(default=None)

    def start(self) -> None:
        """Launch on ``config.port``, or on a free port pair when that is null."""
        self.port = self.config.port if self.config.port is not None else free_port_pair()
        cmd = launch_command(self.config, self.port)
        log_dir = Path(self.config.log_dir) if self.config.log_dir else Path(tempfile.gettempdir())
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"carla-server-{self.port}.log"
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.launches += 1
        log.info("launched CARLA server pid %d on port %d (gpu %s): %s", self.process.pid, self.port, self.config.gpu, " ".join(cmd))

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_bytes(self) -> int:
        """Resident memory of the server and its children (bytes); 0 when not running."""
        return process_group_rss(self.process.pid) if self.is_alive() else 0

    def log_tail(self, n: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self, grace: float = 10.0) -> None:
        """Terminate the whole process group: SIGTERM, then SIGKILL after ``grace`` s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace)
            except ProcessLookupError:
                pass
        else:
            # The launcher died; children it left in the group must go too.
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None


def default_client_factory(host: str, port: int) -> Any:
    import carla

    return carla.Client(host, port)


class CarlaConnection:
    """One client connection to one server (launched by us when ``config.root`` is set).

    ``client_factory(host, port)`` builds the client; tests pass a stand-in.
    """

    def __init__(self, config: ServerConfig, client_factory: ClientFactory = default_client_factory) -> None:
        self.config = config
        self.client_factory = client_factory
        self.server = CarlaServer(config) if config.root is not None else None
        self.client: Any = None
        self.port = config.port if config.port is not None else 0
        self.relaunches = 0

    @property
    def launched(self) -> bool:
        """True when simtest owns the server process (and may relaunch it)."""
        return self.server is not None

    def open(self) -> Any:
        """Connect (launching the server first when we own it); returns the client."""
        if self.server is not None:
            if self.server.launches > 0:
                self.relaunches += 1
                log.warning("relaunching the CARLA server (relaunch %d)", self.relaunches)
            self.server.start()
            self.port = self.server.port
            self.client = self._wait_until_ready(self.server)
        else:
            probe(self.config.host, self.port, self.config.probe_timeout)
            self.client = self._connect()
        return self.client

    def _connect(self) -> Any:
        client = self.client_factory(self.config.host, self.port)
        client.set_timeout(self.config.timeout)
        try:
            version = client.get_server_version()
        except RuntimeError as e:
            raise classify_rpc_error(e, where=f"connecting to {self.config.host}:{self.port}") from e
        log.info("connected to CARLA server %s at %s:%d", version, self.config.host, self.port)
        return client

    def _wait_until_ready(self, server: CarlaServer) -> Any:
        deadline = time.monotonic() + self.config.startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not server.is_alive():
                code = server.process.returncode if server.process is not None else None
                raise CarlaServerCrashed(
                    f"the CARLA server launched on port {self.port} exited with code {code}; "
                    f"log {server.log_path}:\n{server.log_tail()}"
                )
            try:
                probe(self.config.host, self.port, self.config.probe_timeout)
                return self._connect()
            except CarlaServerError as e:
                last = e
                time.sleep(0.2)
        server.stop()
        raise CarlaServerCrashed(
            f"the CARLA server launched on port {self.port} was not ready within "
            f"{self.config.startup_timeout} s (last error: {last}); log {server.log_path}"
        )

    def check_health(self) -> None:
        """Raise when a launched server died or outgrew ``max_memory_gb``."""
        if self.server is None:
            return
        if not self.server.is_alive():
            raise CarlaServerCrashed(f"the CARLA server on port {self.port} is no longer running")
        limit = self.config.max_memory_gb
        if limit is not None:
            rss = self.server.rss_bytes()
            if rss > limit * 2**30:
                raise CarlaMemoryExceeded(
                    f"the CARLA server on port {self.port} uses {rss / 2**30:.2f} GiB, above "
                    f"sim.server.max_memory_gb={limit}"
                )

    def discard(self) -> None:
        """After a failure: drop the client; stop the server when we own it.

        The next :meth:`open` reconnects, relaunching a server we own (counted in
        ``relaunches``); a server we do not own is probed again and, if gone,
        fails fast with the how-to-start message.
        """
        self.client = None
        if self.server is not None:
            self.server.stop()

    def close(self) -> None:
        self.client = None
        if self.server is not None:
            self.server.stop()
