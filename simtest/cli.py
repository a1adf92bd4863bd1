"""The ``simtest`` console entry point.

``simtest [hydra overrides...]`` runs the main job (a sweep, then evaluation and
the report). ``simtest <command> ...`` runs one of :data:`COMMANDS`; each lives in
``simtest/commands/<command>.py`` and exposes ``main(argv) -> int``.

Exit codes: 0 success (every gate passes), 1 a gate failed or was inconclusive
or a regression was found, 2 bad input.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "evaluate": "print the gate table and CVaR summary of a run; write summary.json",
    "query": "run DuckDB SQL over a run's result rows",
    "render": "render a scenario under given conditions to PNGs",
    "plan": "print the cells of a sweep, their count and an estimated run time",
    "report": "write the HTML report, summary.json and junit.xml of a run",
    "compare": "compare a candidate run with a base run (paired statistics)",
    "history": "trend of key metrics per model version across runs",
    "patch": "optimise or inspect physical adversarial patches",
}


def _usage() -> str:
    lines = ["usage: simtest [hydra overrides ...]     run the main job (sweep, evaluate, report)",
             "       simtest <command> [args ...]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, text in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args and args[0] in COMMANDS:
        module = importlib.import_module(f"simtest.commands.{args[0]}")
        return int(module.main(args[1:]) or 0)
    if args and not ("=" in args[0] or args[0].startswith("-")):
        print(f"simtest: unknown command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module("simtest.commands.run")
    return int(module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
