"""Running the programs: each under native, qemu-riscv64, MVVM, and as the WASI module
`mvvm wasm` makes of it under wasmtime (the `wasm` runner), interleaved.

Interleaving (every repetition runs every program under every runner in turn) means a
slow drift of the machine, a thermal throttle or a noisy neighbour, hits all three
alike instead of biasing whichever runner happened to run last.

MVVM keeps compiled regions in an on-disk cache under $XDG_CACHE_HOME.  By default every
MVVM run gets a fresh, empty one: each run is a first run, as qemu's always is, and the
counters show the whole translation cost.  With a warm cache, one untimed run of each
program fills a cache private to this suite, and the timed runs start from it.  Either way
the user's own cache is neither read nor changed.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.build import NATIVE, RISCV64, Toolchain, build
from bench.programs import Program

ROOT = Path(__file__).resolve().parent.parent
TIMED_OUT = 124  # the status `timeout(1)` reports, so a hang reads as a failure in the table


@dataclass(frozen=True)
class Runner:
    """How to run an executable built by `toolchain`: the command in front of it, and
    whether it writes MVVM's --stats counters."""

    name: str
    toolchain: Toolchain
    prefix: tuple[str, ...] = ()
    stats: bool = False
    wasm: bool = False          # runs the executable's `mvvm wasm` module instead

    def missing(self) -> list[str]:
        """The tools this runner needs that are not installed."""
        return [tool for tool in (self.toolchain.cc, *self.prefix[:1])
                if shutil.which(tool) is None]


NATIVE_RUNNER = Runner("native", NATIVE)
QEMU_RUNNER = Runner("qemu", RISCV64, ("qemu-riscv64",))
MVVM_RUNNER = Runner("mvvm", RISCV64, (sys.executable, "-m", "mvvm", "run"), stats=True)
WASM_RUNNER = Runner("wasm", RISCV64, (sys.executable, "-m", "mvvm.wasi.runner"), wasm=True)
RUNNERS = (NATIVE_RUNNER, QEMU_RUNNER, MVVM_RUNNER, WASM_RUNNER)


@dataclass(frozen=True)
class Run:
    """What one run showed: wall seconds around the whole process (start-up included, as a
    user waits for it), the exit status as a shell shows it, the output, and MVVM's counters."""

    seconds: float
    status: int
    stdout: str
    stderr: str
    stats: dict[str, float] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass
class Results:
    """Every run of the suite: runs[program][runner] in the order they ran."""

    runs: dict[str, dict[str, list[Run]]] = field(default_factory=dict)
    modules: dict[str, Module] = field(default_factory=dict)     # by program

    def add(self, program: str, runner: str, run: Run) -> None:
        self.runs.setdefault(program, {}).setdefault(runner, []).append(run)


def environment(root: Path = ROOT) -> dict[str, str]:
    """The caller's environment, with root (this checkout) first on PYTHONPATH so that
    `python -m mvvm` is the tree being measured, whatever is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def _status(returncode: int) -> int:
    """A process killed by signal N shows as 128+N, as a shell and MVVM report it."""
    return 128 - returncode if returncode < 0 else returncode


@dataclass(frozen=True)
class Settings:
    """How the suite runs: `cache` is MVVM's code cache directory shared by all runs (a
    warm cache), or None for a fresh one per run (cold)."""

    repeat: int = 3
    quick: bool = False
    timeout: float = 600
    cache: Path | None = None


@dataclass(frozen=True)
class Module:
    """A program's WASI module: where it is, its size and its ELF's, and how long
    `mvvm wasm` took to make it."""

    path: Path
    size: int
    elf_size: int
    seconds: float


def build_module(exe: Path, directory: Path) -> Module:
    out = directory / f"{exe.name}.wasm"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mvvm", "wasm", str(exe), "-o", str(out)],
                   check=True, cwd=ROOT, capture_output=True)
    return Module(out, out.stat().st_size, exe.stat().st_size, time.perf_counter() - start)


def run_once(runner: Runner, exe: Path, args: list[str], settings: Settings,
             module: Module | None = None, root: Path = ROOT) -> Run:
    """One timed run (of the module, for the wasm runner) of the MVVM in root; the stats
    file, when the runner writes one, is read afterwards."""
    with tempfile.TemporaryDirectory(prefix="mvvm-bench-") as scratch:
        stats_file = Path(scratch) / "stats.json"
        options = ["--stats", str(stats_file)] if runner.stats else []
        if module is not None:
            command = [*runner.prefix, "--argv0", str(exe), str(module.path), *args]
        else:
            command = [*runner.prefix, *options, str(exe), *args]
        env = {**environment(root), "XDG_CACHE_HOME": str(settings.cache or Path(scratch))}
        timeout = settings.timeout
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                  timeout=timeout, env=env, cwd=root)
        except subprocess.TimeoutExpired:
            return Run(timeout, TIMED_OUT, "", f"timed out after {timeout:g} s")
        seconds = time.perf_counter() - start
        stats = _read_stats(stats_file)
    return Run(seconds, _status(done.returncode), done.stdout, done.stderr[-2000:], stats)


def _read_stats(path: Path) -> dict[str, float] | None:
    """MVVM's counters, or None when a run died before writing them whole: a crash shows as
    its exit status in the table, not as a traceback that ends the suite."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def build_all(programs: list[Program], runners: list[Runner]) -> dict[tuple[str, str], Path]:
    """Every executable the runs need, keyed by (program, toolchain), built before any
    timing starts so that no compiler competes with a timed run."""
    toolchains = {runner.toolchain for runner in runners}
    return {(p.name, t.name): build(p.source, t) for p in programs for t in toolchains}


Progress = Callable[[int, Program, dict[str, Run]], None]


def _warm_up(programs: list[Program], runners: list[Runner], exes: dict[tuple[str, str], Path],
             settings: Settings, modules: dict[str, Module]) -> None:
    """One untimed run of each program under each runner that has a cache to fill."""
    for program in programs:
        for runner in runners:
            if runner.stats or runner.wasm:
                exe = exes[program.name, runner.toolchain.name]
                run_once(runner, exe, program.args(settings.quick), settings,
                         modules.get(program.name) if runner.wasm else None)


def run_suite(programs: list[Program], runners: list[Runner], settings: Settings,
              progress: Progress | None = None) -> Results:
    """`settings.repeat` rounds; in each, every program under every runner in turn."""
    exes = build_all(programs, runners)
    compile_bytecode()
    results = Results()
    with tempfile.TemporaryDirectory(prefix="mvvm-bench-wasm-") as directory:
        if any(runner.wasm for runner in runners):
            results.modules = {p.name: build_module(exes[p.name, RISCV64.name], Path(directory))
                               for p in programs}
        if settings.cache is not None:
            _warm_up(programs, runners, exes, settings, results.modules)
        _rounds(programs, runners, settings, exes, results, progress)
    return results


def compile_bytecode(root: Path = ROOT) -> None:
    """Write the .pyc files of the MVVM in root before any timed run, so that none spends
    its start-up compiling Python: with PYTHONDONTWRITEBYTECODE set, every `python -m
    mvvm` of the tree compiles all of its modules (85 ms a run on the machine this was
    found on, against hello's 130 ms)."""
    compileall.compile_dir(root / "mvvm", quiet=1)


def _rounds(programs: list[Program], runners: list[Runner], settings: Settings,
            exes: dict[tuple[str, str], Path], results: Results,
            progress: Progress | None) -> None:
    for rep in range(settings.repeat):
        for program in programs:
            this_round = {}
            for runner in runners:
                exe = exes[program.name, runner.toolchain.name]
                module = results.modules[program.name] if runner.wasm else None
                run = run_once(runner, exe, program.args(settings.quick), settings, module)
                results.add(program.name, runner.name, run)
                this_round[runner.name] = run
            if progress:
                progress(rep, program, this_round)
