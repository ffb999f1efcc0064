"""Synchronous faults for guest signal handlers, and the precise mode they need.

A wasm trap leaves only the guest pc exact (the region's trap map gives it): the
registers may still sit in the region's wasm locals, newer than the VM state. That is
enough to kill the guest, not to run its SIGSEGV handler, which reads the registers
from its ucontext and may return to them. So once the guest catches a signal that a
trap raises, the VM translates in precise mode: every instruction that may trap
(`mvvm.isa.effects.may_trap`) is preceded by a write-back of the dirty registers, which
the register dataflow treats as a synchronisation point like an ecall. At a trap the VM
state is then exactly the state before the faulting instruction.

ebreak and illegal encodings leave the region through an exit, which writes back, so
SIGTRAP and those SIGILLs are precise in either mode.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mvvm.errors import GuestSignal

if TYPE_CHECKING:
    from mvvm.isa import Instr

# Signals a trap in translated code raises (an out-of-bounds access; `unreachable`, which
# the FP code uses for a dynamic rounding mode that frm makes illegal). A handler for one
# of them switches the VM to precise mode.
TRAP_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGILL, signal.SIGBUS})

# si_code values (asm-generic/siginfo.h).
SEGV_MAPERR = 1
SEGV_ACCERR = 2
ILL_ILLOPC = 1
BUS_ADRALN = 1
TRAP_BRKPT = 1

MASK64 = (1 << 64) - 1


class Fault(GuestSignal):
    """A synchronous fault at the guest's current pc: the signal, and what its siginfo
    reports (si_code, and si_addr: the faulting data address, or the pc for an
    instruction fault)."""

    def __init__(self, signo: int, code: int, addr: int, message: str) -> None:
        super().__init__(signo, message)
        self.code = code
        self.addr = addr


def fault_address(instr: Instr, x: Sequence[int]) -> int:
    """The address a memory access computes from exact registers: x[rs1] + imm."""
    base = x[instr.rs1] if instr.rs1 else 0
    return (base + instr.imm) & MASK64
