"""Known bugs of the reference CPUs, stated exactly, so a test can still use the reference.

Each quirk names the row, the inputs where the reference is wrong, and what the spec says
instead; the test corrects the reference's expected state only there. When the reference
gets fixed, the correction is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from difftest.machine import Outcome, State
from mvvm.isa import decode

LOW_WORD = 0xFFFFFFFF


@dataclass(frozen=True)
class Quirk:
    """For a unary x-register row: where the reference errs (by rs1) and the right rd."""

    applies: Callable[[int], bool]
    value: Callable[[int], int]
    why: str


QEMU_QUIRKS: dict[str, Quirk] = {
    "ctzw": Quirk(lambda rs1: rs1 & LOW_WORD == 0, lambda rs1: 32,
                  "qemu 7.2 counts the trailing zeros of all 64 bits when the low word is "
                  "zero (fixed in QEMU 8.0, 'target/riscv: Fix ctzw behavior'); the spec "
                  "says 32"),
}


def correct(code: bytes, state: State, want: Outcome,
            quirks: dict[str, Quirk] = QEMU_QUIRKS) -> Outcome:
    """The reference's final state with a known quirk of a one-instruction snippet undone."""
    instr = decode(int.from_bytes(code[:4], "little"))
    quirk = quirks.get(instr.name) if instr and len(code) == instr.length else None
    if quirk is None or not isinstance(want, State) or instr.rd == 0:
        return want
    rs1 = state.x[instr.rs1]
    if not quirk.applies(rs1):
        return want
    x = list(want.x)
    x[instr.rd] = quirk.value(rs1)
    return replace(want, x=tuple(x))
