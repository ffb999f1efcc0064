"""Loops that end within a known number of passes, which run without interrupt checks.

Every back edge polls VM_INTERRUPT (translate `_interrupt_check`), so that a guest looping
in translated code can be stopped. The poll's exit writes back every dirty register, so
a loop's temporaries (written before they are read in each pass, dead at the header) stay
live to the back edge for it alone, besides the load and the branch; in sha256's round
loop, with 8 state words, the K and W pointers and the temporaries of the sigma
functions, that is spills on every pass. A loop that counts to a bound needs no poll when
the count is short: it ends soon, and the code around it polls. (sha256's rounds and
message schedule: execute 0.83 s to 0.72 s.)

Such a loop is innermost, with one back edge (the latch) and one node it goes on to when it
ends, and one test that every pass makes (its block dominates the latch) of an induction r
against a register s written nowhere in the loop. r is written in the loop only by one
step on every pass (its block dominates the latch too): `addi r, r, step`, or
`add r, r, t` with t written nowhere in it. The test goes on in the loop while
- r != s (`bne` back in, or `beq` out), r stepping by a constant: with k = (s - r) / step
  where step divides s - r (mvvm.translator.vectorize.count_to), the loop makes at most
  k + 1 passes;
- r is below s (`blt r, s` back in, `bge s, r` back in, or the same out with the operands
  swapped; signed or unsigned), r stepping up: at most (s - r) / step + 2 passes, as
  long as r cannot wrap round past the largest value (s below 2^62, or 2^63 unsigned; a
  step in t between 1 and 2^20);
- r is above s, r stepping down by a constant: at most (r - s) / -step + 2, as long as s
  is above -2^62 (at least -step unsigned).
At the loop's entry, when that is at most `limit` passes, it runs in a copy whose back
edge does not poll (the translator emits the loop twice). Other ways out (a trap, a side
the region does not hold) only end it sooner. A call in the loop, which may write any
register, rules it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.isa import Instr
from mvvm.isa.effects import effects
from mvvm.translator.emitter import Emitter
from mvvm.translator.region import is_call
from mvvm.translator.structure import DISPATCH, Shape
from mvvm.translator.vectorize import count_to
from mvvm.wasm import encoder as w

# The most guest instructions a loop may run between polls: passes times its size (about
# a millisecond), so that a signal or a time limit waits no longer than that.
BETWEEN_POLLS = 1 << 20
MOST_STEP = 1 << 20         # the largest step in a register (t) counted
DIFFER, BELOW, ABOVE = "differ", "below", "above"     # what the test goes on while
ORDERS = {"blt": True, "bge": True, "bltu": False, "bgeu": False}   # -> signed


@dataclass(frozen=True)
class Bounded:
    """A loop (by its header) that may run without polls."""

    exit: int | None          # the node it goes on to in the region, if any
    counter: int              # r: the induction register the test compares
    bound: int                # s: the register it is compared with (x0 allowed)
    step: int                 # the constant step, or 0 for one in a register
    step_register: int        # t, or 0
    goes_on: str              # while r and s differ, r is below s, or r is above s
    signed: bool
    limit: int                # the most passes for which the copy without polls runs

    def fits(self, e: Emitter) -> None:
        """Push an i32: whether the loop, entered now, ends within `limit` passes."""
        c = e.code
        if self.goes_on == DIFFER:
            passes = e.temp()
            count_to(e, lambda: e.x(self.bound), lambda: e.x(self.counter), self.step,
                     passes, 0)
            c.get(passes).i64_const(1).op(w.I64_SUB).i64_const(self.limit).op(w.I64_LT_U)
            e.release((w.I64, passes))
            return
        first, second = (self.bound, self.counter) if self.goes_on == BELOW \
            else (self.counter, self.bound)
        e.x(first)
        e.x(second)
        c.op(w.I64_SUB)                                   # the distance, unsigned
        if self.step_register:
            e.x(self.step_register)
            c.i64_const(self.limit).op(w.I64_MUL, w.I64_LT_U)
            e.x(self.step_register)
            c.i64_const(1).op(w.I64_SUB).i64_const(MOST_STEP).op(w.I64_LT_U, w.I32_AND)
        else:
            c.i64_const(self.limit * abs(self.step)).op(w.I64_LT_U)
        e.x(self.bound)                                   # r cannot wrap round
        if self.goes_on == BELOW:
            c.i64_const(1 << (62 + (not self.signed)))
            c.op(w.I64_LT_S if self.signed else w.I64_LT_U)
        elif self.signed:
            c.i64_const(-1 << 62).op(w.I64_GT_S)
        else:
            c.i64_const(-self.step).op(w.I64_GE_U)
        c.op(w.I32_AND)


def find(shape: Shape, linked_jumps: set[int]) -> dict[int, Bounded]:
    """The loops of the region, by header, that count to a bound (linked_jumps: the calls
    the region takes as jumps, which are no calls here)."""
    found = {}
    for header in shape.loop_headers - {DISPATCH}:
        loop = _bounded(shape, header, linked_jumps)
        if loop is not None:
            found[header] = loop
    return found


def _bounded(shape: Shape, header: int, linked_jumps: set[int]) -> Bounded | None:
    body = shape.loop_body(header)
    latches = {u for u in shape.preds[header] if u in body and shape.is_backward(u, header)}
    if len(latches) != 1 or (body - {header}) & shape.loop_headers:
        return None
    exits = {v for u in body for v in shape.edges[u] if v not in body}
    if len(exits) > 1 or DISPATCH in exits:
        return None
    every_pass = _dominators_of(shape, latches.pop(), header)
    writes = _writes(shape, body, linked_jumps)
    if writes is None:
        return None
    size = sum(len(shape.blocks[node].instrs) for node in body)
    for node in sorted(every_pass, key=shape.rpo.__getitem__):
        test = _test(shape, node, body)
        if test is None:
            continue
        name, first, second = test
        for counter, bound in ((first, second), (second, first)):
            step, step_register = _step(writes.get(counter, []), every_pass, writes)
            goes_on = _goes_on(name, counter == first, step)
            if counter and goes_on and bound not in writes:
                return Bounded(next(iter(exits), None), counter, bound, step,
                               step_register, goes_on, ORDERS.get(name, True),
                               max(1, BETWEEN_POLLS // size))
    return None


def _writes(shape: Shape, body: frozenset[int], linked_jumps: set[int]
            ) -> dict[int, list[tuple[int, Instr]]] | None:
    """Each integer register the loop writes -> its writes (node, instruction); None if
    the loop has a call, which may write any, or code that is not an instruction."""
    writes: dict[int, list[tuple[int, Instr]]] = {}
    for node in body:
        for pc, instr in shape.blocks[node].instrs:
            if instr is None or (is_call(instr) and pc not in linked_jumps):
                return None
            written = effects(instr)[1]
            for reg in range(1, 32):
                if written >> reg & 1:
                    writes.setdefault(reg, []).append((node, instr))
    return writes


def _dominators_of(shape: Shape, node: int, header: int) -> set[int]:
    """The loop's nodes that dominate node (its latch): those every pass runs."""
    chain = {node}
    while node != header:
        node = shape.idom[node]
        chain.add(node)
    return chain


def _test(shape: Shape, node: int, body: frozenset[int]) -> tuple[str, int, int] | None:
    """Node's branch as the test that the loop goes on after, (its name, with the operands
    of the condition under which it goes on: `bge a, b` out of the loop is `blt a, b`);
    None if it is no such test."""
    instr = shape.blocks[node].last
    if instr is None or (instr.name not in ORDERS and instr.name not in ("bne", "beq")):
        return None
    taken, other = shape.blocks[node].succs[:2]
    stays = [shape.keeps(node, pc) and shape.target(node, pc) in body for pc in (taken, other)]
    if stays == [True, False]:
        return instr.name, instr.rs1, instr.rs2
    if stays == [False, True]:
        return _NEGATED[instr.name], instr.rs1, instr.rs2
    return None


_NEGATED = {"bne": "beq", "beq": "bne", "blt": "bge", "bge": "blt", "bltu": "bgeu",
            "bgeu": "bltu"}


def _goes_on(name: str, counter_first: bool, step: int | None) -> str | None:
    """What the loop goes on while, with r (first or not in the condition `name`) stepping
    by step (0: in a register, upwards if at all; None: not an induction); None if
    that is no count."""
    if step is None:
        return None
    if name == "bne":
        return DIFFER if step else None
    if name not in ORDERS:
        return None
    below = (name in ("blt", "bltu")) == counter_first      # r < s, or s >= r
    if below and step >= 0:
        return BELOW
    if not below and step < 0:
        return ABOVE
    return None


def _step(writes: list[tuple[int, Instr]], every_pass: set[int],
          all_writes: dict[int, list[tuple[int, Instr]]]) -> tuple[int | None, int]:
    """(step, t) of a register whose only write in the loop is on every pass, `addi r, r,
    step` (t 0) or `add r, r, t` with t written nowhere in the loop (step 0); else
    (None, 0)."""
    if len(writes) != 1 or writes[0][0] not in every_pass:
        return None, 0
    instr = writes[0][1]
    if instr.name == "addi" and instr.rs1 == instr.rd and instr.imm:
        return instr.imm, 0
    if instr.name == "add" and instr.rd in (instr.rs1, instr.rs2):
        t = instr.rs2 if instr.rs1 == instr.rd else instr.rs1
        if t not in all_writes and t not in (0, instr.rd):
            return 0, t
    return None, 0
