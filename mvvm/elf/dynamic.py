"""The shared libraries a dynamically linked program names (DT_NEEDED), and their own: what
a confined guest's tree must hold for the dynamic loader to start it."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

from mvvm.elf.loader import ElfError, ElfImage

PT_DYNAMIC = 2
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


def needed(data: bytes) -> list[str]:
    """The DT_NEEDED names of an ELF file, in order; none for a static one."""
    image = ElfImage.parse(data)
    entries = list(_dynamic(data, image))
    strtab = next((value for tag, value in entries if tag == DT_STRTAB), None)
    if strtab is None:
        return []
    strings = _file_offset(image, strtab)
    names = []
    for tag, value in entries:
        if tag == DT_NEEDED:
            end = data.index(b"\0", strings + value)
            names.append(data[strings + value:end].decode())
    return names


def closure(data: bytes, directories: Iterable[Path]) -> dict[str, Path]:
    """Every library the program needs, directly or through another, by name -> the file
    in the first of directories that has it (names found nowhere are left out: the loader
    will say so)."""
    found: dict[str, Path] = {}
    pending = needed(data)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path = next((d / name for d in directories if (d / name).is_file()), None)
        if path is not None:
            found[name] = path
            pending += needed(path.read_bytes())
    return found


def _dynamic(data: bytes, image: ElfImage) -> Iterable[tuple[int, int]]:
    """(tag, value) of the PT_DYNAMIC segment's entries, up to DT_NULL."""
    for i in range(image.phnum):
        p_type, _, offset, _, _, filesz, _ = struct.unpack_from("<IIQQQQQ", data,
                                                                image.phoff + i * 56)
        if p_type != PT_DYNAMIC:
            continue
        for at in range(offset, offset + filesz - 15, 16):
            tag, value = struct.unpack_from("<qQ", data, at)
            if tag == DT_NULL:
                return
            yield tag, value


def _file_offset(image: ElfImage, vaddr: int) -> int:
    """Where in the file the loaded byte at (unbiased) vaddr comes from."""
    for s in image.segments:
        if s.vaddr <= vaddr < s.vaddr + s.filesz:
            return s.offset + vaddr - s.vaddr
    raise ElfError("a dynamic section's string table is not in the file")
