"""The bit-manipulation programs (tests/programs/bitmanip/*.c), built for
rv64gc_zba_zbb_zbs_zbc and run under qemu-riscv64 and MVVM, which must agree.

asm.c runs every Zb* instruction through inline assembly over corner operands;
builtins.c has GCC generate them from builtins and idioms, and this test checks (with
objdump) that the compiler really emitted them, so the programs keep testing what they claim.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import toolchain  # noqa: E402

MARCH = "-march=rv64gc_zba_zbb_zbs_zbc"
FLAVOURS = {"O0": ("-O0", "-static", MARCH), "O2": ("-O2", "-static", MARCH)}
PROGRAMS = sorted((toolchain.PROGRAMS / "bitmanip").glob("*.c"))
# What GCC 12 emits for builtins.c at -O2 (objdump spells add.uw rd, rs, zero
# as zext.w).
COMPILER_EMITS = {
    "cpop", "cpopw", "clz", "clzw", "ctz", "ctzw", "rev8", "rol", "ror", "rolw", "andn",
    "min", "minu", "max", "maxu", "sext.b", "sext.h", "zext.h", "zext.w", "add.uw",
    "sh1add", "sh2add", "sh3add", "bset", "bclr", "binv", "bext",
}


def _build(source: Path, flavour: str) -> Path:
    return toolchain.build(source, FLAVOURS[flavour])


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("source", PROGRAMS, ids=lambda p: p.stem)
def test_program(source: Path, flavour: str, cross_tools, assert_same_as_qemu,
                 guest_env) -> None:
    binary = _build(source, flavour)
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0, ("the program's own checks fail under qemu: the program or qemu "
                              f"is wrong\n{qemu.stdout.decode(errors='replace')[-3000:]}")
    assert_same_as_qemu(qemu, toolchain.run_mvvm(binary, env=guest_env))


def test_compiler_emits_the_instructions(cross_tools) -> None:
    binary = _build(toolchain.PROGRAMS / "bitmanip" / "builtins.c", "O2")
    listing = subprocess.run([toolchain.CC.replace("gcc", "objdump"), "-d", str(binary)],
                             capture_output=True, text=True, check=True).stdout
    used = {line.split("\t")[2].strip() for line in listing.splitlines()
            if line.count("\t") >= 2}
    assert not COMPILER_EMITS - used, f"not emitted: {sorted(COMPILER_EMITS - used)}"
