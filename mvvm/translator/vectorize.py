"""Element-wise loops, run four (or two) iterations at a time in wasm SIMD lanes.

gcc -O2 vectorizes `c[j] += a * b[j]` for the host, four 32-bit lanes at a time; the
riscv64 build (no V extension) goes word by word. A loop that is one block, whose
registers are each an induction (`addi r, r, step`, once), a pointer derived from one
(an induction plus invariants), an invariant, or a temporary written before it is read,
or a sum (`addw s, s, t`, s read by nothing else: partial sums per lane, added up after
the groups), whose loads and stores walk contiguous elements of one width through
inductions (or loads of narrower elements, bytes and halfwords widened into word lanes, in
a loop that stores nothing), and whose arithmetic is on that width's low bits only (or on
doubles), gets a fast path on its back edge: whole groups of iterations, lane by lane,
then the inductions moved on. At least one iteration is left to the scalar loop, so the
temporaries end as it leaves them, and every exit and trap sees the exact architectural
state. (A strided load, gathered lane by lane, was tried: CoreMark ran 8% slower on its
matrices' 24-element columns, which mvvm.translator.nests takes across the outer loop.)

The groups stay within the pages the last iteration touched through each pointer (as
the idioms' fast paths do), so no access faults where the scalar loop's would not. Lanes
run each instruction of the body for a whole group before the next instruction: that is
the scalar loop's order unless a store and another access, the later one in the body at
1 to 15 bytes above the earlier, touch the same bytes in different iterations of a group.
Through one pointer that is known here; through two, the fast path tests it. (Another
thread that takes a page's rights away while the groups run would see its fault with
the groups before it stored and the registers as the edge left them: the page bound
cannot see that race, which the scalar loop would lose at some iteration too.)

Double-precision arithmetic runs in lanes only in the steady FP state (round to nearest,
NX set: Emitter.keep_fp_steady's local says so), where a normal result raises no flag
that is not set already; each result is tested, and a group with any other (zero,
subnormal, +-min normal, infinite, NaN) stops the lanes before the group stores
anything: its iterations run scalar, with the slow paths that give their flags and NaNs.
So the body's stores must all come after its arithmetic.

LANE_OPS and FP_LANE_OPS say, for the instructions a lane may run, the SIMD operation
whose lanes give the bits of the result that the loop's stores keep: a fact about their
results at that width, kept beside the one pass that uses it (as words.py keeps its
own), while their meaning stays in the semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mvvm.isa import Instr
from mvvm.translator.emitter import Emitter
from mvvm.translator.fp_emit import DOUBLE, DYNAMIC, RNE, normal_range
from mvvm.translator.idioms import Idiom, Match, page_rest
from mvvm.translator.modules import GUEST_MEMORY
from mvvm.translator.structure import Shape
from mvvm.wasm import encoder as w

VECTOR = 16
FP = 32                                          # FP register f is key FP + f below
LOADS = {"lw": 4, "lwu": 4, "ld": 8, "fld": 8}
STORES = {"sw": 4, "sd": 8, "fsd": 8}
# Loads of narrower elements, each widened into a 4-byte lane: name -> (bytes, signed).
NARROW = {"lh": (2, True), "lhu": (2, False), "lb": (1, True), "lbu": (1, False)}
# The sums lanes keep (a register carried round the loop by its own add, read by nothing
# else), by lane width: a word lane has its operands' low 32 bits, all addw's sum needs.
SUMS = {4: {"addw"}, 8: {"add", "addw"}}

SPLAT = {4: w.I32X4_SPLAT, 8: w.I64X2_SPLAT}     # by lane width
EXTRACT = {4: w.I32X4_EXTRACT_LANE, 8: w.I64X2_EXTRACT_LANE}
REPLACE = {4: w.I32X4_REPLACE_LANE, 8: w.I64X2_REPLACE_LANE}
WIDEN = {(2, True): (w.V128_LOAD16X4_S,), (2, False): (w.V128_LOAD16X4_U,),
         (1, True): (w.V128_LOAD32_ZERO, w.I16X8_EXTEND_LOW_I8X16_S,
                     w.I32X4_EXTEND_LOW_I16X8_S),
         (1, False): (w.V128_LOAD32_ZERO, w.I16X8_EXTEND_LOW_I8X16_U,
                      w.I32X4_EXTEND_LOW_I16X8_U)}   # a narrow load's, into word lanes
SHL, SHR_S, SHR_U = ({4: w.I32X4_SHL, 8: w.I64X2_SHL}, {4: w.I32X4_SHR_S, 8: w.I64X2_SHR_S},
                     {4: w.I32X4_SHR_U, 8: w.I64X2_SHR_U})
ADD, SUB, MUL = ({4: w.I32X4_ADD, 8: w.I64X2_ADD}, {4: w.I32X4_SUB, 8: w.I64X2_SUB},
                 {4: w.I32X4_MUL, 8: w.I64X2_MUL})
LEAST, SPAN = normal_range(DOUBLE)          # a double lane's normal results
SIGN = 1 << 63

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
# name -> (the f64x2 operation, its operands, whether it negates the third): IEEE
# operations lane by lane, rounded once (a fused one by relaxed_madd or _nmadd, -(a * b)
# + c, which the engine makes deterministic: always fused).
FP_LANE_OPS: dict[str, tuple[int, int, bool]] = {
    "fadd.d": (w.F64X2_ADD, 2, False), "fsub.d": (w.F64X2_SUB, 2, False),
    "fmul.d": (w.F64X2_MUL, 2, False), "fdiv.d": (w.F64X2_DIV, 2, False),
    "fmadd.d": (w.F64X2_RELAXED_MADD, 3, False), "fmsub.d": (w.F64X2_RELAXED_MADD, 3, True),
    "fnmsub.d": (w.F64X2_RELAXED_NMADD, 3, False), "fnmadd.d": (w.F64X2_RELAXED_NMADD, 3, True),
}


@dataclass(frozen=True)
class Pointer:
    """An induction plus invariant registers (a pointer derived from the induction), and
    the steps the induction took before it in the body."""

    base: int
    plus: tuple[int, ...] = ()
    moved: int = 0


@dataclass(frozen=True)
class Access:
    """A load or store: its pointer, its offset from the pointer's value at the iteration's
    start, the register (key) loaded or stored, the element's bytes (the pointer's step)
    and whether a narrow one is sign-extended."""

    pointer: Pointer
    offset: int
    reg: int
    store: bool
    size: int
    signed: bool = True

    def same_pointer(self, other: Access) -> bool:
        return (self.pointer.base, self.pointer.plus) == (other.pointer.base,
                                                           other.pointer.plus)


@dataclass(frozen=True)
class Sum:
    """`add[w] reg, reg, operand`: reg's partial sums, one per lane, added up after the
    groups (and sign-extended from 32 bits for addw)."""

    reg: int
    operand: int
    word: bool


@dataclass
class Loop:
    """An element-wise loop: width-byte lanes; the inductions and their steps; the body's
    lane work in order (an Access, a Sum, or an Instr on lanes); the exit test's induction
    and its invariant bound."""

    width: int
    steps: dict[int, int] = field(default_factory=dict)
    body: list[Access | Sum | Instr] = field(default_factory=list)
    counter: int = 0
    bound: int = 0

    @property
    def lanes(self) -> int:
        return VECTOR // self.width

    @property
    def accesses(self) -> list[Access]:
        return [item for item in self.body if isinstance(item, Access)]

    @property
    def sums(self) -> list[Sum]:
        return [item for item in self.body if isinstance(item, Sum)]

    @property
    def checked(self) -> bool:
        """Whether its results are tested (double-precision arithmetic)."""
        return any(isinstance(i, Instr) and i.name in FP_LANE_OPS for i in self.body)


def find(shape: Shape, dirty_out: dict[int, int]) -> dict[tuple[int, int], Match]:
    """The region's one-block loops that run in lanes, by their back edge."""
    found: dict[tuple[int, int], Match] = {}
    for header in shape.loop_headers:
        block = shape.blocks.get(header)
        if block is None or not block.succs or not closes_on_itself(shape, header,
                                                                    block.succs[0]):
            continue
        loop = analyse([instr for _, instr in block.instrs])
        if loop is None:
            continue
        writes = sum(1 << reg for reg in (*loop.steps, *(s.reg for s in loop.sums)))
        if writes & ~dirty_out[header] == 0:            # dirty already: written back
            idiom = Idiom(f"lanes of {loop.width} bytes", (), (),
                          lambda e, _binding, retry, loop=loop: emit(e, loop, retry))
            found[header, header] = Match(idiom, {})
    return found


def closes_on_itself(shape: Shape, node: int, taken: int) -> bool:
    """Whether the node's branch, taken, goes round to the node itself, inside the region."""
    return (shape.keeps(node, taken) and shape.target(node, taken) == node
            and shape.is_backward(node, node))


def _keys(instr: Instr) -> tuple[int, tuple[int, ...]]:
    """The register keys an instruction of a lane loop writes (0: none) and reads, an FP
    register f as FP + f (a load's or store's pointer is not among them)."""
    name = instr.name
    if name in FP_LANE_OPS:
        sources = (instr.rs1, instr.rs2, instr.rs3)[:FP_LANE_OPS[name][1]]
        return FP + instr.rd, tuple(FP + reg for reg in sources)
    if name in STORES:
        return 0, (FP * (name == "fsd") + instr.rs2,)
    if name in LOADS or name in NARROW:
        return FP * (name == "fld") + instr.rd, ()
    immediate = any(ops.get(name, ("", False))[1] for ops in LANE_OPS.values())
    return instr.rd, (instr.rs1,) if immediate else (instr.rs1, instr.rs2)


def analyse(instrs: list[Instr | None]) -> Loop | None:
    """The loop of a block that ends in a branch back to itself, if it runs in lanes."""
    if not instrs or any(instr is None for instr in instrs):
        return None
    *body, branch = instrs
    if branch.name != "bne" or not body:
        return None
    widths = {LOADS.get(i.name) or STORES.get(i.name) for i in body} - {None}
    if any(i.name in NARROW for i in body):
        widths |= {4}
    if len(widths) != 1:
        return None
    loop = Loop(widths.pop())
    written = [key for i in body if (key := _keys(i)[0])]
    loop.steps = {i.rd: i.imm for i in body
                  if i.name == "addi" and i.rd == i.rs1 and i.rd and written.count(i.rd) == 1}
    scan = _Scan(loop, written)
    if not all(scan.take(instr) for instr in body):
        return None
    if scan.stored and any(a.size != loop.width for a in loop.accesses):
        return None                     # the order tests below are for whole vectors
    if loop.checked and loop.sums:
        return None                     # a group that stops short must leave no trace
    if not all(_in_order(*pair) for pair in _pairs(loop) if pair[0].same_pointer(pair[1])):
        return None
    return loop if _exit_test(loop, branch, written) else None


class _Scan:
    """analyse's walk through the body, in order: what is a temporary or a derived pointer
    so far, and how far each induction has moved."""

    def __init__(self, loop: Loop, written: list[int]) -> None:
        self.loop, self.written = loop, written
        self.moved: dict[int, int] = {}
        self.temps: set[int] = set()
        self.pointers: dict[int, Pointer] = {}
        self.stored = False

    def take(self, instr: Instr) -> bool:
        loop, name = self.loop, instr.name
        if instr.rd in loop.steps and name == "addi" and instr.rs1 == instr.rd:
            self.moved[instr.rd] = instr.imm
            return True
        if name == "add" and self._derive(instr):
            return True
        if self._sum(instr):
            return True
        rd, sources = _keys(instr)
        if rd in loop.steps or rd in self.pointers or not self._lanes_read(instr, sources):
            return False
        if name in LOADS or name in STORES or name in NARROW:
            pointer = self._pointer(instr.rs1)
            if pointer is None or (name not in STORES and not rd):
                return False
            size, signed = NARROW.get(name, (LOADS.get(name) or STORES.get(name), True))
            if loop.steps[pointer.base] != size:
                return False            # a strided access (gathering lanes did not pay)
            loop.body.append(Access(pointer, instr.imm, sources[0] if sources else rd,
                                    name in STORES, size, signed))
            self.stored |= name in STORES
        elif name in FP_LANE_OPS and self.stored:
            return False                # a failed test must find the group's stores undone
        else:
            loop.body.append(instr)
        if rd:
            self.temps.add(rd)
        return True

    def _derive(self, instr: Instr) -> bool:
        """`add rd, pointer, invariant` (either way round): rd is a derived pointer, written
        by nothing else but more such adds to itself."""
        for of, plus in ((instr.rs1, instr.rs2), (instr.rs2, instr.rs1)):
            pointer = self._pointer(of)
            first = instr.rd not in self.temps and instr.rd not in self.pointers
            if pointer is not None and plus and plus not in self.written and (
                    first or of == instr.rd):
                self.pointers[instr.rd] = Pointer(pointer.base, (*pointer.plus, plus),
                                                  pointer.moved)
                return True
        return False

    def _sum(self, instr: Instr) -> bool:
        """`add[w] s, s, t` (either way round), s written by nothing else: a Sum. Nothing
        else may read s (`_readable` refuses a register written in the body that is no
        temporary), so its partial sums are never wanted before the groups end."""
        s = instr.rd
        if (instr.name not in SUMS[self.loop.width] or not s or self.written.count(s) != 1
                or s in self.loop.steps or s in self.pointers):
            return False
        for rs, operand in ((instr.rs1, instr.rs2), (instr.rs2, instr.rs1)):
            if rs == s and operand != s and self._readable(operand):
                self.loop.body.append(Sum(s, operand, instr.name == "addw"))
                return True
        return False

    def _pointer(self, reg: int) -> Pointer | None:
        """A derived pointer, or an induction that goes up (by the element's size, which
        the access checks)."""
        if reg in self.pointers:
            return self.pointers[reg]
        if self.loop.steps.get(reg, 0) > 0:
            return Pointer(reg, (), self.moved.get(reg, 0))
        return None

    def _lanes_read(self, instr: Instr, sources: tuple[int, ...]) -> bool:
        """Whether an instruction of the body can run in lanes: memory through a pointer,
        an operation of the tables (a narrow load into word lanes), on registers lanes may
        read."""
        name, width = instr.name, self.loop.width
        if name in FP_LANE_OPS:
            if width != 8 or instr.rm not in (RNE, DYNAMIC):
                return False
        elif name in LANE_OPS[width]:
            op, _ = LANE_OPS[width][name]
            if op == "shl" and instr.imm >= 8 * width:     # i32x4.shl: the count mod 32
                return False
        elif name in NARROW:
            if width != 4:
                return False
        elif name not in LOADS and name not in STORES:
            return False
        return all(self._readable(reg) for reg in sources)

    def _readable(self, reg: int) -> bool:
        """Whether lanes may read the register: a temporary written before, or an
        invariant (an induction's value is no lane's, a register written later carries a
        value round)."""
        return not (reg in self.loop.steps or reg in self.pointers
                    or (reg in self.written and reg not in self.temps))


def _pairs(loop: Loop) -> list[tuple[Access, Access]]:
    """(earlier, later) in the body, for the pairs of accesses with a store among them."""
    accesses = loop.accesses
    return [(a, b) for k, a in enumerate(accesses) for b in accesses[k + 1:]
            if a.store or b.store]


def _in_order(earlier: Access, later: Access) -> bool:
    """Through one pointer: whether the lanes keep the scalar loop's order (see above)."""
    distance = _start(later) - _start(earlier)
    return distance <= 0 or distance >= VECTOR


def _start(access: Access) -> int:
    """The access's constant offset from its pointer's parts at the iteration's start."""
    return access.offset + access.pointer.moved


def _exit_test(loop: Loop, branch: Instr, written: list[int]) -> bool:
    """`bne counter, bound` (either way round): an induction against an invariant."""
    for counter, bound in ((branch.rs1, branch.rs2), (branch.rs2, branch.rs1)):
        if counter in loop.steps and loop.steps[counter] and bound not in written:
            loop.counter, loop.bound = counter, bound
            return True
    return False


# -- the fast path ----------------------------------------------------------------------

def emit(e: Emitter, loop: Loop, retry: int) -> None:
    """At the back edge (retry: an i64 local, 0 on entering the loop): the groups. A
    checked loop's group whose results are not all normal runs scalar, and the lanes wait
    for it: retry counts down the back edges to its end."""
    if loop.checked and e.steady is None:
        return
    c = e.code
    if loop.checked:
        c.get(retry).op(w.I64_EQZ).block(w.IF)
    _groups(e, loop, retry)
    if loop.checked:
        c.op(w.ELSE).get(retry).i64_const(-1).op(w.I64_ADD).set(retry).op(w.END)


def _groups(e: Emitter, loop: Loop, retry: int) -> None:
    """groups = (iterations left - 1) // lanes, no more than the pages allow; if any, and
    no store reaches a later load, run them (a checked loop: until a result is not
    normal), move the inductions by the iterations run (at) and add up the sums."""
    c = e.code
    groups, limit, at = e.temp(), e.temp(), e.temp()
    _iterations_left(e, loop, groups)
    c.get(groups).i64_const(-1).op(w.I64_ADD).i64_const(loop.lanes).op(w.I64_DIV_U)
    c.set(groups)
    for access in loop.accesses:
        page_rest(e, lambda access=access: _address(e, access))   # the last one ended there
        c.i64_const(loop.lanes * access.size).op(w.I64_DIV_U).tee(limit)
        c.get(groups).get(limit).get(groups).op(w.I64_LT_U, w.SELECT).set(groups)
    c.get(groups).op(w.I64_EQZ, w.I32_EQZ)
    if loop.checked:
        c.get(e.steady).op(w.I32_AND)
    _apart(e, loop)
    c.block(w.IF)
    c.get(groups).i64_const(loop.lanes).op(w.I64_MUL).set(limit)
    c.i64_const(0).set(at)
    lanes = _lane_locals(e, loop)
    sums = _start_sums(e, loop)
    c.block(w.BLOCK).block(w.LOOP)
    for item in loop.body:
        if isinstance(item, Access):
            _access(e, loop.width, item, at, lanes)
        elif isinstance(item, Sum):
            c.get(sums[item.reg])
            lane_value(e, item.operand, lanes, loop.width)
            c.simd(ADD[loop.width]).set(sums[item.reg])
        elif item.name in FP_LANE_OPS:
            _operate_fp(e, item, lanes)
        else:
            operate(e, loop.width, item, lanes)
    c.get(at).i64_const(loop.lanes).op(w.I64_ADD).tee(at).get(limit).op(w.I64_LT_U)
    c.br(w.BR_IF, 0).op(w.END, w.END)
    if loop.checked:            # stopped short: wait for the group's iterations to pass
        c.get(at).get(limit).op(w.I64_LT_U).block(w.IF)
        c.i64_const(loop.lanes).set(retry).op(w.END)
    for reg, step in loop.steps.items():
        e.x(reg)
        c.get(at).i64_const(step).op(w.I64_MUL, w.I64_ADD)
        e.set_x(reg)
    _end_sums(e, loop, sums)
    c.op(w.END)
    e.release((w.I64, groups), (w.I64, limit), (w.I64, at),
              *((w.V128, local) for local in (*lanes.values(), *sums.values())))


def _start_sums(e: Emitter, loop: Loop) -> dict[int, int]:
    """Each sum's lanes: the register's value in lane 0, zeros in the rest."""
    c, width, sums = e.code, loop.width, {}
    for item in loop.sums:
        sums[item.reg] = e.temp(w.V128)
        (c.i32_const(0) if width == 4 else c.i64_const(0)).simd(SPLAT[width])
        e.x(item.reg)
        if width == 4:
            c.op(w.I32_WRAP_I64)
        c.simd(REPLACE[width], 0).set(sums[item.reg])
    return sums


def _end_sums(e: Emitter, loop: Loop, sums: dict[int, int]) -> None:
    """Each sum's register: its lanes added up (as addw leaves it, for a word sum)."""
    c, width = e.code, loop.width
    for item in loop.sums:
        for lane in range(loop.lanes):
            c.get(sums[item.reg]).simd(EXTRACT[width], lane)
            if lane:
                c.op(w.I32_ADD if width == 4 else w.I64_ADD)
        if width == 8 and item.word:
            c.op(w.I32_WRAP_I64)
        if width == 4 or item.word:
            c.op(w.I64_EXTEND_I32_S)
        e.set_x(item.reg)


def _iterations_left(e: Emitter, loop: Loop, into: int) -> None:
    """into = the iterations before counter reaches bound, or 1 (none to skip)."""
    count_to(e, lambda: e.x(loop.bound), lambda: e.x(loop.counter), loop.steps[loop.counter],
             into, 1)


def count_to(e: Emitter, bound: Callable[[], None], counter: Callable[[], None], step: int,
             into: int, otherwise: int) -> None:
    """into = the steps before the counter (pushed by counter) reaches the bound, or
    otherwise when it does not land on it without wrapping (bound - counter not a
    multiple of the step)."""
    c = e.code
    bound()
    counter()
    c.op(w.I64_SUB)
    if step < 0:
        c.i64_const(-1).op(w.I64_MUL)
    c.set(into)
    c.get(into).i64_const(abs(step)).op(w.I64_REM_U, w.I64_EQZ)
    c.block(w.IF).get(into).i64_const(abs(step)).op(w.I64_DIV_U).set(into)
    c.op(w.ELSE).i64_const(otherwise).set(into).op(w.END)


def _address(e: Emitter, access: Access) -> None:
    """Push the guest address the access makes at the iteration's start."""
    c = e.code
    e.x(access.pointer.base)
    for reg in access.pointer.plus:
        e.x(reg)
        c.op(w.I64_ADD)
    if _start(access):
        c.i64_const(_start(access)).op(w.I64_ADD)


def _apart(e: Emitter, loop: Loop) -> None:
    """AND onto the i32 on the stack: for each pair through two pointers, the later access
    is not 1 to 15 bytes above the earlier (`_in_order` checked those through one)."""
    c = e.code
    for earlier, later in _pairs(loop):
        if earlier.same_pointer(later):
            continue
        _address(e, later)
        _address(e, earlier)
        c.op(w.I64_SUB).i64_const(-1).op(w.I64_ADD).i64_const(VECTOR - 1)
        c.op(w.I64_GE_U, w.I32_AND)


def _lane_locals(e: Emitter, loop: Loop) -> dict[int, int]:
    regs = {item.reg for item in loop.accesses if not item.store}
    regs |= {_keys(item)[0] for item in loop.body if isinstance(item, Instr)}
    return {reg: e.temp(w.V128) for reg in regs if reg}


def _access(e: Emitter, width: int, access: Access, at: int, lanes: dict[int, int]) -> None:
    """The group's elements through the access: whole vectors, or narrow ones widened."""
    c = e.code
    _address(e, access)
    c.get(at).i64_const(access.size).op(w.I64_MUL, w.I64_ADD)
    e.guest_index()
    if access.store:
        lane_value(e, access.reg, lanes, width)
        c.simd_mem(w.V128_STORE, GUEST_MEMORY)
        return
    load, *widen = WIDEN.get((access.size, access.signed), (w.V128_LOAD,))
    c.simd_mem(load, GUEST_MEMORY)
    for op in widen:
        c.simd(op)
    c.set(lanes[access.reg])


def lane_value(e: Emitter, key: int, lanes: dict[int, int], width: int,
               scalars: Mapping[int, int] = MappingProxyType({})) -> None:
    """Push a register's lanes: a temporary's, or the splat of an invariant or of a value
    the same in every lane (in an i64 local of scalars)."""
    if key in lanes:
        e.code.get(lanes[key])
        return
    if key >= FP:
        e.f_value(key - FP)
        e.code.simd(w.F64X2_SPLAT)
        return
    if key in scalars:
        e.code.get(scalars[key])
    else:
        e.x(key)
    if width == 4:
        e.code.op(w.I32_WRAP_I64)
    e.code.simd(SPLAT[width])


def operate(e: Emitter, width: int, instr: Instr, lanes: dict[int, int],
            scalars: Mapping[int, int] = MappingProxyType({})) -> None:
    """An instruction of LANE_OPS on lanes (see lane_value for scalars)."""
    c = e.code
    op, immediate = LANE_OPS[width][instr.name]
    lane_value(e, instr.rs1, lanes, width, scalars)
    if op in SHIFTS:
        c.i32_const(instr.imm).simd(SHIFTS[op][width])
    else:
        if immediate:
            (c.i32_const(instr.imm) if width == 4 else c.i64_const(instr.imm))
            c.simd(SPLAT[width])
        else:
            lane_value(e, instr.rs2, lanes, width, scalars)
        c.simd(ARITHMETIC[op][width] if op in ARITHMETIC else BITWISE[op])
    if instr.rd:
        c.set(lanes[instr.rd])
    else:
        c.op(w.DROP)


def _operate_fp(e: Emitter, instr: Instr, lanes: dict[int, int]) -> None:
    """The lanes' results, then out of the group loop (its block is one level up) if any
    of them is not normal, as the scalar fast path tests it (fp_emit.normal_range): there
    the test is an unsigned compare, which SIMD has only as a signed one after the sign
    bit's flip, folded into the subtraction: a shift, an add and a compare (their
    constants hoisted out of the loop), where the float compares took nine x86
    instructions."""
    c = e.code
    operation, _, negate_third = FP_LANE_OPS[instr.name]
    rd, sources = _keys(instr)
    for k, key in enumerate(sources):
        lane_value(e, key, lanes, 8)
        if k == 2 and negate_third:
            c.simd(w.F64X2_NEG)
    c.simd(operation).tee(lanes[rd]).i32_const(1).simd(w.I64X2_SHL)
    c.i64_const(SIGN - LEAST).simd(SPLAT[8]).simd(w.I64X2_ADD)
    c.i64_const(SPAN - SIGN - 1).simd(SPLAT[8]).simd(w.I64X2_GT_S)
    c.simd(w.V128_ANY_TRUE).br(w.BR_IF, 1)
