"""Failure reports a person can act on: the code disassembled, the inputs that matter, and
how the final states differ."""

from __future__ import annotations

from collections.abc import Iterator

from difftest.machine import SCRATCH, Outcome, State
from mvvm.isa import Instr, decode, disasm
from mvvm.isa.encoder import tokens


def instructions(code: bytes, at: int) -> Iterator[tuple[int, Instr | None, int]]:
    """(pc, instruction, raw) for each instruction of a snippet."""
    offset = 0
    while offset < len(code):
        raw = int.from_bytes(code[offset:offset + 4], "little")
        instr = decode(raw)
        size = instr.length if instr else (2 if raw & 3 != 3 else 4)
        yield at + offset, instr, raw & ((1 << 8 * size) - 1)
        offset += size


def listing(code: bytes, at: int) -> str:
    return "\n".join(f"  {pc:#x}: {raw:08x}  {disasm(i, pc) if i else '(illegal)'}"
                     for pc, i, raw in instructions(code, at))


def inputs(instr: Instr, state: State) -> str:
    """The values an instruction reads: source registers, memory operand, fcsr."""
    parts = []
    for token in tokens(instr.spec):
        if token in ("rs1", "rs2"):
            reg = getattr(instr, token)
            parts.append(f"x{reg}={state.x[reg]:#x}")
        elif token in ("fs1", "fs2", "fs3"):
            reg = getattr(instr, "r" + token[1:])
            parts.append(f"f{reg}={state.f[reg]:#018x}")
        elif token in ("mem", "amo"):
            addr = state.x[instr.rs1] + (instr.imm if token == "mem" else 0)
            at = (addr - SCRATCH) & ((1 << 64) - 1)
            parts.append(f"x{instr.rs1}={state.x[instr.rs1]:#x} "
                         f"mem[{addr:#x}]={state.scratch[at:at + 8][::-1].hex()}")
    parts.append(f"fcsr={state.fcsr:#x}")
    return " ".join(parts)


def failure(code: bytes, at: int, state: State, want: Outcome, got: Outcome,
            reference: str) -> str:
    """One mismatch: listing, the first instruction's inputs, and the differences."""
    first = next(instructions(code, at))[1]
    head = inputs(first, state) if first else ""
    diffs = "\n    ".join(want.differences(got))
    return f"{listing(code, at)}\n  inputs: {head}\n  {reference} vs mvvm:\n    {diffs}"
