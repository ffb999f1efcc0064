"""Tier 1's fast-forwarded loops (mvvm/translator/idioms.py): glibc's own strcmp, strlen
and memcpy's word copy, and a byte compare to an end pointer, are recognised, the regions
validate, and programs that lean on them give qemu's results with every region compiled."""

from __future__ import annotations

import pytest
import wasmtime as wt
from toolchain import PROGRAMS, SYSROOT, fetcher, run_mvvm, run_qemu

from mvvm.elf.loader import read_image
from mvvm.isa import decode
from mvvm.isa.encoder import asm
from mvvm.runtime.engine import make_engine
from mvvm.translator import idioms
from mvvm.translator.modules import pack
from mvvm.translator.translate import emit_region
from mvvm.wasi.discover import Program

STRINGS = PROGRAMS / "strings.c"
MEMCPY = PROGRAMS / "memcpy.c"
SYSROOT_LIBC = f"{SYSROOT}/lib/libc.so.6"


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


def test_a_byte_compare_to_an_end_pointer_is_fast_forwarded(build_program):
    """strings.c's first_difference, memcmp's shape as gcc compiles a check of each byte of
    a copy; budgets count its iterations instead."""
    program = Program(read_image(str(build_program(STRINGS, "O2"))))
    start = program.symbols.addresses["first_difference"]
    assert emit_region(start, program.fetch).idioms == (idioms.MEMCMP.name,)
    assert emit_region(start, program.fetch, counting=True).idioms == ()


def test_glibc_word_copies_are_fast_forwarded_wherever_their_regions_start(build_program):
    """memcpy's two word loops have several entries each (a switch on the count), so from
    the function's entry they are irreducible (their edges go by the region's DISPATCH),
    and the aligned one is reached only through its jump table; the function's region and
    each region entered inside a loop hold it whole, with a header that depends on where
    they start, and recognise it (the sysroot's libc.so.6 keeps the functions local: no
    symbols to find them by)."""
    program = Program(read_image(str(build_program(MEMCPY, "O2"))))
    symbols = program.symbols.addresses
    shifted = symbols["_wordcopy_fwd_dest_aligned"]
    whole = emit_region(shifted, program.fetch)
    assert whole.idioms == (idioms.WORDCOPY_SHIFTED.name,)
    regions = [emit_region(pc, program.fetch) for pc in sorted(whole.region.blocks)]
    found = [r for r in regions if r.idioms == (idioms.WORDCOPY_SHIFTED.name,)]
    assert len(found) >= 4          # from each of the loop's four blocks, at least
    top = _closing_jump_target(program, symbols["_wordcopy_fwd_aligned"])
    aligned = emit_region(top, program.fetch)
    assert aligned.idioms == (idioms.WORDCOPY_ALIGNED.name,)
    wasm, _ = pack("copies", [*found, aligned])
    wt.Module.validate(make_engine(), wasm)


def _closing_jump_target(program: Program, start: int) -> int:
    """Where the first backward `j` after start goes: the top of a loop."""
    pc = start
    while True:
        instr = decode(program.fetch(pc))
        if instr.name == "jal" and instr.rd == 0 and instr.imm < 0:
            return pc + instr.imm
        pc += instr.length


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



@pytest.mark.parametrize("source", [STRINGS, MEMCPY], ids=["strings", "memcpy"])
def test_idioms_compiled_from_the_start_match_qemu(source, build_program, tmp_path, guest_env):
    """--tier 1: every loop runs compiled, so the fast paths run from the first call."""
    for flavour in ("O2", "pie"):
        binary = build_program(source, flavour)
        env = {**guest_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        assert run_mvvm(binary, options=["--tier", "1"], env=env) == run_qemu(binary,
                                                                              env=guest_env)
