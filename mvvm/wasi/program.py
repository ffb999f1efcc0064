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

import struct
import time
from dataclasses import dataclass
from pathlib import Path

from mvvm.elf.loader import ET_DYN, HWCAP, PF_X, ElfError, ElfImage, read_image
from mvvm.elf.symbols import Symbols
from mvvm.interpreter.rvc import expansion
from mvvm.runtime import layout
from mvvm.runtime.dispatcher import core_module, hash_table
from mvvm.translator.region import MAX_INSTRUCTIONS
from mvvm.translator.translate import RegionCode, emit_region, pack
from mvvm.wasi.glue import Config, glue_module
from mvvm.wasi.linker import Element, link

SHIM = Path(__file__).parent / "shim.wasm"
PAGE = 0x1000
WASM_PAGE = 0x10000
PIE_BIAS = 0x100000             # where a static-pie program is put
STACK_SIZE = layout.STACK_SIZE
BRK_SIZE = 64 << 20             # beyond it malloc falls back to mmap, as when brk fails
ZERO_RUN = 64                   # zero runs at least this long are left out of data segments
# Functions whose presence says the program may start processes or threads, which a
# module cannot (they get ENOSYS when called): the build warns.
UNAVAILABLE = {"fork": "fork", "vfork": "fork", "execve": "execve", "posix_spawn": "posix_spawn",
               "pthread_create": "threads"}
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


class Program:
    """The ELF's loadable image at its run-time addresses, read-only."""

    def __init__(self, elf: ElfImage) -> None:
        self.elf = elf
        self.bias = PIE_BIAS if elf.type == ET_DYN else 0
        self.segments = [(s.vaddr + self.bias, elf.data[s.offset:s.offset + s.filesz],
                          s.memsz, s.flags) for s in elf.segments]
        self.code = [(start, start + len(data), data) for start, data, _, flags
                     in self.segments if flags & PF_X]
        self.end = max(start + memsz for start, _, memsz, _ in self.segments)

    def fetch(self, pc: int) -> int | None:
        """The translator's view of code: 32 bits at pc, or None outside the code."""
        for start, end, data in self.code:
            if start <= pc < end:
                return int.from_bytes(data[pc - start:pc - start + 4].ljust(4, b"\0"),
                                      "little")
        return None

    def unavailable(self) -> list[str]:
        """What the program links in that a module cannot do, one warning each."""
        defined = Symbols.read(self.elf.data).addresses
        what = sorted({UNAVAILABLE[name] for name in UNAVAILABLE if name in defined})
        return [f"the program contains {w}, which a WebAssembly module cannot do (ENOSYS)"
                for w in what]

    def entries(self) -> list[int]:
        """Where regions start: the entry, every function symbol, and each 8-byte word in
        the data that holds an address in the code (function pointers, vtables)."""
        found = {self.elf.entry + self.bias}
        found.update(Symbols.read(self.elf.data, self.bias).function_starts())
        for _, data, _, flags in self.segments:
            if flags & PF_X:
                continue
            for (word,) in struct.iter_unpack("<Q", data[:len(data) // 8 * 8]):
                found.add(word)
        return sorted(pc for pc in found if pc % 2 == 0 and self.fetch(pc) is not None)


def build(path: str, *, strace: bool = False) -> Output:
    """The WASI module of the static riscv64 program at path."""
    started = time.perf_counter()
    elf = read_image(path)
    if elf.interpreter is not None:
        raise ElfError(f"'{path}' is dynamically linked: `mvvm wasm` takes static programs "
                       "(build with -static or -static-pie)")
    program = Program(elf)
    entries = program.entries()
    others = set(entries)
    codes = [emit_region(pc, program.fetch, MAX_INSTRUCTIONS, others=others)
             for pc in entries]
    wasm = assemble(program, codes, strace)
    return Output(wasm, len(codes), sum(c.region.instructions() for c in codes),
                  time.perf_counter() - started, program.unavailable())


def assemble(program: Program, codes: list[RegionCode], strace: bool) -> bytes:
    stack_bottom = _align(program.end, WASM_PAGE) + WASM_PAGE
    stack_top = stack_bottom + STACK_SIZE
    brk = stack_top + WASM_PAGE
    config = {Config.ENTRY: program.elf.entry + program.bias,
              Config.PHDR: program.elf.phdr_vaddr() + program.bias,
              Config.PHNUM: program.elf.phnum, Config.STACK_TOP: stack_top,
              Config.STACK_SIZE: STACK_SIZE, Config.BRK: brk, Config.BRK_SIZE: BRK_SIZE,
              Config.HWCAP: HWCAP, Config.STRACE: int(strace)}
    slots = {code.entry: 1 + index for index, code in enumerate(codes)}
    entries = 1 << max(10, (2 * len(slots)).bit_length())
    vm_size = layout.VM_HASH + entries * layout.HASH_ENTRY
    regions, _ = pack("regions", codes)
    glue = glue_module(config, (brk - layout.BIAS) // WASM_PAGE, _align(vm_size, WASM_PAGE)
                       // WASM_PAGE, 1 + len(codes))
    data = [(("glue", "guest"), start - layout.BIAS, payload)
            for segment in program.segments for start, payload in _nonzero_runs(*segment[:2])]
    data += [(("glue", "vm"), offset, payload)
             for offset, payload in _vm_state(program, slots, entries)]
    return link({"glue": glue, "core": core_module(tiered=True), "regions": regions,
                 "shim": SHIM.read_bytes()},
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
             (layout.VM_HASH, hash_table(slots, entries))]
    pages = bytearray(layout.EXEC_BYTES)
    values: set[int] = set()
    for start, end, data in program.code:
        for page in range(start // PAGE, _align(end, PAGE) // PAGE):
            pages[page >> 3] |= 1 << (page & 7)
        values.update(v for (v,) in struct.iter_unpack("<H", data[:len(data) & ~1])
                      if v & 3 != 3)
    counters = bytearray(4 * layout.COUNTERS)      # tier 0 looks for regions at these
    for pc in slots:
        struct.pack_into("<I", counters, 4 * ((pc >> 1) & (layout.COUNTERS - 1)),
                         layout.COUNTER_ASKED)
    rvc = bytearray(4 * 0x10000)
    for value in values:
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
