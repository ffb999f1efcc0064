"""Loops that end within a known number of passes, which run without interrupt checks.

Every back edge polls VM_INTERRUPT (translate `_interrupt_check`), so that a guest looping
in translated code can be stopped. The poll's exit writes back every dirty register, so
a loop's temporaries (written before they are read in each pass, dead at the header) stay
live to the back edge for it alone, besides the load and the branch; in sha256's round
loop, with 8 state words, the K and W pointers and the temporaries of the sigma
functions, that is spills on every pass. A loop that counts to a bound needs no poll when
the count is short: it ends soon, and the code around it polls. (sha256's rounds and
message schedule: execute 0.83 s to 0.69 s.)

Such a loop is innermost, with one back edge (the latch) and one node it goes on to when it
ends, and one test that every pass makes (its block dominates the latch) and that goes on
only while `r != s`: `bne r, s` back into the loop, or `beq r, s` out of it. r is an
induction, written in the loop only by one `addi r, r, step` on every pass (its block
dominates the latch too), and s is written nowhere in it. At the loop's entry, with
k = (s - r) / step when step divides s - r (mvvm.translator.vectorize.count_to), the loop
makes at most k + 1 passes; when that is at most `limit`, it runs in a copy whose back
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


@dataclass(frozen=True)
class Bounded:
    """A loop (by its header) that may run without polls."""

    body: frozenset[int]      # its nodes
    exit: int | None          # the node it goes on to in the region, if any
    counter: int              # r: the induction register the test compares
    bound: int                # s: the register it is compared with (x0 allowed)
    step: int
    limit: int                # the most passes for which the copy without polls runs

    def fits(self, e: Emitter) -> None:
        """Push an i32: whether the loop, entered now, ends within `limit` passes."""
        c = e.code
        passes = e.temp()
        count_to(e, lambda: e.x(self.bound), lambda: e.x(self.counter), self.step, passes, 0)
        c.get(passes).i64_const(1).op(w.I64_SUB).i64_const(self.limit).op(w.I64_LT_U)
        e.release((w.I64, passes))


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
    writes: dict[int, list[tuple[int, Instr]]] = {}     # integer register -> its writes
    size = 0
    for node in body:
        for pc, instr in shape.blocks[node].instrs:
            size += 1
            if instr is None or (is_call(instr) and pc not in linked_jumps):
                return None
            written = effects(instr)[1]
            for reg in range(1, 32):
                if written >> reg & 1:
                    writes.setdefault(reg, []).append((node, instr))
    for node in every_pass:
        test = _test(shape, node, body)
        if test is None:
            continue
        for counter, bound in (test, test[::-1]):
            step = _step(writes.get(counter, []), every_pass)
            if counter and step and bound not in writes:
                return Bounded(body, next(iter(exits), None), counter, bound, step,
                               max(1, BETWEEN_POLLS // size))
    return None


def _dominators_of(shape: Shape, node: int, header: int) -> set[int]:
    """The loop's nodes that dominate node (its latch): those every pass runs."""
    chain = {node}
    while node != header:
        node = shape.idom[node]
        chain.add(node)
    return chain


def _test(shape: Shape, node: int, body: frozenset[int]) -> tuple[int, int] | None:
    """The two registers of node's branch if it goes on in the loop only while they
    differ: `bne` whose taken side stays in the loop, or `beq` whose other side does."""
    instr = shape.blocks[node].last
    if instr is None or instr.name not in ("bne", "beq"):
        return None
    taken, other = shape.blocks[node].succs[:2]
    stays = [shape.keeps(node, pc) and shape.target(node, pc) in body for pc in (taken, other)]
    if stays != ([True, False] if instr.name == "bne" else [False, True]):
        return None
    return instr.rs1, instr.rs2


def _step(writes: list[tuple[int, Instr]], every_pass: set[int]) -> int:
    """The step of a register whose only write in the loop is `addi r, r, step` on every
    pass; else 0."""
    if len(writes) != 1:
        return 0
    node, instr = writes[0]
    if node not in every_pass or instr.name != "addi" or instr.rs1 != instr.rd:
        return 0
    return instr.imm
