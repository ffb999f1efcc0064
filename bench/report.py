"""From runs to conclusions: one row per program (median times, ratios, MVVM's counters),
geometric means, the printed table, the JSON document, and the list of problems.

A runner's time counts only when it is *good*: every run exited 0 and printed the same
result, and, for the second runner of the same executable (MVVM after qemu), printed what
the first printed.  A wrong answer is a failure, never a fast time.  Native output is not
compared: it is another executable, and gcc contracts a*b+c into a fused multiply-add on
riscv64 but not on x86-64, so chaotic float results (mandelbrot) legitimately differ.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from bench.measure import Module, Results, Run, Runner
from bench.profile import PARTS, Profile
from bench.programs import Program

# (key, header, format); the keys are the JSON's too.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("native", "native s", "{:.3f}"),
    ("qemu", "qemu s", "{:.3f}"),
    ("mvvm", "mvvm s", "{:.3f}"),
    ("mvvm/qemu", "mvvm/qemu", "{:.2f}"),
    ("mvvm/native", "mvvm/native", "{:.2f}"),
    ("wasm", "wasm s", "{:.3f}"),
    ("wasm/qemu", "wasm/qemu", "{:.2f}"),
    ("wasm/native", "wasm/native", "{:.2f}"),
    ("module_mb", "module MB", "{:.2f}"),
    ("module/elf", "module/ELF", "{:.1f}"),
    ("wasm_build_seconds", "wasm build s", "{:.2f}"),
    ("tier0_instructions", "tier-0 insns", "{:,.0f}"),
    ("instructions", "translated insns", "{:,.0f}"),
    ("regions", "regions", "{:,.0f}"),
    ("batches", "batches", "{:,.0f}"),
    ("cached_regions", "cached regions", "{:,.0f}"),
    ("translate_seconds", "translate s", "{:.3f}"),
    ("compile_seconds", "compile s", "{:.3f}"),
    ("background_seconds", "background s", "{:.3f}"),
    ("execute_seconds", "execute s", "{:.3f}"),
)
RATIOS = (("mvvm/qemu", "mvvm", "qemu"), ("mvvm/native", "mvvm", "native"),
          ("wasm/qemu", "wasm", "qemu"), ("wasm/native", "wasm", "native"))
COUNTERS = ("tier0_instructions", "instructions", "regions", "batches", "cached_regions",
            "translate_seconds", "compile_seconds", "background_seconds", "execute_seconds")
TIMES = ("native", "qemu", "mvvm", "wasm")
SCORE = re.compile(r"^score: ([0-9.]+) per second$", re.MULTILINE)    # bench.h's bench_score


@dataclass
class Row:
    """One line of the table: its values by column key (None: not measured), the runners
    that ran but were not good, whose cells read FAIL, and for a mean how many programs it
    covers."""

    label: str
    values: dict[str, float | None] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    count: int = 1
    scores: dict[str, float] = field(default_factory=dict)    # by runner: self-timed rates


def median_run(runs: list[Run]) -> Run:
    """The run whose time is the median (the lower middle of an even count): its counters
    describe a typical run, not an average of several."""
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


def _runner_problems(name: str, runs: list[Run]) -> list[str]:
    bad = [run for run in runs if not run.ok]
    if bad:
        last = (bad[0].stderr.strip().splitlines() or [""])[-1]
        return [f"{name}: exit status {bad[0].status} in {len(bad)} of {len(runs)} runs: {last}"]
    if len({run.stdout for run in runs}) > 1:
        return [f"{name}: the output changes from run to run"]
    return []


def _disagreement(name: str, reference: str, runs: list[Run], other: list[Run]) -> list[str]:
    """A problem when `runs` printed something else than the reference runner's `other`."""
    ours, theirs = runs[0].stdout, other[0].stdout
    if ours == theirs:
        return []
    return [f"{name}: output differs from {reference}: {name} printed {ours.strip()!r}, "
            f"{reference} printed {theirs.strip()!r}"]


def _problems(runner: Runner, runs: dict[str, list[Run]], reference: dict[str, str]) -> list[str]:
    """Why this runner's time cannot count: failed runs, an unstable result, or a result
    unlike that of the first good runner of the same executable (`reference`, by toolchain)."""
    mine = runs[runner.name]
    first = reference.get(runner.toolchain.name)
    return _runner_problems(runner.name, mine) or (
        _disagreement(runner.name, first, mine, runs[first]) if first else [])


def _score(runs: list[Run]) -> float | None:
    """The median of the rates a program that times its own work printed (bench_score),
    if every run printed one."""
    found = [float(match.group(1)) for run in runs if (match := SCORE.search(run.stderr))]
    return statistics.median(found) if found and len(found) == len(runs) else None


def _counters(runs: list[Run]) -> dict[str, float | None]:
    stats = median_run(runs).stats or {}
    return {key: stats.get(key) for key in COUNTERS}


def program_row(program: Program, runs: dict[str, list[Run]], runners: list[Runner],
                module: Module | None = None) -> Row:
    """The row of one program: medians of the good runners, ratios between them, MVVM's
    counters from its median run, its WASI module's size and build time, and every problem
    found."""
    row = Row(program.name)
    if module is not None:
        row.values.update({"module_mb": module.size / 1e6, "module/elf": module.size
                           / module.elf_size, "wasm_build_seconds": module.seconds})
    reference: dict[str, str] = {}
    for runner in runners:
        problems = _problems(runner, runs, reference)
        if problems:
            row.problems += problems
            row.failed.add(runner.name)
            continue
        reference.setdefault(runner.toolchain.name, runner.name)
        row.values[runner.name] = statistics.median(run.seconds for run in runs[runner.name])
        score = _score(runs[runner.name])
        if score is not None:
            row.scores[runner.name] = score
        if runner.stats:
            row.values.update(_counters(runs[runner.name]))
    _add_ratios(row)
    return row


def _add_ratios(row: Row) -> None:
    for key, top, bottom in RATIOS:
        if row.values.get(top) is not None and row.values.get(bottom) is not None:
            row.values[key] = row.values[top] / row.values[bottom]


def geomean(values: Iterable[float]) -> float | None:
    values = list(values)
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def mean_row(label: str, rows: list[Row], runners: list[Runner]) -> Row:
    """Geometric means over the rows where every runner was good, so that each column
    averages the same programs and the means of the ratios match the ratios of the means."""
    names = [runner.name for runner in runners]
    complete = [row for row in rows if all(row.values.get(n) is not None for n in names)]
    mean = Row(f"{label} ({len(complete)} of {len(rows)})", count=len(complete))
    for key in TIMES:
        if key in names and complete:
            mean.values[key] = geomean(row.values[key] for row in complete)
    _add_ratios(mean)
    return mean


@dataclass
class Table:
    """The rows in the order printed: compute-bound programs, their geometric mean, then the
    start-up program apart, since it measures fixed costs rather than generated code."""

    compute: list[Row]
    mean: Row
    startup: list[Row]

    def sections(self) -> list[list[Row]]:
        return [part for part in (self.compute, [self.mean], self.startup) if part]


def build_table(programs: list[Program], results: Results, runners: list[Runner]) -> Table:
    rows = {p.name: program_row(p, results.runs[p.name], runners, results.modules.get(p.name))
            for p in programs}
    compute = [rows[p.name] for p in programs if p.compute_bound]
    startup = [rows[p.name] for p in programs if not p.compute_bound]
    return Table(compute, mean_row("geomean", compute, runners), startup)


def _cell(row: Row, key: str, fmt: str) -> str:
    value = row.values.get(key)
    if value is not None:
        return fmt.format(value)
    involved = {key} | {name for k, top, bottom in RATIOS if k == key for name in (top, bottom)}
    return "FAIL" if involved & row.failed else "-"


def _cells(row: Row) -> list[str]:
    return [row.label, *(_cell(row, key, fmt) for key, _, fmt in COLUMNS)]


def format_table(table: Table) -> str:
    """A fixed-width table, its sections (programs, mean, start-up) between rules; the mean's
    label says how many programs it covers."""
    headers = ["program", *(header for _, header, _ in COLUMNS)]
    return _fixed_width(headers, [[_cells(row) for row in part] for part in table.sections()])


def format_scores(table: Table) -> str | None:
    """The rates of the programs that time their own work (CoreMark's way: start-up and
    set-up left out), by runner, and MVVM's as a share of native's and a multiple of qemu's;
    None when no program does."""
    rows = [row for row in table.compute + table.startup if row.scores]
    if not rows:
        return None
    names = [name for name in TIMES if any(name in row.scores for row in rows)]
    cells = []
    for row in rows:
        ours, native, qemu = (row.scores.get(name) for name in ("mvvm", "native", "qemu"))
        cells.append([row.label, *(f"{row.scores[n]:,.0f}" if n in row.scores else "-"
                                   for n in names),
                      f"{100 * ours / native:.0f}%" if ours and native else "-",
                      f"{ours / qemu:.2f}" if ours and qemu else "-"])
    headers = ["self-timed (per s)", *names, "mvvm/native", "mvvm/qemu"]
    return _fixed_width(headers, [cells])


def format_profiles(profiles: dict[str, Profile | None]) -> str:
    """Where each program's MVVM time went: shares of the guest thread's perf samples, and
    the background compiler's seconds."""
    headers = ["profile", *(f"{part} %" for part in PARTS), "background s"]
    rows = []
    for name, found in profiles.items():
        if found is None:
            rows.append([name, *("-" for _ in PARTS), "-"])
        else:
            rows.append([name, *(f"{100 * found.shares[part]:.1f}" for part in PARTS),
                         f"{found.background_seconds:.2f}"])
    return _fixed_width(headers, [rows])


def _fixed_width(headers: list[str], sections: list[list[list[str]]]) -> str:
    lines = [headers, *(cells for part in sections for cells in part)]
    widths = [max(len(cells[i]) for cells in lines) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    rule = "-" * len(line(headers))
    out = [line(headers)]
    for part in sections:
        out += [rule, *map(line, part)]
    return "\n".join(out)


def to_json(programs: list[Program], results: Results, table: Table,
            settings: dict[str, object],
            profiles: dict[str, Profile | None] | None = None) -> dict[str, object]:
    """Everything the tables show, plus every run's time, status and output."""
    rows = {row.label: row for row in (*table.compute, *table.startup)}
    profiles = profiles or {}
    return {
        **settings,
        "programs": [{**_program_json(p, rows[p.name], results.runs[p.name]),
                      **_profile_json(profiles.get(p.name))} for p in programs],
        "geomean": {"programs": table.mean.count, **table.mean.values},
    }


def _profile_json(found: Profile | None) -> dict[str, object]:
    if found is None:
        return {}
    return {"profile": {**found.shares, "background_seconds": found.background_seconds}}


def _program_json(program: Program, row: Row, runs: dict[str, list[Run]]) -> dict[str, object]:
    return {
        "name": program.name, "group": program.group, **row.values,
        **({"scores": row.scores} if row.scores else {}),
        "ok": not row.problems, "problems": row.problems,
        "runs": {name: [{"seconds": round(run.seconds, 6), "status": run.status,
                         "stdout": run.stdout} for run in mine]
                 for name, mine in runs.items()},
    }
