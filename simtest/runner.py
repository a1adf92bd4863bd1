"""Execute cells and keep the run folder consistent.

A :class:`CellWorker` owns one simulator and one detector and turns a cell into
result rows: for each of E episodes it resets the simulator (the episode seed
depends only on the root seed, the scenario and its parameters, so cells that
differ in weather or perturbation see the same world), simulates warm-up frames,
then F recorded frames: simulator -> perturbations (drawn from the cell's
streams, their Params recorded) -> detector (an episode's frames in one call,
so that the model can batch them) -> matching -> rows. The worker keeps the
simulated frames of its last cell group (same scene, conditions and patch) and
reuses them for the next cell of that group, so a perturbation-only variant
costs no simulation (``WorkerSpec.reuse_frames``). A cell that
raises (simulator crash, time-out, model error, NaN output) is retried with a
fresh simulator up to ``retries`` times, then reported failed with its error.

The driver (:func:`run_sweep`) plans nothing itself: it prepares the manifest
(refusing to resume a run whose config changed unless forced), feeds the
unfinished cells to an executor, and for each finished cell writes (on a
background thread, while the executor goes on), in this order and each
atomically: the perturbation record ``params/<cell>.json.gz``, the thumbnails
``thumbs/<cell>/ep<NNN>_{camera.jpg,bev.png}``, and last the cell file
``cells/<cell>.parquet`` -- whose existence is the proof of completion. A run
killed at any moment (SIGKILL included) loses only the cells in flight.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gzip
import json
import logging
import os
import queue
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from perturbations import registry
from perturbations.lidar.scan import Scan
from simtest.cell_setup import CellSetup, cell_setup
from simtest.config import ConfigError
from simtest.metrics.matching import MatchConfig, match_batch, rows_from_match
from simtest.models.base import Detector
from simtest.seeding import canonical, derive_seed, rng_for
from simtest.sim.base import Simulator
from simtest.store import CellRecord, Manifest, RunStore, atomic_write_bytes, config_hash, git_commit
from simtest.sweep import Cell, SweepPlan
from simtest.types import Detections, Frame, Lidar

log = logging.getLogger("simtest.runner")

RESULT_SECTIONS = ("sim", "model", "scenario", "sweep", "rig", "matching")
"""Config sections that change result rows; a resume with any of them changed is refused."""

EXIT_CELLS_FAILED = 3
EXIT_INTERRUPTED = 130


class ResumeError(ConfigError):
    """The run folder holds a different config; resume refused."""


class CellTimeout(Exception):
    """A cell exceeded ``executor.cell_timeout``."""


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------------------
# the work of one cell
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to run cells; picklable, so Ray actors can build from it.

    ``make_simulator``/``make_detector`` build fresh components; ``load_scenario``
    maps a scenario name to the simulator's scenario object; ``history`` is the
    number of recent frames kept for fusion-level perturbations (delays).
    ``reuse_frames``: a worker keeps the simulated (unperturbed) frames of the
    cell group it last ran (:func:`frame_group`: same scene, conditions and
    patch) and feeds them to the next cell of that group instead of simulating
    them again -- the simulator is deterministic per episode seed, so the rows
    are the same either way. The kept arrays are made read-only, so that an
    in-place perturbation fails loudly instead of corrupting the next cell.
    """

    make_simulator: Callable[[], Simulator]
    make_detector: Callable[[], Detector]
    load_scenario: Callable[[str], Any]
    match: MatchConfig
    episodes: int
    frames: int
    root_seed: int
    warmup_frames: int = 0
    default_scenario: str | None = None
    retries: int = 2
    thumbnails: bool = False
    history: int = 4
    cell_timeout: float = 0.0
    reuse_frames: bool = True


@dataclass
class CellResult:
    """What a finished cell hands back to the driver."""

    rows: pd.DataFrame
    applied: list[dict[str, Any]]
    thumbs: dict[str, bytes] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)


@dataclass
class CellOutcome:
    """A cell's end: a result, or the error of its last attempt."""

    cell_id: str
    result: CellResult | None
    error: str | None
    attempts: int
    start: str
    end: str
    detail: str = ""  # traceback of the last failed attempt

    @property
    def ok(self) -> bool:
        return self.result is not None


def perturb_frame(
    frame: Frame, history: Sequence[Frame], setup: CellSetup, cell_seed: int, episode: int, step: int
) -> tuple[Frame, list[dict[str, Any]]]:
    """Apply the cell's perturbations to one frame; returns the frame and the JSON-able records.

    Each (sensor, perturbation) draws from its own stream
    ``rng_for(cell_seed, episode, step, sensor, name)``. Camera perturbations act
    on every camera image, lidar perturbations on every lidar scan, fusion-level
    ones on the frame history (``history[-1]`` is the current frame as perturbed
    so far). Ground truth is left as simulated: it describes the world, so every
    severity is scored against the same objects.
    """
    records: list[dict[str, Any]] = []
    for name in setup.perturbations:
        p = registry.get(name)
        if p.kind == "camera":
            for sensor, cam in frame.cameras.items():
                rng = rng_for(cell_seed, episode, step, sensor, name)
                image, applied = registry.perturb_recorded(cam.image, name, setup.severity, rng)
                frame = frame.with_camera(sensor, replace(cam, image=image))
                records.append({"sensor": sensor, **applied.to_dict()})
        elif p.kind == "lidar":
            for sensor, lid in frame.lidars.items():
                rng = rng_for(cell_seed, episode, step, sensor, name)
                scan = Scan(points=lid.points, ring=lid.ring, labels=lid.labels,
                            origin=tuple(float(v) for v in lid.origin), num_beams=lid.num_beams)
                out, applied = registry.perturb_recorded(scan, name, setup.severity, rng)
                new = Lidar(points=out.points, ring=out.ring, T_ego_from_lidar=lid.T_ego_from_lidar,
                            num_beams=out.num_beams, labels=out.labels, timestamp=lid.timestamp)
                frame = frame.with_lidar(sensor, new)
                records.append({"sensor": sensor, **applied.to_dict()})
        else:
            frames = [*history[:-1], frame]
            rng = rng_for(cell_seed, episode, step, "frame", name)
            params = p.sample(setup.severity, (len(frames),), rng)
            frame = p.apply(frames, params)
            records.append({"sensor": "frame", **registry.Applied(name, setup.severity, params).to_dict()})
    return frame, records


PHASES = ("sim", "perturb", "model", "match", "thumbs")
"""The timed phases of a cell (:class:`CellResult` ``timing`` keys, with ``cpu_`` twins and ``total``)."""


class PhaseClock:
    """Wall and CPU seconds per phase of a cell.

    CPU time is the whole process's (user + system, every thread: Embree's and
    torch's pools included), so ``cpu_<phase> / <phase>`` is the mean number of
    cores the phase kept busy.
    """

    def __init__(self) -> None:
        self.wall = dict.fromkeys(PHASES, 0.0)
        self.cpu = dict.fromkeys(PHASES, 0.0)
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] += time.perf_counter() - t0
            self.cpu[name] += time.process_time() - c0

    def totals(self) -> dict[str, float]:
        """``{phase: wall s, "cpu_" + phase: CPU s, "total": wall s, "cpu_total": CPU s}`` since creation."""
        out = {**self.wall, **{f"cpu_{k}": v for k, v in self.cpu.items()}}
        out["total"] = time.perf_counter() - self.t0
        out["cpu_total"] = time.process_time() - self.c0
        return out


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`CellTimeout` in this thread after ``seconds`` (main thread only; 0 = none).

    The alarm interrupts Python code; a call stuck inside C code is interrupted
    when it returns to Python.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CellTimeout(f"cell exceeded executor.cell_timeout={seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def frame_group(setup: CellSetup) -> tuple[Any, ...]:
    """What fixes a cell's simulated frames: scene (scenario + parameters), conditions and patch.

    Cells of one group (e.g. the same scenario under the same weather at every
    perturbation and severity) see the same unperturbed frames, episode by episode.
    """
    return (setup.scene_key, setup.conditions, setup.patch)


def freeze(obj: Any) -> None:
    """Make every numpy array inside ``obj`` (dataclasses, mappings, sequences) read-only, in place."""
    if isinstance(obj, np.ndarray):
        obj.flags.writeable = False
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            freeze(getattr(obj, f.name))
    elif isinstance(obj, Mapping):
        for v in obj.values():
            freeze(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            freeze(v)


class CellWorker:
    """Runs cells with one simulator and one detector, both reused across cells."""

    def __init__(self, spec: WorkerSpec, detector: Detector | None = None) -> None:
        self.spec = spec
        self._detector = detector
        self._sim: Simulator | None = None
        self._scenarios: dict[str, Any] = {}
        self._group: tuple[Any, ...] | None = None  # frame group whose simulated episodes are kept
        self._episodes: dict[int, list[Frame]] = {}

    # -- components -----------------------------------------------------------

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            self._detector = self.spec.make_detector()
        return self._detector

    def simulator(self) -> Simulator:
        if self._sim is None:
            sim = self.spec.make_simulator()
            self._sim = sim.__enter__()
        return self._sim

    def drop_simulator(self) -> None:
        """Close the simulator (errors while closing a broken one are logged, not raised)."""
        sim, self._sim = self._sim, None
        if sim is not None:
            try:
                sim.__exit__(None, None, None)
            except Exception:  # a crashed simulator may fail to close; the next attempt builds a new one
                log.warning("closing the simulator failed:\n%s", traceback.format_exc())

    def close(self) -> None:
        self.drop_simulator()

    def warm(self, cell: Cell | None = None) -> None:
        """Build the detector and the simulator; with ``cell``, also simulate and infer one frame of it
        (compiles the kernels, touches every code path) without keeping anything."""
        detector, sim = self.detector, self.simulator()
        if cell is None:
            return
        setup = cell_setup(cell.axes, self.spec.default_scenario, where=f"cell {cell.id}")
        sim.reset(self._scenario(setup), setup.conditions, derive_seed(self.spec.root_seed, "warm-up"))
        detector.predict([sim.step()])

    def _scenario(self, setup: CellSetup) -> Any:
        key = setup.scene_key
        if key not in self._scenarios:
            base = self.spec.load_scenario(setup.scenario)
            self._scenarios[key] = base.with_params(setup.scenario_params) if setup.scenario_params else base
        return self._scenarios[key]

    # -- running ----------------------------------------------------------------

    def run(self, cell: Cell) -> CellOutcome:
        """Run a cell with retries, each retry on a fresh simulator."""
        start = now_iso()
        error, detail = None, ""
        attempts = 0
        for attempt in range(self.spec.retries + 1):
            attempts = attempt + 1
            try:
                with deadline(self.spec.cell_timeout):
                    result = self.run_cell(cell)
                return CellOutcome(cell.id, result, None, attempts, start, now_iso())
            except Exception as e:  # noqa: BLE001 - any failure of a cell is recorded, the sweep goes on
                error, detail = f"{type(e).__name__}: {e}", traceback.format_exc()
                log.warning("cell %s attempt %d/%d failed: %s", cell.id, attempts, self.spec.retries + 1, error)
                self.drop_simulator()
                self._group, self._episodes = None, {}  # the retry simulates afresh too
        return CellOutcome(cell.id, None, error, attempts, start, now_iso(), detail)

    def run_cell(self, cell: Cell) -> CellResult:
        """One attempt at a cell: E episodes x F frames -> rows, perturbation records, thumbnails."""
        spec = self.spec
        setup = cell_setup(cell.axes, spec.default_scenario, where=f"cell {cell.id}")
        scenario = self._scenario(setup)
        group = frame_group(setup)
        if group != self._group:
            self._group, self._episodes = group, {}
        detector = self.detector
        clock = PhaseClock()
        simulated_episodes = 0
        rows: list[pd.DataFrame] = []
        applied: list[dict[str, Any]] = []
        thumbs: dict[str, bytes] = {}
        patches = {}
        if setup.patch is not None:  # physical patches worn by the actors (same control texture in every cell)
            from perturbations.patch import resolve_axis_value

            patches = {"patches": resolve_axis_value(setup.patch, seed=spec.root_seed)}
        for episode in range(spec.episodes):
            ep_seed = derive_seed(spec.root_seed, "episode", setup.scene_key, episode)
            kept = self._episodes.get(episode)
            simulated: list[Frame] = []
            if kept is None:
                with clock.phase("sim"):
                    sim = self.simulator()
                    sim.reset(scenario, setup.conditions, ep_seed, **patches)
                    for _ in range(spec.warmup_frames):
                        sim.step()
            history: deque[Frame] = deque(maxlen=max(spec.history, 1))
            pframes: list[Frame] = []
            for step in range(spec.frames):
                if kept is None:
                    with clock.phase("sim"):
                        frame = sim.step()
                        if spec.reuse_frames:
                            freeze(frame)
                            simulated.append(frame)
                else:
                    frame = kept[step]
                with clock.phase("perturb"):
                    history.append(frame)
                    pframe, records = perturb_frame(frame, list(history), setup, cell.seed, episode, step)
                pframes.append(pframe)
                if records:
                    applied.append({"episode": episode, "frame": int(pframe.index), "step": step, "applied": records})
            if kept is None:
                simulated_episodes += 1
            if simulated:
                self._episodes[episode] = simulated
            with clock.phase("model"):
                detections = detector.predict(pframes)  # one call per episode: the model batches
            if len(detections) != len(pframes) or not all(isinstance(d, Detections) for d in detections):
                raise ValueError(
                    f"model {getattr(detector, 'name', type(detector).__name__)}: predict(frames) must return one "
                    f"Detections per frame ({len(pframes)}), got {type(detections).__name__} of length {len(detections)}"
                )
            with clock.phase("match"):
                ep_rows = episode_rows(pframes, detections, spec.match, episode=episode, seed=ep_seed)
            rows.append(ep_rows)
            if spec.thumbnails:
                with clock.phase("thumbs"):
                    k = keyframe_index(ep_rows, pframes)
                    thumbs.update(render_thumbnails(pframes[k], detections[k], episode))
        table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        timing = clock.totals()
        timing["frames"] = float(spec.episodes * spec.frames)
        timing["simulated"] = float(simulated_episodes)
        return CellResult(rows=table, applied=applied, thumbs=thumbs, timing=timing)


def episode_rows(
    frames: Sequence[Frame], detections: Sequence[Detections], cfg: MatchConfig, *, episode: int, seed: int
) -> pd.DataFrame:
    """Result rows of an episode (every column but ``cell``), matched in one vectorised batch.

    Equivalent to :func:`simtest.metrics.matching.result_rows` frame by frame
    (matching never crosses frames), rows ordered by frame, ground truth first.
    """
    for f, d in zip(frames, detections):
        if tuple(f.objects.class_names) != cfg.class_names or tuple(d.class_names) != cfg.class_names:
            raise ValueError(
                f"episode {episode} frame {f.index}: class names differ: ground truth {list(f.objects.class_names)}, "
                f"detections {list(d.class_names)}, matching {list(cfg.class_names)}; use one class list everywhere"
            )
    n_gt = [len(f.objects) for f in frames]
    n_det = [len(d) for d in detections]

    def per(values: list[Any], counts: list[int], dtype: Any) -> np.ndarray:
        return np.repeat(np.asarray(values, dtype), counts)

    def cat(arrays: list[np.ndarray], width: int | None = None, dtype: Any = None) -> np.ndarray:
        if not arrays:
            return np.zeros((0, width) if width else 0, dtype)
        return np.concatenate(arrays).astype(dtype, copy=False) if dtype is not None else np.concatenate(arrays)

    common = {
        "episode": [episode] * len(frames), "frame": [f.index for f in frames], "seed": [seed] * len(frames),
        "timestamp": [f.timestamp for f in frames], "ego_speed": [f.ego.speed for f in frames],
    }
    types = {"episode": np.int32, "frame": np.int64, "seed": np.int64, "timestamp": np.float64, "ego_speed": np.float64}
    gt = {k: per(v, n_gt, types[k]) for k, v in common.items()}
    gt.update(
        object_id=cat([f.objects.ids for f in frames], dtype=np.int64),
        labels=cat([f.objects.labels for f in frames], dtype=np.int64),
        boxes=cat([f.objects.boxes for f in frames], 7, np.float64).reshape(-1, 7),
        visible_fraction=cat([f.objects.visible_fraction for f in frames], dtype=np.float64),
        lidar_points=cat([f.objects.lidar_points for f in frames], dtype=np.int64),
        in_path=cat([f.objects.in_path for f in frames], dtype=bool),
        critical=cat([f.objects.critical for f in frames], dtype=bool),
    )
    det = {k: per(v, n_det, types[k]) for k, v in common.items()}
    det.update(
        labels=cat([d.labels for d in detections], dtype=np.int64),
        boxes=cat([d.boxes for d in detections], 7, np.float64).reshape(-1, 7),
        scores=cat([d.scores for d in detections], dtype=np.float64),
    )
    step_gt = per(list(range(len(frames))), n_gt, np.int64)
    step_det = per(list(range(len(frames))), n_det, np.int64)
    m = match_batch(step_gt, gt["labels"], gt["boxes"], step_det, det["labels"], det["boxes"], det["scores"], cfg)
    rows = rows_from_match(m, gt, det, cfg)
    return rows.sort_values("frame", kind="stable").reset_index(drop=True)


def keyframe_index(rows: pd.DataFrame, frames: Sequence[Frame]) -> int:
    """The frame of an episode most worth a thumbnail: most critical misses, then most misses, then latest."""
    gt = rows["row_type"].to_numpy() == "gt"  # NumPy, not a groupby: this runs for every episode of a sweep
    frame = rows["frame"].to_numpy()[gt]
    missed = ~rows["detected"].to_numpy()[gt].astype(bool)
    crit = missed & rows["critical"].to_numpy()[gt].astype(bool)
    key = [(int(np.count_nonzero(crit[frame == f.index])), int(np.count_nonzero(missed[frame == f.index])), i)
           for i, f in enumerate(frames)]
    return max(key)[2]


def render_thumbnails(frame: Frame, detections: Detections, episode: int, width: int = 320) -> dict[str, bytes]:
    """Small keyframe images of an episode: camera with boxes (JPEG) and bird's-eye view (PNG)."""
    import cv2

    from simtest import viz

    out: dict[str, bytes] = {}
    stem = f"ep{episode:03d}"
    if frame.cameras:
        img = np.ascontiguousarray(viz.camera_with_boxes(frame, detections, camera=sorted(frame.cameras)[0]))
        scale = width / img.shape[1]
        if scale < 1:
            img = cv2.resize(img, (width, round(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            out[f"{stem}_camera.jpg"] = buf.tobytes()
    bev = np.ascontiguousarray(viz.bev_image(frame, detections, size=width))
    ok, buf = cv2.imencode(".png", cv2.cvtColor(bev, cv2.COLOR_RGB2BGR))
    if ok:
        out[f"{stem}_bev.png"] = buf.tobytes()
    return out


# ---------------------------------------------------------------------------
# the run folder: manifest, resume, writing finished cells
# ---------------------------------------------------------------------------


def result_config(config: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run's config that decides its rows, plus the model's content hash."""
    picked = {k: config.get(k) for k in RESULT_SECTIONS}
    picked["model_hash"] = model.get("hash")
    return picked


def prepare_manifest(
    store: RunStore,
    plan: SweepPlan,
    *,
    config: dict[str, Any],
    model: dict[str, Any],
    force: bool = False,
) -> Manifest:
    """A new manifest, or the existing one checked and extended for a resume.

    Resuming with a different result config raises :class:`ResumeError` naming
    the sections that changed, unless ``force`` (then the new config is recorded,
    finished cells are kept and unfinished cells follow the new plan).
    """
    wanted = result_config(config, model)
    digest = config_hash(wanted)
    cells = {c.id: CellRecord(axes=dict(c.axes), seed=c.seed, weight=c.weight) for c in plan.cells}
    if not store.exists():
        manifest = Manifest(
            run_id=store.root.name, config=config, axes=dict(plan.axis_types), root_seed=plan.root_seed,
            model=dict(model), config_hash=digest, git_commit=git_commit(), cells=cells,
        )
        store.save_manifest(manifest)
        return manifest
    manifest = store.load_manifest()
    done = store.done_cells()
    if manifest.config_hash != digest:
        old = result_config(manifest.config, manifest.model)
        changed = [k for k in wanted if canonical(old.get(k)) != canonical(wanted[k])] or ["(config layout)"]
        if not force:
            raise ResumeError(
                f"{store.root}: this run was made with a different config (changed: {', '.join(changed)}); "
                f"resuming would mix results. Use a new run.dir, or add run.force=true to resume anyway "
                f"({len(done)} finished cells keep their old results)"
            )
        log.warning("resuming %s with a changed config (%s) because run.force=true", store.root, ", ".join(changed))
        manifest.config, manifest.config_hash, manifest.model = config, digest, dict(model)
        manifest.cells = {k: r for k, r in manifest.cells.items() if k in done}
        manifest.axes = {**manifest.axes, **{k: v for k, v in plan.axis_types.items() if k not in manifest.axes}}
    for cid, rec in cells.items():
        manifest.cells.setdefault(cid, rec)
    for cid, rec in manifest.cells.items():
        if cid in done:
            rec.status = "done"
        elif rec.status in ("done", "running"):
            rec.status = "pending"  # its file is gone or was never written
    for tmp in store.cells_dir.glob(".*.tmp") if store.cells_dir.is_dir() else []:
        tmp.unlink(missing_ok=True)  # left by a writer killed mid-write
    store.save_manifest(manifest)
    return manifest


def params_path(run_dir: str | os.PathLike[str], cell: str) -> Path:
    """Where the perturbation Params of a cell are kept."""
    return Path(run_dir) / "params" / f"{cell}.json.gz"


def load_params(run_dir: str | os.PathLike[str], cell: str) -> dict[str, Any]:
    """The perturbation record of a cell: ``{"cell", "seed", "timing", "frames": [...]}``.

    Each entry of ``frames`` holds the episode, frame index, step and the
    ``Applied.to_dict()`` records (plus ``sensor``); ``Applied.from_dict`` and
    ``perturbations.registry.replay`` reproduce the perturbed sensor data exactly.
    """
    path = params_path(run_dir, cell)
    try:
        return json.loads(gzip.decompress(path.read_bytes()))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no perturbation record for cell {cell!r}; has the cell finished?") from None


def write_cell_outputs(store: RunStore, manifest: Manifest, cell: Cell, result: CellResult) -> None:
    """Write a finished cell: params record, thumbnails, then the cell file (each atomic)."""
    record = {"cell": cell.id, "seed": cell.seed, "timing": result.timing, "frames": result.applied}
    atomic_write_bytes(params_path(store.root, cell.id), gzip.compress(json.dumps(record).encode(), 6, mtime=0))
    for name, data in sorted(result.thumbs.items()):
        atomic_write_bytes(store.root / "thumbs" / cell.id / name, data)
    store.write_cell(manifest, cell.id, result.rows)


# ---------------------------------------------------------------------------
# driving a sweep
# ---------------------------------------------------------------------------


class Executor(Protocol):
    """Runs cells somewhere and yields their outcomes as they finish."""

    workers: int

    def run(self, cells: Sequence[Cell]) -> Iterator[CellOutcome]: ...

    def close(self) -> None: ...


@dataclass
class SweepResult:
    """How a sweep ended."""

    run_dir: Path
    planned: int
    skipped: int
    done: list[str]
    failed: dict[str, str]
    interrupted: bool = False
    seconds: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)
    """Per-phase wall and CPU seconds summed over the finished cells (see :class:`PhaseClock`), plus the
    driver's ``store``/``cpu_store`` (writing the cell outputs)."""

    @property
    def exit_code(self) -> int:
        """130 when interrupted, 3 when cells failed, else 0 (the gates decide the rest)."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_CELLS_FAILED if self.failed else 0


class _Progress:
    """A rich progress bar with cells, frames/s and ETA (silent when disabled)."""

    def __init__(self, total: int, frames_per_cell: int, enabled: bool) -> None:
        self.frames_per_cell = frames_per_cell
        self.t0 = time.monotonic()
        self.frames = 0
        self.bar = None
        if enabled and total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]cells"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[fps]} frames/s"),
                TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                transient=False,
            )
            self.task = self.bar.add_task("sweep", total=total, fps="-", failed=0)
            self.bar.start()

    def advance(self, failed: int, frames: int) -> None:
        self.frames += frames
        if self.bar is not None:
            fps = self.frames / max(time.monotonic() - self.t0, 1e-9)
            self.bar.update(self.task, advance=1, fps=f"{fps:.1f}", failed=failed)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _Recorder:
    """Writes finished cells and the manifest on a background thread, while the executor runs on.

    A serial sweep thus computes its next cell while the last one's files are
    fsynced. At most ``depth`` outcomes wait; a writing error stops the sweep
    (re-raised in the driver). :meth:`close` writes what is queued, then returns.
    """

    def __init__(self, store: RunStore, manifest: Manifest, by_id: Mapping[str, Cell], result: SweepResult,
                 bar: _Progress, frames_per_cell: int, save_every: float, depth: int = 2) -> None:
        self.store, self.manifest, self.by_id, self.result, self.bar = store, manifest, by_id, result, bar
        self.frames_per_cell, self.save_every = frames_per_cell, save_every
        self.totals: dict[str, float] = {}
        self.error: BaseException | None = None
        self._queue: queue.Queue[CellOutcome | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._loop, name="simtest-recorder", daemon=True)
        self._thread.start()

    def put(self, outcome: CellOutcome) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(outcome)

    def close(self) -> None:
        """Write every queued outcome, stop the thread; re-raises a writing error."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        last_save = time.monotonic()
        while (outcome := self._queue.get()) is not None:
            if self.error is not None:
                continue  # drain after a failure; the driver stops
            try:
                self._record(outcome)
                if time.monotonic() - last_save >= self.save_every:
                    self.store.save_manifest(self.manifest)
                    last_save = time.monotonic()
            except BaseException as e:  # noqa: BLE001 - handed to the driver thread
                self.error = e

    def _record(self, outcome: CellOutcome) -> None:
        cell, result, totals = self.by_id[outcome.cell_id], self.result, self.totals
        rec = self.manifest.cells[cell.id]
        rec.start, rec.end, rec.attempts = outcome.start, outcome.end, outcome.attempts
        if outcome.result is not None:
            t0, c0 = time.perf_counter(), time.thread_time()
            write_cell_outputs(self.store, self.manifest, cell, outcome.result)
            totals["store"] = totals.get("store", 0.0) + time.perf_counter() - t0
            totals["cpu_store"] = totals.get("cpu_store", 0.0) + time.thread_time() - c0
            rec.status, rec.rows, rec.error = "done", len(outcome.result.rows), None
            result.done.append(cell.id)
            for k, v in outcome.result.timing.items():
                totals[k] = totals.get(k, 0.0) + v
            log.debug("cell %s done: %d rows in %.1f s (attempts %d)", cell.id, rec.rows,
                      outcome.result.timing.get("total", 0.0), outcome.attempts)
        else:
            rec.status, rec.error = "failed", outcome.error
            result.failed[cell.id] = outcome.error or "unknown error"
            log.error("cell %s failed after %d attempt(s): %s", cell.id, outcome.attempts, outcome.error)
            log.debug("last traceback of cell %s:\n%s", cell.id, outcome.detail)
        self.bar.advance(len(result.failed), self.frames_per_cell if outcome.ok else 0)


def run_sweep(
    plan: SweepPlan,
    store: RunStore,
    manifest: Manifest,
    executor: Executor,
    *,
    progress: bool = False,
    save_every: float = 2.0,
) -> SweepResult:
    """Run the unfinished cells of ``plan`` and record them; Ctrl-C stops cleanly.

    Finished cells are written on a background thread (:class:`_Recorder`) as
    the executor goes on; Ctrl-C or an error still writes every cell that
    finished. The manifest is saved at most every ``save_every`` seconds and at
    the end (the cell files, not the manifest, prove completion).
    """
    t_start = time.monotonic()
    done_before = store.done_cells()
    pending = [c for c in plan.cells if c.id not in done_before]
    by_id = {c.id: c for c in pending}
    result = SweepResult(run_dir=store.root, planned=len(plan.cells), skipped=len(plan.cells) - len(pending), done=[], failed={})
    log.info("run %s: %d cells planned, %d already finished, %d to run on %d worker(s)",
             store.root, len(plan.cells), result.skipped, len(pending), executor.workers)
    bar = _Progress(len(pending), plan.episodes * plan.frames, progress)
    recorder = _Recorder(store, manifest, by_id, result, bar, plan.episodes * plan.frames, save_every)
    try:
        try:
            for outcome in executor.run(pending):
                recorder.put(outcome)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            try:
                recorder.close()
            finally:
                bar.stop()
                executor.close()
    finally:
        store.save_manifest(manifest)
    if result.interrupted:
        log.warning("interrupted: %d cells finished this time; rerun the same command to resume", len(result.done))
    result.seconds = time.monotonic() - t_start
    result.timing = recorder.totals
    return result
