"""Short branch hammocks as selects: if-conversion.

RISC-V without Zicond has no conditional move, so compilers branch around one or two
instructions where an x86 compiler emits cmov: CRCs, clamps, min/max, bit-serial loops.
When the condition is data (a CRC's low bit), half of those branches mispredict, and the
translated code pays 15-20 cycles each where the native build pays none. A hammock
here is a conditional branch whose one side is a block of a few pure integer
instructions that goes on to the other side, its only way in being the branch:

    A: ...; b<cond> -> L or B          A: ...; b<cond> -> B or L
    B: a few ALU instructions; -> L     B: ...; j L
    L: ...                              L: ...

It is emitted without the branch: B's instructions run whatever the condition, after
each register they write is saved, and a `select` on the condition (a cmov, for
Cranelift) keeps the old value where B would not have run. The registers' locals are
exact on A's edge to L (dataflow liveness holds for both paths), so the kept value is
the architectural one.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from mvvm.isa import Flow, Instr
from mvvm.translator.structure import Shape

MAX_INSTRUCTIONS = 4        # of B's; a select per register it writes follows them
PURE_EXTENSIONS = frozenset({"I", "M", "Zba", "Zbb", "Zbs", "Zbc", "Zbkb", "Zbkx", "Zicond"})
PURE_OPERANDS = frozenset({"rd", "rs1", "rs2", "imm", "shamt", "upper"})


@dataclass(frozen=True)
class Hammock:
    side: int               # B's start
    join: int               # L
    when_taken: bool        # B runs when the branch is taken (else when it falls through)
    body: tuple[tuple[int, Instr], ...]     # B's instructions but a final `j L`, by pc


def find(shape: Shape, reloading: Container[tuple[int, int]]) -> dict[int, Hammock]:
    """The hammocks, by the node that ends in their branch; none whose edges
    reload registers (those that enter or leave a loop's idle set)."""
    found = {}
    for node, block in shape.blocks.items():
        last = block.last
        if last is None or last.spec.flow is not Flow.BRANCH or len(block.succs) != 2:
            continue
        taken, through = block.succs
        for side, join, when_taken in ((through, taken, False), (taken, through, True)):
            side_node, join_node = shape.target(node, side), shape.target(node, join)
            edges = ((node, side_node), (node, join_node), (side_node, join_node))
            body = _side_body(shape, node, side_node, join_node)
            if body and not any(edge in reloading for edge in edges):
                found[node] = Hammock(side, join, when_taken, body)
                break
    return found


def _side_body(shape: Shape, branch: int, side: int,
               join: int) -> tuple[tuple[int, Instr], ...]:
    """The instructions of node side if it is a hammock's B between node branch and node
    join (a final `j join` left out); empty if it is not."""
    block = shape.blocks.get(side)
    edges = shape.edges.get(branch, [])
    if block is None or side == join or edges.count(side) != 1 or join not in edges:
        return ()
    if side in shape.merge_nodes or side in shape.loop_headers or \
            side not in shape.children[branch] or shape.edges[side] != [join]:
        return ()
    if shape.is_backward(branch, join) or shape.is_backward(side, join):
        return ()
    body = block.instrs
    last = body[-1][1] if body else None
    if last is not None and last.spec.flow is Flow.JAL and last.rd == 0:
        body = body[:-1]
    if not 0 < len(body) <= MAX_INSTRUCTIONS or not all(_pure(i) for _, i in body):
        return ()
    return tuple((pc, instr) for pc, instr in body if instr is not None)


def _pure(instr: Instr | None) -> bool:
    """An integer instruction that may run speculatively: no memory, no trap, no other state
    than its destination register, and cheap (no division)."""
    return (instr is not None and instr.spec.flow is Flow.NEXT
            and instr.spec.ext in PURE_EXTENSIONS
            and set(instr.spec.operands.split(",")) <= PURE_OPERANDS
            and not instr.name.startswith(("div", "rem")))
