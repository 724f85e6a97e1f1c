"""`python -m bench <scenario> [options]`; `python -m bench` alone lists the scenarios."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from types import FrameType

# Each scenario is a module with NAME, DESCRIPTION, add_arguments(parser) and run(args) -> int
# (the exit code); run ends by printing the result line (bench.report.print_result).
SCENARIOS = [
    "bench.stage_moves",
    "bench.imports",
    "bench.ingest",
    "bench.rescore",
    "bench.score_latency",
    "bench.search",
]


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # Raising lets every `with` block stop servers and remove databases on the way out.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="leadflow benchmarks. Each prints its figures, then a JSON result line.",
    )
    scenarios = parser.add_subparsers(title="scenarios", dest="scenario", metavar="<scenario>")
    for module_name in SCENARIOS:
        scenario = importlib.import_module(module_name)
        sub = scenarios.add_parser(
            scenario.NAME, help=scenario.DESCRIPTION, description=scenario.DESCRIPTION
        )
        scenario.add_arguments(sub)
        sub.set_defaults(run=scenario.run)
    args = parser.parse_args(argv)
    if args.scenario is None:
        parser.print_help()
        return 0
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
