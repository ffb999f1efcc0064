"""The guest's address space: which 4 KiB pages are mapped, with what rights, and the break.

All of [base, limit) is physically there in the wasm memory; this bookkeeping is
what makes mmap, munmap, mprotect and brk behave as on Linux, lets syscalls
answer EFAULT for pointers into unmapped pages, and tells the translator when
code it may have translated goes away or becomes writable.
"""

from __future__ import annotations

import errno
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import NamedTuple, Protocol

from ..errors import GuestFault, SyscallError
from .sync import synchronized

PAGE = 4096
PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4
HEAP = "[heap]"


class GuestMemory(Protocol):
    """Byte access to the guest's physical memory, [base, limit)."""

    base: int
    limit: int
    watching: bool                      # whether stores to translated code are watched

    def read(self, addr: int, size: int) -> bytes: ...

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None: ...

    def fill(self, addr: int, size: int, value: int = 0) -> None: ...

    def protect(self, addr: int, size: int, prot: int) -> None: ...


class Rights(Enum):
    """What the host pages behind guest memory allow (AddressSpace.enforce_protection)."""

    EXACT = "exact"
    GRANTED = "granted"


class Mapping(NamedTuple):
    """One run of pages with the same rights and name, [start, end)."""

    start: int
    end: int
    prot: int
    name: str


def page_down(addr: int) -> int:
    return addr & ~(PAGE - 1)


def page_up(addr: int) -> int:
    return (addr + PAGE - 1) & ~(PAGE - 1)


def _start(mapping: Mapping) -> int:
    return mapping.start


class AddressSpace:
    """The guest's mappings as a sorted list of disjoint `Mapping`s, plus the program break.

    Placement without MAP_FIXED is top-down from `mmap_top` (the stack lives
    above it), like Linux's default layout.
    """

    def __init__(self, mem: GuestMemory, *, mmap_top: int) -> None:
        self._lock = threading.RLock()
        self.mem = mem
        self.mmap_top = page_down(mmap_top)
        self.code_changed: Callable[[int, int], None] | None = None
        self._maps: list[Mapping] = []
        self._hot: Mapping | None = None        # see check(); None whenever _maps changes
        self._brk_start = 0
        self._brk = 0
        self.limit: int | None = None           # bytes that may be mapped (None: no limit)
        self._rights: Rights | None = None      # see enforce_protection

    # Queries.

    @synchronized
    def save(self) -> tuple[list[Mapping], int, int]:
        """The mappings and the break, for `restore` (an embedding's snapshot)."""
        return list(self._maps), self._brk_start, self._brk

    @synchronized
    def restore(self, saved: tuple[list[Mapping], int, int]) -> None:
        maps, self._brk_start, self._brk = saved
        self._maps = list(maps)
        self._hot = None
        self._reprotect(self.mem.base, self.mem.limit)

    @contextmanager
    def held(self) -> Iterator[None]:
        """No change to the mappings meanwhile (around a fork)."""
        with self._lock:
            yield

    @synchronized
    def enforce_protection(self, rights: Rights) -> None:
        """From now on the host pages get rights (GuestMemory.protect). EXACT: the guest's,
        so that a store to code or read-only data, and any access to a PROT_NONE or
        unmapped page, faults (SIGSEGV) as on Linux, at no cost to the accesses that may
        happen. GRANTED, for an embedding, whose zero-copy views of guest memory must never
        fault in the host, whatever the guest unmaps or protects: a page is read-write once
        it is mapped, for good; only pages never mapped fault. With EXACT rights, stores to
        code are seen too (GuestMemory.watch_code)."""
        self._rights = rights
        self.mem.watching = rights is Rights.EXACT
        self.mem.protect(self.mem.base, self.mem.limit - self.mem.base, PROT_NONE)
        self._reprotect(self.mem.base, self.mem.limit)

    @synchronized
    def mappings(self) -> list[Mapping]:
        """All mappings in address order, for /proc/self/maps."""
        return list(self._maps)

    @synchronized
    def prot_at(self, addr: int) -> int:
        """The rights of the page holding addr; 0 if it is unmapped."""
        i = bisect_right(self._maps, addr, key=_start) - 1
        if i >= 0 and addr < self._maps[i].end:
            return self._maps[i].prot
        return 0

    @synchronized
    def check(self, addr: int, size: int, prot: int) -> None:
        """Raise GuestFault at the first byte of [addr, addr+size) not mapped with prot.

        The mapping that satisfied the last check is tried first: a program's syscalls
        mostly point into the same buffer, and this runs for every one of them.
        """
        end = addr + size
        hot = self._hot
        if hot is not None and hot.start <= addr and end <= hot.end and hot.prot & prot == prot:
            return
        i = bisect_right(self._maps, addr, key=_start) - 1
        while addr < end:
            if i < 0 or i >= len(self._maps):
                raise GuestFault(addr)
            m = self._maps[i]
            if not m.start <= addr < m.end or m.prot & prot != prot:
                raise GuestFault(addr)
            self._hot = m
            addr = m.end
            i += 1

    @synchronized
    def is_free(self, addr: int, length: int) -> bool:
        """Whether [addr, addr+length) lies in guest memory and no page of it is mapped."""
        end = addr + length
        if addr < self.mem.base or end > self.mem.limit:
            return False
        i, j = self._overlapping(addr, end)
        return i == j

    # Changes.

    @synchronized
    def map(self, addr: int, length: int, prot: int, *, fixed: bool = False,
            replace: bool = True, name: str = "") -> int:
        """Map zeroed pages and return where.

        With fixed, the range starts exactly at addr and replaces what was there,
        unless replace is False (MAP_FIXED_NOREPLACE), which fails with EEXIST;
        otherwise addr is only a hint.
        """
        length = _length(length)
        self._within_limit(length)
        if fixed:
            addr = self._fixed_range(addr, length, replace)
        else:
            addr = self._place(page_down(addr), length)
        self._insert(Mapping(addr, addr + length, prot, name))
        self.mem.fill(addr, length)
        return addr

    @synchronized
    def unmap(self, addr: int, length: int) -> None:
        """Unmap whatever is in the page-rounded range; unmapped parts are no error."""
        if addr % PAGE:
            raise SyscallError(errno.EINVAL)
        self._remove(addr, addr + _length(length))

    def _mapped_range(self, addr: int, length: int) -> int:
        """The end of [addr, addr + length) rounded to pages, which must be mapped
        throughout: EINVAL for an unaligned addr, ENOMEM for a hole."""
        if addr % PAGE:
            raise SyscallError(errno.EINVAL)
        end = addr + _length(length) if length else addr
        try:
            self.check(addr, end - addr, 0)
        except GuestFault:
            raise SyscallError(errno.ENOMEM) from None
        return end

    @synchronized
    def discard(self, addr: int, length: int) -> None:
        """MADV_DONTNEED over a range that must be mapped throughout (else ENOMEM): the
        anonymous pages in it read as zero again. File mappings keep their contents (Linux
        would read a private one's back from the file: not done here)."""
        end = self._mapped_range(addr, length)
        i, j = self._overlapping(addr, end)
        for m in self._maps[i:j]:
            if not m.name or m.name.startswith("["):
                start = max(m.start, addr)
                self.mem.fill(start, min(m.end, end) - start)

    @synchronized
    def protect(self, addr: int, length: int, prot: int) -> None:
        """Change the rights of a range that must be mapped throughout (else ENOMEM)."""
        end = self._mapped_range(addr, length)
        if end == addr:
            return
        i, j = self._isolate(addr, end)
        for m in self._maps[i:j]:
            if _loses_code(m.prot, prot):
                self._code_changed(m)
        self._maps[i:j] = [m._replace(prot=prot) for m in self._maps[i:j]]
        self._hot = None
        self._merge(i, j)
        self._reprotect(addr, end)

    @synchronized
    def remap(self, old: int, old_length: int, new_length: int, *, may_move: bool,
              to: int | None = None) -> int:
        """mremap: resize the mapping at old in place, or move it (may_move), or move it to
        exactly `to` (MREMAP_FIXED). The pages keep their rights, name and contents."""
        if old % PAGE or (to is not None and (to % PAGE or not may_move)):
            raise SyscallError(errno.EINVAL)
        old_length, new_length = page_up(old_length), _length(new_length)
        if not old_length:
            raise SyscallError(errno.EINVAL)             # the shared-memory copy trick
        try:
            self.check(old, old_length, 0)
        except GuestFault:
            raise SyscallError(errno.EFAULT) from None
        first = self._maps[bisect_right(self._maps, old, key=_start) - 1]
        if to is None and new_length <= old_length:
            self._remove(old + new_length, old + old_length)
            return old
        grow = new_length - old_length
        self._within_limit(grow)
        if to is None and self.is_free(old + old_length, grow):
            self._insert(Mapping(old + old_length, old + new_length, first.prot, first.name))
            self.mem.fill(old + old_length, grow)
            return old
        if not may_move:
            raise SyscallError(errno.ENOMEM)
        data = self.mem.read(old, min(old_length, new_length))
        self._remove(old, old + old_length)
        new = self.map(to or 0, new_length, first.prot, fixed=to is not None, name=first.name)
        self.mem.write(new, data)
        return new

    @synchronized
    def flush_code(self, addr: int, length: int) -> None:
        """Tell the translator that code in the range may have changed (riscv_flush_icache)."""
        if self.code_changed is not None and length > 0:
            self.code_changed(addr, length)

    # The program break.

    @synchronized
    def set_brk(self, start: int) -> None:
        """Start the heap at start (the end of the loaded image); nothing is mapped yet."""
        self._brk_start = self._brk = page_up(start)

    @synchronized
    def brk(self, new: int) -> int:
        """Move the break as Linux's brk does; an impossible request returns the old break."""
        if new < self._brk_start:
            return self._brk
        old_top, new_top = page_up(self._brk), page_up(new)
        if new_top > old_top:
            if not self.is_free(old_top, new_top - old_top):
                return self._brk
            try:
                self.map(old_top, new_top - old_top, PROT_READ | PROT_WRITE, fixed=True,
                         name=HEAP)
            except SyscallError:            # past the limit (an embedding's max_memory)
                return self._brk
        elif new_top < old_top:
            self.unmap(new_top, old_top - new_top)
        self._brk = new
        return new

    # Internals.

    def _within_limit(self, more: int) -> None:
        """ENOMEM if mapping `more` bytes could take the guest past its limit (an embedding's
        max_memory; a MAP_FIXED that replaces pages is counted as if it added them all)."""
        if self.limit is not None and \
                sum(m.end - m.start for m in self._maps) + more > self.limit:
            raise SyscallError(errno.ENOMEM)

    def _fixed_range(self, addr: int, length: int, replace: bool) -> int:
        """Validate a MAP_FIXED range and clear it for the new mapping."""
        if addr % PAGE:
            raise SyscallError(errno.EINVAL)
        if addr < self.mem.base or addr + length > self.mem.limit:
            raise SyscallError(errno.ENOMEM)
        if not replace and not self.is_free(addr, length):
            raise SyscallError(errno.EEXIST)
        self._remove(addr, addr + length)
        return addr

    def _place(self, hint: int, length: int) -> int:
        """The hint if it is free, else the highest free range below mmap_top."""
        if hint and self.is_free(hint, length):
            return hint
        end = self.mmap_top
        for m in reversed(self._maps):
            if m.start >= end:
                continue
            if m.end <= end - length:
                return end - length
            end = m.start
        if end - length >= self.mem.base:
            return end - length
        raise SyscallError(errno.ENOMEM)

    def _overlapping(self, start: int, end: int) -> tuple[int, int]:
        """Index range of the mappings that intersect [start, end)."""
        i = bisect_right(self._maps, start, key=_start) - 1
        if i < 0 or self._maps[i].end <= start:
            i += 1
        return i, bisect_left(self._maps, end, key=_start)

    def _isolate(self, start: int, end: int) -> tuple[int, int]:
        """Split mappings at start and end; return the index range now inside [start, end)."""
        i, j = self._overlapping(start, end)
        pieces: list[Mapping] = []
        for m in self._maps[i:j]:
            if m.start < start:
                pieces.append(m._replace(end=start))
            pieces.append(m._replace(start=max(m.start, start), end=min(m.end, end)))
            if m.end > end:
                pieces.append(m._replace(start=end))
        self._maps[i:j] = pieces
        self._hot = None
        return self._overlapping(start, end)

    def _remove(self, start: int, end: int) -> None:
        i, j = self._isolate(start, end)
        for m in self._maps[i:j]:
            if m.prot & PROT_EXEC:
                self._code_changed(m)
        del self._maps[i:j]
        self._hot = None
        self._reprotect(start, end)

    def _insert(self, mapping: Mapping) -> None:
        i = bisect_left(self._maps, mapping.start, key=_start)
        self._maps.insert(i, mapping)
        self._hot = None
        self._merge(i, i + 1)
        self._reprotect(mapping.start, mapping.end)

    def _reprotect(self, start: int, end: int) -> None:
        """Enforcing, give the host pages of [start, end) the rights of the mappings there:
        none in the gaps (see enforce_protection)."""
        if self._rights is None:
            return
        i, j = self._overlapping(start, end)
        if self._rights is Rights.GRANTED:
            for m in self._maps[i:j]:
                first, stop = max(m.start, start), min(m.end, end)
                self.mem.protect(first, stop - first, PROT_READ | PROT_WRITE)
            return
        for m in self._maps[i:j]:
            if start < m.start:
                self.mem.protect(start, m.start - start, PROT_NONE)
            piece = min(m.end, end)
            self.mem.protect(max(m.start, start), piece - max(m.start, start), m.prot)
            start = piece
        if start < end:
            self.mem.protect(start, end - start, PROT_NONE)

    def _merge(self, i: int, j: int) -> None:
        """Join mappings in [i-1, j] with their equal neighbours, to keep the list short."""
        lo, hi = max(i - 1, 0), min(j + 1, len(self._maps))
        merged: list[Mapping] = []
        for m in self._maps[lo:hi]:
            last = merged[-1] if merged else None
            if last and last.end == m.start and (last.prot, last.name) == (m.prot, m.name):
                merged[-1] = last._replace(end=m.end)
            else:
                merged.append(m)
        self._maps[lo:hi] = merged
        self._hot = None

    def _code_changed(self, mapping: Mapping) -> None:
        self.flush_code(mapping.start, mapping.end - mapping.start)


def _length(length: int) -> int:
    """A syscall length rounded to pages; zero and absurd lengths are EINVAL/ENOMEM."""
    if length == 0:
        raise SyscallError(errno.EINVAL)
    if length > 1 << 48:
        raise SyscallError(errno.ENOMEM)
    return page_up(length)


def _loses_code(old: int, new: int) -> bool:
    """Whether translations of pages going from rights old to new may be stale."""
    if not old & PROT_EXEC:
        return False
    return not new & PROT_EXEC or bool(new & PROT_WRITE and not old & PROT_WRITE)
