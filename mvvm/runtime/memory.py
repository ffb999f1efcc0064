"""Guest memory as the Linux layer and the loader see it: byte access by guest address.

Only the range backed by the wasm memory is checked here; whether a page is
mapped is the address space's business (mvvm.runtime.address_space), which may also give the
host pages the guest's rights (`protect`): translated code then runs on them
unchanged, and an access they forbid faults in hardware and traps (SIGSEGV).
Accesses from here are the host's own (the loader, a syscall that has checked
the guest's rights, a debugger): a page they need is opened for the moment,
so that no access from Python can fault. Rights change only between such
accesses (another guest thread's munmap waits for a read() into the range to
finish), and a fork happens between them too (`quiet`).

Code that rewrites itself without fence.i: a writable page that translated code was made
from is watched (`watch_code`): read-only in the host, so that the guest's first store to
it faults; `written` then gives the page its rights back and says the code changed, and
the store runs again. The host's own writes there say so too.
"""

from __future__ import annotations

import ctypes
import os
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mvvm.errors import GuestFault
from mvvm.runtime import layout, memories

PAGE = memories.HOST_PAGE
NONE, READ, WRITE = 0, 1, 3             # host rights of a page: none, read, read and write
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
HOST_PROT = {NONE: memories.PROT_NONE, READ: memories.PROT_READ,
             WRITE: memories.PROT_READ | memories.PROT_WRITE}


class PageRights:
    """The host rights of each guest page, kept as runs of equal rights: a 256 GiB space
    has 64 M pages, and a program maps a few hundred ranges of them. `set` replaces the
    runs whole, so a reader without the writer's lock sees the old ones or the new."""

    def __init__(self, pages: int, rights: int) -> None:
        self.pages = pages
        # the first page of each run (ascending), and the rights of each run
        self._runs: tuple[list[int], list[int]] = ([0], [rights])

    def set(self, first: int, end: int, rights: int) -> None:
        starts, values = self._runs
        tail = [(end, values[bisect_right(starts, end) - 1])] if end < self.pages else []
        i, j = bisect_left(starts, first), bisect_right(starts, end)
        runs = list(zip(starts[:i], values[:i], strict=True)) + [(first, rights)] + tail
        runs += zip(starts[j:], values[j:], strict=True)
        new_starts: list[int] = []
        new_values: list[int] = []
        for start, value in runs:
            if not new_values or new_values[-1] != value:
                new_starts.append(start)
                new_values.append(value)
        self._runs = (new_starts, new_values)

    def _overlapping(self, first: int, end: int) -> list[int]:
        starts, values = self._runs
        return values[bisect_right(starts, first) - 1:bisect_left(starts, end)]

    def lowest(self, first: int, end: int) -> int:
        """The least rights a page of first..end has (NONE < READ < WRITE)."""
        return min(self._overlapping(first, end))

    def highest(self, first: int, end: int) -> int:
        return max(self._overlapping(first, end))

    def runs(self, first: int, end: int) -> Iterator[tuple[int, int, int]]:
        """(first page, end page, rights) of each run that first..end overlaps."""
        starts, values = self._runs
        i = bisect_right(starts, first) - 1
        while i < len(starts) and starts[i] < end:
            stop = starts[i + 1] if i + 1 < len(starts) else self.pages
            yield max(starts[i], first), min(stop, end), values[i]
            i += 1


class GuestMemory:
    base = layout.GUEST_BASE
    limit = layout.GUEST_LIMIT

    def __init__(self, host_address: int) -> None:
        self._origin = host_address             # host address of guest address 0
        memories.protect(host_address, self.base, HOST_PROT[NONE])    # the null pages
        # the host rights of each page from base: as the region makes them, all WRITE
        pages = (self.limit - self.base) // PAGE
        self._rights = PageRights(pages, WRITE)
        self._granted = PageRights(pages, WRITE)   # as `protect` asked: unless watched, the same
        self._watched: set[int] = set()         # pages watched for code changes (host READ)
        self._guard = threading.Condition()     # over all of those, _accesses and host rights
        self._accesses = 0                      # host accesses under way on the fast path
        self._protected = False                 # protect was ever called
        self.watching = False                   # whether watch_code watches (exact rights)
        self.code_written: Callable[[], None] | None = None     # told when watched code is

    def _at(self, addr: int, size: int) -> int:
        """The host address of [addr, addr + size). An empty range has no address to check,
        as in Linux, where read(fd, NULL, 0) and an iovec {NULL, 0} are fine."""
        if size < 0 or size and (addr < self.base or addr + size > self.limit):
            raise GuestFault(addr)
        return self._origin + addr

    def _pages(self, addr: int, size: int) -> tuple[int, int]:
        return (addr - self.base) // PAGE, (addr + size - 1 - self.base) // PAGE + 1

    def protect(self, addr: int, size: int, prot: int) -> None:
        """Give the host pages of [addr, addr + size) (whole pages) what guest code may do
        there under prot: write (with PROT_WRITE), read (PROT_READ or PROT_EXEC: tier 0
        reads code as data), or nothing (PROT_NONE, or not mapped)."""
        rights = WRITE if prot & PROT_WRITE else READ if prot & (PROT_READ | PROT_EXEC) else NONE
        first, end = self._pages(addr, size)
        with self._guard:
            self._protected = True
            self._guard.wait_for(lambda: not self._accesses)
            self._granted.set(first, end, rights)
            self._rights.set(first, end, rights)
            memories.protect(self._at(addr, size), size, HOST_PROT[rights])
            for page in [p for p in self._watched if first <= p < end]:
                if rights == WRITE:
                    self._set_host(page, READ)
                else:
                    self._watched.discard(page)

    def watch_code(self, addr: int, size: int) -> bool:
        """Watch the writable pages of [addr, addr + size), which code is about to be
        translated from, for stores (see the module's docstring); whether one was not
        watched yet. Only with `watching` on: an embedding's views must never fault."""
        first, end = self._pages(addr, size)
        if not self.watching or self._granted.highest(first, end) < WRITE:
            return False        # the common case, code pages not writable: no guard taken
        with self._guard:
            new = [page for page in range(first, end)
                   if page not in self._watched and self._granted.lowest(page, page + 1) == WRITE]
            if new:
                self._guard.wait_for(lambda: not self._accesses)
            for page in new:
                self._watched.add(page)
                self._set_host(page, READ)
        return bool(new)

    def written(self, addr: int, size: int) -> bool:
        """A guest store to [addr, addr + size) faulted: whether it was for a watched page,
        which then has its rights again (and code_written has been told)."""
        first, end = self._pages(addr, size)
        with self._guard:
            touched = self._unwatch(first, end)
        if touched and self.code_written is not None:
            self.code_written()
        return touched

    def _unwatch(self, first: int, end: int) -> bool:
        """Give the watched pages among first..end their rights back; whether there were any.
        The caller holds the guard."""
        pages = [page for page in range(first, end) if page in self._watched]
        for page in pages:
            self._watched.discard(page)
            self._set_host(page, WRITE)
        return bool(pages)

    def _set_host(self, page: int, rights: int) -> None:
        self._rights.set(page, page + 1, rights)
        memories.protect(self._origin + self.base + page * PAGE, PAGE, HOST_PROT[rights])

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """No host access under way, nor begun, meanwhile (around a fork: the child would
        inherit the guard held by a thread it does not have)."""
        with self._guard:
            self._guard.wait_for(lambda: not self._accesses)
            yield

    @contextmanager
    def _open(self, addr: int, size: int, writing: bool) -> Iterator[int]:
        """The host address of the range, its pages readable (and writable) meanwhile: most
        are already (the fast path, which only counts itself, so that rights wait), and the
        others are opened and closed again around the access, under the guard."""
        host = self._at(addr, size)
        if not self._protected:
            yield host
            return
        first, end = self._pages(addr, size) if size else (0, 0)
        with self._guard:
            # The host writes code translated code was made from: that code goes too.
            rewrites = writing and bool(self._watched) and self._unwatch(first, end)
            fast = size == 0 or self._rights.lowest(first, end) >= (WRITE if writing else READ)
            if fast:
                self._accesses += 1
            else:
                start = self.base + first * PAGE
                memories.protect(self._origin + start, (end - first) * PAGE, HOST_PROT[WRITE])
                try:
                    yield host
                finally:
                    self._restore(first, end)
        try:
            if fast:
                yield host
        finally:
            if fast:
                with self._guard:
                    self._accesses -= 1
                    if not self._accesses:
                        self._guard.notify_all()
            if rewrites and self.code_written is not None:
                self.code_written()

    def _restore(self, first: int, end: int) -> None:
        """Set the host pages first..end back to their rights, a run of equal ones at a time."""
        for page, stop, rights in self._rights.runs(first, end):
            start = self.base + page * PAGE
            memories.protect(self._origin + start, (stop - page) * PAGE, HOST_PROT[rights])

    def host_address(self, addr: int) -> int:
        """Where guest address addr is in the host process (for zero-copy views, which only
        an embedding makes: its pages keep their host rights, see mvvm.runtime.address_space)."""
        return self._at(addr, 1)

    def read(self, addr: int, size: int) -> bytes:
        with self._open(addr, size, False) as host:
            return ctypes.string_at(host, size)

    def copy(self, addr: int, size: int) -> bytearray:
        """A copy of [addr, addr + size), made faster than `read` makes one for megabytes
        (no bytes object to build: a memmove into a fresh buffer)."""
        out = bytearray(size)
        if size:
            with self._open(addr, size, False) as host:
                ctypes.memmove((ctypes.c_char * size).from_buffer(out), host, size)
        return out

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        size = len(data)
        if isinstance(data, bytearray) and size:
            source: object = (ctypes.c_char * size).from_buffer(data)  # no copy of megabytes
        else:
            source = bytes(data)
        with self._open(addr, size, True) as host:
            ctypes.memmove(host, source, size)

    def read_file(self, addr: int, size: int, fd: int, offset: int) -> int:
        """Read up to size bytes of the file at offset to addr, with no copy between the
        kernel and guest memory; returns how many there were (fewer at the file's end)."""
        done = 0
        with self._open(addr, size, True) as host:
            view = memoryview((ctypes.c_char * size).from_address(host)).cast("B")
            while done < size:
                count = os.preadv(fd, [view[done:]], offset + done)
                if not count:
                    break
                done += count
        return done

    def fill(self, addr: int, size: int, value: int = 0) -> None:
        with self._open(addr, size, True) as host:
            if value == 0:
                memories.zero(host, size)
            else:
                ctypes.memset(host, value, size)

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def read_cstring(self, addr: int, limit: int = 1 << 16) -> bytes:
        """A NUL-terminated string, read a page at a time up to the end of the backed range
        (whether the guest may read it is the caller's business)."""
        out = b""
        while len(out) < limit:
            size = min(PAGE - addr % PAGE, limit - len(out), self.limit - addr)
            if addr < self.base or size <= 0:
                break
            chunk = self.read(addr, size)
            end = chunk.find(b"\0")
            if end >= 0:
                return out + chunk[:end]
            out += chunk
            addr += size
        raise GuestFault(addr)
