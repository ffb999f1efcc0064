"""Tier 1: a region -> one wasm function `(call depth) -> i64`; regions -> one module.

Each module imports the host functions, the guest memory and the VM memory, and
exports its regions' functions; the runtime instantiates it and installs the
functions in the shared table. Its trap map covers all of them.
"""

from __future__ import annotations

import sys
from collections.abc import Container
from dataclasses import dataclass, field

from mvvm.isa import Flow, Instr
from mvvm.isa.effects import may_trap
from mvvm.runtime import layout
from mvvm.translator import (
    bounded,
    fp_windows,
    hammocks,
    idioms,
    nests,
    switches,
    vectorize,
    words,
)
from mvvm.translator.dataflow import Dataflow, analyse_registers
from mvvm.translator.emitter import Emitter, record_jump
from mvvm.translator.modules import (
    CALL_DEPTH_LOCAL,
    HOST_HOT,
    REGION_TYPE,
    VM_MEMORY,
    RegionBody,
)
from mvvm.translator.region import (
    MAX_INSTRUCTIONS,
    Block,
    Fetch,
    Profile,
    Region,
    discover,
    is_call,
    is_return,
)
from mvvm.translator.semantics import ENDS_BLOCK, SEMANTICS, supported
from mvvm.translator.structure import DISPATCH, Shape, analyse
from mvvm.wasm import encoder as w

# The structurer recurses along chains of inlined blocks (a few frames per block, and a
# region has at most MAX_INSTRUCTIONS blocks). Python 3.11 keeps Python-to-Python calls
# off the C stack, so a limit that covers the bound is safe.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 8 * MAX_INSTRUCTIONS + 1000))
PRUNED_PERIOD = 1024        # exits through a pruned branch side between calls to the host
BR_TABLE_TARGETS = 4        # an indirect jump with this many targets in the region ...
BR_TABLE_SPAN = 4096        # ... within this many halfwords takes a br_table


@dataclass
class RegionCode:
    """One region as a wasm function body, ready to be packed into a module."""

    entry: int
    region: Region
    shape: Shape                     # the region's (mvvm.translator.structure)
    locals: list[int]
    code: w.Code
    marks: list[tuple[int, int]]     # (body offset, guest pc)
    calls: list[tuple[int, int]]     # (body offset, guest pc): Emitter.call_region's
    idioms: tuple[str, ...] = ()     # the loops it fast-forwards (mvvm.translator.idioms)
    # its branches emitted as selects, by node (mvvm.translator.hammocks)
    selects: dict[int, hammocks.Hammock] = field(default_factory=dict)
    tables: tuple[tuple[int, int], ...] = ()    # the jump tables it read (switches.py)
    # the loops, by header pc, with a copy that runs without polls (mvvm.translator.bounded)
    unpolled: tuple[int, ...] = ()
    windows: tuple[int, ...] = ()    # the pcs where its FP windows start (fp_windows.py)

    def code_ranges(self) -> list[tuple[int, int]]:
        """The guest bytes this translation depends on, as merged [start, end) ranges: its
        code, and the jump tables it read."""
        ranges: list[tuple[int, int]] = []
        code = [(b.start, b.end) for b in self.region.blocks.values()]
        for start, end in sorted(code + list(self.tables)):
            if ranges and start <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], max(end, ranges[-1][1]))
            else:
                ranges.append((start, end))
        return ranges

    def body(self) -> RegionBody:
        """What the runtime keeps of it."""
        return RegionBody(self.entry, self.locals, self.code, self.marks, self.calls,
                          self.code_ranges(), set(self.region.pruned),
                          self.region.instructions())


def emit_region(entry: int, fetch: Fetch, budget: int = MAX_INSTRUCTIONS, *,
                precise: bool = False, counting: bool = False, others: Container[int] = (),
                profile: Profile | None = None, memory64: bool = True,
                slow_exits: bool = False, nests_apart: bool = True,
                direct_calls: bool = False, read_only: Fetch | None = None) -> RegionCode:
    """A region of at most budget guest instructions from entry, as a function body;
    precise: registers exact at every trap (mvvm.runtime.precise), for fault handlers;
    counting: each block takes its instructions from VM_BUDGET (mvvm.runtime.layout);
    others: where other regions start, which this one leaves for instead of copying;
    profile: tier 0's, which says which branch sides ran (the others are exits) and where
    indirect jumps went; memory64: the guest memory's index width (mvvm.runtime.layout);
    slow_exits: FP slow paths leave for tier 0 (fp_emit.SlowPath.leaves; not when
    counting, where an exit in mid-block would spend its instructions twice);
    nests_apart: tight loop nests get regions of their own (mvvm.translator.region);
    direct_calls: a direct call is a direct wasm call, of the callee's function if the
    module holds it, else of a stub (see pack). For a module of a whole program (mvvm
    wasm): `mvvm run` packs the regions that got hot together, and a callee, hot first,
    is nearly always in an earlier module, where a stub only adds a call. With it, only
    leaves are copied in (mvvm.translator.region): a direct wasm call costs little, and
    with every region of the whole program, none pruned by a profile, copying memcpy,
    printf and the like, the bench's modules grew 45% (7.1 MB to 10.4 MB), took 1.5 s
    longer to compile, and memcpy's ran 2.4x slower.
    read_only: the 32 bits at an address, or None unless they are in memory that is
    readable and executable and not writable (which no guest store can change), from
    which the region may read jump tables (mvvm.translator.switches); without it, it
    reads none."""
    region = discover(entry, fetch, ENDS_BLOCK, supported, budget, others, profile,
                      nests_apart, copy_callers=not direct_calls)
    shape = analyse(region)
    bounds = {} if counting else bounded.find(shape, region.linked_jumps)
    flow = analyse_registers(region, shape, ENDS_BLOCK, precise,
                             {h for h in bounds if shape.blocks[h].start in region.copied})
    emitter = Emitter(memory64)
    emitter.entry_live = flow.entry_live
    emitter.slow_paths_leave = slow_exits
    emitter.direct_calls = direct_calls
    if any(_rounds(instr) for block in region.blocks.values() for _, instr in block.instrs):
        emitter.keep_fp_steady()
    loops = {} if counting else {**vectorize.find(shape, flow.dirty_out),
                                 **nests.find(shape, flow.dirty_out),
                                 **idioms.find(shape, flow.dirty_out)}
    selects = {} if counting else hammocks.find(shape, flow.edge_reload)
    tables = _known_tables(shape, read_only) if read_only is not None else {}
    counted = {header: loop for header, loop in bounds.items()
               if not any(v == header for _, v in loops)}
    structurer = _Structurer(region, shape, flow, emitter, precise, counting, loops, selects,
                             words.sext_copies(region, shape), tables, counted)
    structurer.node(shape.root)
    code, marks, calls = emitter.finish()
    return RegionCode(entry, region, shape, emitter.locals, code, marks, calls,
                      tuple(match.idiom.name for match in loops.values()), selects,
                      tuple(table.span for table in tables.values()),
                      tuple(structurer.unpolled_loops), tuple(structurer.windows))


def _known_tables(shape: Shape, read_only: Fetch) -> dict[int, switches.KnownTable]:
    """The jump tables the region's br_table jumps go through and the translator could
    read, by the node the jump ends."""
    read: dict[int, list[switches.KnownTable]] = {}     # by block: copies share it
    tables = {}
    for node, block in shape.blocks.items():
        inside = _inside(shape, node)
        if block.instrs and _takes_br_table(inside):
            if block.start not in read:
                read[block.start] = switches.candidates(block, read_only)
            table = switches.holding(read[block.start], inside)
            if table is not None:
                tables[node] = table
    return tables


def _inside(shape: Shape, node: int) -> list[int]:
    """The targets of the indirect jump ending node that the region holds."""
    return [succ for succ in dict.fromkeys(shape.blocks[node].succs) if shape.keeps(node, succ)]


def _takes_br_table(inside: list[int]) -> bool:
    """Whether an indirect jump with these targets in the region takes a br_table: enough
    of them, close enough together."""
    return (len(inside) >= BR_TABLE_TARGETS
            and (max(inside) - min(inside)) // 2 + 1 <= BR_TABLE_SPAN)


def _rounds(instr: Instr | None) -> bool:
    """An FP instruction with a rounding mode: it reads frm or accrues NX."""
    return instr is not None and instr.spec.operands.endswith(",rm")


class _Structurer:
    """Emits the region in dominator-tree order with block/loop/if nesting."""

    def __init__(self, region: Region, shape: Shape, flow: Dataflow, emitter: Emitter,
                 precise: bool, counting: bool,
                 loops: dict[tuple[int, int], idioms.Match],
                 selects: dict[int, hammocks.Hammock], copies: frozenset[int],
                 tables: dict[int, switches.KnownTable],
                 counted: dict[int, bounded.Bounded]) -> None:
        self.region = region
        self.shape = shape
        self.flow = flow
        self.e = emitter
        self.precise = precise
        self.counting = counting
        self.idioms = loops     # fast-forwarded loops, by the edge that closes the path
        # each one's local: where its fast path tries again (mvvm.translator.idioms)
        self.retries = {header: emitter.local(w.I64) for _, header in loops}
        self.hammocks = selects     # branches emitted as selects, by their block
        self.copies = copies        # the pcs of the sext.ws that are copies (words.py)
        self.tables = tables        # the jump tables read, by the node whose jump uses one
        # DISPATCH's label variable: its target's index in shape.dispatch (0, the entry, is
        # where the function starts)
        self.label = emitter.local(w.I32) if shape.dispatch else None
        self.context: list[tuple[str, int | None]] = []
        # inside a loop emitted twice (`_versioned`): True in its copy for the steady FP
        # state, False in the other
        self.steady: bool | None = None
        self.counted = counted      # loops that may run without polls, by header
        self.unpolled: int | None = None    # the header of such a loop's copy without them,
        # while it is emitted
        self.after: dict[int, int] = {}     # the node after such a loop -> its header
        self.unpolled_loops: list[int] = []     # the pcs of their headers
        self.windows: list[int] = []            # the pcs where FP windows start

    def _push(self, kind: str, label: int | None, opcode: int) -> None:
        self.e.code.block(opcode)
        self.context.append((kind, label))
        self.e.depth = len(self.context)

    def _pop(self) -> None:
        self.e.code.op(w.END)
        self.context.pop()
        self.e.depth = len(self.context)

    def _depth_of(self, kind: str, label: int) -> int:
        for depth, frame in enumerate(reversed(self.context)):
            if frame == (kind, label):
                return depth
        raise AssertionError(f"no enclosing {kind} for {label:#x}")

    def node(self, start: int) -> None:
        """Ramsey's doTree."""
        if start in self.shape.loop_headers:
            self.e.store(self.flow.before_loop[start])     # what the loop leaves alone
            if start in self.retries:
                self.e.code.i64_const(0).set(self.retries[start])
            if self._versions(start):
                self._versioned(start, self._merges(start))
            elif start in self.counted and self.steady is None:
                self._polled_or_not(start, self.counted[start])
            else:
                self._loop(start, self._merges(start))
        else:
            self._within(start, self._merges(start))

    def _merges(self, node: int) -> list[int]:
        """Its merge children, but for the node after a loop emitted twice, which comes
        once, after both copies (`_polled_or_not`)."""
        return [m for m in self.shape.merge_children(node) if m not in self.after]

    def _loop(self, start: int, merges: list[int]) -> None:
        self._push("loop", start, w.LOOP)
        self._within(start, merges)
        self._pop()

    def _versioned(self, start: int, merges: list[int]) -> None:
        """A loop whose code has FP instructions that round, emitted twice: a copy for the
        steady FP state (Emitter.keep_fp_steady) where they do not test it, and one for any
        other, whose back edges go over to the first once the state is steady. The steady
        copy leaves the region wherever the state may end (`_refresh_steady`). Instead of a
        test of the state per instruction, and both versions of each instruction, which
        double the registers a loop keeps live: linsolve ran 12% faster, nbody 4%.
        The other copy comes first, in a block that the steady state skips and its back
        edges leave: no loop holds both copies, so Cranelift hoists the other copy's loop
        invariants (its slow paths' operands) to its own entry, where they are not live
        in the steady copy."""
        self._push("steady", start, w.BLOCK)
        self.e.code.get(self.e.steady).br(w.BR_IF, 0)
        self.steady = False
        self._loop(start, merges)
        self._pop()
        self.steady = True
        self._loop(start, merges)
        self.steady = None

    def _polled_or_not(self, start: int, loop: bounded.Bounded) -> None:
        """A loop that counts to a bound (mvvm.translator.bounded), emitted twice: first
        without the polls of its back edge, which runs where the count is short enough
        (the entry falls through to it), then with them. The node it goes on to, when
        that is in its dominator subtree (which Ramsey's structure puts inside the wasm
        loop), comes once, after both: copies of the code after the loop would double
        the region for each such loop in turn."""
        after = loop.exit if loop.exit is not None and self.shape.dominates(start, loop.exit) \
            else None
        if after is not None:
            self._push("after", start, w.BLOCK)
            self.after[after] = start
        merges = self._merges(start)
        self._push("unpolled", start, w.BLOCK)
        loop.fits(self.e)
        self.e.code.op(w.I32_EQZ).br(w.BR_IF, 0)
        self.unpolled = start
        self._loop(start, merges)
        self.unpolled = None
        self._pop()
        self._loop(start, merges)
        self.unpolled_loops.append(self.shape.blocks[start].start)
        if after is not None:
            del self.after[after]
            self._pop()
            self.node(after)

    def _versions(self, header: int) -> bool:
        """Whether the loop at header is emitted twice: not inside another that is, nor when
        counting (the steady copy may leave in the middle of a block, whose instructions
        `_spend` took already), and only if the loop itself has an FP instruction that
        rounds. The code after the loop does not count, though the loop's wasm construct
        holds it: a region that began in an integer loop ahead of the FP work versioned
        that loop, whose back edge never ran again, and ran all the FP work in the copy
        for any state (spectralnorm 1.5x slower). Versioning the inner loops again inside
        an outer copy for any state, so that they need not wait for the outer back edge,
        made nbody 7% slower and spectralnorm no faster."""
        if self.e.steady is None or self.steady is not None or self.counting \
                or header == DISPATCH:
            return False
        return any(_rounds(instr) for node in self.shape.loop_body(header)
                   for _, instr in self.shape.blocks[node].instrs)

    def _within(self, start: int, merges: list[int]) -> None:
        if not merges:
            if start == DISPATCH:
                self._dispatch()
            else:
                self._block_code(start)
            return
        self._push("block", merges[0], w.BLOCK)
        self._within(start, merges[1:])
        self._pop()
        self.node(merges[0])

    def branch(self, source: int, target: int) -> None:
        """Ramsey's doBranch: continue at a guest target from the end of node source."""
        self._go(source, self.shape.target(source, target), target)

    def _go(self, source: int, node: int, target: int) -> None:
        """Continue at node, whose guest pc is target, from the end of node source."""
        self.e.dirty = self.flow.dirty_out[source]
        self.e.reload(self.flow.edge_reload.get((source, node), 0))   # leaving loops
        if node not in self.shape.edges[source]:
            if target in self.region.pruned:
                self._count_pruned(target)
            self.e.exit_to(target, chain=True)
            return
        if (source, node) in self.idioms:
            match = self.idioms[source, node]
            match.idiom.fast_path(self.e, match.binding, self.retries[node])
        if node in self.after:
            self.e.code.br(w.BR, self._depth_of("after", self.after[node]))
            return
        if node == DISPATCH:
            self._interrupt_check(target)
            self.e.code.i32_const(self.shape.label(source, target)).set(self.label)
        if self.shape.is_backward(source, node):
            if node not in (DISPATCH, self.unpolled):
                self._interrupt_check(target)
            if self.steady is False and ("steady", node) in self.context:
                self.e.code.get(self.e.steady).br(w.BR_IF, self._depth_of("steady", node))
            self.e.code.br(w.BR, self._depth_of("loop", node))
        elif node in self.shape.merge_nodes:
            self.e.code.br(w.BR, self._depth_of("block", node))
        else:
            self.node(node)

    def _block_code(self, node: int) -> None:
        e, block = self.e, self.shape.blocks[node]
        e.dirty = self.flow.dirty_in[node]
        if self.counting:
            self._spend(block, 0)
        table = self.tables.get(node)
        windows = self._windows(block.instrs[:-1], table)
        after_window = 0
        for k, (pc, instr) in enumerate(block.instrs[:-1]):
            if k < after_window:
                continue
            if k in windows:
                after_window = self._window(windows[k], block.instrs)
                continue
            if table is not None and pc == table.start:
                self._known_table(node, table)
            self._instruction(pc, instr)
            if self.counting and instr.name == "ecall":
                self._spend(block, k + 1)
        pc, instr = block.instrs[-1]
        flow = instr.spec.flow if instr is not None else Flow.TRAP
        if flow is Flow.NEXT:
            self._instruction(pc, instr)
            if block.succs:
                self.branch(node, block.succs[0])
        elif flow is Flow.BRANCH and node in self.hammocks:
            e.mark(pc)
            SEMANTICS[instr.name](e, instr, pc)
            self._select(node, self.hammocks[node])
        elif flow is Flow.BRANCH:
            e.mark(pc)
            SEMANTICS[instr.name](e, instr, pc)
            # Cranelift lays the else arm out right after the test: a side that goes
            # round a loop goes there, so that a pass takes one jump (back), not two (out
            # to a latch laid out after the loop, and back): linsolve, nbody 8-10% faster.
            sides = block.succs[:2]
            if self._loops_back(node, sides[0]) and not self._loops_back(node, sides[1]):
                e.code.op(w.I32_EQZ)
                sides.reverse()
            self._push("if", None, w.IF)
            self.branch(node, sides[0])
            e.code.op(w.ELSE)
            self.branch(node, sides[1])
            self._pop()
        elif instr is not None and is_call(instr) and pc not in self.region.linked_jumps:
            self._call(node, instr, pc)
        elif flow is Flow.JAL:                  # a jump, or a call taken as one
            e.mark(pc)
            if instr.rd:
                e.code.i64_const(pc + instr.length)
                e.set_x(instr.rd)
            self.branch(node, pc + instr.imm)
        elif flow is Flow.JALR:
            e.mark(pc)
            self._indirect_jump(node, instr)
        else:
            self._illegal(pc, instr)

    def _loops_back(self, node: int, target: int) -> bool:
        """Whether the edge from node to the guest target goes round a loop."""
        to = self.shape.target(node, target)
        return to in self.shape.edges[node] and self.shape.is_backward(node, to)

    def _select(self, node: int, hammock: hammocks.Hammock) -> None:
        """A hammock (mvvm.translator.hammocks), the branch's condition on the stack: its
        side's instructions run, then a select per register they wrote keeps the old value
        unless the side would have run; and on to the join."""
        e, c = self.e, self.e.code
        runs = e.temp(w.I32)
        if not hammock.when_taken:
            c.op(w.I32_EQZ)
        c.set(runs)
        olds = {instr.rd: e.temp() for _, instr in hammock.body if instr.rd}
        for reg, old in olds.items():
            e.x(reg)
            c.set(old)
        for pc, instr in hammock.body:
            self._instruction(pc, instr)
        for reg, old in olds.items():
            e.x(reg)
            c.get(old).get(runs).op(w.SELECT)
            e.set_x(reg)
        e.release((w.I32, runs), *((w.I64, old) for old in olds.values()))
        self.branch(self.shape.target(node, hammock.side), hammock.join)

    def _indirect_jump(self, node: int, instr: Instr) -> None:
        """Go to the target if it is one of the profiled ones the region holds; any other
        leaves: a return to the caller, else a chain. A few targets are compared in turn
        (the most taken first); more, close together (a jump table's), take a br_table
        indexed by the jump's distance from the lowest."""
        block, address = self.shape.blocks[node], self._jalr_address(instr)
        if instr.rd:                            # a call of leaves taken as jumps
            self.e.code.i64_const(block.instrs[-1][0] + instr.length)
            self.e.set_x(instr.rd)
        inside = _inside(self.shape, node)
        if _takes_br_table(inside):
            self._jump_table(node, instr, address, inside)
        else:
            self._compare_chain(node, instr, self._even(address), inside)
        self.e.release((w.I64, address))

    def _compare_chain(self, node: int, instr: Instr, target: int,
                       inside: list[int]) -> None:
        c = self.e.code
        for succ in inside:
            c.get(target).i64_const(succ).op(w.I64_EQ)
            self._push("if", None, w.IF)
            self.branch(node, succ)
            c.op(w.ELSE)
        self._leave_by_jump(node, instr, target)
        for _ in inside:
            self._pop()

    def _jump_table(self, node: int, instr: Instr, address: int, inside: list[int]) -> None:
        """A block per target, and an outer one for any other pc; a br_table on the jalr's
        address (rs1 + imm, bit 0 not yet cleared) less the lowest target leaves the block
        whose end the branch to that target follows. An odd distance has the entry of the
        even one below it, which is jalr's clearing of bit 0, and a distance is a byte
        count, so neither the clearing nor a halving lies between the guest's table load
        and the jump (interp ran in 0.98 of the time; the clearing is left to the other
        pcs). A distance out of range branches to the outer block first: Cranelift clamps
        a br_table's index itself, so clamping it here too (a select) cost a compare and
        a cmov per jump (interp ran in 0.95 of the time with the branch).

        With a table the translator read (`_known_table`), the blocks are open already
        and odd distances leave: every way into a target's block then has x[rs1] equal
        to the target less the jalr's immediate, which the block sets."""
        c, lowest = self.e.code, min(inside)
        known = self.tables.get(node)
        if known is None:
            self._open_targets(inside)
        size = max(inside) - lowest + 2
        distance = self.e.temp()
        c.get(address).i64_const(lowest).op(w.I64_SUB).tee(distance).i64_const(size)
        c.op(w.I64_GE_U).br(w.BR_IF, len(inside))
        c.get(distance).op(w.I32_WRAP_I64, w.BR_TABLE)
        label = {succ: w.uleb(k) for k, succ in enumerate(inside)}    # its depth
        other = w.uleb(len(inside))
        entries = (lowest + i if known else lowest + (i & ~1) for i in range(size))
        c.extend(w.uleb(size) + b"".join(label.get(pc, other) for pc in entries) + other)
        self.e.release((w.I64, distance))
        for succ in inside:
            self._pop()
            if known is not None:
                c.i64_const(succ - known.imm)
                self.e.set_x(known.link)
            self.branch(node, succ)
        self._pop()
        self._leave_by_jump(node, instr, self._even(address))

    def _open_targets(self, inside: list[int]) -> None:
        """The blocks of `_jump_table`: the outer one, then one per target, the first
        innermost."""
        for _ in range(len(inside) + 1):
            self._push("block", None, w.BLOCK)

    def _known_table(self, node: int, table: switches.KnownTable) -> None:
        """Before the table's pattern (mvvm.translator.switches): where x[rB] is the
        table's address and rI indexes an entry read, a br_table on rI to the block of
        that entry's target (`_jump_table`'s, opened here); else, and for a target the
        region does not hold, on to the pattern and the jump. The br_table's default is
        that way too, so an rI known to be narrow needs no range check before it."""
        c, inside = self.e.code, _inside(self.shape, node)
        self._open_targets(inside)
        self._push("block", None, w.BLOCK)
        self.e.x(table.base)
        c.i64_const(table.address).op(w.I64_NE).br(w.BR_IF, 0)
        if not table.narrow:
            self.e.x(table.index)
            c.i64_const(len(table.targets)).op(w.I64_GE_U).br(w.BR_IF, 0)
        self.e.x(table.index)
        c.op(w.I32_WRAP_I64, w.BR_TABLE)
        depth = {succ: k + 1 for k, succ in enumerate(inside)}
        c.extend(w.uleb(len(table.targets)) + b"".join(
            w.uleb(depth.get(target, 0)) for target in table.targets) + w.uleb(0))
        self._pop()

    def _dispatch(self) -> None:
        """DISPATCH: a block per target and a br_table on the label; the branch to each
        target follows the end of its block (as in `_jump_table`)."""
        targets = self.shape.dispatch
        self.e.dirty = self.flow.dirty_in[DISPATCH]
        for _ in targets:
            self._push("block", None, w.BLOCK)
        self.e.code.get(self.label).op(w.BR_TABLE)
        self.e.code.extend(w.uleb(len(targets) - 1) + b"".join(
            w.uleb(k) for k in range(len(targets))))
        for target in targets:
            self._pop()
            self._go(DISPATCH, target, self.shape.blocks[target].start)

    def _leave_by_jump(self, node: int, instr: Instr, target: int) -> None:
        """An indirect jump's target the region does not hold: return it to the caller, or
        for anything but a return, chain to it. A jump with profiled targets notes the new
        one in the profile first and counts the exit, so that a region left this way often
        is translated again with it."""
        e, pc = self.e, self.shape.blocks[node].instrs[-1][0]
        e.dirty = self.flow.dirty_out[node]
        if pc in self.region.pruned:
            source = e.temp()
            e.code.i64_const(pc).set(source)
            record_jump(e, source, target)
            e.release((w.I64, source))
            self._count_pruned(pc)
        e.code.get(target)
        e.exit_dynamic(chain=not is_return(instr))

    def _windows(self, instrs: list[tuple[int, Instr | None]],
                 table: switches.KnownTable | None) -> dict[int, fp_windows.Window]:
        """The FP windows among instrs (mvvm.translator.fp_windows), by their first
        instruction's index: in a loop's copy for the steady FP state alone, and not in
        precise mode (where an instruction that rounds by frm writes back first), nor
        around the start of a jump table's read."""
        if self.steady is not True or self.precise:
            return {}
        return {window.start: window for window in fp_windows.find(instrs)
                if table is None or all(instrs[k][0] != table.start
                                        for k in range(window.start, window.end))}

    def _window(self, window: fp_windows.Window, instrs: list[tuple[int, Instr]]) -> int:
        """Emit the window twice: its fast copy, then the careful one that a failed test
        goes to, from the registers it writes as they were before it. Returns its end."""
        e, c = self.e, self.e.code
        self.windows.append(instrs[window.start][0])
        saved = [(local, valtype, e.temp(valtype)) for local, valtype in
                 (e.register_local(bit) for bit in range(64) if window.writes >> bit & 1)]
        for local, _, temp in saved:
            c.get(local).set(temp)
        dirty = e.dirty
        self._push("window", None, w.BLOCK)
        self._push("careful", None, w.BLOCK)
        for k in range(window.start, window.end):
            pc, instr = instrs[k]
            if fp_windows.is_operation(instr):
                e.mark(pc)
                fp_windows.emit(e, instr, k not in window.untested)
            else:
                self._instruction(pc, instr)
        c.br(w.BR, 1)
        self._pop()
        fast = e.dirty
        for local, valtype, temp in saved:
            c.get(temp).set(local)
            e.release((valtype, temp))
        e.dirty = dirty
        for k in range(window.start, window.end):
            self._instruction(*instrs[k])
        e.dirty |= fast
        self._pop()
        return window.end

    def _instruction(self, pc: int, instr: Instr) -> None:
        """Emit one instruction that does not branch (discovery made sure it is supported);
        in precise mode, an instruction that may trap after a write-back. An FP instruction
        that rounds has a version for the steady FP state (Emitter.keep_fp_steady), which a
        csr instruction or a syscall may end (`_rounding`)."""
        e = self.e
        e.mark(pc)
        if pc in self.copies:
            instr = words.as_copy(instr)
        if self.precise and may_trap(instr):
            e.write_back()
        if e.steady is not None and _rounds(instr):
            self._rounding(pc, instr)
        else:
            SEMANTICS[instr.name](e, instr, pc)
        if instr.name == "ecall" or instr.spec.ext == "Zicsr":
            self._refresh_steady(pc + instr.length)

    def _rounding(self, pc: int, instr: Instr) -> None:
        """An FP instruction that rounds, in a region that keeps the steady FP state: in a
        loop copy (`_versioned`), the version for the state it assumes; elsewhere both,
        behind a test of the state."""
        if self.steady is not None:
            self._assuming(self.steady, pc, instr)
            return
        self.e.code.get(self.e.steady)
        self._push("if", None, w.IF)
        self._assuming(True, pc, instr)
        self.e.code.op(w.ELSE)
        self._assuming(False, pc, instr)
        self._pop()

    def _assuming(self, steady: bool, pc: int, instr: Instr) -> None:
        self.e.assume_steady = steady
        SEMANTICS[instr.name](self.e, instr, pc)
        self.e.assume_steady = False

    def _refresh_steady(self, pc: int) -> None:
        """Where fcsr may have changed (a csr instruction, a syscall, a call), before the
        instruction at pc: compute the steady FP state again; in the loop copy that assumes
        it, leave the region for pc if it no longer holds."""
        e = self.e
        e.refresh_fp_steady()
        if self.steady:
            e.code.get(e.steady).op(w.I32_EQZ)
            self._push("if", None, w.IF)
            e.side_exit(pc)
            self._pop()

    def _illegal(self, pc: int, instr: Instr | None) -> None:
        self.e.mark(pc)
        reason = layout.REASON_EBREAK if instr is not None and instr.name == "ebreak" \
            else layout.REASON_ILLEGAL
        self.e.exit_reason(reason, pc)

    def _jalr_address(self, instr: Instr) -> int:
        """rs1 + imm into a temp, read before the link overwrites rd (rd may be rs1)."""
        e = self.e
        address = e.temp()
        e.x(instr.rs1)
        if instr.imm:
            e.code.i64_const(instr.imm).op(w.I64_ADD)
        e.code.set(address)
        return address

    def _even(self, address: int) -> int:
        """The jalr's target: its address with bit 0 cleared, in the same temp."""
        self.e.code.get(address).i64_const(-2).op(w.I64_AND).set(address)
        return address

    def _call(self, node: int, instr: Instr, pc: int) -> None:
        """A linking jump as a wasm call: write back, call the callee's region, and if it
        returns to the next instruction (it normally does) reload and go on. Any other
        result (longjmp, an exit to Python, a deeper frame's unknown target) is returned
        as it is, since the VM state already holds every register: no write-back. Too
        deep a nesting leaves the region for the callee. With e.direct_calls a direct call
        is a direct wasm call (`Emitter.call_region`); else it goes through the table."""
        e, c = self.e, self.e.code
        e.mark(pc)
        callee = pc + instr.imm if instr.spec.flow is Flow.JAL else None
        target = None                   # the callee's pc in a local, for the table
        if callee is None:
            target = self._even(self._jalr_address(instr))
        elif not e.direct_calls:
            target = e.temp()
            c.i64_const(callee).set(target)
        back = pc + instr.length
        c.i64_const(back)
        e.set_x(instr.rd)
        e.write_back()
        c.get(CALL_DEPTH_LOCAL)
        e.vm_load(layout.VM_CALL_DEPTH, w.I32_LOAD)
        if target is None:
            c.op(w.I32_GE_U)
            self._push("if", None, w.IF)
            e.exit_to(callee)
            self._pop()
            c.get(CALL_DEPTH_LOCAL).i32_const(1).op(w.I32_ADD)
            e.call_region(callee)
        else:
            self._call_indirect(target)
        self._returned(node, back)

    def _call_indirect(self, target: int) -> None:
        """The call of the region at the pc in the i64 local target, the depth test's
        operands on the stack: its table slot from the module's SLOT_LOOKUP (`slot_of`);
        none there, and it leaves the region for target."""
        e, c = self.e, self.e.code
        slot = e.temp(w.I32)
        c.op(w.I32_LT_U)
        c.block(w.IF, w.I32)
        e.slot_of(target)
        c.op(w.ELSE).i32_const(0).op(w.END).tee(slot).op(w.I32_EQZ)
        self._push("if", None, w.IF)
        c.get(target)
        e.exit_dynamic()
        self._pop()
        c.get(CALL_DEPTH_LOCAL).i32_const(1).op(w.I32_ADD)
        c.get(slot).call_indirect(REGION_TYPE)
        e.release((w.I64, target), (w.I32, slot))

    def _returned(self, node: int, back: int) -> None:
        """After the call whose result is on the stack: unless it is the return address,
        return it as it is; else reload what the callee may have changed and go on."""
        e, c = self.e, self.e.code
        result = e.temp()
        c.tee(result).i64_const(back).op(w.I64_NE).block(w.IF)
        c.get(result).op(w.RETURN, w.END)
        e.release((w.I64, result))
        e.reload(self.flow.reload.get(node, 0))
        self._refresh_steady(back)      # the callee may have changed fcsr
        self.branch(node, back)

    def _count_pruned(self, target: int) -> None:
        """Before leaving for a branch side the profile said never ran (or by an indirect
        jump, at its pc, for a target the region lacks): count it in tier 0's profile, and
        every PRUNED_PERIOD times tell the host, which has the region translated again
        with the profile as it is then (the program changed phase). The registers are
        written back first, so that none is live across the host call: with the call
        before the write-back, Cranelift kept every value the exit stores in a stack slot
        for the whole function, the loops the exit leaves included (matmul's inner loop
        loaded and stored six of them at every pass)."""
        e, c = self.e, self.e.code
        e.write_back()
        count = e.temp(w.I32)
        slot = 4 * layout.counter(target)
        c.i32_const(0).i32_const(0).mem(w.I32_LOAD, 1, layout.VM_COUNTERS + slot)
        c.i32_const(1).op(w.I32_ADD).tee(count).mem(w.I32_STORE, 1, layout.VM_COUNTERS + slot)
        c.get(count).i32_const(PRUNED_PERIOD - 1).op(w.I32_AND, w.I32_EQZ).block(w.IF)
        c.i64_const(target).call(HOST_HOT).op(w.DROP, w.END)
        e.release((w.I32, count))

    def _spend(self, block: Block, first: int) -> None:
        """Counting mode: take the instructions from block.instrs[first] to the next ecall
        (after which a syscall may stop the guest) or the block's end from VM_BUDGET; if
        it has fewer, leave them to tier 0 (VM_TIER0_ONLY), which stops exactly."""
        e, c = self.e, self.e.code
        instrs = block.instrs[first:]
        n = next((k + 1 for k, (_, instr) in enumerate(instrs)
                  if instr is not None and instr.name == "ecall"), len(instrs))
        e.vm_load(layout.VM_BUDGET)
        c.i64_const(n).op(w.I64_LT_S)
        self._push("if", None, w.IF)
        c.i32_const(0).i32_const(1).mem(w.I32_STORE, VM_MEMORY, layout.VM_TIER0_ONLY)
        e.exit_to(instrs[0][0])
        self._pop()
        c.i32_const(0)
        e.vm_load(layout.VM_BUDGET)
        c.i64_const(n).op(w.I64_SUB).mem(w.I64_STORE, VM_MEMORY, layout.VM_BUDGET)

    def _interrupt_check(self, pc: int) -> None:
        """On a back edge, or an edge to DISPATCH (pc: its target; what is dirty there in
        e.dirty): leave for Python when VM_INTERRUPT is set, so a guest looping in
        translated code can be stopped (a time limit) or interrupted (a signal). On the
        edge rather than at the loop header, where a register the loop writes before it
        reads (a temporary) would be live around the back edge for the check's write-back
        alone. (Even on the edge, the write-back keeps the temporaries live to it: a loop
        that ends soon goes without, mvvm.translator.bounded.)"""
        e = self.e
        e.vm_load(layout.VM_INTERRUPT, w.I32_LOAD)
        self._push("if", None, w.IF)
        e.exit_reason(layout.REASON_INTERRUPT, pc)
        self._pop()
