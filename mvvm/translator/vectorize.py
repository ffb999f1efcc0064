"""Element-wise loops, run four (or two) iterations at a time in wasm SIMD lanes.

gcc -O2 vectorizes `c[j] += a * b[j]` for the host, four 32-bit lanes at a time; the
riscv64 build (no V extension) goes word by word. A loop that is one block, whose
registers are each either an induction (`addi r, r, step`, once), invariant, or a
temporary written before it is read, whose loads and stores walk contiguous elements of one
width through inductions, and whose arithmetic is on that width's low bits only, gets a
fast path on its back edge: whole groups of iterations, lane by lane, then the inductions
moved on. At least one iteration is left to the scalar loop, so the temporaries end as it
leaves them, and every exit and trap sees the exact architectural state.

The groups stay within the pages the last iteration touched through each pointer (as
the idioms' fast paths do), so no access faults where the scalar loop's would not. Lanes
run each instruction of the body for a whole group before the next instruction: that is
the scalar loop's order unless a store and another access, the later one in the body at
1 to 15 bytes above the earlier, touch the same bytes in different iterations of a group.
Through one base that is known here; through two, the fast path tests it. (Another
thread that takes a page's rights away while the groups run would see its fault with
the groups before it stored and the registers as the edge left them: the page bound
cannot see that race, which the scalar loop would lose at some iteration too.)

LANE_OPS says, for the instructions a lane may run, the SIMD operation whose lanes give
the bits of the result that the loop's stores keep: a fact about their results at that
width, kept beside the one pass that uses it (as words.py keeps its own), while their
meaning stays in the semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mvvm.isa import Instr
from mvvm.translator.emitter import GUEST_MEMORY, Emitter
from mvvm.translator.idioms import Idiom, Match, _page_rest
from mvvm.translator.structure import Shape
from mvvm.wasm import encoder as w

VECTOR = 16
LOADS = {"lw": 4, "lwu": 4, "ld": 8}
STORES = {"sw": 4, "sd": 8}

# SIMD sub-opcodes (0xFD prefix)
SPLAT = {4: 0x11, 8: 0x12}                      # i32x4.splat, i64x2.splat
SHL, SHR_S, SHR_U = {4: 0xAB, 8: 0xCB}, {4: 0xAC, 8: 0xCC}, {4: 0xAD, 8: 0xCD}
ADD, SUB, MUL = {4: 0xAE, 8: 0xCE}, {4: 0xB1, 8: 0xD1}, {4: 0xB5, 8: 0xD5}

# name -> (the lane operation, whether its second operand is the immediate), by lane
# width: 4, for loops whose stores keep a result's low 32 bits (which depend on the
# operands' low 32 bits only); 8, the whole register.
_RING = {"add": ("add", False), "sub": ("sub", False), "mul": ("mul", False),
         "and": ("and", False), "or": ("or", False), "xor": ("xor", False),
         "addi": ("add", True), "andi": ("and", True), "ori": ("or", True),
         "xori": ("xor", True), "slli": ("shl", True)}
LANE_OPS: dict[int, dict[str, tuple[str, bool]]] = {
    4: {**_RING, "addw": ("add", False), "subw": ("sub", False), "mulw": ("mul", False),
        "addiw": ("add", True), "slliw": ("shl", True), "srliw": ("shr_u", True),
        "sraiw": ("shr_s", True)},
    8: {**_RING, "srli": ("shr_u", True), "srai": ("shr_s", True)},
}
SHIFTS = {"shl": SHL, "shr_s": SHR_S, "shr_u": SHR_U}
ARITHMETIC = {"add": ADD, "sub": SUB, "mul": MUL}
BITWISE = {"and": w.V128_AND, "or": w.V128_OR, "xor": w.V128_XOR}


@dataclass(frozen=True)
class Access:
    """A load or store: its base induction, its offset from the base's value at the
    iteration's start, the register loaded or stored, its place in the body."""

    base: int
    offset: int
    reg: int
    index: int
    store: bool


@dataclass
class Loop:
    """An element-wise loop: width-byte lanes; the inductions and their steps; the body's
    lane work in order (an Access, or an Instr on lanes); the exit test's induction and
    its invariant bound."""

    width: int
    steps: dict[int, int] = field(default_factory=dict)
    body: list[Access | Instr] = field(default_factory=list)
    counter: int = 0
    bound: int = 0

    @property
    def lanes(self) -> int:
        return VECTOR // self.width

    @property
    def accesses(self) -> list[Access]:
        return [item for item in self.body if isinstance(item, Access)]


def find(shape: Shape, dirty_out: dict[int, int]) -> dict[tuple[int, int], Match]:
    """The region's one-block loops that run in lanes, by their back edge."""
    found: dict[tuple[int, int], Match] = {}
    for header in shape.loop_headers:
        block = shape.blocks.get(header)
        if block is None or not block.succs or not _closes_on_itself(shape, header,
                                                                     block.succs[0]):
            continue
        loop = analyse([instr for _, instr in block.instrs])
        if loop is None:
            continue
        writes = sum(1 << reg for reg in loop.steps)      # dirty already: written back
        if writes & ~dirty_out[header] == 0:
            idiom = Idiom(f"lanes of {loop.width} bytes", (), (),
                          lambda e, _binding, _retry, loop=loop: emit(e, loop))
            found[header, header] = Match(idiom, {})
    return found


def _closes_on_itself(shape: Shape, node: int, taken: int) -> bool:
    """Whether the node's branch, taken, goes round to the node itself, inside the region."""
    return (shape.keeps(node, taken) and shape.target(node, taken) == node
            and shape.is_backward(node, node))


def analyse(instrs: list[Instr | None]) -> Loop | None:
    """The loop of a block that ends in a branch back to itself, if it runs in lanes."""
    if not instrs or any(instr is None for instr in instrs):
        return None
    *body, branch = instrs
    if branch.name != "bne" or not body:
        return None
    widths = {LOADS.get(i.name) or STORES.get(i.name) for i in body} - {None}
    if len(widths) != 1:
        return None
    loop = Loop(widths.pop())
    written = [i.rd for i in body if i.name not in STORES and i.rd]
    steps = {i.rd: i.imm for i in body
             if i.name == "addi" and i.rd == i.rs1 and i.rd and written.count(i.rd) == 1}
    moved: dict[int, int] = {}              # inductions' steps taken so far in the body
    temps: set[int] = set()                 # temporaries written so far
    for index, instr in enumerate(body):
        if instr.rd in steps and instr.name == "addi" and instr.rs1 == instr.rd:
            moved[instr.rd] = instr.imm
            continue
        if not _reads_ok(instr, steps, temps, written, loop.width):
            return None
        if instr.name in LOADS or instr.name in STORES:
            store = instr.name in STORES
            if steps.get(instr.rs1) != loop.width or (not store and instr.rd in (0, *steps)):
                return None
            loop.body.append(Access(instr.rs1, instr.imm + moved.get(instr.rs1, 0),
                                    instr.rs2 if store else instr.rd, index, store))
        elif instr.rd in steps:
            return None
        else:
            loop.body.append(instr)
        if instr.name not in STORES and instr.rd:
            temps.add(instr.rd)
    loop.steps = steps
    if not all(_in_order(loop, *pair) for pair in _pairs(loop) if pair[0].base == pair[1].base):
        return None
    return loop if _exit_test(loop, branch, steps, written) else None


def _pairs(loop: Loop) -> list[tuple[Access, Access]]:
    """(earlier, later) in the body, for the pairs of accesses with a store among them."""
    accesses = loop.accesses
    return [(a, b) for k, a in enumerate(accesses) for b in accesses[k + 1:]
            if a.store or b.store]


def _in_order(loop: Loop, earlier: Access, later: Access) -> bool:
    """Through one base: whether the lanes keep the scalar loop's order (see above)."""
    distance = later.offset - earlier.offset
    return distance <= 0 or distance >= VECTOR


def _reads_ok(instr: Instr, steps: dict[int, int], temps: set[int], written: list[int],
              width: int) -> bool:
    """Whether an instruction of the body can run in lanes: memory through an induction,
    arithmetic of the table, on temporaries written before it or on invariants (an
    induction's value is no lane's, a register written later carries a value round)."""
    if instr.name in LOADS:
        return True
    if instr.name in STORES:
        sources: tuple[int, ...] = (instr.rs2,)
    elif instr.name in LANE_OPS[width]:
        op, immediate = LANE_OPS[width][instr.name]
        if op == "shl" and instr.imm >= 8 * width:     # i32x4.shl takes the count mod 32
            return False
        sources = (instr.rs1,) if immediate else (instr.rs1, instr.rs2)
    else:
        return False
    return not any(reg in steps or (reg in written and reg not in temps) for reg in sources)


def _exit_test(loop: Loop, branch: Instr, steps: dict[int, int], written: list[int]) -> bool:
    """`bne counter, bound` (either way round): an induction against an invariant."""
    for counter, bound in ((branch.rs1, branch.rs2), (branch.rs2, branch.rs1)):
        if counter in steps and steps[counter] and bound not in written:
            loop.counter, loop.bound = counter, bound
            return True
    return False


# -- the fast path ----------------------------------------------------------------------

def emit(e: Emitter, loop: Loop) -> None:
    """At the back edge: groups = (iterations left - 1) // lanes, no more than the pages
    allow; if any, and no store reaches a later load, run them and move the inductions."""
    c = e.code
    groups, bytes_, at = e.temp(), e.temp(), e.temp()
    _iterations_left(e, loop, groups)
    c.get(groups).i64_const(-1).op(w.I64_ADD).i64_const(loop.lanes).op(w.I64_DIV_U)
    c.set(groups)
    for access in loop.accesses:
        _page_rest(e, access.base, access.offset)
        c.i64_const(VECTOR).op(w.I64_DIV_U).tee(bytes_).get(groups).get(bytes_).get(groups)
        c.op(w.I64_LT_U, w.SELECT).set(groups)
    c.get(groups).op(w.I64_EQZ, w.I32_EQZ)
    _apart(e, loop)
    c.block(w.IF)
    c.get(groups).i64_const(VECTOR).op(w.I64_MUL).set(bytes_)
    c.i64_const(0).set(at)
    lanes = _lane_locals(e, loop)
    c.block(w.LOOP)
    for item in loop.body:
        if isinstance(item, Access):
            _access(e, loop.width, item, at, lanes)
        else:
            _operate(e, loop.width, item, lanes)
    c.get(at).i64_const(VECTOR).op(w.I64_ADD).tee(at).get(bytes_).op(w.I64_LT_U)
    c.br(w.BR_IF, 0).op(w.END)
    for reg, step in loop.steps.items():
        e.x(reg)
        c.get(groups).i64_const(loop.lanes * step).op(w.I64_MUL, w.I64_ADD)
        e.set_x(reg)
    c.op(w.END)
    e.release((w.I64, groups), (w.I64, bytes_), (w.I64, at),
              *((w.V128, local) for local in lanes.values()))


def _iterations_left(e: Emitter, loop: Loop, into: int) -> None:
    """into = the iterations before counter reaches bound, or 1 (none to skip) when it
    does not land on it without wrapping (bound - counter not a multiple of the step)."""
    c, step = e.code, loop.steps[loop.counter]
    e.x(loop.bound)
    e.x(loop.counter)
    c.op(w.I64_SUB)
    if step < 0:
        c.i64_const(-1).op(w.I64_MUL)
    c.set(into)
    c.get(into).i64_const(abs(step)).op(w.I64_REM_U, w.I64_EQZ)
    c.block(w.IF).get(into).i64_const(abs(step)).op(w.I64_DIV_U).set(into)
    c.op(w.ELSE).i64_const(1).set(into).op(w.END)


def _apart(e: Emitter, loop: Loop) -> None:
    """AND onto the i32 on the stack: for each pair through two bases, the later access is
    not 1 to 15 bytes above the earlier (`_in_order` checked those through one base)."""
    c = e.code
    for earlier, later in _pairs(loop):
        if earlier.base == later.base:
            continue
        e.x(later.base)
        c.i64_const(later.offset - earlier.offset - 1).op(w.I64_ADD)
        e.x(earlier.base)
        c.op(w.I64_SUB).i64_const(VECTOR - 1).op(w.I64_GE_U, w.I32_AND)


def _lane_locals(e: Emitter, loop: Loop) -> dict[int, int]:
    regs = {item.reg for item in loop.accesses if not item.store}
    regs |= {item.rd for item in loop.body if isinstance(item, Instr)}
    return {reg: e.temp(w.V128) for reg in regs if reg}


def _access(e: Emitter, width: int, access: Access, at: int, lanes: dict[int, int]) -> None:
    c = e.code
    e.x(access.base)
    c.get(at).op(w.I64_ADD)
    offset = access.offset
    if not e.memory64 or offset < 0:
        e.guest_index(offset)
        offset = 0
    if access.store:
        _value(e, access.reg, lanes, width)
        c.simd_mem(w.V128_STORE, GUEST_MEMORY, offset)
    else:
        c.simd_mem(w.V128_LOAD, GUEST_MEMORY, offset).set(lanes[access.reg])


def _value(e: Emitter, reg: int, lanes: dict[int, int], width: int) -> None:
    """Push a register's lanes: a temporary's, or an invariant's splat."""
    if reg in lanes:
        e.code.get(lanes[reg])
        return
    e.x(reg)
    if width == 4:
        e.code.op(w.I32_WRAP_I64)
    e.code.simd(SPLAT[width])


def _operate(e: Emitter, width: int, instr: Instr, lanes: dict[int, int]) -> None:
    c = e.code
    op, immediate = LANE_OPS[width][instr.name]
    _value(e, instr.rs1, lanes, width)
    if op in SHIFTS:
        c.i32_const(instr.imm).simd(SHIFTS[op][width])
    else:
        if immediate:
            (c.i32_const(instr.imm) if width == 4 else c.i64_const(instr.imm))
            c.simd(SPLAT[width])
        else:
            _value(e, instr.rs2, lanes, width)
        c.simd(ARITHMETIC[op][width] if op in ARITHMETIC else BITWISE[op])
    if instr.rd:
        c.set(lanes[instr.rd])
    else:
        c.op(w.DROP)

