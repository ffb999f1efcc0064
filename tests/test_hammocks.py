"""Tier 1's if-conversion (mvvm/translator/hammocks.py): short branch hammocks in real
compiled code are found, only over instructions that may run speculatively, and the
programs that lean on them give qemu's results compiled from the start and tiered."""

from __future__ import annotations

import pytest
import wasmtime as wt
from toolchain import PROGRAMS, fetcher, run_mvvm, run_qemu

from mvvm.elf.loader import read_image
from mvvm.isa.encoder import asm
from mvvm.runtime.engine import make_engine
from mvvm.translator.modules import pack
from mvvm.translator.translate import emit_region
from mvvm.wasi.discover import Program

SELECTS = PROGRAMS / "selects.c"
SIDES = {  # function -> the instructions of each hammock's side, as gcc -O2 emits them
    "crc16": [["slli", "srli"]],
    "clamp.constprop.0": [["addi"], ["addi"]],
    "ordered": [["add", "add", "add"]],           # c.mv: add rd, x0, rs2
    "magnitude": [["subw"]],
}


def test_compiled_hammocks_are_found(build_program):
    program = Program(read_image(str(build_program(SELECTS, "O2"))))
    codes = []
    for name, sides in SIDES.items():
        code = emit_region(program.symbols.addresses[name], program.fetch)
        found = [[instr.name for _, instr in code.region.blocks[h.side].instrs]
                 for h in code.selects.values()]
        assert found == sides, name
        codes.append(code)
    wt.Module.validate(make_engine(), pack("selects", codes)[0])


@pytest.mark.parametrize("side", [
    asm("lw", rd=13, rs1=10, imm=0), asm("div", rd=13, rs1=13, rs2=11),
    asm("fadd.d", rd=10, rs1=10, rs2=11, rm=7), asm("ecall"),
    asm("csrrs", rd=13, rs1=0, csr=1)], ids=["lw", "div", "fadd.d", "ecall", "csrr"])
def test_only_pure_integer_sides(side):
    """A side that may fault, is costly, or has state beyond its register stays a branch;
    so does every side in counting mode (budgets count the instructions that ran)."""
    def region(middle: int) -> bytes:
        words = (asm("beq", rs1=10, rs2=11, imm=8), middle, asm("add", rd=10, rs1=13, rs2=12),
                 asm("jalr", rd=0, rs1=1, imm=0))
        return b"".join(word.to_bytes(4, "little") for word in words)

    pure = region(asm("addi", rd=13, rs1=13, imm=1))
    assert len(emit_region(0x10000, fetcher(0x10000, pure)).selects) == 1
    assert not emit_region(0x10000, fetcher(0x10000, region(side))).selects
    assert not emit_region(0x10000, fetcher(0x10000, pure), counting=True).selects



@pytest.mark.parametrize("tier", ["1", "tiered"])
def test_selects_match_qemu(tier, build_program, tmp_path, guest_env):
    binary = build_program(SELECTS, "O2")
    env = {**guest_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert run_mvvm(binary, options=["--tier", tier], env=env) == run_qemu(binary,
                                                                          env=guest_env)
