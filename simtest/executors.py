"""Where cells run: in this process, or on a pool of Ray actors.

Both executors take a :class:`~simtest.runner.WorkerSpec` and yield
:class:`~simtest.runner.CellOutcome` objects as cells finish; the driver
(:func:`simtest.runner.run_sweep`) writes them. Results do not depend on the
executor or on the number of workers: every random stream is keyed by the
cell, episode, frame, sensor and perturbation, never by the worker.

Both hand out cells through a :class:`~simtest.scheduling.CellQueue`: the cells
of one frame group (same scene, conditions and patch) run back to back on one
worker, which simulates the group's episodes once and reuses the frames.

Ray: each actor builds its own simulator and detector from the spec (and, for
CARLA, its own server) as soon as the pool starts, reserves
``num_cpus``/``num_gpus``, and limits torch, BLAS, OpenMP and numba (the
embedded simulator's kernels; its Embree ray casting follows ``sim.nthreads``,
which the main job sets to ``threads`` for Ray) to ``threads`` threads, through
environment variables set before the actor imports anything, so that workers
do not oversubscribe the cores. ``address`` joins an existing cluster;
otherwise a local Ray starts and stops with the sweep. An actor that dies
(segfault, OOM kill) is replaced and its cell retried within the retry budget.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from simtest.cell_setup import cell_setup
from simtest.config import ConfigError, ExecutorConfig
from simtest.models.base import Detector
from simtest.runner import CellOutcome, CellWorker, WorkerSpec, frame_group, now_iso
from simtest.scheduling import CellQueue
from simtest.sweep import Cell

log = logging.getLogger("simtest.executors")

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
ACTOR_THREAD_ENV = (*THREAD_ENV, "NUMBA_NUM_THREADS")
"""Set in a Ray actor's environment before it imports anything: the serial executor leaves numba
(the simulator's kernels) on every core, an actor shares the cores with the other actors."""


def limit_threads(threads: int) -> None:
    """Limit torch (and, for libraries loaded later, BLAS/OpenMP) to ``threads`` threads (0 = leave)."""
    if threads <= 0:
        return
    for var in THREAD_ENV:
        os.environ[var] = str(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def limit_simulator_threads(threads: int) -> None:
    """Set the embedded simulator's kernel threads, if it is loaded here (0 = leave)."""
    kernels = sys.modules.get("simtest.sim.embedded.kernels")
    set_threads = getattr(kernels, "set_threads", None)
    if threads > 0 and set_threads is not None:
        set_threads(threads)


def cell_queue(cells: Sequence[Cell], spec: WorkerSpec) -> CellQueue[Cell]:
    """The cells grouped by the simulated frames they share (a cell with bad axes is a group of its own)."""

    def group_of(cell: Cell) -> Hashable:
        try:
            return frame_group(cell_setup(cell.axes, spec.default_scenario))
        except ValueError:
            return ("unresolved", cell.id)  # fails in the worker, with the cell's own error

    return CellQueue(cells, group_of)


@dataclass
class PoolStats:
    """Where a Ray pool's wall time went (seconds), for the runner benchmark.

    ``startup``: pool creation until every actor had built its simulator and
    detector (:meth:`RayExecutor.wait_ready`; 0 if not called). ``busy``: per actor, the sum of its cells' round trips (dispatch to
    result). ``tail_idle``: per actor, from its last result to the end of the
    sweep. ``transfer``: round trips minus the cells' own run time (dispatch,
    pickling, result transfer), summed.
    """

    startup: float = 0.0
    busy: dict[int, float] = field(default_factory=dict)
    tail_idle: dict[int, float] = field(default_factory=dict)
    transfer: float = 0.0
    cells: int = 0


class SerialExecutor:
    """Runs cells one after another in this process with one simulator and one detector.

    Cells of one frame group run back to back, so each group is simulated once.
    """

    workers = 1

    def __init__(self, spec: WorkerSpec, detector: Detector | None = None, threads: int = 0) -> None:
        limit_threads(threads)
        self.worker = CellWorker(spec, detector)

    def run(self, cells: Sequence[Cell]) -> Iterator[CellOutcome]:
        queue = cell_queue(cells, self.worker.spec)
        while (cell := queue.take(0)) is not None:
            yield self.worker.run(cell)

    def close(self) -> None:
        self.worker.close()


class _Actor:
    """The Ray actor: one CellWorker, its simulator and detector live as long as the actor."""

    def __init__(self, spec: WorkerSpec, threads: int) -> None:
        limit_threads(threads)
        logging.basicConfig(level=logging.WARNING)
        self.threads = threads
        self.worker = CellWorker(spec)

    def warm(self, cell: Cell | None = None) -> str | None:
        """Build the simulator and detector (with ``cell``, run one frame of it; see CellWorker.warm).

        Returns the error instead of raising: the first cell then fails and is retried as usual.
        """
        try:
            self.worker.warm(cell)
        except Exception as e:  # noqa: BLE001 - reported by the cells that need the component
            return f"{type(e).__name__}: {e}"
        finally:
            limit_simulator_threads(self.threads)
        return None

    def run(self, cell: Cell) -> CellOutcome:
        return self.worker.run(cell)

    def close(self) -> None:
        self.worker.close()


class RayExecutor:
    """A pool of Ray actors, one cell in flight each, fed by a :class:`~simtest.scheduling.CellQueue`.

    The actors start building their simulator and detector as soon as the pool
    is created; an idle actor gets the next cell of the frame group it holds,
    else the biggest group no actor is on, else joins a big group when that pays.
    ``stats`` (:class:`PoolStats`) records start-up, busy and tail-idle time.
    """

    def __init__(self, spec: WorkerSpec, cfg: ExecutorConfig) -> None:
        import ray

        self.ray = ray
        self.spec = spec
        self.cfg = cfg
        self.workers = cfg.workers
        self.started_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": True}
            if cfg.address:
                ray.init(address=cfg.address, **kwargs)
            else:
                ray.init(**kwargs)
            self.started_ray = True
        have_cpu = ray.cluster_resources().get("CPU", 0.0)
        have_gpu = ray.cluster_resources().get("GPU", 0.0)
        need_cpu, need_gpu = cfg.workers * cfg.num_cpus, cfg.workers * cfg.num_gpus
        if need_cpu > have_cpu or need_gpu > have_gpu:
            self.close()
            raise ConfigError(
                f"executor: {cfg.workers} workers x (num_cpus={cfg.num_cpus:g}, num_gpus={cfg.num_gpus:g}) need "
                f"{need_cpu:g} CPUs and {need_gpu:g} GPUs but the Ray cluster has {have_cpu:g} and {have_gpu:g}; "
                "lower executor.workers or the per-worker resources"
            )
        env = {var: str(cfg.threads) for var in ACTOR_THREAD_ENV} if cfg.threads > 0 else {}
        self._actor_cls = ray.remote(num_cpus=cfg.num_cpus, num_gpus=cfg.num_gpus, max_restarts=0)(_Actor).options(
            runtime_env={"env_vars": env} if env else None
        )
        self.stats = PoolStats()
        self._t0 = time.perf_counter()
        self._warming: dict[Any, Any] = {}  # warm-up ref -> actor, until ready
        self.actors = [self._spawn() for _ in range(cfg.workers)]
        self._busy: set[Any] = set()

    def _spawn(self) -> Any:
        actor = self._actor_cls.remote(self.spec, self.cfg.threads)
        self._warming[actor.warm.remote()] = actor  # builds while the driver plans and prepares
        return actor

    def wait_ready(self, cell: Cell | None = None) -> float:
        """Block until every actor is built (with ``cell``: has also run one frame of it); returns the
        seconds since the pool was created, also kept as ``stats.startup``."""
        errors = self.ray.get(list(self._warming))
        if cell is not None:
            errors += self.ray.get([a.warm.remote(cell) for a in self.actors])
        self._warming.clear()
        if any(errors):
            raise RuntimeError(f"Ray pool: an actor could not warm up: {next(e for e in errors if e)}")
        self.stats.startup = time.perf_counter() - self._t0
        return self.stats.startup

    def run(self, cells: Sequence[Cell]) -> Iterator[CellOutcome]:
        ray = self.ray
        queue = cell_queue(cells, self.spec)
        deaths: dict[str, int] = {}  # cell id -> its actors that died so far
        idle = list(self.actors)
        inflight: dict[Any, tuple[Any, Cell, str, float]] = {}
        last: dict[int, float] = {}
        stats = self.stats
        while len(queue) or inflight:
            for actor in list(idle):
                cell = queue.take(id(actor))
                if cell is not None:
                    idle.remove(actor)
                    inflight[actor.run.remote(cell)] = (actor, cell, now_iso(), time.perf_counter())
                    self._busy.add(actor)
            if not inflight:  # only possible if every actor died and was not replaced
                raise RuntimeError("Ray pool: no actor left to run the remaining cells")
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            for ref in ready:
                actor, cell, start, t_sent = inflight.pop(ref)
                self._busy.discard(actor)
                now = time.perf_counter()
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayActorError as e:
                    # the worker process died (segfault, OOM kill): replace it and retry the cell
                    self.actors.remove(actor)
                    queue.release(id(actor))
                    actor = self._spawn()
                    self.actors.append(actor)
                    n = deaths[cell.id] = deaths.get(cell.id, 0) + 1
                    log.warning("worker died on cell %s (%d time(s)): %s", cell.id, n, e)
                    if n <= self.spec.retries:
                        queue.put_back(cell)
                    else:
                        yield CellOutcome(cell.id, None, f"worker process died: {type(e).__name__}: {e}", n, start, now_iso())
                    idle.append(actor)
                    continue
                outcome.attempts += deaths.get(cell.id, 0)
                idle.append(actor)
                key = id(actor)
                stats.busy[key] = stats.busy.get(key, 0.0) + now - t_sent
                stats.cells += 1
                last[key] = now
                if outcome.result is not None:
                    queue.record(outcome.result.timing, self.spec.episodes)
                    stats.transfer += max(now - t_sent - outcome.result.timing.get("total", 0.0), 0.0)
                yield outcome
        end = time.perf_counter()
        stats.tail_idle = {k: end - t for k, t in last.items()}

    def close(self) -> None:
        """Close idle actors' simulators cleanly, kill busy ones (after Ctrl-C), stop a local Ray."""
        ray = self.ray
        busy = getattr(self, "_busy", set())
        for actor in getattr(self, "actors", []):
            if actor not in busy:
                try:
                    ray.get(actor.close.remote(), timeout=30)
                except Exception:  # a dead or hung actor is killed below anyway
                    log.warning("a worker did not close cleanly; killing it")
            ray.kill(actor)
        self.actors, self._busy = [], set()
        if self.started_ray and ray.is_initialized():
            ray.shutdown()
            self.started_ray = False


def make_executor(cfg: ExecutorConfig, spec: WorkerSpec, detector: Detector | None = None) -> SerialExecutor | RayExecutor:
    """The executor named by ``cfg.kind``; the serial one reuses an already built detector."""
    if cfg.kind == "ray":
        return RayExecutor(spec, cfg)
    return SerialExecutor(spec, detector, cfg.threads)

