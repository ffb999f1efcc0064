"""FP windows (mvvm/translator/fp_windows.py): which sums go untested in a loop's copy for
the steady FP state, and that a test that fails gives qemu's results and flags."""

from __future__ import annotations

import pytest
import toolchain
from toolchain import PROGRAMS

from mvvm.elf.loader import read_image
from mvvm.isa.decoder import decode
from mvvm.isa.effects import register_bit
from mvvm.isa.encoder import asm
from mvvm.translator import fp_windows
from mvvm.translator.translate import emit_region
from mvvm.wasi.discover import Program

FT0, FT1, FT2, FT3, FA0, FA1 = 0, 1, 2, 3, 10, 11
A0, A1 = 10, 11


def _windows(words: list[int]) -> list[fp_windows.Window]:
    return fp_windows.find([(0x10000 + 4 * k, decode(word)) for k, word in enumerate(words)])


def test_a_sum_that_a_later_operation_reads_goes_untested():
    """mandelbrot's loop, after its escape test: t = zr2 - zi2 and 2 * zr feed the next
    operations (zr = t + cr, zi = 2 * zr * zi + ci, a fused multiply-add), zr does not:
    one window over all five (the counter's addiw inside), two of its sums untested."""
    window, = _windows([asm("fsub.d", rd=FT0, rs1=FT0, rs2=FT1, rm=7),
                        asm("fadd.d", rd=FT1, rs1=FT2, rs2=FT2, rm=7),
                        asm("addiw", rd=A0, rs1=A0, imm=1),
                        asm("fadd.d", rd=FT2, rs1=FT0, rs2=FA0, rm=7),
                        asm("fmadd.d", rd=FT3, rs1=FT1, rs2=FT3, rs3=FA1, rm=7)])
    assert (window.start, window.end, window.untested) == (0, 5, {0, 1})
    assert window.writes == sum(register_bit(r, True) for r in (FT0, FT1, FT2, FT3)) \
        | register_bit(A0, False)


@pytest.mark.parametrize(("why", "words"), [
    ("its register is written before it is read", [
        asm("fadd.d", rd=FT0, rs1=FT1, rs2=FT2, rm=7),
        asm("fmul.d", rd=FT0, rs1=FT1, rs2=FT1, rm=7),
        asm("fmul.d", rd=FT1, rs1=FT0, rs2=FT0, rm=7)]),
    ("a load is no part of a window", [
        asm("fadd.d", rd=FT0, rs1=FT1, rs2=FT2, rm=7),
        asm("ld", rd=A1, rs1=A0, imm=0),
        asm("fmul.d", rd=FT1, rs1=FT0, rs2=FT0, rm=7)]),
    ("a move to an integer register ends it", [
        asm("fadd.d", rd=FT0, rs1=FT1, rs2=FT2, rm=7),
        asm("fmv.x.d", rd=A1, rs1=FT0),
        asm("fmul.d", rd=FT1, rs1=FT0, rs2=FT0, rm=7)]),
    ("a division may make an infinity finite", [
        asm("fadd.d", rd=FT0, rs1=FT1, rs2=FT2, rm=7),
        asm("fdiv.d", rd=FT1, rs1=FT2, rs2=FT0, rm=7)]),
    ("a product may be tiny, which no later test sees", [
        asm("fmul.d", rd=FT0, rs1=FT1, rs2=FT2, rm=7),
        asm("fadd.d", rd=FT1, rs1=FT0, rs2=FT0, rm=7)]),
    ("a static rounding mode other than RNE", [
        asm("fadd.d", rd=FT0, rs1=FT1, rs2=FT2, rm=1),
        asm("fmul.d", rd=FT1, rs1=FT0, rs2=FT0, rm=7)]),
])
def test_a_result_no_later_test_sees_is_tested(why, words):
    assert _windows(words) == [], why


def test_the_loop_of_fp_windows_c_has_a_window(build_program):
    """windows.c's loop has one window, and it starts at the inline asm's fsub (the loads
    before it are no part of it)."""
    binary = build_program(PROGRAMS / "fp" / "windows.c", "O2")
    program = Program(read_image(str(binary)))
    code = emit_region(program.symbols.addresses["phase"], program.fetch, slow_exits=True)
    assert [decode(program.fetch(pc)).spec.name for pc in code.windows] == ["fsub.d"]


@pytest.mark.parametrize("tier", ["1", "tiered"])
def test_a_failed_test_goes_back_to_the_window_start(tier, build_program, guest_env,
                                                     assert_same_as_qemu):
    """A sum that overflows or makes a NaN while untested, a product that underflows, once
    or again and again: the results, the flags and the count of passes are qemu's."""
    binary = build_program(PROGRAMS / "fp" / "windows.c", "O2")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0
    assert_same_as_qemu(qemu, toolchain.run_mvvm(binary, options=["--tier", tier],
                                                 env=guest_env))
