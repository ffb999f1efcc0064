"""Register dataflow over a region: what is dirty where, and what is live where.

Guest registers live in wasm locals inside a region; the VM state in memory
is their home. Three kinds of point synchronise the two:
- an exit (leaving the region) and an `ecall` write back the registers that
  are dirty there (changed since the locals last equalled the VM state); so
  does, in precise mode, each instruction that may trap (mvvm.runtime.precise);
- a call writes back too, and afterwards the callee may have changed any
  register, so the locals that are still needed are reloaded;
- a loop header polls for an interrupt, which is an exit.

"Dirty" is a forward may-analysis. Liveness is backward, and a write-back
counts as a read of the locals it stores, so a register that can be written
back somewhere is loaded at the region entry (or reloaded after a call) on
every path that reaches that point without writing it first: a stored local
always holds the register's value.

Each block is first summarised as a few steps (a run of ordinary
instructions folds into one read-before-write mask and one write mask), so
the fixpoint iterations are a handful of integer operations per block.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.isa import Flow, Instr
from mvvm.isa.effects import effects, register_bit
from mvvm.runtime.precise import may_trap
from mvvm.translator.region import Block, Region, is_call
from mvvm.translator.structure import Shape

A0 = register_bit(10, False)
# Step kinds; a step is (kind, reads, writes). A SYNC writes back, then its writes are
# registers it reloads (a0 for an ecall, none before a trapping instruction).
RUN, SYNC, CALL, EXIT = range(4)
Step = tuple[int, int, int]


@dataclass
class Dataflow:
    entry_live: int                  # registers to load at the region entry
    dirty_in: dict[int, int]         # block start -> dirty registers at its start
    dirty_out: dict[int, int]        # block start -> dirty registers on its out-edges
    reload: dict[int, int]           # call block start -> registers to reload after the call


@dataclass
class _Summary:
    steps: list[Step]
    leaves: bool                     # some way out of the block leaves the region (writes back)
    ends_in_call: bool


def analyse_registers(region: Region, shape: Shape, ends_block: set[str],
                      precise: bool = False) -> Dataflow:
    order = sorted(shape.rpo, key=shape.rpo.__getitem__)
    blocks = region.blocks
    summary = {start: _summarise(blocks[start], shape, ends_block, precise) for start in order}
    dirty_in = dict.fromkeys(order, 0)
    dirty_out = dict.fromkeys(order, 0)
    changed = True
    while changed:
        changed = False
        for start in order:
            out = _dirty_after(summary[start].steps, dirty_in[start], [])
            dirty_out[start] = out
            for succ in shape.edges[start]:
                merged = dirty_in[succ] | out
                if merged != dirty_in[succ]:
                    dirty_in[succ] = merged
                    changed = True
    live_in = dict.fromkeys(order, 0)
    changed = True
    while changed:
        changed = False
        for start in reversed(order):
            live = _live_before(start, summary[start], shape, dirty_in[start], live_in)
            if start in shape.loop_headers:
                live |= dirty_in[start]      # the interrupt check there writes back
            if live != live_in[start]:
                live_in[start] = live
                changed = True
    reload = {start: live_in[blocks[start].end] for start in order
              if summary[start].ends_in_call and blocks[start].end in live_in}
    return Dataflow(live_in[region.entry], dirty_in, dirty_out, reload)


def _leaves_region(instr: Instr | None, ends_block: set[str]) -> bool:
    """An instruction after which the region is always left (a SIGILL, ebreak, fence.i)."""
    return instr is None or instr.spec.flow is Flow.TRAP or instr.name in ends_block


def _summarise(block: Block, shape: Shape, ends_block: set[str], precise: bool) -> _Summary:
    steps: list[Step] = []
    use = defs = 0
    for _, instr in block.instrs:
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
        elif is_call(instr):
            steps += [(RUN, use | (reads & ~defs), defs), (CALL, 0, writes)]
            return _Summary(steps, False, True)
        else:
            use |= reads & ~defs
            defs |= writes
    steps.append((RUN, use, defs))
    edges = shape.edges[block.start]
    last = block.last
    leaves = not block.succs or any(s not in edges for s in block.succs) \
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
        elif kind == CALL:
            flushes.append(dirty | writes)   # the link register is written, then all
            return 0
        else:
            flushes.append(dirty)
            return dirty
    flushes.append(dirty)
    return dirty


def _live_before(start: int, summary: _Summary, shape: Shape, dirty: int,
                 live_in: dict[int, int]) -> int:
    flushes: list[int] = []
    _dirty_after(summary.steps, dirty, flushes)
    kind = summary.steps[-1][0]
    live = 0
    if kind == RUN:                          # the block goes on along its edges
        trailing = flushes.pop()
        if summary.leaves:
            live = trailing
        for succ in shape.edges[start]:
            live |= live_in[succ]
    for kind, reads, writes in reversed(summary.steps):
        if kind == RUN:
            live = (live & ~writes) | reads
        elif kind == SYNC:
            live = (live & ~writes) | flushes.pop()
        elif kind == CALL:
            live = flushes.pop() & ~writes   # the continuation reloads its own
        else:
            live = flushes.pop()
    return live
