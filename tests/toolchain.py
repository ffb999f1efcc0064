"""Building the project's own riscv64 test programs, and running them under qemu-riscv64.

Binaries go to tests/.build/ and are rebuilt only when the source or the flags
change, so a second test run does not pay for the cross compiler again.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PROGRAMS = TESTS / "programs"
BUILD = TESTS / ".build"
CC = "riscv64-linux-gnu-gcc"
HOST_CC = "gcc"
QEMU = "qemu-riscv64"
SYSROOT = "/usr/riscv64-linux-gnu"   # the cross compiler's glibc: dynamic programs' libraries
# qemu 7.2 leaves Zbkb, Zbkx, Zfh and Zfhmin off unless asked (its property names for the
# last two are capitalized); everything else MVVM implements it has on, or lacks.
QEMU_CPU = ("-cpu", "rv64,zbkb=true,zbkx=true,Zfh=true,Zfhmin=true")
# The tier mode every MVVM run of the tests uses (`pytest --tier 0`); None: MVVM's default
# for programs, and compiling every snippet for the instruction-level tests.
TIER: str | None = None


def build(source: Path, flags: tuple[str, ...] = ("-O2", "-static"), cc: str = CC) -> Path:
    """Compile one C or assembly source; the output name carries a hash of source, the
    headers beside it, and flags."""
    headers = b"".join(h.read_bytes() for h in sorted(source.parent.glob("*.h")))
    key = hashlib.sha256(source.read_bytes() + headers + repr((cc, flags)).encode()
                         ).hexdigest()[:12]
    out = BUILD / f"{source.stem}-{key}"
    if not out.exists():
        BUILD.mkdir(exist_ok=True)
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        subprocess.run([cc, *flags, "-o", str(tmp), str(source), "-lm"], check=True)
        tmp.replace(out)
    return out


@dataclass(frozen=True)
class Outcome:
    """What a run shows to a shell: its output streams and the exit status as `$?` reports it."""

    stdout: bytes
    stderr: bytes
    status: int


def _status(returncode: int) -> int:
    """A process killed by signal N shows as 128+N in a shell, as MVVM reports it."""
    return 128 - returncode if returncode < 0 else returncode


def run(argv: list[str], stdin: bytes = b"", env: dict[str, str] | None = None,
        timeout: float = 120, cwd: Path | None = None) -> Outcome:
    p = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=timeout,
                       cwd=cwd)
    return Outcome(p.stdout, p.stderr, _status(p.returncode))


def run_qemu(prog: Path, args: list[str] = (), **kw) -> Outcome:
    return run([QEMU, *QEMU_CPU, str(prog), *args], **kw)


def run_mvvm(prog: Path, args: list[str] = (), options: list[str] = (), **kw) -> Outcome:
    tier = ["--tier", TIER] if TIER is not None and "--tier" not in options else []
    return run([sys.executable, "-m", "mvvm", "run", *tier, *options, str(prog), *args], **kw)


def tier1_sigsegv_pc(prog: Path, args: list[str], env: dict[str, str]) -> int:
    """The pc MVVM reports (every region compiled) for the SIGSEGV that kills the program
    under qemu too: where a fast path's fault is the scalar code's own or not."""
    assert run_qemu(prog, args, env=env).status == 139
    mvvm = run_mvvm(prog, args, options=["--tier", "1"], env=env)
    assert mvvm.status == 139
    return int(re.search(rb"at pc (0x[0-9a-f]+)", mvvm.stderr).group(1), 16)


def fetcher(base: int, code: bytes):
    """A translator's fetch over hand-assembled code placed at base (None outside it)."""
    def fetch(pc: int) -> int | None:
        if not base <= pc < base + len(code):
            return None
        return int.from_bytes(code[pc - base:pc - base + 4].ljust(4, b"\0"), "little")
    return fetch
