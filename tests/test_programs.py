"""The project's own riscv64 programs (tests/programs), run under qemu-riscv64 and MVVM.

Each program is built in each of its flavours (conftest.FLAVOURS: -O0 and -O2 static
executables, and an -O2 static PIE), run with the same argv, stdin and environment under
both, and the two runs must agree on stdout, stderr and exit status.  The qemu run is also
checked against the status the program is meant to end with: the programs check their own
results, so a wrong status there means the program (or qemu) is wrong, not MVVM.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import toolchain
from toolchain import PROGRAMS


@dataclass(frozen=True)
class Program:
    args: tuple[str, ...] = ()
    stdin: bytes = b""
    status: int = 0  # how the program ends when all its checks pass
    flavours: tuple[str, ...] = ("O0", "O2", "pie")


AUXV_ARGS = ("one", "two words", "", "\u00fcn\u00ef", "--flag=x")
STDIN = (b"first line of input\n"
         + b"".join(b"stdin line %d \xff\x00 end\n" % i for i in range(2000))
         + b"no newline at the end")

SPECS: dict[str, Program] = {
    "intcorners": Program(),  # div/rem by zero and overflow, W forms, shifts, mulh*, slt
    "control": Program(),  # loops, jump table, deep recursion, fn pointers, setjmp, qsort
    "memory": Program(),  # malloc churn, realloc, calloc, mem*/str* over alignments
    "stdio": Program(stdin=STDIN),  # printf formats, stderr, snprintf, a tmp file, stdin
    "auxv": Program(args=AUXV_ARGS, status=1 + len(AUXV_ARGS)),  # argv, envp, auxv
    "float": Program(),  # printf %f %g %e, light double arithmetic
    "atomics": Program(),  # AMOs, LR/SC, C11 atomics
    "compute": Program(flavours=("O2", "pie")),  # ~0.3 s under qemu at -O2
    "phases": Program(flavours=("O2",)),  # a jump table whose hot cases change
    "hello": Program(status=42, flavours=("O2", "pie")),  # no libc: write, exit_group
    "startup": Program(args=AUXV_ARGS, status=1 + len(AUXV_ARGS), flavours=("O2", "pie")),
    "irreducible": Program(status=204, flavours=("O2",)),  # a two-entry loop, indirect call
    "strings": Program(flavours=("O2", "pie")),  # strcmp/strlen scans tier 1 fast-forwards
    "memcpy": Program(flavours=("O2",)),  # memcpy's word copy tier 1 fast-forwards
    "selects": Program(flavours=("O2",)),  # short branch hammocks tier 1 makes selects
    "sextw": Program(status=63, flavours=("O2",)),  # sext.w of words tier 1 makes copies
    "oddjump": Program(status=24, flavours=("O2",)),  # a jump table of odd entries (test_tiers)
    "switchtable": Program(status=203, flavours=("O2",)),  # a jump table tier 1 reads (test_tiers)
    "lanes": Program(flavours=("O2",)),  # element-wise loops tier 1 runs in SIMD lanes
    "nests": Program(flavours=("O2",)),  # loop nests tier 1 runs in SIMD lanes, by outer passes
    "sides": Program(args=("1",), flavours=("O2",)),  # a side only an argument runs (test_cache)
}


def source_of(name: str):
    (source,) = [p for p in (PROGRAMS / f"{name}.c", PROGRAMS / f"{name}.S") if p.exists()]
    return source


CASES = [pytest.param(name, flavour, id=f"{name}-{flavour}")
         for name, spec in SPECS.items() for flavour in spec.flavours]


def test_every_program_is_listed():
    on_disk = {p.stem for p in PROGRAMS.glob("*.c")} | {p.stem for p in PROGRAMS.glob("*.S")}
    assert on_disk == set(SPECS), "tests/programs and SPECS in test_programs.py disagree"


@pytest.mark.parametrize(("name", "flavour"), CASES)
def test_program(name, flavour, build_program, assert_same_as_qemu, guest_env):
    spec = SPECS[name]
    binary = build_program(source_of(name), flavour)
    run = {"stdin": spec.stdin, "env": guest_env}
    qemu = toolchain.run_qemu(binary, list(spec.args), **run)
    assert qemu.status == spec.status, (
        f"the reference run under qemu ended with {qemu.status}, not {spec.status}: "
        f"the program or qemu is wrong\n{qemu.stdout.decode(errors='replace')[-3000:]}")
    mvvm = toolchain.run_mvvm(binary, list(spec.args), **run)
    assert_same_as_qemu(qemu, mvvm)
