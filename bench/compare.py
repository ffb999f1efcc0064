"""`python3 -m bench.compare REV REV...`: MVVM at two or more git revisions (`.` is the
working tree as it is), on the bench programs with warm code caches, interleaved: each
program's best time of `--rounds` runs under each revision, and its ratio to the first.

Two runs of `python3 -m bench`, one per revision, do not measure a change: on a shared
2-core VM a program's time drifts by up to 30% within minutes, and the second run takes
the drift for the change. Here the revisions take turns, run by run. Each runs from a git
worktree of its own with its .pyc written (`compile_bytecode`), with a code cache of its
own that one untimed run of each program fills; a program whose output differs between
revisions is a failure, not a time.

Where a region's hot loop falls in a cache line moves its time by 10-20%, and a change in
any region of a batch moves the others: `--layouts N` times every revision under N code
layouts (bench/layout.py), so that a ratio is the change's and not its layout's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from bench import programs as suite
from bench.build import RISCV64, build
from bench.measure import MVVM_RUNNER, ROOT, Run, Runner, Settings, compile_bytecode, run_once
from bench.report import geomean


@contextmanager
def checkouts(revisions: list[str], scratch: Path) -> Iterator[list[Path]]:
    """A tree for each revision: the working tree for `.`, else a detached worktree in
    scratch, removed afterwards."""
    trees, made = [], []
    try:
        for index, revision in enumerate(revisions):
            if revision == ".":
                trees.append(ROOT)
                continue
            tree = scratch / f"tree{index}"
            subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree),
                            revision], cwd=ROOT, check=True)
            made.append(tree)
            trees.append(tree)
        yield trees
    finally:
        for tree in made:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)


def compare(spec: str | None, revisions: list[str], rounds: int, quick: bool = False,
            layouts: int = 1) -> list[tuple[str, list[Run]]]:
    """Each program's best run under each revision, in the order given; with several
    layouts (bench/layout.py), the geometric mean over them of each one's best."""
    best: list[tuple[str, list[Run]]] = []
    with tempfile.TemporaryDirectory(prefix="mvvm-compare-") as directory:
        scratch = Path(directory)
        with checkouts(revisions, scratch) as trees:
            for tree in trees:
                compile_bytecode(tree)
            for program in suite.select(spec):
                exe, args = build(program.source, RISCV64), program.args(quick)
                per_layout = [_best_runs(exe, args, trees, rounds, layout,
                                         scratch / f"layout{layout}")
                              for layout in range(layouts)]
                best.append((program.name, [
                    replace(runs[0], seconds=geomean(run.seconds for run in runs) or 0)
                    for runs in zip(*per_layout, strict=True)]))
    return best


def _best_runs(exe: Path, args: list[str], trees: list[Path], rounds: int, layout: int,
               caches: Path) -> list[Run]:
    """Each tree's best of rounds runs of exe under a layout, interleaved, after one
    untimed run that fills the tree's code cache for that layout."""
    runner = MVVM_RUNNER if layout == 0 else Runner(
        "mvvm", RISCV64, (sys.executable, str(ROOT / "bench" / "layout.py"), str(layout),
                          "run"), stats=True)
    settings = [Settings(cache=caches / f"cache{i}") for i in range(len(trees))]
    for tree, cache in zip(trees, settings, strict=True):
        run_once(runner, exe, args, cache, root=tree)
    runs: list[list[Run]] = [[] for _ in trees]
    for _ in range(rounds):
        for tree, cache, mine in zip(trees, settings, runs, strict=True):
            mine.append(run_once(runner, exe, args, cache, root=tree))
    return [min(mine, key=lambda r: r.seconds) for mine in runs]


def problems(results: list[tuple[str, list[Run]]], revisions: list[str]) -> list[str]:
    """Runs that failed, and programs whose output differs from the first revision's."""
    found = []
    for name, runs in results:
        for revision, run in zip(revisions, runs, strict=True):
            if not run.ok:
                found.append(f"{name} at {revision}: status {run.status}")
            elif run.stdout != runs[0].stdout:
                found.append(f"{name} at {revision}: another output than at {revisions[0]}")
    return found


def report(results: list[tuple[str, list[Run]]], revisions: list[str]) -> str:
    """A line per program: each revision's best seconds, then each one's ratio to the
    first; last, the ratios' geometric means."""
    width = max(8, *(len(r) for r in revisions))
    head = "".join(f"{r:>{width}}" for r in revisions)
    ratios = "".join(f"{r + '/' + revisions[0]:>{width + 3}}" for r in revisions[1:])
    lines = [f"{'program':<14}{head}{ratios}"]
    for name, runs in results:
        times = "".join(f"{run.seconds:>{width}.3f}" for run in runs)
        ratio = "".join(f"{run.seconds / runs[0].seconds:>{width + 3}.3f}" for run in runs[1:])
        lines.append(f"{name:<14}{times}{ratio}")
    means = "".join(
        f"{geomean(runs[k].seconds / runs[0].seconds for _, runs in results) or 0:>{width + 3}.3f}"
        for k in range(1, len(revisions)))
    lines.append(f"{'geomean':<14}{' ' * width * len(revisions)}{means}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.compare",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", metavar="REV",
                        help="git revisions; `.` is the working tree, uncommitted changes too")
    parser.add_argument("--programs", metavar="A,B", help="programs or groups; default: all")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="the programs' small sizes: a check of the harness, not a time")
    parser.add_argument("--layouts", type=int, default=1, metavar="N",
                        help="time each revision under N code layouts (bench/layout.py) and "
                        "take the geometric mean of their best times (default 1)")
    options = parser.parse_args(argv)
    results = compare(options.programs, options.revisions, options.rounds, options.quick,
                      options.layouts)
    print(report(results, options.revisions))
    found = problems(results, options.revisions)
    for problem in found:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
