"""Where the code of a static riscv64 program is, from its ELF file alone: what `mvvm
wasm` translates ahead of time, where `mvvm run`'s tier 0 would have seen it run.

Entries: the entry point, every function symbol, and every word in the data that holds
an address of an instruction (function pointers, vtables). Jump tables: a switch that
gcc compiles to `lla t, table; ...; lw x, 4*i(t); add x, x, t; jr x` has its targets in
a table of offsets from the table's own address; a linear sweep of the code finds the
`lla` before each such `jr`, and the table's words that land in the code are its targets.
"""

from __future__ import annotations

import functools
import struct

from mvvm.elf.loader import ET_DYN, PF_R, PF_W, PF_X, ElfImage
from mvvm.elf.symbols import Symbols, code_sections
from mvvm.isa import Flow, decode
from mvvm.translator.region import is_return

PIE_BIAS = 0x100000             # where a static-pie program is put
TABLE_WINDOW = 32               # instructions an `lla` may come before its table's `jr`
TABLE_ENTRIES = 4096            # at most, per table
# Functions whose presence says the program may start processes or threads, which a
# module cannot (they get ENOSYS when called): the build warns.
UNAVAILABLE = {"fork": "a new process", "vfork": "a new process", "posix_spawn": "a new process",
               "execve": "running another program", "pthread_create": "threads"}


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

    @functools.cached_property
    def symbols(self) -> Symbols:
        return Symbols.read(self.elf.data, self.bias)

    def fetch(self, pc: int) -> int | None:
        """The translator's view of code: 32 bits at pc, or None outside the code."""
        for start, end, data in self.code:
            if start <= pc < end:
                return int.from_bytes(data[pc - start:pc - start + 4].ljust(4, b"\0"),
                                      "little")
        return None

    def read_only(self, addr: int) -> int | None:
        """The 32 bits at addr if a readable code segment the program cannot write holds
        them, else None: where the translator reads jump tables (emit_region's
        read_only)."""
        for start, data, _, flags in self.segments:
            if (flags & (PF_R | PF_W | PF_X) == PF_R | PF_X
                    and start <= addr and addr + 4 <= start + len(data)):
                return int.from_bytes(data[addr - start:addr - start + 4], "little")
        return None

    def unavailable(self) -> list[str]:
        """What the program links in that a module cannot do, one warning each."""
        defined = self.symbols.addresses
        return [f"the program links {name} ({what}), which fails with ENOSYS in a "
                "WebAssembly module" for name, what in UNAVAILABLE.items() if name in defined]

    def entries(self) -> list[int]:
        """Where regions start: the entry, every function symbol, and each 8-byte word in
        the data that holds an address of an instruction section (function pointers,
        vtables; the read-only data beside them in the segment is no code)."""
        found = {self.elf.entry + self.bias}
        found.update(self.symbols.function_starts())
        text = self.text()
        for _, data, _, flags in self.segments:
            if flags & PF_X:
                continue
            for (word,) in struct.iter_unpack("<Q", data[:len(data) // 8 * 8]):
                if any(start <= word < end for start, end in text):
                    found.add(word)
        return sorted(pc for pc in found if pc % 2 == 0 and self.fetch(pc) is not None)

    def read32(self, address: int) -> int | None:
        """The signed 32-bit word at an address of the image's file bytes, or None."""
        for start, data, _, _ in self.segments:
            if start <= address and address + 4 <= start + len(data):
                return struct.unpack_from("<i", data, address - start)[0]
        return None

    def text(self) -> list[tuple[int, int]]:
        """The instructions' address ranges: the code sections, else the code segments
        (whose read-only data then passes for code)."""
        return code_sections(self.elf.data, self.bias) or [(s, e) for s, e, _ in self.code]

    def jump_tables(self) -> dict[int, list[int]]:
        """The targets of each `jr` through a table of offsets, by the jr's pc."""
        text = self.text()
        tables: dict[int, list[int]] = {}
        for start, end in text:
            pc, near, auipc = start, None, {}       # near: (lla's address, its pc)
            while pc < end:
                raw = self.fetch(pc)
                instr = decode(raw) if raw is not None else None
                if instr is None:
                    pc += 2
                    continue
                if instr.name == "auipc":
                    auipc[instr.rd] = pc + instr.imm
                elif instr.name == "addi" and instr.rs1 in auipc and instr.rd:
                    near = (auipc.pop(instr.rs1) + instr.imm, pc)
                elif (instr.spec.flow is Flow.JALR and instr.rd == 0 and not is_return(instr)
                      and near is not None and pc - near[1] <= 4 * TABLE_WINDOW):
                    targets = self._table(near[0], text)
                    if targets:
                        tables[pc] = targets
                pc += instr.length
        return tables

    def _table(self, address: int, text: list[tuple[int, int]]) -> list[int]:
        targets = []
        for k in range(TABLE_ENTRIES):
            offset = self.read32(address + 4 * k)
            target = address + offset if offset is not None else -1
            if target % 2 or not any(s <= target < e for s, e in text):
                break
            targets.append(target)
        return list(dict.fromkeys(targets))
