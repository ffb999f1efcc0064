"""Loop idioms: libc's byte- and word-at-a-time scan loops, fast-forwarded with wasm SIMD.

glibc's generic riscv64 strcmp compares one byte per iteration and its strlen one word,
where the host's libc takes 32 bytes a step: however well each iteration is compiled, the
loop stays 10-30 times slower than native. A loop whose path from its header round to the
back edge is one of the idioms below gets, on that back edge, a test of the next CHUNK
bytes. When it shows that the scalar loop would go round the path at least CHUNK / stride
more times, the registers are set to what they would be after those iterations,
temporaries included, and the test is made again. So every exit, trap and interrupt of
the loop still sees the exact architectural state, and the guest's
instructions keep their meaning, which stays in the semantics: an idiom only says when
whole iterations may be skipped, and what they leave behind.

The test never faults where the loop would not: it reads only the page of the byte that
the last iteration (run or skipped) read from the same pointer, and only when the CHUNK
bytes lie in it, so no page protection can tell the difference. The counting mode
(instruction budgets) gets no fast path: it would have to count the skipped iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mvvm.isa import Instr
from mvvm.translator.emitter import GUEST_MEMORY, Emitter
from mvvm.translator.region import Region
from mvvm.translator.structure import Shape
from mvvm.wasm import encoder as w

CHUNK = 64          # bytes one test covers: four v128 loads per pointer
PAGE = 4096         # the granule of protection the test stays within
VECTOR = 16

Binding = dict[str, int]      # an idiom's register variables -> guest registers


@dataclass(frozen=True)
class Op:
    """One instruction of an idiom's path: its mnemonic and the operands that matter, each
    a register variable (a name), a fixed register or immediate (an int), or None (any)."""

    name: str
    rd: str | int | None = None
    rs1: str | int | None = None
    rs2: str | int | None = None
    imm: int | None = None


@dataclass(frozen=True)
class Step:
    """A block of the path and which of its successors the path goes on to: 0, a branch's
    taken side or the only successor; 1, a branch's fall-through."""

    ops: tuple[Op, ...]
    succ: int


@dataclass(frozen=True)
class Idiom:
    name: str
    path: tuple[Step, ...]
    writes: tuple[str, ...]                     # the variables the path writes
    fast_path: Callable[[Emitter, Binding], None]


@dataclass(frozen=True)
class Match:
    idiom: Idiom
    binding: Binding


def find(region: Region, shape: Shape,
         dirty_out: dict[int, int]) -> dict[tuple[int, int], Match]:
    """The region's loops that are idioms, by their back edge (source block, header).
    What a fast path writes must be dirty on the back edge already (the path writes it), so
    that the loop's exits write it back."""
    found: dict[tuple[int, int], Match] = {}
    for header in shape.loop_headers:
        for idiom in IDIOMS:
            matched = _match(idiom, region, shape, header)
            if matched is None:
                continue
            source, binding = matched
            writes = sum(1 << binding[name] for name in idiom.writes)
            if writes & ~dirty_out[source] == 0:
                found[source, header] = Match(idiom, binding)
                break
    return found


def _match(idiom: Idiom, region: Region, shape: Shape,
           header: int) -> tuple[int, Binding] | None:
    """(the back edge's source, the binding) if the path from header is the idiom's."""
    binding: Binding = {}
    start = header
    for k, step in enumerate(idiom.path):
        block = region.blocks.get(start)
        if block is None or (k and start == header) or len(block.instrs) != len(step.ops):
            return None
        for (_, instr), op in zip(block.instrs, step.ops, strict=True):
            if instr is None or not _operands(instr, op, binding):
                return None
        if step.succ >= len(block.succs) or block.succs[step.succ] not in shape.edges[start]:
            return None
        source, start = start, block.succs[step.succ]
    if start != header or not shape.is_backward(source, header):
        return None
    return source, binding


def _operands(instr: Instr, op: Op, binding: Binding) -> bool:
    if instr.name != op.name or (op.imm is not None and instr.imm != op.imm):
        return False
    for want, have in ((op.rd, instr.rd), (op.rs1, instr.rs1), (op.rs2, instr.rs2)):
        if isinstance(want, int) and want != have:
            return False
        if isinstance(want, str):
            bound = binding.setdefault(want, have)
            if bound != have or have == 0 or list(binding.values()).count(have) > 1:
                return False
    return True


# -- what the fast paths share -------------------------------------------------------------

def _in_page(e: Emitter, *regs: int) -> None:
    """Push whether, for each reg, guest bytes x[reg] - 1 to x[reg] + CHUNK - 1 are in one
    page: whether the addresses of the first and last differ only below the page bits."""
    c = e.code
    for k, reg in enumerate(regs):
        e.x(reg)
        c.i64_const(-1).op(w.I64_ADD)
        e.x(reg)
        c.i64_const(CHUNK - 1).op(w.I64_ADD, w.I64_XOR)
        if k:
            c.op(w.I64_OR)
    c.i64_const(PAGE).op(w.I64_LT_U)


def _vector(e: Emitter, reg: int, k: int) -> None:
    """Push the k-th 16 bytes from guest address x[reg]."""
    e.address(reg, 0)
    e.code.simd_mem(w.V128_LOAD, GUEST_MEMORY, VECTOR * k)


def _advance(e: Emitter, reg: int, by: int) -> None:
    e.x(reg)
    e.code.i64_const(by).op(w.I64_ADD)
    e.set_x(reg)


def _skip_while(e: Emitter, test: Callable[[], None], skip: Callable[[], None]) -> None:
    """loop { if test() { skip(); continue } }: at most a page's worth of chunks, since
    each test needs its chunk in the page of the byte before it."""
    c = e.code
    c.block(w.LOOP)
    test()
    c.block(w.IF)
    skip()
    c.br(w.BR, 1).op(w.END, w.END)


def _load(e: Emitter, reg: int, offset: int, opcode: int, into: int) -> None:
    e.address(reg, offset)
    e.code.mem(opcode, GUEST_MEMORY)
    e.set_x(into)


# -- strcmp: byte by byte, until a difference or the end of the first string ---------------

def _compare_bytes(e: Emitter, r: Binding) -> None:
    """While the next CHUNK bytes of both strings are equal and none is 0, skip CHUNK
    iterations; a and b hold the last one's bytes."""
    c = e.code
    p, q = r["p"], r["q"]

    def test() -> None:
        _in_page(e, p, q)
        c.block(w.IF, w.I32)
        left = e.temp(w.V128)
        for k in range(CHUNK // VECTOR):
            _vector(e, p, k)
            c.tee(left).get(left)
            _vector(e, q, k)
            c.simd(w.I8X16_EQ).simd(w.I8X16_MIN_U)    # the byte where equal, else 0
            if k:
                c.simd(w.I8X16_MIN_U)
        e.release((w.V128, left))
        c.simd(w.I8X16_ALL_TRUE).op(w.ELSE).i32_const(0).op(w.END)

    def skip() -> None:
        _advance(e, p, CHUNK)
        _advance(e, q, CHUNK)
        _load(e, p, -1, w.I64_LOAD8_U, r["a"])
        _load(e, q, -1, w.I64_LOAD8_U, r["b"])

    _skip_while(e, test, skip)


STRCMP = Idiom(
    "compare bytes",
    (Step((Op("lbu", "a", "p", imm=0), Op("addi", "q", "q", imm=1), Op("addi", "p", "p", imm=1),
           Op("lbu", "b", "q", imm=-1), Op("beq", rs1="a", rs2=0)), succ=1),
     Step((Op("beq", rs1="a", rs2="b"),), succ=0)),
    ("a", "b", "p", "q"), _compare_bytes)


# -- strlen: a word at a time, until the word has a zero byte -------------------------------

ONES = 0x0101010101010101
HIGHS = 0x8080808080808080


def _find_zero_word(e: Emitter, r: Binding) -> None:
    """The test (w - 0x01..01) & ~w & 0x80..80 is non-zero exactly when the word w has a
    zero byte, when minus and highs hold those constants. While the next CHUNK bytes have
    none, skip CHUNK / 8 iterations, which leave next = p, word = ~(the last word), t = 0."""
    c = e.code
    p = r["p"]

    def test() -> None:
        e.x(r["minus"])
        c.i64_const(-ONES).op(w.I64_EQ)
        e.x(r["highs"])
        c.i64_const(HIGHS).op(w.I64_EQ, w.I32_AND)
        _in_page(e, p)
        c.op(w.I32_AND).block(w.IF, w.I32)
        for k in range(CHUNK // VECTOR):
            _vector(e, p, k)
            if k:
                c.simd(w.I8X16_MIN_U)
        c.simd(w.I8X16_ALL_TRUE).op(w.ELSE).i32_const(0).op(w.END)

    def skip() -> None:
        _advance(e, p, CHUNK)
        e.x(p)
        e.set_x(r["next"])
        _load(e, p, -8, w.I64_LOAD, r["word"])
        e.x(r["word"])
        c.i64_const(-1).op(w.I64_XOR)
        e.set_x(r["word"])
        c.i64_const(0)
        e.set_x(r["t"])

    _skip_while(e, test, skip)


STRLEN = Idiom(
    "find a zero byte by words",
    (Step((Op("ld", "word", "p", imm=0), Op("addi", "next", "p", imm=8),
           Op("add", "t", "word", "minus"), Op("xori", "word", "word", imm=-1),
           Op("and", "t", "t", "word"), Op("and", "t", "t", "highs"),
           Op("beq", rs1="t", rs2=0)), succ=0),
     Step((Op("add", "p", 0, "next"), Op("jal", 0)), succ=0)),
    ("word", "next", "t", "p"), _find_zero_word)

IDIOMS = (STRCMP, STRLEN)
