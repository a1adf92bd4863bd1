"""Where cells run: in this process, or on a pool of Ray actors.

Both executors take a :class:`~simtest.runner.WorkerSpec` and yield
:class:`~simtest.runner.CellOutcome` objects as cells finish; the driver
(:func:`simtest.runner.run_sweep`) writes them. Results do not depend on the
executor or on the number of workers: every random stream is keyed by the
cell, episode, frame, sensor and perturbation, never by the worker.

Ray: each actor builds its own simulator and detector from the spec (and, for
CARLA, its own server), reserves ``num_cpus``/``num_gpus``, and limits torch,
BLAS and OpenMP to ``threads`` threads so that workers do not oversubscribe the
cores. ``address`` joins an existing cluster; otherwise a local Ray starts and
stops with the sweep. An actor that dies (segfault, OOM kill) is replaced and
its cell retried within the retry budget.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from simtest.config import ConfigError, ExecutorConfig
from simtest.models.base import Detector
from simtest.runner import CellOutcome, CellWorker, WorkerSpec, now_iso
from simtest.sweep import Cell

log = logging.getLogger("simtest.executors")

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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


class SerialExecutor:
    """Runs cells one after another in this process with one simulator and one detector."""

    workers = 1

    def __init__(self, spec: WorkerSpec, detector: Detector | None = None, threads: int = 0) -> None:
        limit_threads(threads)
        self.worker = CellWorker(spec, detector)

    def run(self, cells: Sequence[Cell]) -> Iterator[CellOutcome]:
        for cell in cells:
            yield self.worker.run(cell)

    def close(self) -> None:
        self.worker.close()


class _Actor:
    """The Ray actor: one CellWorker, its simulator and detector live as long as the actor."""

    def __init__(self, spec: WorkerSpec, threads: int) -> None:
        limit_threads(threads)
        logging.basicConfig(level=logging.WARNING)
        self.worker = CellWorker(spec)

    def run(self, cell: Cell) -> CellOutcome:
        return self.worker.run(cell)

    def close(self) -> None:
        self.worker.close()


class RayExecutor:
    """A pool of Ray actors pulling cells from a queue (the fastest worker takes the next cell)."""

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
        env = {var: str(cfg.threads) for var in THREAD_ENV} if cfg.threads > 0 else {}
        self._actor_cls = ray.remote(num_cpus=cfg.num_cpus, num_gpus=cfg.num_gpus, max_restarts=0)(_Actor).options(
            runtime_env={"env_vars": env} if env else None
        )
        self.actors = [self._spawn() for _ in range(cfg.workers)]
        self._busy: set[Any] = set()

    def _spawn(self) -> Any:
        return self._actor_cls.remote(self.spec, self.cfg.threads)

    def run(self, cells: Sequence[Cell]) -> Iterator[CellOutcome]:
        ray = self.ray
        queue: deque[tuple[Cell, int]] = deque((c, 0) for c in cells)  # (cell, actor deaths so far)
        idle = list(self.actors)
        inflight: dict[Any, tuple[Any, Cell, int, str]] = {}
        while queue or inflight:
            while queue and idle:
                cell, deaths = queue.popleft()
                actor = idle.pop()
                inflight[actor.run.remote(cell)] = (actor, cell, deaths, now_iso())
                self._busy.add(actor)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            for ref in ready:
                actor, cell, deaths, start = inflight.pop(ref)
                self._busy.discard(actor)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayActorError as e:
                    # the worker process died (segfault, OOM kill): replace it and retry the cell
                    self.actors.remove(actor)
                    actor = self._spawn()
                    self.actors.append(actor)
                    deaths += 1
                    log.warning("worker died on cell %s (%d time(s)): %s", cell.id, deaths, e)
                    if deaths <= self.spec.retries:
                        queue.appendleft((cell, deaths))
                    else:
                        yield CellOutcome(cell.id, None, f"worker process died: {type(e).__name__}: {e}", deaths, start, now_iso())
                    idle.append(actor)
                    continue
                outcome.attempts += deaths
                idle.append(actor)
                yield outcome

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

