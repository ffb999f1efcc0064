"""Where MVVM's time goes, per program: one extra (untimed) MVVM run under Linux `perf`,
with `mvvm run --perfmap` naming each piece of compiled code, and its samples sorted
into the parts of the engine.

The guest's thread (the process's main thread) is split into tier 1 (compiled regions,
`region_<pc>`), the dispatcher (the core module's `run` loop and `lookup`), tier 0 (the
core module's `interpret`), and the host (everything else: Python, the Linux layer,
wasmtime's runtime, the kernel). The other threads are the background compiler; their
samples are reported as seconds beside the guest's shares.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.measure import MVVM_RUNNER, ROOT, Settings, environment

FREQUENCY = 999                     # samples per second and thread
PARTS = ("tier 1", "dispatch", "tier 0", "host")
DISPATCH = frozenset({"run", "lookup"})


@dataclass(frozen=True)
class Profile:
    """The guest thread's samples by part (fractions summing to 1) and the background
    threads' busy seconds."""

    shares: dict[str, float]
    background_seconds: float


def available() -> bool:
    return shutil.which("perf") is not None


def part_of(symbol: str) -> str:
    """The engine part a sampled symbol belongs to."""
    if symbol.startswith("region_"):
        return "tier 1"
    if symbol in DISPATCH:
        return "dispatch"
    if symbol == "interpret":
        return "tier 0"
    return "host"


def summarize(samples: list[tuple[int, int, str]]) -> Profile:
    """(pid, tid, symbol) samples -> a Profile; the guest thread is the one whose tid is
    its process's pid, the last process sampled (perf's own fork comes first)."""
    guest = samples[-1][0] if samples else 0
    parts: Counter[str] = Counter()
    background = 0
    for pid, tid, symbol in samples:
        if pid != guest:
            continue
        if tid == pid:
            parts[part_of(symbol)] += 1
        else:
            background += 1
    total = sum(parts.values()) or 1
    return Profile({part: parts[part] / total for part in PARTS}, background / FREQUENCY)


def _parse(script: str) -> list[tuple[int, int, str]]:
    """`perf script -F pid,tid,ip,sym` lines: "pid/tid ip symbol"."""
    samples = []
    for line in script.splitlines():
        fields = line.split(None, 2)
        if len(fields) < 2 or "/" not in fields[0]:
            continue
        pid, tid = fields[0].split("/")
        samples.append((int(pid), int(tid), fields[2].strip() if len(fields) > 2 else ""))
    return samples


def profile_run(exe: Path, args: list[str], settings: Settings) -> Profile | None:
    """One MVVM run of exe under perf; None when perf could not sample (no permission)."""
    with tempfile.TemporaryDirectory(prefix="mvvm-profile-") as scratch:
        data = Path(scratch) / "perf.data"
        env = {**environment(), "XDG_CACHE_HOME": str(settings.cache or Path(scratch))}
        command = ["perf", "record", "-q", "-F", str(FREQUENCY), "-o", str(data), "--",
                   *MVVM_RUNNER.prefix, "--perfmap", str(exe), *args]
        recorded = subprocess.run(command, capture_output=True, env=env, cwd=ROOT,
                                  timeout=settings.timeout)
        if recorded.returncode != 0 or not data.exists():
            return None
        script = subprocess.run(["perf", "script", "-i", str(data), "-F", "pid,tid,ip,sym"],
                                capture_output=True, text=True, errors="replace").stdout
        samples = _parse(script)
        for pid in {pid for pid, _, _ in samples}:
            Path(f"/tmp/perf-{pid}.map").unlink(missing_ok=True)
    return summarize(samples) if samples else None
