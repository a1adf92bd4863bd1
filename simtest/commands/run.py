"""The main job: ``simtest [hydra overrides ...]``.

Composes ``conf/config.yaml``, plans the sweep, runs it (serial or Ray), then
evaluates the safety gates and CVaR and writes the report into the run folder.
This is the only place that sees a ``DictConfig`` or calls ``instantiate``;
the library gets typed objects and picklable factories.

Exit codes: 0 every gate passes; 1 a gate failed or was inconclusive; 2 bad
input (config, scenario, run folder); 3 some cells failed (listed in the
summary); 130 interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import os

# numpy's threaded BLAS keeps a core spinning after small operations and halves
# Embree's ray-casting speed; the main job does no large linear algebra. Must be
# set before numpy loads (simtest.config imports it).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import importlib.util  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from omegaconf import DictConfig, OmegaConf  # noqa: E402

from simtest.config import (  # noqa: E402
    Config,
    ConfigError,
    ExecutorConfig,
    LoggerConfig,
    MatchingConfig,
    RigConfig,
    RunConfig,
    SweepConfig,
    check_target_keys,
    register_configs,
    to_rig,
)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
log = logging.getLogger("simtest")


@dataclass(frozen=True)
class Component:
    """A picklable recipe: Hydra's ``instantiate`` of a ``_target_`` mapping plus keyword arguments.

    ``kwargs`` (e.g. the typed ``SensorRig``) are passed as the objects they are,
    not merged into the config (which would turn dataclasses into DictConfigs).
    """

    config: dict[str, Any]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        from hydra.utils import instantiate

        if not self.kwargs:
            return instantiate(self.config)
        return instantiate(self.config, _partial_=True)(**self.kwargs)


@dataclass(frozen=True)
class Job:
    """The typed sections of a composed config."""

    sweep: SweepConfig
    executor: ExecutorConfig
    run: RunConfig
    logger: LoggerConfig
    rig: RigConfig
    matching: MatchingConfig
    sim: dict[str, Any]
    model: dict[str, Any]
    config: dict[str, Any]


def typed_job(cfg: DictConfig) -> Job:
    """Turn the composed config into typed sections; raises :class:`ConfigError` naming the key."""
    sections = {}
    for key in ("sweep", "executor", "run", "logger", "rig", "matching"):
        sections[key] = OmegaConf.to_object(cfg[key])
    container = {
        str(k): OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in cfg.items_ex(resolve=False) if k != "hydra"
    }
    if sections["sweep"].dt is not None:  # the sweep sets the simulator's time step
        container["sim"] = {**container["sim"], "dt": sections["sweep"].dt}
    executor = sections["executor"]
    if executor.kind == "ray" and executor.threads > 0 and "nthreads" in container["sim"]:
        # each actor casts rays on its share of the cores (a serial run keeps every core for Embree)
        container["sim"] = {**container["sim"], "nthreads": executor.threads}
    for key in ("sim", "model"):
        check_target_keys(key, container[key])
    container["safety"] = safety_config(str(container["gates"]))  # where simtest evaluate looks
    return Job(sim=container["sim"], model=container["model"], config=container, **sections)


def safety_config(name: str) -> dict[str, Any]:
    """The gate file named by ``gates`` (``conf/safety/<name>.yaml`` or a path), checked.

    Returned with its ``source`` so that the manifest records the gates the run
    was judged by, and ``simtest evaluate RUN`` uses them later.
    """
    import yaml

    from simtest.metrics.safety import gates_from_dict

    path = Path(name) if name.endswith((".yaml", ".yml")) else CONF_DIR / "safety" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (CONF_DIR / "safety").glob("*.yaml"))
        raise ConfigError(f"gates: no gate file {path}; use one of {known} or a path to a .yaml gate file")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"gates: {path} is not a gate file (expected a mapping with 'gates')")
    gates_from_dict(data, source=str(path))
    return {"source": str(path), **data}


def match_config(m: MatchingConfig) -> Any:
    from simtest.metrics.matching import MatchConfig

    try:
        return MatchConfig(method=m.method, center_threshold=m.center_threshold,
                           iou_threshold=m.iou_threshold, score_threshold=m.score_threshold)
    except ValueError as e:
        raise ConfigError(f"matching: {e}") from None


def _model_info(detector: Any) -> dict[str, Any]:
    return {
        "name": str(getattr(detector, "name", type(detector).__name__)),
        "version": str(getattr(detector, "version", "")),
        "hash": str(getattr(detector, "content_hash", "")),
    }


def setup_logging(run_dir: Path, level: str, console: bool = True) -> None:
    """Console (rich) and ``RUN_DIR/run.log`` logging for the ``simtest`` loggers."""
    from rich.logging import RichHandler

    run_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger("simtest")
    root.setLevel(logging.DEBUG)
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    fh = logging.FileHandler(run_dir / "run.log")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    fh.setLevel(logging.DEBUG)
    root.addHandler(fh)
    if console:
        ch = RichHandler(show_path=False, rich_tracebacks=False)
        ch.setLevel(level.upper())
        root.addHandler(ch)
    root.propagate = False


def run_job(cfg: DictConfig, run_dir: Path, scenario_choice: str | None) -> int:
    """Plan, run, evaluate and report; returns the exit code."""
    from simtest.cell_setup import check_plan
    from simtest.executors import make_executor
    from simtest.runner import WorkerSpec, prepare_manifest, run_sweep
    from simtest.store import RunStore
    from simtest.sweep import plan_sweep

    job = typed_job(cfg)
    setup_logging(run_dir, job.run.log_level)
    rig = to_rig(job.rig)
    match = match_config(job.matching)
    plan = plan_sweep(job.sweep)
    from simtest import scenario as scenarios

    check_plan(plan, scenario_choice, scenarios.load_scenario, scenarios.list_scenarios)

    make_model = Component(job.model)
    detector = make_model()
    model = _model_info(detector)
    store = RunStore(run_dir)
    manifest = prepare_manifest(store, plan, config=job.config, model=model, force=job.run.force)
    thumbnails = job.run.thumbnails and importlib.util.find_spec("simtest.viz") is not None
    spec = WorkerSpec(
        make_simulator=Component(job.sim, {"rig": rig}),
        make_detector=make_model,
        load_scenario=scenarios.load_scenario,
        match=match,
        episodes=plan.episodes,
        frames=plan.frames,
        warmup_frames=plan.warmup_frames,
        root_seed=plan.root_seed,
        default_scenario=scenario_choice,
        retries=job.run.retries,
        thumbnails=thumbnails,
        history=_history_frames(),
        cell_timeout=job.executor.cell_timeout,
    )
    log.info("model %s %s (%s), %d cells x %d episodes x %d frames, run folder %s", model["name"], model["version"],
             model["hash"][:12], len(plan), plan.episodes, plan.frames, run_dir)
    executor = make_executor(job.executor, spec, detector)
    result = run_sweep(plan, store, manifest, executor, progress=job.run.progress and sys.stderr.isatty())
    if result.interrupted:
        print(f"interrupted; to resume: simtest {' '.join(sys.argv[1:])} run.dir={run_dir}", file=sys.stderr)
        return result.exit_code
    if result.failed:
        log.error("%d cell(s) failed: %s", len(result.failed), ", ".join(list(result.failed)[:5]))
    code = evaluate_and_report(run_dir, job) if job.run.evaluate else 0
    return result.exit_code or code


def _history_frames() -> int:
    from perturbations.fusion.frames import HISTORY_FRAMES

    return HISTORY_FRAMES + 1


def evaluate_and_report(run_dir: Path, job: Job) -> int:
    """Gates + CVaR (summary.json), the report, the optional MLflow log; returns the gate exit code."""
    from rich.console import Console

    from simtest.commands.evaluate import gate_table, risk_table
    from simtest.metrics.summary import build_summary, write_summary

    if job.run.report and importlib.util.find_spec("simtest.report.build") is not None:
        from simtest.report.build import build_report

        files = build_report(run_dir)
        import json

        summary = json.loads(Path(files.summary).read_text())
        log.info("report written to %s", files.html)
    else:
        summary = build_summary(run_dir)
        write_summary(run_dir, summary)
    console = Console(width=None if sys.stdout.isatty() else 150)
    console.print(gate_table(summary))
    console.print(risk_table(summary))
    for note in summary.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    report = run_dir / "report.html"
    console.print(f"verdict: {summary['verdict']}   run folder: {run_dir}" + (f"   report: {report}" if report.exists() else ""))
    if job.logger.kind == "mlflow":
        from simtest.report.mlflow_log import log_run

        log_run(run_dir, summary, str(job.logger.tracking_uri), experiment=job.logger.experiment)
    return int(summary["exit_code"])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the Hydra main job with ``argv`` as overrides; returns the exit code."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import InstantiationException

    register_configs()
    state = {"code": 0, "started": False}

    @hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
    def task(cfg: DictConfig) -> None:
        state["started"] = True
        hc = HydraConfig.get()
        run_dir = Path(hc.runtime.output_dir)
        try:
            code = run_job(cfg, run_dir, hc.runtime.choices.get("scenario"))
        except (ValueError, InstantiationException) as e:  # config/store/gate errors, or a sim/model that refuses its arguments
            print(f"simtest: error: {e}", file=sys.stderr)
            code = 2
        state["code"] = max(state["code"], code)

    saved = sys.argv
    sys.argv = ["simtest", *(argv if argv is not None else saved[1:])]
    try:
        task()
    except SystemExit as e:  # Hydra exits 1 on composition errors (misspelt key, unknown option)
        if e.code not in (0, None):
            return 2 if not state["started"] else int(e.code) if isinstance(e.code, int) else 1
    finally:
        sys.argv = saved
    return int(state["code"])


__all__ = ["Component", "Config", "main", "run_job", "typed_job"]
