"""Fixtures for the tests that build the project's riscv64 programs (tests/programs) and run
them under qemu-riscv64, the reference, and under MVVM.

Build flavours: `O0` and `O2` are static executables; `pie` is a static PIE.  The Debian
riscv64 cross glibc ships no rcrt1.o (and its libc.a cannot relocate itself), so for `pie`
we compile our own start-up object, tests/programs/static-pie/rcrt1.c, and point gcc at it.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import toolchain
from toolchain import BUILD, CC, PROGRAMS, QEMU, ROOT, Outcome

FLAVOURS: dict[str, tuple[str, ...]] = {
    "O0": ("-O0", "-static"),
    "O2": ("-O2", "-static"),
    "pie": ("-O2",),  # + static_pie_flags()
}

STATIC_PIE_START = PROGRAMS / "static-pie" / "rcrt1.c"

# What the programs see in their environment, the same for qemu and MVVM.
GUEST_ENV = {"MVVM_TEST_VAR": "a value = with spaces", "LC_ALL": "C"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--tier", choices=("0", "1", "tiered"), default=None,
                     help="run every MVVM program and snippet in this tier mode")


def pytest_configure(config: pytest.Config) -> None:
    toolchain.TIER = config.getoption("tier")


@pytest.fixture(scope="session")
def guest_env() -> dict[str, str]:
    """The environment for both runs: a small fixed one, so that nothing from the caller's
    (QEMU_* variables, say) changes them.  PATH is kept for the tools, PYTHONPATH makes
    `python -m mvvm` import this checkout, and GUEST_ENV is what the programs look at."""
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": pythonpath,
            **GUEST_ENV}


def static_pie_flags() -> tuple[str, ...]:
    """gcc flags for a static PIE, building our rcrt1.o first (once per version of it).

    The object's directory is named after the source's hash and is part of the flags, so
    toolchain.build() rebuilds the programs when the start-up code changes.
    """
    digest = hashlib.sha256(STATIC_PIE_START.read_bytes()).hexdigest()[:12]
    outdir = BUILD / f"static-pie-{digest}"
    obj = outdir / "rcrt1.o"
    if not obj.exists():
        outdir.mkdir(parents=True, exist_ok=True)
        tmp = outdir / f"rcrt1.tmp{os.getpid()}.o"
        subprocess.run([CC, "-O2", "-fPIE", "-c", "-o", str(tmp), str(STATIC_PIE_START)],
                       check=True)
        tmp.replace(obj)
    return ("-static-pie", f"-B{outdir}/", "-Wl,-static", "-Wl,--no-dynamic-linker")


def flavour_flags(source: Path, flavour: str) -> tuple[str, ...]:
    flags = FLAVOURS[flavour]
    if flavour == "pie":
        flags += static_pie_flags()
    if source.suffix == ".S":
        flags += ("-nostdlib",)  # assembly programs bring their own _start
    return flags


@pytest.fixture(scope="session")
def cross_tools() -> None:
    """The cross compiler and qemu must be there: a missing tool is a failure, not a skip."""
    for tool in (CC, QEMU):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: scripts/setup installs it "
                        "(gcc-riscv64-linux-gnu, qemu-user)", pytrace=False)


@pytest.fixture
def build_program(cross_tools) -> Callable[[Path, str], Path]:
    """build_program(source, flavour) -> the binary, built on demand and cached."""

    def build(source: Path, flavour: str) -> Path:
        return toolchain.build(source, flavour_flags(source, flavour))

    return build


def _text(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="backslashreplace").splitlines(keepends=True)


def describe_difference(expected: Outcome, actual: Outcome, *, limit: int = 80) -> str:
    """A readable account of how `actual` (MVVM) differs from `expected` (qemu)."""
    parts = []
    if expected.status != actual.status:
        parts.append(f"exit status: qemu {expected.status}, mvvm {actual.status}")
    for name in ("stdout", "stderr"):
        want, got = getattr(expected, name), getattr(actual, name)
        if want == got:
            continue
        diff = list(difflib.unified_diff(_text(want), _text(got), f"qemu {name}",
                                         f"mvvm {name}", n=2))
        if len(diff) > limit:
            diff = diff[:limit] + [f"... ({len(diff) - limit} more diff lines)\n"]
        body = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
        if not body:  # same text once decoded: the difference is in the raw bytes
            body = f"qemu {want!r}\nmvvm {got!r}\n"
        parts.append(f"{name} differs ({len(want)} bytes from qemu, {len(got)} from mvvm):\n"
                     + body)
    return "\n".join(parts)


@pytest.fixture
def assert_same_as_qemu() -> Callable[[Outcome, Outcome], None]:
    """assert_same_as_qemu(qemu_outcome, mvvm_outcome): stdout, stderr and status equal."""

    def check(expected: Outcome, actual: Outcome) -> None:
        if expected != actual:
            pytest.fail("MVVM differs from qemu-riscv64\n" + describe_difference(expected, actual),
                        pytrace=False)

    return check


def pytest_assertrepr_compare(op, left, right):
    """`assert mvvm_outcome == qemu_outcome` explains itself with the same diff."""
    if op == "==" and isinstance(left, Outcome) and isinstance(right, Outcome):
        return ["Outcome differs (left: mvvm, right: qemu)",
                *describe_difference(right, left).splitlines()]
    return None
