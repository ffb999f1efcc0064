"""Which registers hold a word (a 32-bit value sign-extended to 64 bits) where, in a region.

RV64 code keeps C's `int`s sign-extended in their registers, and compilers re-extend
them with `sext.w` (addiw rd, rs, 0) where they cannot see that the value already is:
a loop-carried xor of two words (crc32's table loop), values rotated between registers
(sha256's message schedule). On x86 each is a movslq, in those loops on the path from
one iteration to the next, and Cranelift cannot drop it: the value comes round the loop
in a block parameter. Where the source holds a word on every path to the `sext.w`, it is
a copy (`addi rd, rs, 0`): crc32 ran in 0.93 of the time, sha256 in 0.97 (bench.compare,
four layouts), against an upper bound (every `sext.w` a copy, wrong in general) of 0.92
and 0.99: what is left is in loops whose region starts at their header, where nothing
is known of the values that come round. A move keeps a word a word, c.mv (`add rd, x0,
rs`) as well as `addi rd, rs, 0`: with c.mv a copy, sha256's round loop, which rotates
its eight variables with it, lost its last six `sext.w`s (0.97 of the time again).

The facts are about the guest's architectural values, which every way the region runs
(fast-forwarded idioms, FP slow paths, copies of blocks) keeps exact: a forward
must-analysis over the region's nodes, from nothing known at its entry, at DISPATCH
and after a call or an ecall (the callee or the host may leave anything anywhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import cache

from mvvm import isa
from mvvm.isa import InsnSpec, Instr
from mvvm.isa.effects import FP, effects
from mvvm.translator.region import Block, Region, is_call
from mvvm.translator.structure import DISPATCH, Shape

X_REGISTERS = (1 << FP) - 1

# Instructions whose rd is a word whatever their operands (the unprivileged spec: W
# operations and narrow loads sign-extend; compares, counts and classes are small).
WORD_RESULTS = frozenset({
    "lb", "lh", "lw", "lbu", "lhu", "lui", "slt", "sltu", "slti", "sltiu",
    "addw", "subw", "sllw", "srlw", "sraw", "addiw", "slliw", "srliw", "sraiw",
    "mulw", "divw", "divuw", "remw", "remuw",
    "clz", "ctz", "cpop", "clzw", "ctzw", "cpopw", "sext.b", "sext.h", "zext.h",
    "rolw", "rorw", "roriw", "bext", "bexti",
    "lr.w", "sc.w", "sc.d", "amoswap.w", "amoadd.w", "amoxor.w", "amoand.w", "amoor.w",
    "amomin.w", "amomax.w", "amominu.w", "amomaxu.w",
    "fmv.x.w", "fcvt.w.s", "fcvt.wu.s", "fcvt.w.d", "fcvt.wu.d", "fcvtmod.w.d",
    "feq.s", "flt.s", "fle.s", "feq.d", "flt.d", "fle.d", "fclass.s", "fclass.d",
})
# ... and those whose rd is a word when their register operands are: bitwise operations
# (the bits above 31 of each operand are copies of bit 31, so are the result's) and
# choices of an operand.
WORDS_IN_WORDS_OUT = frozenset({
    "and", "or", "xor", "andi", "ori", "xori", "andn", "orn", "xnor",
    "min", "max", "minu", "maxu", "czero.eqz", "czero.nez",
})


def sext_copies(region: Region, shape: Shape) -> frozenset[int]:
    """The pcs of the region's `sext.w`s whose source holds a word at every node that
    runs them."""
    if not any(instr is not None and _is_sext(instr)
               for block in region.blocks.values() for _, instr in block.instrs):
        return frozenset()          # no analysis where there is nothing to find
    steps = {start: _steps(region, block) for start, block in region.blocks.items()}
    copies: set[int] = set()
    extends: set[int] = set()
    for node, words in _words_at_starts(shape, steps).items():
        if node == DISPATCH:
            continue
        block = shape.blocks[node]
        for (pc, instr), step in zip(block.instrs, steps[block.start], strict=True):
            if instr is not None and _is_sext(instr):
                (copies if words >> instr.rs1 & 1 else extends).add(pc)
            words = _after((step,), words)
    return frozenset(copies - extends)


def as_copy(instr: Instr) -> Instr:
    """The `sext.w` as the `mv` it amounts to when its source is a word."""
    return replace(instr, spec=_addi())


@cache
def _addi() -> InsnSpec:
    return next(spec for spec in isa.TABLE if spec.name == "addi")


def _is_sext(instr: Instr) -> bool:
    return instr.name == "addiw" and instr.imm == 0 and instr.rd != 0


def _words_at_starts(shape: Shape, steps: dict[int, list[Step]]) -> dict[int, int]:
    """Node -> the x registers (a mask; x0 always holds a word) that hold a word at its
    start, on every path there."""
    order = sorted(shape.rpo, key=shape.rpo.__getitem__)
    at_start = {node: X_REGISTERS for node in order}        # optimistic: meet lowers it
    at_start[shape.root] = 1
    changed = True
    while changed:
        changed = False
        for node in order:
            out = 1 if node == DISPATCH else _after(steps[shape.blocks[node].start],
                                                    at_start[node])
            for succ in shape.edges[node]:
                met = at_start[succ] & out if succ != shape.root else 1
                if met != at_start[succ]:
                    at_start[succ] = met
                    changed = True
    return at_start


# How an instruction changes the words (Step's first item): its rd holds a word after it,
# or does if its register operands do, or holds none; or nothing is known after it.
WORD, IF_WORDS, NOT_WORD, UNKNOWN = range(4)
Step = tuple[int, int, int]         # (how, rd's bit, the x registers it reads)


def _steps(region: Region, block: Block) -> list[Step]:
    """The block's instructions as Steps: decided once, for each pass of the analysis."""
    steps = []
    for pc, instr in block.instrs:
        if instr is None or instr.name == "ecall" or (
                is_call(instr) and pc not in region.linked_jumps):
            steps.append((UNKNOWN, 0, 0))
            continue
        reads, writes = effects(instr)
        rd = writes & X_REGISTERS
        if instr.name in WORD_RESULTS or (instr.name == "addi" and instr.rs1 == 0):
            steps.append((WORD, rd, 0))
        elif instr.name in WORDS_IN_WORDS_OUT or _is_move(instr):
            steps.append((IF_WORDS, rd, reads & X_REGISTERS))
        else:
            steps.append((NOT_WORD, rd, 0))
    return steps


def _after(steps: Iterable[Step], words: int) -> int:
    """The words after the steps, from those before them."""
    for how, rd, reads in steps:
        if how == WORD or (how == IF_WORDS and reads & ~words == 0):
            words |= rd
        elif how == UNKNOWN:
            words = 1
        else:
            words &= ~rd
    return words


def _is_move(instr: Instr) -> bool:
    """`mv`: addi rd, rs, 0, or add with x0, which is what the compressed c.mv is (sha256
    rotates its eight working variables with c.mv: none was known to hold a word)."""
    return (instr.name == "addi" and instr.imm == 0
            or instr.name == "add" and 0 in (instr.rs1, instr.rs2))
