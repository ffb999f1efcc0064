"""`python3 -m bench`: run the benchmark programs natively, under qemu-riscv64, under
MVVM, and as `mvvm wasm` modules under wasmtime, interleaved, and print one table: median
wall times, MVVM's ratios to qemu and to native with their geometric means, MVVM's own
counters, and the modules' sizes and build times.

Exits 0 only when every run exited 0 and MVVM printed what qemu printed, so the quick mode
(`--quick --no-native`) is the CI's correctness check of every benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench import profile
from bench import programs as suite
from bench.measure import (
    MVVM_RUNNER,
    RUNNERS,
    Results,
    Run,
    Runner,
    Settings,
    build_all,
    run_suite,
)
from bench.report import Table, build_table, format_profiles, format_scores, format_table, to_json


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--programs", metavar="A,B",
                        help=f"programs or groups ({', '.join(suite.GROUPS)}); default: all")
    parser.add_argument("--repeat", type=int, metavar="N",
                        help="runs of each program under each runner (default 3, quick 1)")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results here")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, for a correctness check: the times mean nothing")
    parser.add_argument("--no-native", action="store_true", help="skip the native runs")
    parser.add_argument("--no-qemu", action="store_true", help="skip the qemu-riscv64 runs")
    parser.add_argument("--no-wasm", action="store_true",
                        help="skip the runs of the programs as WASI modules (mvvm wasm)")
    parser.add_argument("--cache", choices=("cold", "warm"), default="cold",
                        help="MVVM's code cache: empty for every run (cold, the default), or "
                             "filled by an untimed run first (warm)")
    parser.add_argument("--profile", action="store_true",
                        help="one more MVVM run of each program under perf: where its time "
                             "goes (tier 1, dispatcher, tier 0, host, background compiler)")
    parser.add_argument("--timeout", type=float, default=600, metavar="S",
                        help="seconds before a run counts as hung (default 600)")
    return parser


def _runners(options: argparse.Namespace) -> list[Runner]:
    skip = {"native": options.no_native, "qemu": options.no_qemu, "wasm": options.no_wasm}
    return [runner for runner in RUNNERS if not skip.get(runner.name)]


def _progress(rep: int, program: suite.Program, runs: dict[str, Run]) -> None:
    """One stderr line per program and repetition: a long suite shows it is alive."""
    cells = "  ".join(f"{name} {run.seconds:.3f}s" + ("" if run.ok else f" (status {run.status})")
                      for name, run in runs.items())
    print(f"[{rep + 1}] {program.name:<13} {cells}", file=sys.stderr, flush=True)


def _measure(programs: list[suite.Program], runners: list[Runner],
             options: argparse.Namespace) -> tuple[Results, dict[str, profile.Profile | None]]:
    """The whole suite, with a code cache for MVVM that lives only as long as the suite, and
    with --profile each program's profile, after the timed runs (from the same cache)."""
    repeat = options.repeat or (1 if options.quick else 3)
    with tempfile.TemporaryDirectory(prefix="mvvm-bench-cache-") as cache:
        settings = Settings(repeat, options.quick, options.timeout,
                            Path(cache) if options.cache == "warm" else None)
        results = run_suite(programs, runners, settings, _progress)
        profiles = {}
        if options.profile:
            exes = build_all(programs, [MVVM_RUNNER])
            for program in programs:
                exe = exes[program.name, MVVM_RUNNER.toolchain.name]
                profiles[program.name] = profile.profile_run(exe, program.args(options.quick),
                                                             settings)
        return results, profiles


def _report(table: Table, profiles: dict[str, profile.Profile | None],
            document: dict[str, object], json_file: Path | None) -> int:
    """Print the table, the profiles and the problems, write the JSON; the exit status: 1
    on any problem."""
    print(format_table(table))
    scores = format_scores(table)
    if scores:
        print()
        print(scores)
    if profiles:
        print()
        print(format_profiles(profiles))
    problems = [f"{row.label}: {problem}"
                for row in (*table.compute, *table.startup) for problem in row.problems]
    for problem in problems:
        print(f"PROBLEM {problem}")
    if json_file:
        json_file.write_text(json.dumps(document, indent=2) + "\n")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    runners = _runners(options)
    try:
        programs = suite.select(options.programs)
    except ValueError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    missing = sorted({tool for runner in runners for tool in runner.missing()})
    if options.profile and not profile.available():
        missing.append("perf")
    if missing:
        print(f"bench: not installed: {', '.join(missing)} (scripts/setup installs them; "
              "--no-native and --no-qemu skip a runner)", file=sys.stderr)
        return 2
    results, profiles = _measure(programs, runners, options)
    table = build_table(programs, results, runners)
    about = {"quick": options.quick, "repeat": options.repeat or (1 if options.quick else 3),
             "cache": options.cache, "runners": [runner.name for runner in runners]}
    document = to_json(programs, results, table, about, profiles)
    return _report(table, profiles, document, options.json)


if __name__ == "__main__":
    sys.exit(main())
