"""Tier 1's fast-forwarded loops (mvvm/translator/idioms.py): glibc's own strcmp and strlen
are recognised, the regions validate, and programs that lean on them give qemu's results
with every region compiled."""

from __future__ import annotations

import pytest
import wasmtime as wt
from toolchain import PROGRAMS, fetcher, run_mvvm, run_qemu

from mvvm.elf.loader import read_image
from mvvm.isa.encoder import asm
from mvvm.runtime.engine import make_engine
from mvvm.translator import idioms
from mvvm.translator.translate import emit_region, pack
from mvvm.wasi.discover import Program

STRINGS = PROGRAMS / "strings.c"
SYSROOT_LIBC = "/usr/riscv64-linux-gnu/lib/libc.so.6"


@pytest.mark.parametrize("where", ["static", "shared"])
def test_glibc_string_scans_are_fast_forwarded(where, build_program):
    """In the riscv64 glibc the tests link statically, and in the sysroot's libc.so.6 that
    dynamic programs load: strcmp's byte loop and strlen's word loop."""
    path = build_program(STRINGS, "O2") if where == "static" else SYSROOT_LIBC
    program = Program(read_image(str(path)))
    symbols = program.symbols.addresses
    strcmp = emit_region(symbols["strcmp"], program.fetch)
    strlen = emit_region(symbols["strlen"], program.fetch)
    assert strcmp.idioms == (idioms.STRCMP.name,)
    assert strlen.idioms == (idioms.STRLEN.name,)
    wasm, _ = pack("strings", [strcmp, strlen])
    wt.Module.validate(make_engine(), wasm)
    counting = emit_region(symbols["strcmp"], program.fetch, counting=True)
    assert counting.idioms == ()            # budgets count every iteration


def test_a_hand_written_loop_is_recognised_only_as_written():
    """strcmp's loop as a hand-written region is recognised; with lhu for lbu, or one
    register for both bytes, it is not."""
    base = [asm("lbu", rd=15, rs1=10, imm=0), asm("addi", rd=11, rs1=11, imm=1),
            asm("addi", rd=10, rs1=10, imm=1), asm("lbu", rd=14, rs1=11, imm=-1),
            asm("beq", rs1=15, rs2=0, imm=12), asm("beq", rs1=15, rs2=14, imm=-20),
            asm("jalr", rd=0, rs1=1, imm=0), asm("jalr", rd=0, rs1=1, imm=0)]
    halves = list(base)
    halves[0] = asm("lhu", rd=15, rs1=10, imm=0)
    same_register = list(base)
    same_register[3] = asm("lbu", rd=15, rs1=11, imm=-1)
    for words, expected in ((base, (idioms.STRCMP.name,)), (halves, ()),
                            (same_register, ())):
        code = b"".join(word.to_bytes(4, "little") for word in words)
        fetch = fetcher(0x10000, code)
        assert emit_region(0x10000, fetch).idioms == expected



def test_strings_compiled_from_the_start_match_qemu(build_program, tmp_path, guest_env):
    """--tier 1: every loop runs compiled, so the fast paths run from the first call."""
    for flavour in ("O2", "pie"):
        binary = build_program(STRINGS, flavour)
        env = {**guest_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        assert run_mvvm(binary, options=["--tier", "1"], env=env) == run_qemu(binary,
                                                                              env=guest_env)
