"""`mvvm wasm`: a static riscv64 Linux program as one WASI module.

The module holds what `mvvm run` assembles at run time, made ahead of time:
- every function the ELF names (and the entry, and code addresses found in its data),
  translated into regions by the same translator as tier 1, in one table;
- the dispatcher and the tier-0 interpreter (mvvm.runtime.dispatcher), which run
  whatever the regions do not hold: any aligned instruction in an executable segment is
  reachable, as under `mvvm run`, and a jump anywhere else is SIGSEGV;
- the program's segments as data segments of the guest memory, and the VM state's
  initial values (the region hash table, executable pages, compressed expansions);
- the shim (mvvm/wasi/shim, C): the Linux syscalls on WASI preview1, the FP slow path,
  and the start-up that builds the Linux initial stack from WASI's arguments.

The guest's address space, in the one guest memory: the program, a guard gap, the stack
(8 MiB), the brk area, then anonymous mmaps; the memory grows as they need it.
"""

from __future__ import annotations

import gc
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mvvm.elf.loader import HWCAP, ElfError, read_image
from mvvm.interpreter.rvc import expansion
from mvvm.isa import Flow
from mvvm.runtime import layout
from mvvm.runtime.dispatcher import core_module, hash_table
from mvvm.runtime.translations import Coverage
from mvvm.translator.modules import pack
from mvvm.translator.region import (
    Profile,
    budget,
    cycles,
    is_call,
)
from mvvm.translator.structure import DISPATCH
from mvvm.translator.translate import RegionCode, emit_region
from mvvm.wasi.discover import Program
from mvvm.wasi.glue import Config, glue_module
from mvvm.wasi.linker import Element, link

SHIM = Path(__file__).parent / "shim.wasm"
PAGE = 0x1000
STACK_SIZE = layout.STACK_SIZE
BRK_SIZE = 64 << 20             # beyond it malloc falls back to mmap, as when brk fails
ZERO_RUN = 64                   # zero runs at least this long are left out of data segments
# Translated code computes mulh with the wide-arithmetic proposal's multiplies (0xFC 21 and
# 22); the output calls the glue's instead, since browsers do not have them.
LOWERED = {(0xFC, 21): ("glue", "mul_wide_s"), (0xFC, 22): ("glue", "mul_wide_u")}


@dataclass
class Output:
    """A built module and what it took."""

    wasm: bytes
    regions: int
    instructions: int           # guest instructions translated into regions
    seconds: float
    warnings: list[str]         # what the program may do that the module cannot


def build(path: str, *, strace: bool = False) -> Output:
    """The WASI module of the static riscv64 program at path."""
    started = time.perf_counter()
    elf = read_image(path)
    if elf.interpreter is not None:
        raise ElfError(f"'{path}' is dynamically linked: `mvvm wasm` takes static programs "
                       "(build with -static or -static-pie)")
    program = Program(elf)
    with _no_cycle_collection():
        codes = translate(program)
        wasm = assemble(program, codes, strace)
    return Output(wasm, len(codes), sum(c.region.instructions() for c in codes),
                  time.perf_counter() - started, program.unavailable())


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The garbage collector paused: translating makes no cycles worth collecting (the
    same peak memory without it), and its passes over the regions made so far, more of
    them each time, took a tenth of the build's time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def translate(program: Program) -> list[RegionCode]:
    """A region at each entry (`Program.entries`), holding its jump tables' targets
    (`Program.jump_tables`); one at each pc a region leaves for by a direct jump or
    branch (past its size limit, or the far side of an edge the structurer could not
    keep: a second way into a loop), which is what the dispatcher can be asked for; and
    one after each call of a recursion (a deep one returns through the dispatcher, wasm
    calls nesting only so deep). A region stops where another starts, and is small where
    another already holds the code, as in the JIT, so that code is not copied over and
    over. Tier 0 runs the rest and leaves for compiled code at the next call, return or
    backward jump to a region start, as in `mvvm run`. Loop nests stay in their regions
    (`nests_apart`): one entered by a forward jump from tier 0 would run there until a
    backward jump to a start, which a rotated loop's need not be (compute.c's sieve ran
    in tier 0, 960 million instructions); `mvvm run`'s tier 0 finds such a loop hot."""
    tables = program.jump_tables()
    # Every branch side may run; an indirect jump goes where its table says.
    profile = Profile(ran=lambda pc: True, jumps=lambda pc: tables.get(pc, ()))
    regions = _Regions(program, profile, program.entries())
    regions.add(_recursive_returns(regions.codes))
    return regions.codes


class _Regions:
    """Regions translated from a set of start pcs, and from the pcs they leave for."""

    def __init__(self, program: Program, profile: Profile, entries: list[int]) -> None:
        self.program, self.profile = program, profile
        self.starts: set[int] = set()
        self.covered = Coverage()
        self.codes: list[RegionCode] = []
        self.add(entries)

    def add(self, pcs: list[int]) -> None:
        work = [pc for pc in reversed(pcs) if pc not in self.starts]
        self.starts.update(work)
        while work:
            pc = work.pop()
            code = emit_region(pc, self.program.fetch, budget(pc in self.covered),
                               others=self.starts - {pc},
                               profile=self.profile, memory64=False, nests_apart=False,
                               direct_calls=True, read_only=self.program.read_only)
            self.codes.append(code)
            for start, end in code.code_ranges():
                self.covered.add(start, end)
            for target in sorted(_exits(code) - self.starts):
                if self.program.fetch(target) is not None:
                    self.starts.add(target)
                    work.append(target)


def _recursive_returns(codes: list[RegionCode]) -> list[int]:
    """The return addresses of the direct calls between functions of one recursion (a
    cycle of the call graph)."""
    calls = {code.entry: [(pc + instr.length, pc + instr.imm)
                          for block in code.region.blocks.values()
                          for pc, instr in block.instrs
                          if instr is not None and is_call(instr) and instr.spec.flow is Flow.JAL]
             for code in codes}
    cycle = cycles({f: [callee for _, callee in sites] for f, sites in calls.items()})
    return sorted(back for f, sites in calls.items() for back, callee in sites
                  if f in cycle and cycle.get(callee) == cycle[f])


def _exits(code: RegionCode) -> set[int]:
    """Where the region's direct jumps and branches leave it for, and the targets of its
    edges that go by DISPATCH (mvvm.translator.structure; an edge to a copy stays in the
    region, as one to its block would): other regions reach those too,
    and a pc no region starts at runs in the module's tier-0 interpreter (2.8x slower on
    lexer's state machine when they were left out)."""
    shape = code.shape
    return {succ for start, block in code.region.blocks.items() for succ in block.succs
            if not shape.keeps(start, succ) or shape.target(start, succ) == DISPATCH}


def assemble(program: Program, codes: list[RegionCode], strace: bool) -> bytes:
    """The module of a program and its regions: the pieces linked, the table filled
    (slot 0 is none, as `lookup` answers a miss), the memories' initial contents given."""
    stack_bottom = _align(program.end, layout.WASM_PAGE) + layout.WASM_PAGE
    stack_top = stack_bottom + STACK_SIZE
    brk = stack_top + layout.WASM_PAGE
    config = {Config.ENTRY: program.elf.entry + program.bias,
              Config.PHDR: program.elf.phdr_vaddr() + program.bias,
              Config.PHNUM: program.elf.phnum, Config.STACK_TOP: stack_top,
              Config.STACK_SIZE: STACK_SIZE, Config.BRK: brk, Config.BRK_SIZE: BRK_SIZE,
              Config.HWCAP: HWCAP, Config.STRACE: int(strace),
              Config.CODE_START: min(start for start, _, _ in program.code),
              Config.CODE_END: max(end for _, end, _ in program.code)}
    slots = {code.entry: 1 + index for index, code in enumerate(codes)}
    entries = 1 << max(10, (2 * len(slots)).bit_length())
    vm_size = layout.VM_HASH + entries * layout.HASH_ENTRY
    regions, _ = pack("regions", codes, memory64=False)
    glue = glue_module(config, (brk - layout.BIAS) // layout.WASM_PAGE,
                       _align(vm_size, layout.WASM_PAGE) // layout.WASM_PAGE, 1 + len(codes))
    data = [(("glue", "guest"), start - layout.BIAS, payload)
            for segment in program.segments for start, payload in _nonzero_runs(*segment[:2])]
    data += [(("glue", "vm"), offset, payload)
             for offset, payload in _vm_state(program, slots, entries)]
    return link({"glue": glue, "core": core_module(tiered=True, memory64=False),
                 "regions": regions, "shim": SHIM.read_bytes()},
                exports={"memory": ("shim", "memory"), "_start": ("shim", "_start"),
                         "exit_status": ("shim", "exit_status"),
                         "guest": ("glue", "guest"), "vm": ("glue", "vm")},
                elements=[Element(("glue", "regions"), 1, [
                    ("regions", f"r{index}") for index in range(len(codes))])],
                data=data, lowered=LOWERED, name="mvvm")


def _vm_state(program: Program, slots: dict[int, int], entries: int
              ) -> list[tuple[int, bytes]]:
    """The VM memory's initial contents, as (offset, bytes): what mvvm.runtime.vm.VM sets
    up for a thread, for a program that never compiles anything more."""
    fixed = [(layout.VM_RESERVATION, struct.pack("<q", -1)),
             (layout.VM_HASH_MASK, struct.pack("<I", entries - 1)),
             (layout.VM_BUDGET, struct.pack("<q", layout.UNLIMITED)),
             (layout.VM_CALL_DEPTH, struct.pack("<I", layout.CALL_DEPTH_LIMIT)),
             (layout.VM_HASH, hash_table(slots, entries))]
    pages = bytearray(max(end for _, end, _ in program.code) // PAGE // 8 + 1)
    for start, end, _ in program.code:
        for page in range(start // PAGE, _align(end, PAGE) // PAGE):
            pages[page >> 3] |= 1 << (page & 7)
    counters = bytearray(4 * layout.COUNTERS)      # tier 0 looks for regions at these
    for pc in slots:
        struct.pack_into("<I", counters, 4 * layout.counter(pc), layout.COUNTER_ASKED)
    rvc = bytearray(4 * 0x10000)         # every value's: code written at run time too
    for value in range(0x10000):
        if value & 3 != 3:
            struct.pack_into("<I", rvc, 4 * value, expansion(value))
    runs = [(layout.VM_EXEC + at, run) for at, run in _nonzero_runs(0, bytes(pages))]
    runs += [(layout.VM_RVC + at, run) for at, run in _nonzero_runs(0, bytes(rvc))]
    runs += [(layout.VM_COUNTERS + at, run) for at, run in _nonzero_runs(0, bytes(counters))]
    return fixed + runs


def _nonzero_runs(start: int, data: bytes) -> list[tuple[int, bytes]]:
    """data at start, as the pieces that are not long runs of zeros (which the memory
    already holds)."""
    runs: list[tuple[int, bytes]] = []
    at, zeros = 0, b"\0" * ZERO_RUN
    while at < len(data):
        while at < len(data) and data[at] == 0:
            at += 1
        end = data.find(zeros, at)
        end = len(data) if end < 0 else end
        if end > at:
            runs.append((start + at, data[at:end].rstrip(b"\0")))
        at = end
    return runs


def _align(value: int, to: int) -> int:
    return -(-value // to) * to
