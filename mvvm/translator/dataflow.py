"""Register dataflow over a region: what is dirty where, and what is live where.

Guest registers live in wasm locals inside a region; the VM state in memory
is their home. Four kinds of point synchronise the two:
- an exit (leaving the region) and an `ecall` write back the registers that
  are dirty there (changed since the locals last equalled the VM state); so
  does, in precise mode, each instruction that may trap (mvvm.runtime.precise);
- a call writes back too, and afterwards the callee may have changed any
  register, so the locals that are still needed are reloaded;
- a back edge (and an edge to the dispatch node of an irreducible region) polls
  for an interrupt, which is an exit;
- an FP instruction with a host slow path may leave the region there (LEAVE: a
  write-back on one path, after which the other goes on as dirty as before).

"Dirty" is a forward may-analysis. Liveness is backward, and a write-back
counts as a read of the locals it stores, so a register that can be written
back somewhere is loaded at the region entry (or reloaded after a call) on
every path that reaches that point without writing it first: a stored local
always holds the register's value.

A loop leaves alone the registers it never reads or writes (an outer loop's
induction variables, say): they are written back before the loop if dirty,
and reloaded on the edges that leave it, so that inside the loop their locals
are dead. Otherwise each would be a value the loop carries around (a block
parameter of its header for Cranelift), and x86-64's 15 registers cannot hold
a RISC-V function's 31: the register allocator spills and shuffles them on
every back edge. Not so a counted loop (mvvm.translator.bounded) of a function
copied into the region (mvvm.translator.region) that touches few registers:
memcpy's head and tail bytes make a few passes an entry, inside a caller whose
registers are many, and a write-back and reload of those at every entry cost
more than its passes (bench memcpy, copied into its caller: 0.79 s to 0.74 s).
It carries them, and with so few of its own they need not move.

Each block is first summarised as a few steps (a run of ordinary
instructions folds into one read-before-write mask and one write mask), so
the fixpoint iterations are a handful of integer operations per block.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from mvvm.isa import Flow, Instr
from mvvm.isa.effects import effects, may_trap, register_bit
from mvvm.runtime.fp_soft import SLOW_INDEX
from mvvm.translator.region import Block, Region, is_call
from mvvm.translator.structure import DISPATCH, Shape

A0 = register_bit(10, False)
ALL_REGISTERS = (1 << 64) - 2       # x1-x31 and f0-f31 (bit 0, x0, is never a local)
# Step kinds; a step is (kind, reads, writes). A SYNC writes back, then its writes are
# registers it reloads (a0 for an ecall, none before a trapping instruction).
RUN, SYNC, CALL, EXIT, LEAVE = range(5)
FEW_REGISTERS = 8       # registers a loop in `carried` touches at most to carry the rest
Step = tuple[int, int, int]


@dataclass
class Dataflow:
    entry_live: int                  # registers to load at the region entry
    dirty_in: dict[int, int]         # node -> dirty registers at its start
    dirty_out: dict[int, int]        # node -> dirty registers on its out-edges
    reload: dict[int, int]           # call node -> registers to reload after the call
    before_loop: dict[int, int]      # loop header -> registers to write back on entering it
    edge_reload: dict[tuple[int, int], int]    # edge leaving loops -> registers to reload


@dataclass
class _Summary:
    steps: list[Step]
    leaves: bool                     # some way out of the block leaves the region (writes back)
    ends_in_call: bool


def analyse_registers(region: Region, shape: Shape, ends_block: set[str],
                      precise: bool = False, carried: Container[int] = ()) -> Dataflow:
    """carried: the headers of loops that may carry what they leave alone (see above)."""
    order = sorted(shape.rpo, key=shape.rpo.__getitem__)
    blocks = shape.blocks
    summary = {start: _summarise(start, shape, ends_block, precise, region.linked_jumps)
               if start != DISPATCH else _Summary([(RUN, 0, 0)], False, False)
               for start in order}
    idle_at, owned = _idle_registers(shape, summary, carried)
    arriving = dict.fromkeys(order, 0)   # dirty on the in-edges, before a loop's write-back
    dirty_in = dict.fromkeys(order, 0)
    dirty_out = dict.fromkeys(order, 0)
    changed = True
    while changed:
        changed = False
        for start in order:
            dirty_in[start] = arriving[start] & ~owned.get(start, 0)
            out = _dirty_after(summary[start].steps, dirty_in[start], [])
            dirty_out[start] = out
            for succ in shape.edges[start]:
                merged = arriving[succ] | out
                if merged != arriving[succ]:
                    arriving[succ] = merged
                    changed = True
    before_loop = {h: arriving[h] & owned.get(h, 0) for h in shape.loop_headers}
    edge_reload = {(u, v): idle_at[u] & ~idle_at[v] for u in order for v in shape.edges[u]
                   if idle_at[u] & ~idle_at[v]}
    live_in = dict.fromkeys(order, 0)
    changed = True
    while changed:
        changed = False
        for start in reversed(order):
            live = _live_before(start, summary[start], shape, dirty_in[start], live_in,
                                edge_reload, before_loop)
            if start == DISPATCH and start in shape.loop_headers:
                live |= dirty_in[start]      # the edges to it check for an interrupt
            if live != live_in[start]:
                live_in[start] = live
                changed = True
    returns = {start: shape.target(start, blocks[start].end) for start in order
               if summary[start].ends_in_call}
    reload = {start: _live_on_edge(start, back, shape, live_in, edge_reload, before_loop)
              for start, back in returns.items() if back in live_in}
    edge_reload = {edge: mask & _live_on_edge(*edge, shape, live_in, {}, before_loop)
                   for edge, mask in edge_reload.items()}
    return Dataflow(live_in[shape.root] | before_loop.get(shape.root, 0), dirty_in,
                    dirty_out, reload, before_loop,
                    {edge: mask for edge, mask in edge_reload.items() if mask})


def _idle_registers(shape: Shape, summary: dict[int, _Summary], carried: Container[int]
                    ) -> tuple[dict[int, int], dict[int, int]]:
    """Node -> the registers that the innermost loop holding the block (and so every
    loop holding it) never reads or writes, 0 outside loops; and loop header -> what
    its loop leaves alone (written back on entering it)."""
    touched = {start: _touched(shape.blocks[start], summary[start]) if start != DISPATCH
               else 0 for start in shape.rpo}
    idle_at = dict.fromkeys(shape.rpo, 0)
    owned: dict[int, int] = {}
    # Outer loops first (a lower reverse postorder), so that inner ones overwrite.
    for header in sorted(shape.loop_headers, key=shape.rpo.__getitem__):
        body = shape.loop_body(header)
        used = 0
        for block in body:
            used |= touched[block]
        if header in carried and used.bit_count() <= FEW_REGISTERS:
            continue
        owned[header] = ~used & ALL_REGISTERS
        for block in body:
            idle_at[block] = owned[header]
    return idle_at, owned


def _touched(block: Block, summary: _Summary) -> int:
    """The registers a block reads or writes (a call's reload and an ecall's a0 included)."""
    used = 0
    for _, reads, writes in summary.steps:
        used |= reads | writes
    for _, instr in block.instrs:
        if instr is not None:
            reads, writes = effects(instr)
            used |= reads | writes
    return used


def _live_on_edge(u: int, v: int, shape: Shape, live_in: dict[int, int],
                  edge_reload: dict[tuple[int, int], int], before_loop: dict[int, int]) -> int:
    """Registers live on the edge u -> v: what v needs, less what the edge reloads, plus,
    entering a loop, what is written back before it."""
    live = live_in[v] & ~edge_reload.get((u, v), 0)
    if v in before_loop and not shape.is_backward(u, v):
        live |= before_loop[v]
    return live


def _leaves_region(instr: Instr | None, ends_block: set[str]) -> bool:
    """An instruction after which the region is always left (a SIGILL, ebreak, fence.i)."""
    return instr is None or instr.spec.flow is Flow.TRAP or instr.name in ends_block


def _summarise(node: int, shape: Shape, ends_block: set[str], precise: bool,
               linked_jumps: set[int]) -> _Summary:
    """linked_jumps: the calls the region takes as jumps (Region.linked_jumps)."""
    block = shape.blocks[node]
    steps: list[Step] = []
    use = defs = 0
    for pc, instr in block.instrs:
        if _leaves_region(instr, ends_block):
            steps.append((RUN, use, defs))
            steps.append((EXIT, 0, 0))
            return _Summary(steps, False, False)
        reads, writes = effects(instr)
        if instr.name == "ecall":
            steps += [(RUN, use, defs), (SYNC, 0, A0)]
            use = defs = 0
        elif precise and may_trap(instr):
            steps += [(RUN, use, defs), (SYNC, 0, 0)]
            use, defs = reads, writes
        elif instr.name in SLOW_INDEX:
            steps += [(RUN, use, defs), (LEAVE, 0, 0)]
            use, defs = reads, writes
        elif is_call(instr) and pc not in linked_jumps:
            steps += [(RUN, use | (reads & ~defs), defs), (CALL, 0, writes)]
            return _Summary(steps, False, True)
        else:
            use |= reads & ~defs
            defs |= writes
    steps.append((RUN, use, defs))
    last = block.last
    leaves = not block.succs or not all(shape.keeps(node, s) for s in block.succs) \
        or (last is not None and last.spec.flow is Flow.JALR)    # a target not profiled
    return _Summary(steps, leaves, False)


def _dirty_after(steps: list[Step], dirty: int, flushes: list[int]) -> int:
    """Walk forward; `flushes` collects the dirty set at each write-back point in order.
    Returns what is dirty on the block's out-edges (and records it as the last flush)."""
    for kind, _, writes in steps:
        if kind == RUN:
            dirty |= writes
        elif kind == SYNC:
            flushes.append(dirty)
            dirty = 0                        # written back; what it reloads is clean too
        elif kind == LEAVE:
            flushes.append(dirty)
        elif kind == CALL:
            flushes.append(dirty | writes)   # the link register is written, then all
            return 0
        else:
            flushes.append(dirty)
            return dirty
    flushes.append(dirty)
    return dirty


def _live_before(start: int, summary: _Summary, shape: Shape, dirty: int,
                 live_in: dict[int, int], edge_reload: dict[tuple[int, int], int],
                 before_loop: dict[int, int]) -> int:
    flushes: list[int] = []
    _dirty_after(summary.steps, dirty, flushes)
    kind = summary.steps[-1][0]
    live = 0
    if kind == RUN:                          # the block goes on along its edges
        trailing = flushes.pop()
        if summary.leaves or any(shape.is_backward(start, succ) and succ != DISPATCH
                                 for succ in shape.edges[start]):   # an interrupt check
            live = trailing
        for succ in shape.edges[start]:
            live |= _live_on_edge(start, succ, shape, live_in, edge_reload, before_loop)
    for kind, reads, writes in reversed(summary.steps):
        if kind == RUN:
            live = (live & ~writes) | reads
        elif kind in (SYNC, LEAVE):
            live = (live & ~writes) | flushes.pop()
        elif kind == CALL:
            live = flushes.pop() & ~writes   # the continuation reloads its own
        else:
            live = flushes.pop()
    return live
