"""Region -> one wasm module with one function `() -> i64`, plus its trap map.

Each module imports the host functions, the guest memory and the VM memory;
the runtime instantiates it and installs its function in the shared table.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from mvvm.isa import Flow, Instr
from mvvm.runtime import layout
from mvvm.translator.emitter import Emitter
from mvvm.translator.region import Block, Fetch, Region, discover
from mvvm.translator.semantics import ENDS_BLOCK, SEMANTICS, Unsupported
from mvvm.translator.structure import Shape, analyse
from mvvm.wasm import encoder as w

REGION_EXPORT = "r"


def region_name(entry: int) -> str:
    """The module name of the region at entry: trap frames carry it."""
    return f"region_{entry:x}"


@dataclass(frozen=True)
class TrapMap:
    """Where each guest instruction's code starts in the module, to map a trap to a pc."""

    offsets: tuple[int, ...]         # ascending module offsets
    pcs: tuple[int, ...]

    def pc_at(self, module_offset: int) -> int:
        """The guest pc whose code contains this module offset (from a trap frame)."""
        index = bisect.bisect_right(self.offsets, module_offset) - 1
        return self.pcs[max(index, 0)]


@dataclass
class Translation:
    """A translated region: the module's bytes, the guest code it came from, its trap map."""

    entry: int
    wasm: bytes
    region: Region
    traps: TrapMap

    def code_ranges(self) -> list[tuple[int, int]]:
        """The guest bytes this translation depends on, as merged [start, end) ranges."""
        ranges: list[tuple[int, int]] = []
        for start, end in sorted((b.start, b.end) for b in self.region.blocks.values()):
            if ranges and start <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], max(end, ranges[-1][1]))
            else:
                ranges.append((start, end))
        return ranges


def translate(entry: int, fetch: Fetch) -> Translation:
    region = discover(entry, fetch, ENDS_BLOCK)
    emitter = Emitter()
    _Structurer(region, analyse(region), emitter).node(region.entry)
    code, marks = emitter.finish()
    module = w.Module(name=region_name(entry))
    module.import_func("env", "syscall", module.type((), (w.I32,)))
    module.import_func("env", "clock", module.type((), (w.I64,)))
    module.import_memory("env", "guest", 1)
    module.import_memory("env", "vm", 1)
    module.function(module.type((), (w.I64,)), emitter.locals, code, name=module.name,
                    export=REGION_EXPORT)
    wasm = module.encode()
    base = module.code_offsets[0]
    traps = TrapMap(tuple(base + off for off, _ in marks), tuple(pc for _, pc in marks))
    return Translation(entry, wasm, region, traps)


class _Structurer:
    """Emits the region in dominator-tree order with block/loop/if nesting."""

    def __init__(self, region: Region, shape: Shape, emitter: Emitter) -> None:
        self.region = region
        self.shape = shape
        self.e = emitter
        self.context: list[tuple[str, int | None]] = []

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
        merges = self.shape.merge_children(start)
        if start in self.shape.loop_headers:
            self._push("loop", start, w.LOOP)
            self._within(start, merges)
            self._pop()
        else:
            self._within(start, merges)

    def _within(self, start: int, merges: list[int]) -> None:
        if not merges:
            self._block_code(self.region.blocks[start])
            return
        self._push("block", merges[0], w.BLOCK)
        self._within(start, merges[1:])
        self._pop()
        self.node(merges[0])

    def branch(self, source: int, target: int) -> None:
        """Ramsey's doBranch: continue at a guest target from the end of block source."""
        if target not in self.shape.edges[source]:
            self.e.exit_to(target)
        elif self.shape.is_backward(source, target):
            self.e.code.br(w.BR, self._depth_of("loop", target))
        elif target in self.shape.merge_nodes:
            self.e.code.br(w.BR, self._depth_of("block", target))
        else:
            self.node(target)

    def _block_code(self, block: Block) -> None:
        e = self.e
        for pc, instr in block.instrs[:-1]:
            if not self._instruction(pc, instr):
                return
        pc, instr = block.instrs[-1]
        flow = instr.spec.flow if instr is not None else Flow.TRAP
        if flow is Flow.NEXT:
            if self._instruction(pc, instr) and block.succs:
                self.branch(block.start, block.succs[0])
        elif flow is Flow.BRANCH:
            e.mark(pc)
            SEMANTICS[instr.name](e, instr, pc)
            self._push("if", None, w.IF)
            self.branch(block.start, block.succs[0])
            e.code.op(w.ELSE)
            self.branch(block.start, block.succs[1])
            self._pop()
        elif flow is Flow.JAL:
            e.mark(pc)
            self._link(instr, pc)
            if instr.rd == 0:
                self.branch(block.start, pc + instr.imm)
            else:
                e.exit_to(pc + instr.imm)
        elif flow is Flow.JALR:
            self._jalr(instr, pc)
        else:
            self._illegal(pc, instr)

    def _instruction(self, pc: int, instr: Instr | None) -> bool:
        """Emit one non-branching instruction; False if it became a SIGILL exit."""
        semantic = SEMANTICS.get(instr.name) if instr is not None else None
        self.e.mark(pc)
        if semantic is not None:
            try:
                semantic(self.e, instr, pc)
                return True
            except Unsupported:
                pass
        self.e.exit_reason(pc, layout.REASON_ILLEGAL)
        return False

    def _illegal(self, pc: int, instr: Instr | None) -> None:
        self.e.mark(pc)
        reason = layout.REASON_EBREAK if instr is not None and instr.name == "ebreak" \
            else layout.REASON_ILLEGAL
        self.e.exit_reason(pc, reason)

    def _link(self, instr: Instr, pc: int) -> None:
        if instr.rd != 0:
            self.e.code.i64_const(pc + instr.length)
            self.e.set_x(instr.rd)

    def _jalr(self, instr: Instr, pc: int) -> None:
        e = self.e
        e.mark(pc)
        target = e.temp()
        e.x(instr.rs1)
        if instr.imm:
            e.code.i64_const(instr.imm).op(w.I64_ADD)
        e.code.i64_const(-2).op(w.I64_AND).set(target)
        self._link(instr, pc)
        e.code.get(target)
        e.exit_dynamic()
        e.release((w.I64, target))
