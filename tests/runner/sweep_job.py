"""A sweep in a child process, for the kill-and-resume test: ``python -m runner.sweep_job RUN_DIR SLOW``."""

from __future__ import annotations

import sys
from pathlib import Path

from simtest.executors import SerialExecutor
from simtest.runner import run_sweep

from . import helpers


def main(run_dir: str, slow_step: float) -> int:
    plan = helpers.small_sweep()
    store, manifest = helpers.new_run(Path(run_dir), plan)
    executor = SerialExecutor(helpers.spec(plan, slow_step=slow_step))
    return run_sweep(plan, store, manifest, executor).exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
