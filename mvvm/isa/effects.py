"""Which registers an instruction reads and writes, and whether its code may trap: facts
derived from the table's operand tokens.

Registers are bits of one int: bit r for x_r (x0 is never tracked: it is not
state) and bit 32 + r for f_r. The translator's dataflow (what to load at a
region's entry, what to write back at an exit, what to reload after a call)
is computed from these masks.

Only operand registers are described here: an `ecall` reads the argument
registers through the VM state, which the translator handles as a
synchronisation point, not as an operand.
"""

from __future__ import annotations

from functools import cache

from mvvm.isa.instr import Flow, Instr

FP = 32
DYNAMIC_ROUNDING = 7          # rm = 7: round by frm

# operand token -> (Instr field, is an FP register, is written)
_TOKENS = {
    "rd": ("rd", False, True), "fd": ("rd", True, True),
    "rs1": ("rs1", False, False), "rs2": ("rs2", False, False),
    "fs1": ("rs1", True, False), "fs2": ("rs2", True, False), "fs3": ("rs3", True, False),
    "mem": ("rs1", False, False), "amo": ("rs1", False, False),
}


@cache
def _roles(operands: str) -> tuple[tuple[str, bool, bool], ...]:
    return tuple(_TOKENS[token] for token in operands.split(",") if token in _TOKENS)


def register_bit(reg: int, fp: bool) -> int:
    """The mask bit of a register; x0 has none."""
    if fp:
        return 1 << (FP + reg)
    return 1 << reg if reg else 0


def effects(instr: Instr) -> tuple[int, int]:
    """(registers read, registers written) as masks."""
    reads = writes = 0
    for field, fp, written in _roles(instr.spec.operands):
        bit = register_bit(getattr(instr, field), fp)
        if written:
            writes |= bit
        else:
            reads |= bit
    return reads, writes


@cache
def _operands(operands: str) -> frozenset[str]:
    return frozenset(operands.split(","))


def may_trap(instr: Instr) -> bool:
    """Whether the wasm code of instr can trap: a memory access (jalr's `mem` operand is
    no access), or an FP instruction that rounds by frm, which may hold an illegal mode.
    Precise mode (mvvm.runtime.precise) writes the registers back before each."""
    tokens = _operands(instr.spec.operands)
    if instr.spec.flow is Flow.NEXT and not tokens.isdisjoint(("mem", "amo")):
        return True
    return "rm" in tokens and instr.rm == DYNAMIC_ROUNDING
