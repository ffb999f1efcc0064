"""What a region module is: its imports and its functions' type, the region bodies tier 1
compiles (RegionBody), how they are packed into one module (`pack`), the names of its
exports and of itself, and the map from its code offsets back to guest pcs.

Apart from the translator proper, so that the runtime, the code cache and tier 1's
compiling thread, which gets its regions from the translator's process, work without
importing the translator: a run that translates in that process, or nothing, never
loads it (40 ms, with the GIL held, where a warm run's threads wait for it).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from mvvm.runtime import layout
from mvvm.wasm import encoder as w

GUEST_MEMORY = 0
VM_MEMORY = 1

REGION_TYPE = 0         # type index of `(call depth: i32) -> i64`, every region's signature
CALL_DEPTH_LOCAL = 0    # the parameter: how many guest calls deep this wasm call is

# Host functions every region module imports, in this order.
HOST_SYSCALL = 0        # () -> i32: run the syscall in the VM state; non-zero = stop
HOST_CLOCK = 1          # () -> i64: the counter CSRs' value
HOST_FP = 2             # (i32 op, i64 a, i64 b, i64 c) -> i64: the FP slow path (fp_host)
HOST_LOOKUP = 3         # (pc: i64) -> i32: the table slot of the region at pc (0: none)
HOST_HOT = 4            # (pc: i64) -> i32: tier 0's profile says pc is hot (tiers.py)

# A `calls` entry's callee that is no region: the module's function `(pc: i64) -> i32`
# that finds the table slot of the region at pc (`push_slot`, made once per module).
SLOT_LOOKUP = -1


def region_name(entry: int) -> str:
    """The module name of the region at entry: trap frames carry it."""
    return f"region_{entry:x}"


class TrapMap(NamedTuple):
    """Where each guest instruction's code starts in the module, to map a trap to a pc."""

    offsets: Sequence[int]           # ascending module offsets
    pcs: Sequence[int]

    def pc_at(self, module_offset: int) -> int:
        """The guest pc whose code contains this module offset (from a trap frame)."""
        index = bisect.bisect_right(self.offsets, module_offset) - 1
        return self.pcs[max(index, 0)]


def export_name(index: int) -> str:
    """The export of a module's index-th region function."""
    return f"r{index}"


class RegionFunction(Protocol):
    """What `pack` reads of a region: RegionBody, or the translator's RegionCode."""

    entry: int
    locals: list[int]
    code: w.Code
    marks: list[tuple[int, int]]
    calls: list[tuple[int, int]]


class RegionBody(NamedTuple):
    """A region as its module (`pack`) and the runtime need it: its function, the guest
    bytes it depends on (RegionCode.code_ranges), the branch sides it leaves for
    (Region.pruned) and its size. Plain data, which tier 1's translator process sends
    back (mvvm.runtime.translator_process); a NamedTuple, since dataclasses costs a warm
    run's start 13 ms to import."""

    entry: int
    locals: list[int]
    code: w.Code
    marks: list[tuple[int, int]]
    calls: list[tuple[int, int]]
    ranges: list[tuple[int, int]]
    pruned: set[int]
    instructions: int


def pack(name: str, regions: Sequence[RegionFunction],
         memory64: bool = True) -> tuple[bytes, TrapMap]:
    """One module holding the regions' functions, exported as export_name(index), and the
    trap map of all of them (frames carry the module's name); memory64 as the regions
    were emitted. A region's direct call (emit_region's direct_calls) of another in the
    module calls its function; one of a region elsewhere calls a stub (`_call_stub`)
    that goes through the table. So such a module's regions stand or fall together.
    A call of SLOT_LOOKUP calls the module's one copy of it."""
    module = w.Module(name=name)
    assert module.type((w.I32,), (w.I64,)) == REGION_TYPE
    module.import_func("env", "syscall", module.type((), (w.I32,)))
    module.import_func("env", "clock", module.type((), (w.I64,)))
    module.import_func("env", "fp", module.type((w.I32, w.I64, w.I64, w.I64), (w.I64,)))
    module.import_func("env", "lookup", module.type((w.I64,), (w.I32,)))
    module.import_func("env", "hot", module.type((w.I64,), (w.I32,)))
    module.import_memory("env", "guest", *(layout.GUEST_IMPORT if memory64 else (1,)),
                    memory64=memory64)
    module.import_memory("env", "vm", 1)
    module.import_table("env", "regions", 1)
    functions = {region.entry: module.function(REGION_TYPE, region.locals, region.code,
                                               name=region_name(region.entry),
                                               export=export_name(index))
                 for index, region in enumerate(regions)}     # the last of an entry's
    callees = {pc for region in regions for _, pc in region.calls} - functions.keys()
    if SLOT_LOOKUP in callees:
        functions[SLOT_LOOKUP] = module.function(module.type((w.I64,), (w.I32,)),
                                                 [w.I32, w.I32], _slot_lookup())
    for pc in sorted(callees - {SLOT_LOOKUP}):
        functions[pc] = module.function(REGION_TYPE, [w.I64, w.I32, w.I32], _call_stub(pc))
    for region in regions:          # the module holds the bodies themselves: fill them in
        for offset, pc in region.calls:
            region.code.fill_call(offset, functions[pc])
    wasm = module.encode()
    offsets: list[int] = []
    pcs: list[int] = []
    for base, region in zip(module.code_offsets[:len(regions)], regions, strict=True):
        offsets.extend(base + offset for offset, _ in region.marks)
        pcs.extend(pc for _, pc in region.marks)
    return wasm, TrapMap(tuple(offsets), tuple(pcs))


def _call_stub(callee: int) -> w.Code:
    """The function a region calls for the region at callee when another module holds
    it: a tail call through the table slot `push_slot` finds, or without one, callee
    returned, which each caller returns as it is, down to the dispatcher."""
    c, target, site, slot = w.Code(), 1, 2, 3
    c.i64_const(callee).set(target)
    push_slot(c, target, site, slot)
    c.tee(slot).op(w.I32_EQZ).block(w.IF).i64_const(callee).op(w.RETURN, w.END)
    c.get(CALL_DEPTH_LOCAL).get(slot).call_indirect(REGION_TYPE, tail=True)
    return c


def _slot_lookup() -> w.Code:
    """SLOT_LOOKUP's body: `push_slot` for its parameter. A call site of another region
    calls it instead of holding the lookup itself (30 wasm operators and four blocks
    at each of the 50 calls of a C++ program's typical region)."""
    c, pc, site, slot = w.Code(), 0, 1, 2
    push_slot(c, pc, site, slot)
    return c


def push_slot(c: w.Code, pc: int, site: int, slot: int) -> None:
    """Push the table slot of the region at the guest pc in the i64 local pc (0: none): from
    the direct-mapped pc -> slot cache in the VM memory (VM_SITES, which call sites share:
    each entry is a pc and its slot), else from the dispatcher's lookup, whose answer fills
    the entry. A miss is not cached: tier 1 may compile the code there later. site and slot
    are scratch i32 locals."""
    c.get(pc).op(w.I32_WRAP_I64).i32_const(1).op(w.I32_SHR_U)
    c.i32_const(layout.SITES - 1).op(w.I32_AND).i32_const(layout.SITE_ENTRY).op(w.I32_MUL)
    c.tee(site).mem(w.I64_LOAD, VM_MEMORY, layout.VM_SITES).get(pc).op(w.I64_EQ)
    c.block(w.IF, w.I32).get(site).mem(w.I32_LOAD, VM_MEMORY, layout.VM_SITES + 8)
    c.op(w.ELSE).get(pc).call(HOST_LOOKUP).tee(slot).block(w.IF)
    c.get(site).get(pc).mem(w.I64_STORE, VM_MEMORY, layout.VM_SITES)
    c.get(site).get(slot).mem(w.I32_STORE, VM_MEMORY, layout.VM_SITES + 8)
    c.op(w.END).get(slot).op(w.END)
