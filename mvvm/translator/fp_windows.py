"""Runs of FP arithmetic in the steady FP state whose results are tested once, at the end of
what they feed.

In a loop's copy for the steady FP state (RNE, NX set: Emitter.assume_steady) each add,
subtract, multiply and fused multiply-add still tests its result for the cases whose
flags or NaN only the slow path gives: a sum that is not finite, a product or a fused
result that is not normal (an exact zero product aside). Each test moves the result from
an XMM register to an integer one, on the port that also runs the FP adds and multiplies:
mandelbrot's loop, seven tests a pass, ran in 0.48 s without its four sums' tests against
0.73 s with them, and a test done in the FP registers instead ((r - r) == (r - r)) was
slower still (0.84 s).

A sum need not test its result where a later operation reads it: an infinity or a NaN
that goes into an add, a subtract, a multiply or a fused multiply-add comes out of it as
an infinity or a NaN (x / inf is a division's, which is left out), and that operation's
own test fails. So in a window, a run of consecutive instructions of a block that are
such operations (doubles, rounding RNE or dynamic) or integer instructions that touch no
memory and cannot trap, a sum whose result a later operation of the window reads (its
register not written in between) goes untested; a product's and a fused operation's
test stays, for they may be tiny, which no later test sees. The window is emitted twice:
the fast copy, whose tests pass only results that raise no flag in the steady state (a
finite sum, a normal product or fused result), and the careful copy that a failed test
goes to: the instructions as they are emitted elsewhere (their slow paths, their flags,
an exact zero product's fast path), from the registers as they were before the window,
which the fast copy saved. (mandelbrot: execute 0.73 s to 0.58 s, two of its seven tests
gone; nbody 0.67 s to 0.64 s, three of its loop's tests gone.)
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.isa import Instr
from mvvm.isa.effects import effects, register_bit
from mvvm.isa.table import AUIPC, LUI, OP, OP_32, OP_IMM, OP_IMM_32
from mvvm.translator.emitter import Emitter
from mvvm.translator.fp_emit import (
    DOUBLE,
    DYNAMIC,
    RNE,
    push_fused,
    push_is_finite,
    push_is_normal,
)
from mvvm.translator.semantics.fp import ARITH, FUSED
from mvvm.wasm import encoder as w

SUMS = ("fadd.d", "fsub.d")
OPERATIONS = (*SUMS, "fmul.d", *(f"{name}.d" for name in FUSED))
PURE = {OP, OP_32, OP_IMM, OP_IMM_32, LUI, AUIPC}   # integer opcodes: registers alone


@dataclass(frozen=True)
class Window:
    """Instructions start..end - 1 of a block (indices into its instrs)."""

    start: int
    end: int
    untested: frozenset[int]        # the sums whose results a later operation tests
    writes: int                     # the registers it writes (mvvm.isa.effects bits)


def find(instrs: list[tuple[int, Instr | None]]) -> list[Window]:
    """The windows among instrs (a block's, but its last) that leave a test out."""
    windows, k = [], 0
    while k < len(instrs):
        if not is_operation(instrs[k][1]):
            k += 1
            continue
        end = k
        while end < len(instrs) and (is_operation(instrs[end][1]) or _pure(instrs[end][1])):
            end += 1
        while not is_operation(instrs[end - 1][1]):
            end -= 1
        run = [instr for _, instr in instrs[k:end]]
        untested = _untested(run)
        if untested:
            windows.append(Window(k, end, frozenset(k + i for i in untested), _writes(run)))
        k = end
    return windows


def is_operation(instr: Instr | None) -> bool:
    """One of the FP operations a window holds."""
    return instr is not None and instr.spec.name in OPERATIONS and instr.rm in (RNE, DYNAMIC)


def _pure(instr: Instr | None) -> bool:
    return instr is not None and instr.spec.match & 0x7F in PURE


def _untested(run: list[Instr]) -> list[int]:
    """The sums of run that a later operation reads before their register is written (the
    integer instructions read no FP register)."""
    untested = []
    for i, instr in enumerate(run):
        if instr.spec.name not in SUMS:
            continue
        result = register_bit(instr.rd, True)
        for later in run[i + 1:]:
            reads, writes = effects(later)
            if reads & result:
                untested.append(i)
            if (reads | writes) & result:
                break
    return untested


def _writes(run: list[Instr]) -> int:
    written = 0
    for instr in run:
        written |= effects(instr)[1]
    return written


def _operands(instr: Instr) -> tuple[int, ...]:
    """The FP registers an operation reads, in the table's order (fs1, fs2, fs3)."""
    tokens = instr.spec.operands.split(",")
    return tuple(getattr(instr, f"rs{n}") for n in (1, 2, 3) if f"fs{n}" in tokens)


def emit(e: Emitter, instr: Instr, tested: bool) -> None:
    """The fast copy of one operation, in the steady FP state: its result to its register,
    and if tested, `br_if 0` (to the careful copy) when the result is one the slow path
    must see."""
    c, op = e.code, instr.spec.name.split(".")[0]
    operands = [e.temp(w.F64) for _ in _operands(instr)]
    for local, reg in zip(operands, _operands(instr), strict=True):
        e.f_value(reg)
        c.set(local)
    r = e.temp(w.F64)
    if op in FUSED:
        push_fused(e, DOUBLE, *operands, *FUSED[op])
    else:
        c.get(operands[0]).get(operands[1]).op(DOUBLE.f[ARITH[op]])
    c.set(r)
    if tested:
        (push_is_finite if instr.spec.name in SUMS else push_is_normal)(c, DOUBLE, r)
        c.op(w.I32_EQZ).hint(False).br(w.BR_IF, 0)
    c.get(r)
    e.set_f_value(instr.rd)
    e.release((w.F64, r), *((w.F64, local) for local in operands))
