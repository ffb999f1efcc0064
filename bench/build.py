"""Building each benchmark twice from one source: a static riscv64 executable for qemu and
MVVM, and a native one for the hardware's own time.

Executables go to bench/.build/ named by a hash of the sources and the compiler command,
so repeated runs skip the compilers, and an edit to a program or to bench.h rebuilds.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.programs import SOURCES

BUILD = Path(__file__).resolve().parent / ".build"


@dataclass(frozen=True)
class Toolchain:
    """A compiler and its flags: `-lm` is added after the source, where the linker wants it."""

    name: str
    cc: str
    flags: tuple[str, ...]


RISCV64 = Toolchain("riscv64", "riscv64-linux-gnu-gcc", ("-O2", "-static"))
NATIVE = Toolchain("native", "gcc", ("-O2",))


def _key(source: Path, toolchain: Toolchain) -> str:
    """A hash over the program, the shared headers and the command: what decides the output."""
    digest = hashlib.sha256(repr((toolchain.cc, toolchain.flags)).encode())
    for path in (source, *sorted(SOURCES.glob("*.h"))):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def build(source: Path, toolchain: Toolchain) -> Path:
    """The executable for `source`, compiled now only if no cached one matches."""
    out = BUILD / f"{source.stem}-{toolchain.name}-{_key(source, toolchain)}"
    if out.exists():
        return out
    BUILD.mkdir(exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")  # concurrent builds never see half
    command = [toolchain.cc, *toolchain.flags, "-o", str(tmp), str(source), "-lm"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    tmp.replace(out)
    return out
