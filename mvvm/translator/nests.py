"""Loop nests run in SIMD lanes across the outer loop's iterations.

CoreMark's matrix products (`c[i][j] = sum of a[i][k] * b[k][j] over k`) walk a column
of b in the inner loop: a strided element each iteration, no contiguous run for
vectorize's lanes (gathering a lane at a time cost more than it saved). gcc -O2
vectorizes the j loop for the host instead: four columns at once, each inner iteration
a splat of a[i][k] and a contiguous load of b[k][j..j+3]. This does the same for a nest
of three blocks: a head (straight-line set-up), an inner one-block loop, and a tail that
stores and ends in `bne` back to the head. A lane is one outer iteration; a group of
them runs the head, the whole inner loop and the tail in lockstep.

Registers, by what the nest does to them:
- outer inductions, `addi r, r, step` once, in the tail;
- invariants, written nowhere in the nest;
- uniform values, set in the head from invariants (a pointer along a's row, the inner
  loop's counter) and moved only by inner inductions (`addi r, r, step` once in the
  inner loop): the same in every lane, one i64 local;
- lane pointers, set in the head from an outer induction (down b's column) and moved only
  by inner inductions: lane k's is lane 0's plus k outer steps, so an element loaded
  through one is contiguous across the lanes when that step is the element's size;
- lane values, everything else: loaded or computed (vectorize.LANE_OPS), or set in the
  head to a constant they then add to (a sum's zero).
The inner loop's trip count is uniform, so the lanes run it together. Loads are in the
inner loop only (through a uniform pointer: one load, splat), stores in the tail only
(whole vectors, through an outer induction).

Safety, as for vectorize's loops: one outer iteration at least is left to the scalar
code, so the registers end as it leaves them (one exactly, unless the pages cut the
groups short: the last group is shifted back to end just before it, running some
iterations again, with the same loads and so the same values stored); the groups stay
within the pages the last outer iteration touched (its inner loop walked each lane
pointer's pages in steps shorter than a page, so only the reach past its last access, or
its first for a step down, and past the stores is bounded); and they run only when each
store's bytes, over all the groups, miss every load's, so that the lanes' order (a
group's loads before its stores) reads what the scalar order reads. A trip count over
MAX_TRIPS leaves the nest scalar, where each back edge checks for an interrupt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mvvm.isa import Instr
from mvvm.translator.emitter import Emitter
from mvvm.translator.idioms import Idiom, Match, page_rest
from mvvm.translator.modules import GUEST_MEMORY
from mvvm.translator.structure import Shape
from mvvm.translator.vectorize import (
    LANE_OPS,
    LOADS,
    NARROW,
    SPLAT,
    STORES,
    VECTOR,
    WIDEN,
    closes_on_itself,
    count_to,
    lane_value,
    operate,
)
from mvvm.wasm import encoder as w

UNIFORM, POINTER, LANE = "uniform", "pointer", "lane"
MAX_TRIPS = 4096
SCALAR_LOADS = {(8, True): w.I64_LOAD, (4, True): w.I32_LOAD, (2, True): w.I32_LOAD16_S,
                (2, False): w.I32_LOAD16_U, (1, True): w.I32_LOAD8_S,
                (1, False): w.I32_LOAD8_U}   # a uniform element's, by (bytes, signed)


@dataclass(frozen=True)
class Access:
    """A load in the inner loop or a store in the tail: through which register, at what
    offset, moved by how much in its iteration before it (by inner inductions for a
    load, outer ones for a store), the element's bytes and signedness, the register (key)
    loaded or stored."""

    pointer: int
    offset: int
    moved: int
    size: int
    signed: bool
    reg: int


@dataclass
class Nest:
    """A nest that runs in lanes: the lane width; the kind of each register the head or
    inner loop writes, and each lane pointer's lane stride; the outer and inner
    inductions and exit tests; the three blocks' instructions (without the branches)."""

    width: int
    head: list[Instr]
    inner: list[Instr]
    tail: list[Instr]
    steps: dict[int, int] = field(default_factory=dict)
    inner_steps: dict[int, int] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)
    strides: dict[int, int] = field(default_factory=dict)
    loads: list[Access] = field(default_factory=list)
    stores: list[Access] = field(default_factory=list)
    exit: tuple[int, int] = (0, 0)              # the outer test: (induction, invariant)
    inner_exit: tuple[int, int] = (0, 0)        # the inner one: (induction, its bound)

    @property
    def lanes(self) -> int:
        return VECTOR // self.width


def find(shape: Shape, dirty_out: dict[int, int]) -> dict[tuple[int, int], Match]:
    """The region's nests that run in lanes, by their outer back edge (tail, head)."""
    found: dict[tuple[int, int], Match] = {}
    for head in shape.loop_headers:
        nodes = _nodes(shape, head)
        if nodes is None:
            continue
        inner, tail = nodes
        nest = analyse(*([instr for _, instr in shape.blocks[node].instrs]
                         for node in (head, inner, tail)))
        writes = sum(1 << reg for reg in nest.steps) if nest else 0
        if nest and writes & ~dirty_out[tail] == 0:        # dirty already: written back
            idiom = Idiom(f"nest in lanes of {nest.width} bytes", (), (),
                          lambda e, _binding, _retry, nest=nest: emit(e, nest))
            found[tail, head] = Match(idiom, {})
    return found


def _nodes(shape: Shape, head: int) -> tuple[int, int] | None:
    """(inner, tail) when head runs into a one-block loop that falls into a block whose
    branch, taken, goes back to head."""
    block = shape.blocks.get(head)
    if block is None or len(block.succs) != 1 or not shape.keeps(head, block.succs[0]):
        return None
    inner = shape.target(head, block.succs[0])
    loop = shape.blocks.get(inner)
    if (inner == head or loop is None or len(loop.succs) != 2
            or not closes_on_itself(shape, inner, loop.succs[0])
            or not shape.keeps(inner, loop.succs[1])):
        return None
    tail = shape.target(inner, loop.succs[1])
    end = shape.blocks.get(tail)
    if (tail in (head, inner) or end is None or len(end.succs) != 2
            or not shape.keeps(tail, end.succs[0])
            or shape.target(tail, end.succs[0]) != head or not shape.is_backward(tail, head)):
        return None
    return inner, tail


def analyse(head: list[Instr | None], inner: list[Instr | None],
            tail: list[Instr | None]) -> Nest | None:
    """The nest of these three blocks, if it runs in lanes."""
    if not inner or not tail or any(i is None for i in (*head, *inner, *tail)):
        return None
    *inner_body, inner_branch = inner
    *tail_body, branch = tail
    if inner_branch.name != "bne" or branch.name != "bne":
        return None
    body = [*head, *inner_body, *tail_body]
    widths = {LOADS.get(i.name) or STORES.get(i.name) for i in body} - {None}
    if any(i.name in NARROW for i in body):
        widths |= {4}
    if len(widths) != 1:
        return None
    nest = Nest(widths.pop(), head, inner_body, tail_body)
    return nest if _Walk(nest).run(inner_branch, branch) else None


class _Walk:
    """analyse's work: the registers' kinds, then each block in order, checking that every
    register is read only where its kind allows and after the nest set it."""

    def __init__(self, nest: Nest) -> None:
        self.nest = nest
        self.written = [i.rd for i in (*nest.head, *nest.inner, *nest.tail)
                        if i.name not in STORES and i.rd]
        self.known: set[int] = set()            # set so far in the walk (or invariant)

    def run(self, inner_branch: Instr, branch: Instr) -> bool:
        nest = self.nest
        nest.steps = self._inductions(nest.tail)
        nest.inner_steps = self._inductions(nest.inner)
        if not self._kinds():
            return False
        if not all(self._head(instr) for instr in nest.head):
            return False
        if not all(self._inner(k, instr) for k, instr in enumerate(nest.inner)):
            return False
        if not all(self._tail(k, instr) for k, instr in enumerate(nest.tail)):
            return False
        nest.inner_exit = self._test(inner_branch, set(nest.inner_steps), True)
        nest.exit = self._test(branch, set(nest.steps), False)
        return bool(nest.stores) and nest.inner_exit[0] != 0 and nest.exit[0] != 0

    def _inductions(self, instrs: list[Instr]) -> dict[int, int]:
        """`addi r, r, step` (step not 0), r written by nothing else of these instructions
        (_kinds checks the others)."""
        steps = {}
        for i in instrs:
            others = [j for j in instrs if j.rd == i.rd and j.name not in STORES]
            if i.name == "addi" and i.rd and i.rd == i.rs1 and i.imm and others == [i]:
                steps[i.rd] = i.imm
        return steps

    def _kinds(self) -> bool:
        """Each register the head or inner loop writes: uniform or a lane pointer (the head
        sets it by addi or add from no lane value, the inner loop moves it only by an
        induction, the tail leaves it), else a lane value."""
        nest = self.nest
        for reg in dict.fromkeys(self.written):
            if reg in nest.steps:
                if self.written.count(reg) != 1:
                    return False
                continue
            sets = [i for i in nest.head if i.rd == reg]
            if (reg in nest.inner_steps and len(sets) == 1 and sets[0].name in ("addi", "add")
                    and not any(i.rd == reg for i in nest.tail)):
                sources = _sources(sets[0])
                outer = [r for r in sources if r in nest.steps or nest.kinds.get(r) == POINTER]
                nest.kinds[reg] = POINTER if outer else UNIFORM
                if len(outer) > 1 or any(nest.kinds.get(r) == LANE for r in sources):
                    return False
                if outer:
                    nest.strides[reg] = nest.steps.get(outer[0]) or nest.strides[outer[0]]
            else:
                nest.kinds[reg] = LANE
        nest.inner_steps = {r: s for r, s in nest.inner_steps.items() if nest.kinds[r] != LANE}
        return True

    def _readable(self, reg: int, *kinds: str | None) -> bool:
        """Whether reg, read here, is set already and of one of the kinds (None: an
        invariant)."""
        if reg not in self.written:
            return None in kinds
        return reg in self.known and self.nest.kinds.get(reg) in kinds

    def _head(self, instr: Instr) -> bool:
        kind, nest = self.nest.kinds.get(instr.rd), self.nest
        sources = _sources(instr)
        if kind == LANE:
            ok = instr.name in LANE_OPS[nest.width] and all(
                self._readable(r, LANE, UNIFORM, None) for r in sources)
        elif kind in (UNIFORM, POINTER):
            ok = all(r in nest.steps or self._readable(r, UNIFORM, POINTER, None)
                     for r in sources)
        else:
            ok = False                          # a load, a store, an outer induction
        self.known.add(instr.rd)
        return ok

    def _inner(self, k: int, instr: Instr) -> bool:
        nest = self.nest
        if instr.rd in nest.inner_steps and instr.name == "addi" and instr.rs1 == instr.rd:
            return True
        if instr.name in LOADS or instr.name in NARROW:
            return self._load(k, instr)
        ok = (nest.kinds.get(instr.rd) == LANE and instr.name in LANE_OPS[nest.width]
              and all(self._readable(r, LANE, UNIFORM, None) for r in _sources(instr)))
        self.known.add(instr.rd)
        return ok

    def _load(self, k: int, instr: Instr) -> bool:
        nest, p = self.nest, instr.rs1
        size, signed = NARROW.get(instr.name, (LOADS.get(instr.name), True))
        kind = nest.kinds.get(p)
        if (instr.name == "fld" or nest.kinds.get(instr.rd) != LANE
                or not self._readable(p, UNIFORM, POINTER)
                or (kind == POINTER and nest.strides[p] != size)):
            return False
        moved = sum(i.imm for i in nest.inner[:k] if i.rd == p and p in nest.inner_steps)
        nest.loads.append(Access(p, instr.imm, moved, size, signed, instr.rd))
        self.known.add(instr.rd)
        return True

    def _tail(self, k: int, instr: Instr) -> bool:
        nest = self.nest
        if instr.rd in nest.steps and instr.name == "addi":
            return True
        if instr.name in STORES:                # through an outer induction, a whole vector
            p, size = instr.rs1, STORES[instr.name]
            if (instr.name == "fsd" or nest.steps.get(p) != size or size != nest.width
                    or not self._readable(instr.rs2, LANE, UNIFORM, None)):
                return False
            moved = sum(i.imm for i in nest.tail[:k] if i.rd == p)
            nest.stores.append(Access(p, instr.imm, moved, size, True, instr.rs2))
            return True
        ok = (nest.kinds.get(instr.rd) == LANE and instr.name in LANE_OPS[nest.width]
              and all(self._readable(r, LANE, UNIFORM, None) for r in _sources(instr)))
        self.known.add(instr.rd)
        return ok

    def _test(self, branch: Instr, inductions: set[int], inner: bool) -> tuple[int, int]:
        """`bne induction, bound` (either way round): the bound an invariant; for the inner
        loop, so that every lane makes the same number of passes, a uniform induction
        against a bound the inner loop does not move, or a lane pointer against an outer
        induction or lane pointer with its lane stride."""
        nest = self.nest
        for counter, limit in ((branch.rs1, branch.rs2), (branch.rs2, branch.rs1)):
            if counter not in inductions or limit in nest.inner_steps:
                continue
            kind = nest.kinds.get(counter)
            if not inner or kind == UNIFORM:
                if self._readable(limit, UNIFORM if inner else None, None):
                    return counter, limit
            elif kind == POINTER and self._lane_stride(limit) == nest.strides[counter]:
                return counter, limit
        return 0, 0

    def _lane_stride(self, reg: int) -> int:
        """The lane stride of an outer induction or a lane pointer read here (0: neither)."""
        if reg in self.nest.steps:
            return self.nest.steps[reg]
        return self.nest.strides[reg] if self._readable(reg, POINTER) else 0


def _sources(instr: Instr) -> tuple[int, ...]:
    """The registers an addi/add or a LANE_OPS instruction reads (x0 is no register)."""
    immediate = any(ops.get(instr.name, ("", False))[1] for ops in LANE_OPS.values())
    return tuple(r for r in ((instr.rs1,) if immediate else (instr.rs1, instr.rs2)) if r)


# -- the fast path ----------------------------------------------------------------------

def emit(e: Emitter, nest: Nest) -> None:
    """At the outer back edge: the iterations left but one (span) in groups of lanes, the
    last group shifted back to end with them (it runs some iterations of the one before
    again, to the same values: the stores miss the loads), no more groups than the pages
    allow, none unless the inner trip count is exact and at most MAX_TRIPS and the stores
    miss the loads; then the outer inductions moved on by the iterations done."""
    c, lanes = e.code, nest.lanes
    groups, trips, span, limit, at = e.temp(), e.temp(), e.temp(), e.temp(), e.temp()
    scalars = {reg: e.temp() for reg, kind in nest.kinds.items() if kind != LANE}
    vectors = {reg: e.temp(w.V128) for reg, kind in nest.kinds.items() if kind == LANE}
    frame = _Frame(e, nest, scalars, vectors, at)
    counter, bound = nest.exit
    count_to(e, lambda: e.x(bound), lambda: e.x(counter), nest.steps[counter], span, 1)
    c.get(span).i64_const(-1).op(w.I64_ADD).tee(span)
    c.i64_const(lanes - 1).op(w.I64_ADD).i64_const(lanes).op(w.I64_DIV_U)
    c.i64_const(0).get(span).i64_const(lanes).op(w.I64_GE_U, w.SELECT).set(groups)
    c.i64_const(0).set(at)
    frame.head(scalar_only=True)                # the first group's uniform values
    counter, bound = nest.inner_exit
    count_to(e, lambda: frame.scalar(bound), lambda: frame.scalar(counter),
             nest.inner_steps[counter], trips, 0)
    c.i64_const(0).get(groups).get(trips).op(w.I64_EQZ).get(trips).i64_const(MAX_TRIPS)
    c.op(w.I64_GT_U, w.I32_OR, w.SELECT).set(groups)
    for access, push in frame.bounded(trips):
        page_rest(e, push)
        c.i64_const(lanes * access.size).op(w.I64_DIV_U).tee(limit)
        c.get(groups).get(limit).get(groups).op(w.I64_LT_U, w.SELECT).set(groups)
    c.get(groups).op(w.I64_EQZ, w.I32_EQZ)
    frame.apart(groups, trips)
    c.block(w.IF)
    c.get(groups).i64_const(lanes).op(w.I64_MUL).tee(limit)   # limit: the iterations the
    c.get(span).get(limit).get(span).op(w.I64_LT_U, w.SELECT).set(limit)   # groups run
    c.block(w.BLOCK).block(w.LOOP)
    frame.head(scalar_only=False)
    frame.inner()
    frame.tail()
    c.get(at).i64_const(lanes).op(w.I64_ADD).tee(at).get(limit).op(w.I64_GE_U)
    c.br(w.BR_IF, 1)
    c.get(at).get(limit).i64_const(-lanes).op(w.I64_ADD).tee(span)   # the last group's
    c.get(at).get(span).op(w.I64_LT_U, w.SELECT).set(at).br(w.BR, 0).op(w.END, w.END)
    for reg, step in nest.steps.items():
        e.x(reg)
        c.get(limit).i64_const(step).op(w.I64_MUL, w.I64_ADD)
        e.set_x(reg)
    c.op(w.END)
    e.release(*((w.I64, local) for local in (groups, trips, span, limit, at,
                                              *scalars.values())),
              *((w.V128, local) for local in vectors.values()))


class _Frame:
    """The locals of a group (lane 0's uniform values and pointers, the lane values) and
    the code that runs one."""

    def __init__(self, e: Emitter, nest: Nest, scalars: dict[int, int],
                 vectors: dict[int, int], at: int) -> None:
        self.e, self.nest, self.scalars, self.vectors, self.at = e, nest, scalars, vectors, at

    def scalar(self, reg: int, moved: int = 0) -> None:
        """Push lane 0's value of a uniform value, a lane pointer, an invariant, or an
        outer induction (its value at the group's first iteration, plus moved)."""
        e, c = self.e, self.e.code
        if reg in self.scalars:
            c.get(self.scalars[reg])
            return
        e.x(reg)
        if reg in self.nest.steps:
            c.get(self.at).i64_const(self.nest.steps[reg]).op(w.I64_MUL, w.I64_ADD)
            if moved:
                c.i64_const(moved).op(w.I64_ADD)

    def head(self, scalar_only: bool) -> None:
        for instr in self.nest.head:
            if self.nest.kinds[instr.rd] != LANE:
                for k, reg in enumerate(_sources(instr)):
                    self.scalar(reg)
                    if k:
                        self.e.code.op(w.I64_ADD)
                if not _sources(instr):
                    self.e.code.i64_const(0)
                if instr.name == "addi":
                    self.e.code.i64_const(instr.imm).op(w.I64_ADD)
                self.e.code.set(self.scalars[instr.rd])
            elif not scalar_only:
                operate(self.e, self.nest.width, instr, self.vectors, self.scalars)

    def inner(self) -> None:
        e, c, nest = self.e, self.e.code, self.nest
        loads = iter(nest.loads)
        c.block(w.LOOP)
        for instr in nest.inner:
            if instr.rd in nest.inner_steps and instr.name == "addi" and instr.rs1 == instr.rd:
                c.get(self.scalars[instr.rd]).i64_const(instr.imm).op(w.I64_ADD)
                c.set(self.scalars[instr.rd])
            elif instr.name in LOADS or instr.name in NARROW:
                self._load(next(loads))
            else:
                operate(e, nest.width, instr, self.vectors, self.scalars)
        counter, bound = nest.inner_exit
        self.scalar(counter)
        self.scalar(bound)
        c.op(w.I64_NE).br(w.BR_IF, 0).op(w.END)

    def _load(self, access: Access) -> None:
        e, c, width = self.e, self.e.code, self.nest.width
        c.get(self.scalars[access.pointer])
        e.guest_index(access.offset)
        if self.nest.kinds[access.pointer] == UNIFORM:
            c.mem(SCALAR_LOADS[access.size, access.signed], GUEST_MEMORY)
            c.simd(SPLAT[width])
        else:
            load, *widen = WIDEN.get((access.size, access.signed), (w.V128_LOAD,))
            c.simd_mem(load, GUEST_MEMORY)
            for op in widen:
                c.simd(op)
        c.set(self.vectors[access.reg])

    def tail(self) -> None:
        stores = iter(self.nest.stores)
        for instr in self.nest.tail:
            if instr.name in STORES:
                access = next(stores)
                self.scalar(access.pointer, access.moved)
                self.e.guest_index(access.offset)
                lane_value(self.e, access.reg, self.vectors, self.nest.width, self.scalars)
                self.e.code.simd_mem(w.V128_STORE, GUEST_MEMORY)
            elif instr.rd not in self.nest.steps:
                operate(self.e, self.nest.width, instr, self.vectors, self.scalars)

    def _address(self, access: Access, store: bool) -> None:
        """Push where the access is in the first group's first inner iteration (lane 0)."""
        self.scalar(access.pointer, access.moved if store else 0)
        offset = access.offset + (0 if store else access.moved)
        if offset:
            self.e.code.i64_const(offset).op(w.I64_ADD)

    def _reach(self, access: Access, trips: int, upward: bool) -> None:
        """Push a load's lane-0 address in the first group at its inner pass furthest up
        (or down): the last pass for a pointer the inner loop moves up, else the first."""
        c, step = self.e.code, self.nest.inner_steps.get(access.pointer, 0)
        self._address(access, False)
        if step and (step > 0) == upward:
            c.get(trips).i64_const(-1).op(w.I64_ADD).i64_const(step).op(w.I64_MUL, w.I64_ADD)

    def bounded(self, trips: int) -> list[tuple[Access, Callable[[], None]]]:
        """The accesses whose reach the pages bound, each with a push of the address where
        the last outer iteration's access ended: the stores, and the loads through lane
        pointers at their pass furthest up."""
        pairs: list[tuple[Access, Callable[[], None]]] = [
            (store, lambda store=store: self._address(store, True))
            for store in self.nest.stores]
        pairs += [(load, lambda load=load: self._reach(load, trips, True))
                  for load in self.nest.loads if self.nest.kinds[load.pointer] == POINTER]
        return pairs

    def apart(self, groups: int, trips: int) -> None:
        """AND onto the i32 on the stack: each store's bytes over all the groups end at or
        below each load's first byte, or start at or above its last."""
        c, lanes = self.e.code, self.nest.lanes
        for store in self.nest.stores:
            for load in self.nest.loads:
                self._address(store, True)
                c.get(groups).i64_const(lanes * store.size).op(w.I64_MUL, w.I64_ADD)
                self._reach(load, trips, False)
                c.op(w.I64_LE_U)
                self._reach(load, trips, True)
                if self.nest.kinds[load.pointer] == POINTER:
                    c.get(groups).i64_const(lanes * load.size).op(w.I64_MUL, w.I64_ADD)
                else:
                    c.i64_const(load.size).op(w.I64_ADD)
                self._address(store, True)
                c.op(w.I64_LE_U, w.I32_OR, w.I32_AND)
