"""Loop idioms: libc's byte- and word-at-a-time scan loops, fast-forwarded with wasm SIMD.

glibc's generic riscv64 strcmp compares one byte per iteration and its strlen one word,
where the host's libc takes 32 bytes a step: however well each iteration is compiled, the
loop stays 10-30 times slower than native. A loop whose path from its header round to the
back edge is one of the idioms below gets, on that back edge, a test of the next 64 or 128
bytes. When it shows that the scalar loop would go round the path through all of them,
the registers are set to what they would be after those iterations, temporaries
included, and the test is made again. So every exit, trap and interrupt of the loop still
sees the exact architectural state. The instructions' meaning stays in the semantics: an
idiom only says when whole iterations may be skipped, and what they leave behind.

The test never faults where the loop would not: it reads only the page of the byte that
the last iteration (run or skipped) read from the same pointer, and only when the tested
bytes lie in it, so no page protection can tell the difference. The counting mode
(instruction budgets) gets no fast path: it would have to count the skipped iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mvvm.isa import Instr
from mvvm.translator.emitter import Emitter
from mvvm.translator.modules import GUEST_MEMORY
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
    fast_path: Callable[[Emitter, Binding, int], None]     # (.., the retry local)
    # The path is the loop from any of its blocks, not only from its header: which block
    # is the header depends on where the region was entered. The fast path goes on the
    # edge that closes the path, a back edge or not.
    anywhere: bool = False


@dataclass(frozen=True)
class Match:
    idiom: Idiom
    binding: Binding


def find(shape: Shape, dirty_out: dict[int, int]) -> dict[tuple[int, int], Match]:
    """The region's loops that are idioms, by the edge that closes the path (source node,
    the path's first node): a back edge to the header, unless the idiom matches anywhere.
    What a fast path writes must be dirty on that edge already (the path writes it), so that
    the loop's exits write it back."""
    found: dict[tuple[int, int], Match] = {}
    for header in shape.blocks:
        for idiom in IDIOMS:
            if not idiom.anywhere and header not in shape.loop_headers:
                continue
            matched = _match(idiom, shape, header)
            if matched is None:
                continue
            source, binding = matched
            writes = sum(1 << binding[name] for name in idiom.writes)
            if writes & ~dirty_out[source] == 0:
                found[source, header] = Match(idiom, binding)
                break
    return found


def _match(idiom: Idiom, shape: Shape, header: int) -> tuple[int, Binding] | None:
    """(the back edge's source, the binding) if the path from header is the idiom's. A
    step's instructions may lie in several blocks, each running into the next (a branch
    elsewhere into the middle of the path splits it, and differs with what the region
    holds)."""
    binding: Binding = {}
    start = source = header
    first = True
    for step in idiom.path:
        ops = step.ops
        while True:
            block = shape.blocks.get(start)
            if block is None or (start == header and not first) or len(block.instrs) > len(ops):
                return None
            first = False
            for (_, instr), op in zip(block.instrs, ops, strict=False):
                if instr is None or not _operands(instr, op, binding):
                    return None
            source, ops = start, ops[len(block.instrs):]
            if not ops:
                break
            if block.succs != [block.end] or not shape.keeps(start, block.end):
                return None
            start = shape.target(start, block.end)
        if step.succ >= len(block.succs) or not shape.keeps(source, block.succs[step.succ]):
            return None
        start = shape.target(source, block.succs[step.succ])
    if start != header or not (idiom.anywhere or shape.is_backward(source, header)):
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

@dataclass(frozen=True)
class Scan:
    """A fast path: advance each pointer register by the bytes of n vectors while
    `chunk(n)` (an i32, with those bytes of each pointer readable) says the loop would go
    on through all of them; `guard` (an i32, or None) is tested once before, and `settle`
    sets the temporaries after, as the last iteration (run or skipped) leaves them;
    `limit` (an i64, or None) is the most bytes the loop's own bound lets it skip. `most`:
    the bytes a test takes while far from the page's end. One pointer's scan takes 2 *
    CHUNK (strlen's bench ran in 0.86-0.90 of the time it took with 64, 0.94 with 256);
    two pointers' take CHUNK (strcmp's took 1.04-1.08 times as long with 128)."""

    pointers: tuple[int, ...]
    chunk: Callable[[int], None]
    settle: Callable[[], None]
    guard: Callable[[], None] | None = None
    most: int = CHUNK
    limit: Callable[[], None] | None = None


def _scan(e: Emitter, scan: Scan, retry: int) -> None:
    """When pointer 0 has reached the i64 local retry (0 on entering the loop):

        left = the bytes from each pointer to the end of the page of its last byte read
               (so that no load can fault where the loop's own would not), the fewest,
               and no more than scan.limit
        for size in scan.most, then VECTOR (near the page's end, or where the loop ends):
            loop: if left >= size:
                      if chunk(size): advance, left -= size, continue
                      VECTOR: retry = pointer 0 + size; done  (the loop ends within it)
        retry = pointer 0 + left + 1                  (a chunk fits once in the next page)
        done: settle

    so that the iterations after a failed test do not each test again, and at most 15
    run one by one before the loop ends (63 when a failed chunk went straight there:
    half of strcmp's time on its bench went to those)."""
    c, left, rest = e.code, e.temp(), e.temp()
    first = scan.pointers[0]
    e.x(first)
    c.get(retry).op(w.I64_GE_U).block(w.IF)
    if scan.guard is not None:
        scan.guard()
        c.op(w.I32_EQZ).block(w.IF).i64_const(-1).set(retry).op(w.ELSE)
    bounds = [lambda reg=reg: _page_rest(e, reg) for reg in scan.pointers]
    for k, bound in enumerate(bounds + ([scan.limit] if scan.limit else [])):
        bound()
        if k:           # the smaller
            c.tee(rest).get(left).get(rest).get(left).op(w.I64_LT_U, w.SELECT)
        c.set(left)
    c.block(w.BLOCK)                                        # done
    for size in (scan.most, VECTOR):
        c.block(w.LOOP).get(left).i64_const(size).op(w.I64_GE_U).block(w.IF)
        scan.chunk(size // VECTOR)
        c.block(w.IF)
        for reg in scan.pointers:
            _advance(e, reg, size)
        c.get(left).i64_const(size).op(w.I64_SUB).set(left).br(w.BR, 2).op(w.END)
        if size == VECTOR:
            e.x(first)
            c.i64_const(size).op(w.I64_ADD).set(retry).br(w.BR, 2)
        c.op(w.END, w.END)
    e.x(first)
    c.get(left).op(w.I64_ADD).i64_const(1).op(w.I64_ADD).set(retry).op(w.END)
    scan.settle()
    if scan.guard is not None:
        c.op(w.END)
    c.op(w.END)
    e.release((w.I64, left), (w.I64, rest))


def _page_rest(e: Emitter, reg: int, offset: int = 0) -> None:
    """Push the bytes from p = x[reg] + offset to the end of the page of p - 1."""
    page_rest(e, lambda: e.x(reg), offset)


def page_rest(e: Emitter, push: Callable[[], None], offset: int = 0) -> None:
    """Push the bytes from p = (the address push pushes) + offset to the end of the page
    of p - 1: where an access that ended at p may go on without a fault the last one did
    not have."""
    c = e.code
    push()
    c.i64_const(offset - 1).op(w.I64_ADD).i64_const(PAGE - 1).op(w.I64_OR).i64_const(1)
    c.op(w.I64_ADD)
    push()
    c.op(w.I64_SUB)
    if offset:
        c.i64_const(offset).op(w.I64_SUB)


def _reduce(e: Emitter, vectors: int, leaf: Callable[[int], None], combine: int) -> None:
    """Push leaf(0), ..., leaf(vectors - 1) combined by the SIMD op combine, as a balanced
    tree: a chain (each combine waiting for the one before) is as long as its leaves, a
    tree log2 of that, and the loads' latency overlaps (strlen's 128 bytes a test: 8
    dependent vpminub in a row, a third of the scan's time)."""
    def tree(low: int, high: int) -> None:
        if high - low == 1:
            leaf(low)
            return
        middle = (low + high) // 2
        tree(low, middle)
        tree(middle, high)
        e.code.simd(combine)

    tree(0, vectors)


def _vector(e: Emitter, reg: int, k: int) -> None:
    """Push the k-th 16 bytes from guest address x[reg]."""
    e.address(reg, 0)
    e.code.simd_mem(w.V128_LOAD, GUEST_MEMORY, VECTOR * k)


def _advance(e: Emitter, reg: int, by: int) -> None:
    e.x(reg)
    e.code.i64_const(by).op(w.I64_ADD)
    e.set_x(reg)


def _load(e: Emitter, reg: int, offset: int, opcode: int, into: int) -> None:
    e.code.mem(opcode, GUEST_MEMORY, e.address(reg, offset))
    e.set_x(into)


# -- strcmp: byte by byte, until a difference or the end of the first string ---------------

def _compare_bytes(e: Emitter, r: Binding, retry: int) -> None:
    """Skip as many iterations as bytes while the next bytes of both strings are equal and
    none is 0; a and b hold the last iteration's bytes."""
    c = e.code
    p, q = r["p"], r["q"]

    def chunk(vectors: int) -> None:
        left = e.temp(w.V128)

        def leaf(k: int) -> None:                    # the byte where equal, else 0
            _vector(e, p, k)
            c.tee(left).get(left)
            _vector(e, q, k)
            c.simd(w.I8X16_EQ).simd(w.I8X16_MIN_U)

        _reduce(e, vectors, leaf, w.I8X16_MIN_U)
        e.release((w.V128, left))
        c.simd(w.I8X16_ALL_TRUE)

    def settle() -> None:
        _load(e, p, -1, w.I64_LOAD8_U, r["a"])
        _load(e, q, -1, w.I64_LOAD8_U, r["b"])

    _scan(e, Scan((p, q), chunk, settle), retry)


STRCMP = Idiom(
    "compare bytes",
    (Step((Op("lbu", "a", "p", imm=0), Op("addi", "q", "q", imm=1), Op("addi", "p", "p", imm=1),
           Op("lbu", "b", "q", imm=-1), Op("beq", rs1="a", rs2=0)), succ=1),
     Step((Op("beq", rs1="a", rs2="b"),), succ=0)),
    ("a", "b", "p", "q"), _compare_bytes)


# -- memcmp's shape: byte by byte, until a difference or an end pointer --------------------

def _compare_bytes_to(e: Emitter, r: Binding, retry: int) -> None:
    """Skip as many iterations as bytes while the next bytes of both ranges are equal,
    leaving the last before the end to the loop; a and b hold the last iteration's bytes."""
    c = e.code
    p, q = r["p"], r["q"]

    def chunk(vectors: int) -> None:
        def leaf(k: int) -> None:
            _vector(e, p, k)
            _vector(e, q, k)
            c.simd(w.I8X16_EQ)

        _reduce(e, vectors, leaf, w.V128_AND)
        c.simd(w.I8X16_ALL_TRUE)

    def limit() -> None:            # end - p - 1: the loop's own last iteration is left
        e.x(r["end"])
        e.x(p)
        c.op(w.I64_SUB).i64_const(-1).op(w.I64_ADD)

    def settle() -> None:
        _load(e, p, -1, w.I64_LOAD8_U, r["a"])
        _load(e, q, -1, w.I64_LOAD8_U, r["b"])

    _scan(e, Scan((p, q), chunk, settle, limit=limit), retry)


MEMCMP = Idiom(
    "compare bytes to an end",
    (Step((Op("lbu", "a", "p", imm=0), Op("lbu", "b", "q", imm=0),
           Op("bne", rs1="a", rs2="b")), succ=1),
     Step((Op("addi", "p", "p", imm=1), Op("addi", "q", "q", imm=1),
           Op("bne", rs1="p", rs2="end")), succ=0)),
    ("a", "b", "p", "q"), _compare_bytes_to)


# -- strlen: a word at a time, until the word has a zero byte -------------------------------

ONES = 0x0101010101010101
HIGHS = 0x8080808080808080


def _find_zero_word(e: Emitter, r: Binding, retry: int) -> None:
    """The test (w - 0x01..01) & ~w & 0x80..80 is non-zero exactly when the word w has a
    zero byte, when minus and highs hold those constants. Skip an iteration per 8 bytes
    while the next bytes have none; they leave next = p, word = ~(the last word), t = 0."""
    c = e.code
    p = r["p"]

    def guard() -> None:
        e.x(r["minus"])
        c.i64_const(-ONES).op(w.I64_EQ)
        e.x(r["highs"])
        c.i64_const(HIGHS).op(w.I64_EQ, w.I32_AND)

    def chunk(vectors: int) -> None:
        _reduce(e, vectors, lambda k: _vector(e, p, k), w.I8X16_MIN_U)
        c.simd(w.I8X16_ALL_TRUE)

    def settle() -> None:
        e.x(p)
        e.set_x(r["next"])
        _load(e, p, -8, w.I64_LOAD, r["word"])
        e.x(r["word"])
        c.i64_const(-1).op(w.I64_XOR)
        e.set_x(r["word"])
        c.i64_const(0)
        e.set_x(r["t"])

    _scan(e, Scan((p,), chunk, settle, guard, 2 * CHUNK), retry)


STRLEN = Idiom(
    "find a zero byte by words",
    (Step((Op("ld", "word", "p", imm=0), Op("addi", "next", "p", imm=8),
           Op("add", "t", "word", "minus"), Op("xori", "word", "word", imm=-1),
           Op("and", "t", "t", "word"), Op("and", "t", "t", "highs"),
           Op("beq", rs1="t", rs2=0)), succ=0),
     Step((Op("add", "p", 0, "next"), Op("jal", 0)), succ=0)),
    ("word", "next", "t", "p"), _find_zero_word)


# -- memcpy: glibc's word copies, to an aligned destination ---------------------------------

@dataclass(frozen=True)
class Copy:
    """A fast path that skips whole iterations of a word copy: `step` bytes an iteration,
    its loads and stores starting `offset` bytes past the src and dst registers, n the
    word count that ends the loop at 0. `guard` pushes an i32, true when the loop is the
    plain copy the fast path assumes; `body(size)` copies the iterations' size bytes and
    `settle(size)` leaves the registers as the last of them would (size: an i64 local)."""

    src: int
    dst: int
    n: int
    offset: int
    step: int
    guard: Callable[[], None]
    body: Callable[[int], None]
    settle: Callable[[int], None]


def _copy(e: Emitter, copy: Copy) -> None:
    """Skip as many iterations as fit in the page each pointer last touched (the loop's
    own last load and store there went through, so neither faults), leaving at least one
    to the loop (it ends when n reaches 0), and only while the ranges do not overlap (the
    loop would read bytes it wrote). Before the stores the registers are written back: a
    store that faults after all (another thread changed the page's rights meanwhile) is
    then a fault at the edge the fast path is on, from where the loop rewrites the same
    bytes."""
    c = e.code
    size, rest = e.temp(), e.temp()
    copy.guard()
    e.x(copy.n)
    c.i64_const(copy.step // 8 - 1).op(w.I64_AND, w.I64_EQZ, w.I32_AND).block(w.IF)
    _page_rest(e, copy.src, copy.offset)
    c.set(size)
    for push in (lambda: _page_rest(e, copy.dst, copy.offset),
                 lambda: _bytes_left(e, copy.n, copy.step)):
        push()
        c.tee(rest).get(size).get(rest).get(size).op(w.I64_LT_U, w.SELECT).set(size)
    c.get(size).i64_const(-copy.step).op(w.I64_AND).tee(size).op(w.I64_EQZ, w.I32_EQZ)
    for a, b in ((copy.dst, copy.src), (copy.src, copy.dst)):   # the two ranges apart
        e.x(a)
        c.get(size).op(w.I64_ADD)
        e.x(b)
        c.op(w.I64_LE_U)
    c.op(w.I32_OR, w.I32_AND).block(w.IF)
    dirty = e.dirty
    e.write_back()
    copy.body(size)
    copy.settle(size)
    e.dirty |= dirty
    c.op(w.END, w.END)
    e.release((w.I64, size), (w.I64, rest))


def _bytes_left(e: Emitter, n: int, step: int) -> None:
    """Push the bytes of all iterations but the last, or a page when they are more."""
    c, words = e.code, e.temp()
    e.x(n)
    c.i64_const(-(step // 8)).op(w.I64_ADD).tee(words).i64_const(3).op(w.I64_SHL)
    c.i64_const(PAGE).get(words).i64_const(PAGE // 8).op(w.I64_LT_U, w.SELECT)
    e.release((w.I64, words))


def _copy_bytes(e: Emitter, push_to: Callable[[], None], push_from: Callable[[], None],
                size: int, at: int) -> None:
    """Copy size - 16 bytes (16 more than a multiple of 32) from the guest address
    push_from pushes to push_to's: 16 bytes, then 128 a step, then 64 and 32 as they
    remain. A step's vectors are at constant offsets (memargs) from one index per pointer,
    so that Cranelift checks each index once: two bounds checks per 128 bytes, not 16; and
    one add, compare and branch (32 bytes a step took a third longer on memcpy's bench
    than 64, and 64 took 1.07 times as long as 128)."""
    c = e.code

    def vectors(back: int, offsets: range) -> None:
        for offset in offsets:
            for push in (push_to, push_from):
                push()
                c.get(at).op(w.I64_ADD)
                e.guest_index(-back)
            c.simd_mem(w.V128_LOAD, GUEST_MEMORY, offset)
            c.simd_mem(w.V128_STORE, GUEST_MEMORY, offset)

    step = 2 * CHUNK
    c.i64_const(0).set(at)
    vectors(0, range(0, VECTOR, VECTOR))
    c.block(w.BLOCK).block(w.LOOP)          # bytes [at - step + 16, at + 16) a step
    c.get(at).i64_const(step).op(w.I64_ADD).tee(at).get(size).op(w.I64_GE_U).br(w.BR_IF, 1)
    vectors(step - VECTOR, range(0, step, VECTOR))
    c.br(w.BR, 0).op(w.END, w.END)
    c.get(at).i64_const(step).op(w.I64_SUB).set(at)    # copied: [0, at + 16)
    for part in (step // 2, step // 4):     # the rest: 96, 64, 32 or no bytes
        c.get(at).i64_const(part + 2 * VECTOR).op(w.I64_ADD).get(size).op(w.I64_LE_U).block(w.IF)
        vectors(-VECTOR, range(0, part, VECTOR))
        c.get(at).i64_const(part).op(w.I64_ADD).set(at).op(w.END)


def _load_at(e: Emitter, reg: int, size: int, offset: int) -> None:
    """Push the word at x[reg] + size + offset (size: an i64 local)."""
    e.x(reg)
    e.code.get(size).op(w.I64_ADD)
    e.guest_index(offset)
    e.code.mem(w.I64_LOAD, GUEST_MEMORY)


def _advance_by(e: Emitter, reg: int, size: int, offset: int = 0) -> None:
    """Push x[reg] + size + offset (size: an i64 local)."""
    e.x(reg)
    e.code.get(size).op(w.I64_ADD)
    if offset:
        e.code.i64_const(offset).op(w.I64_ADD)


def _copy_shifted_words(e: Emitter, r: Binding, retry: int) -> None:
    """glibc's _wordcopy_fwd_dest_aligned stores four words an iteration, each the upper
    bytes of one source word shifted down ORed with the lower bytes of the next shifted up
    (by sh = 8k and sl = 64 - sh bits, for a source k bytes past a word): the 8 bytes at the
    source k bytes on. So iterations copy bytes: the first two words from w0, w1 and the
    source's next word, then the rest from src + k. The registers after: the two source
    words loaded last, the two words stored last, the pointers and the count moved on."""
    c = e.code
    src, dst, sh, sl = r["src"], r["dst"], r["sh"], r["sl"]

    def guard() -> None:                # sh a byte multiple in 8..56, sl = 64 - sh
        e.x(sh)
        c.i64_const(-8).op(w.I64_ADD).i64_const(48).op(w.I64_LE_U)
        e.x(sh)
        c.i64_const(7).op(w.I64_AND, w.I64_EQZ, w.I32_AND)
        e.x(sh)
        e.x(sl)
        c.op(w.I64_ADD).i64_const(64).op(w.I64_EQ, w.I32_AND)

    def merged(offset: int, low: Callable[[], None], high: Callable[[], None]) -> None:
        at = e.address(dst, offset)
        low()
        e.x(sh)
        c.op(w.I64_SHR_U)
        high()
        e.x(sl)
        c.op(w.I64_SHL, w.I64_OR).mem(w.I64_STORE, GUEST_MEMORY, at)

    def from_source() -> None:
        e.x(src)
        e.x(sh)
        c.i64_const(3).op(w.I64_SHR_U, w.I64_ADD)

    def body(size: int) -> None:
        merged(0, lambda: e.x(r["w0"]), lambda: e.x(r["w1"]))
        merged(8, lambda: e.x(r["w1"]),
               lambda: c.mem(w.I64_LOAD, GUEST_MEMORY, e.address(src, 0)))
        to, at = e.temp(), e.temp()
        e.x(dst)
        c.i64_const(16).op(w.I64_ADD).set(to)
        _copy_bytes(e, lambda: c.get(to), from_source, size, at)
        e.release((w.I64, to), (w.I64, at))

    def settle(size: int) -> None:
        for reg, into, back in ((src, "w0", 16), (src, "w1", 8), (dst, "x0", 16),
                                (dst, "x1", 8)):
            _load_at(e, reg, size, -back)
            e.set_x(r[into])
        _advance_by(e, dst, size, -8)
        e.set_x(r["t"])
        _settle_pointers(e, r, size, 0)

    _copy(e, Copy(src, dst, r["n"], 0, 32, guard, body, settle))


def _settle_pointers(e: Emitter, r: Binding, size: int, out: int) -> None:
    """src and dst moved on by size, out = dst + out, n down by size's words."""
    for reg in (r["src"], r["dst"]):
        _advance_by(e, reg, size)
        e.set_x(reg)
    e.x(r["dst"])
    if out:
        e.code.i64_const(out).op(w.I64_ADD)
    e.set_x(r["out"])
    e.x(r["n"])
    e.code.get(size).i64_const(3).op(w.I64_SHR_U, w.I64_SUB)
    e.set_x(r["n"])


def _copy_aligned_words(e: Emitter, r: Binding, retry: int) -> None:
    """glibc's _wordcopy_fwd_aligned, eight words an iteration, software-pipelined: where
    the path closes, w holds the word loaded last (from src + 8) and not yet stored, and
    the next store goes to dst + 16. So iterations store w there, then copy the source's
    bytes from src + 16 on. The registers after: v and w the words at the new src and
    src + 8, t = dst + 8, out = dst + 16."""
    c = e.code
    src, dst = r["src"], r["dst"]
    to, source = e.temp(), e.temp()

    def body(size: int) -> None:
        into = e.address(dst, 16)
        e.x(r["w"])
        c.mem(w.I64_STORE, GUEST_MEMORY, into)
        into = e.address(dst, 24)
        c.mem(w.I64_LOAD, GUEST_MEMORY, e.address(src, 16)).mem(w.I64_STORE, GUEST_MEMORY, into)
        for base, offset, local in ((dst, 32, to), (src, 24, source)):
            e.x(base)
            c.i64_const(offset).op(w.I64_ADD).set(local)
        at = e.temp()
        _copy_bytes(e, lambda: c.get(to), lambda: c.get(source), size, at)
        e.release((w.I64, at))

    def settle(size: int) -> None:
        for into, offset in (("v", 0), ("w", 8)):
            _load_at(e, src, size, offset)
            e.set_x(r[into])
        _advance_by(e, dst, size, 8)
        e.set_x(r["t"])
        _settle_pointers(e, r, size, 16)

    _copy(e, Copy(src, dst, r["n"], 16, 64, lambda: c.i32_const(1), body, settle))
    e.release((w.I64, to), (w.I64, source))


WORDCOPY_SHIFTED = Idiom(
    "copy words from a misaligned source",
    (Step((Op("srl", "w0", "w0", "sh"), Op("sll", "x1", "w1", "sl"), Op("or", "w0", "w0", "x1"),
           Op("ld", "x0", "src", imm=0), Op("addi", "t", "dst", imm=8),
           Op("sd", rs1="out", rs2="w0", imm=0),
           Op("srl", "w1", "w1", "sh"), Op("sll", "w0", "x0", "sl"), Op("or", "w1", "w1", "w0"),
           Op("ld", "x1", "src", imm=8), Op("addi", "out", "dst", imm=16),
           Op("sd", rs1="t", rs2="w1", imm=0),
           Op("sll", "w0", "x1", "sl"), Op("srl", "x0", "x0", "sh"), Op("or", "x0", "x0", "w0"),
           Op("addi", "t", "dst", imm=24), Op("ld", "w0", "src", imm=16),
           Op("sd", rs1="out", rs2="x0", imm=0),
           Op("sll", "w1", "w0", "sl"), Op("srl", "x1", "x1", "sh"), Op("or", "x1", "x1", "w1"),
           Op("addi", "dst", "dst", imm=32), Op("ld", "w1", "src", imm=24),
           Op("addi", "n", "n", imm=-4), Op("sd", rs1="t", rs2="x1", imm=0),
           Op("add", "out", 0, "dst"), Op("addi", "src", "src", imm=32),
           Op("bne", rs1="n", rs2=0)), succ=0),),
    ("w0", "w1", "x0", "x1", "t", "src", "dst", "out", "n"), _copy_shifted_words, anywhere=True)


def _pair(k: int, stored: bool = True) -> tuple[Op, ...]:
    """Two of _wordcopy_fwd_aligned's words, k and k + 1: each loaded, and stored the next
    time round (w's store goes to out, v's to t); stored: v's store and out set too."""
    ops = (Op("ld", "v", "src", imm=8 * k), Op("addi", "t", "dst", imm=8 * k + 8),
           Op("sd", rs1="out", rs2="w", imm=0), Op("ld", "w", "src", imm=8 * k + 8))
    if stored:
        ops += (Op("addi", "out", "dst", imm=8 * k + 16), Op("sd", rs1="t", rs2="v", imm=0))
    return ops


WORDCOPY_ALIGNED = Idiom(
    "copy aligned words",
    (Step(_pair(2) + _pair(4) + _pair(6, stored=False)
          + (Op("addi", "dst", "dst", imm=64), Op("sd", rs1="t", rs2="v", imm=0),
             Op("addi", "n", "n", imm=-8), Op("add", "out", 0, "dst"),
             Op("addi", "src", "src", imm=64), Op("beq", rs1="n", rs2=0)), succ=1),
     Step(_pair(0) + (Op("jal", 0),), succ=0)),
    ("v", "w", "t", "src", "dst", "out", "n"), _copy_aligned_words, anywhere=True)

IDIOMS = (STRCMP, MEMCMP, STRLEN, WORDCOPY_SHIFTED, WORDCOPY_ALIGNED)
