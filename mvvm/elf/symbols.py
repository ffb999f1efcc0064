"""A program's symbols, from the ELF symbol table (.symtab) and the dynamic one (.dynsym):
names to addresses for an embedding's calls, and addresses to names for its backtraces;
and where its instructions are (`code_sections`), for `mvvm wasm`."""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections.abc import Iterator

SHT_SYMTAB, SHT_DYNSYM = 2, 11
STT_OBJECT, STT_FUNC = 1, 2
SHN_UNDEF = 0
SHF_EXECINSTR = 0x4
SECTION_HEADER = 64
SYMBOL = 24


class Symbols:
    """Defined functions and data objects, at their run-time addresses (load bias added)."""

    def __init__(self, addresses: dict[str, int], functions: list[tuple[int, int, str]]) -> None:
        self.addresses = addresses
        self._functions = sorted(functions)           # (start, size, name)
        self._starts = [start for start, _, _ in self._functions]

    @classmethod
    def read(cls, data: bytes, bias: int = 0) -> Symbols:
        """The symbols of an ELF file; none when it is stripped or its tables are damaged
        (they are a convenience: nothing the loader relies on)."""
        addresses: dict[str, int] = {}
        functions: list[tuple[int, int, str]] = []
        try:
            for name, kind, value, size in _symbols(data):
                addresses.setdefault(name, value + bias)
                if kind == STT_FUNC:
                    functions.append((value + bias, size, name))
        except (struct.error, IndexError, UnicodeDecodeError):
            pass
        return cls(addresses, functions)

    def function_starts(self) -> list[int]:
        return list(self._starts)

    def describe(self, addr: int) -> str:
        """`name+0xoff` for an address inside a known function, else the address."""
        i = bisect_right(self._starts, addr) - 1
        if i >= 0:
            start, size, name = self._functions[i]
            if addr < start + max(size, 1):
                return f"{name}+{addr - start:#x}" if addr != start else name
        return f"{addr:#x}"


def code_sections(data: bytes, bias: int = 0) -> list[tuple[int, int]]:
    """The [start, end) of each section of instructions (SHF_EXECINSTR), at run-time
    addresses: an executable segment also holds read-only data. None listed (no section
    headers, or damaged ones): []."""
    try:
        return [(addr + bias, addr + bias + size) for _, _, flags, addr, _, size, *_
                in _sections(data) if flags & SHF_EXECINSTR and size]
    except (struct.error, IndexError):
        return []


def _sections(data: bytes) -> list[tuple[int, ...]]:
    shoff, = struct.unpack_from("<Q", data, 40)
    shentsize, shnum = struct.unpack_from("<HH", data, 58)
    if shentsize != SECTION_HEADER:
        return []
    return [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * SECTION_HEADER)
            for i in range(shnum)]


def _symbols(data: bytes) -> Iterator[tuple[str, int, int, int]]:
    """(name, type, value, size) of each defined function or object symbol."""
    sections = _sections(data)
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind not in (SHT_SYMTAB, SHT_DYNSYM) or entsize != SYMBOL:
            continue
        strings = sections[link]
        names = data[strings[4]:strings[4] + strings[5]]
        for at in range(offset, offset + size - SYMBOL + 1, SYMBOL):
            name_at, info, _, shndx, value, sym_size = struct.unpack_from("<IBBHQQ", data, at)
            if shndx == SHN_UNDEF or info & 0xF not in (STT_FUNC, STT_OBJECT) or not name_at:
                continue
            end = names.index(b"\0", name_at)
            yield names[name_at:end].decode(), info & 0xF, value, sym_size
