"""The bit-manipulation programs (tests/programs/bitmanip/*.c), run under qemu-riscv64 and
MVVM, which must agree.

asm.c runs every Zb* instruction through inline assembly over corner operands, crypto.c
the Zbkb and Zbkx ones, zicond.c Zicond's (harness.h checks each result against a C model
of the spec, too); builtins.c has GCC generate them from builtins and idioms, and this test
checks (with objdump) that the compiler really emitted them, so the programs keep testing
what they claim. qemu 7.2 has no Zicond: there the model is the only reference.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import toolchain  # noqa: E402

SOURCES = toolchain.PROGRAMS / "bitmanip"
MARCH = {"crypto": "-march=rv64gc_zba_zbb_zbs_zbc_zbkb_zbkx", "zicond": "-march=rv64gc"}
DEFAULT_MARCH = "-march=rv64gc_zba_zbb_zbs_zbc"
OPTIMIZE = {"O0": "-O0", "O2": "-O2"}
PROGRAMS = sorted(SOURCES.glob("*.c"))
QEMU_LACKS = {"zicond"}                     # qemu 7.2 has no Zicond
# What GCC 12 emits for builtins.c at -O2 (objdump spells add.uw rd, rs, zero
# as zext.w).
COMPILER_EMITS = {
    "cpop", "cpopw", "clz", "clzw", "ctz", "ctzw", "rev8", "rol", "ror", "rolw", "andn",
    "min", "minu", "max", "maxu", "sext.b", "sext.h", "zext.h", "zext.w", "add.uw",
    "sh1add", "sh2add", "sh3add", "bset", "bclr", "binv", "bext",
}


def _build(source: Path, flavour: str) -> Path:
    """Built with the program's -march; the harness's hash in the flags rebuilds it when
    harness.h changes."""
    harness = hashlib.sha256((SOURCES / "harness.h").read_bytes()).hexdigest()[:12]
    return toolchain.build(source, (OPTIMIZE[flavour], "-static",
                                    MARCH.get(source.stem, DEFAULT_MARCH),
                                    f"-DHARNESS_VERSION=0x{harness}"))


@pytest.mark.parametrize("flavour", OPTIMIZE)
@pytest.mark.parametrize("source", PROGRAMS, ids=lambda p: p.stem)
def test_program(source: Path, flavour: str, cross_tools, assert_same_as_qemu,
                 guest_env) -> None:
    binary = _build(source, flavour)
    mvvm = toolchain.run_mvvm(binary, env=guest_env)
    if source.stem in QEMU_LACKS:
        assert (mvvm.status, mvvm.stdout.splitlines()[-1]) == (0, b"0 model mismatches")
        return
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0, ("the program's own checks fail under qemu: the program or qemu "
                              f"is wrong\n{qemu.stdout.decode(errors='replace')[-3000:]}")
    assert_same_as_qemu(qemu, mvvm)


def test_compiler_emits_the_instructions(cross_tools) -> None:
    binary = _build(toolchain.PROGRAMS / "bitmanip" / "builtins.c", "O2")
    listing = subprocess.run([toolchain.CC.replace("gcc", "objdump"), "-d", str(binary)],
                             capture_output=True, text=True, check=True).stdout
    used = {line.split("\t")[2].strip() for line in listing.splitlines()
            if line.count("\t") >= 2}
    assert not COMPILER_EMITS - used, f"not emitted: {sorted(COMPILER_EMITS - used)}"
