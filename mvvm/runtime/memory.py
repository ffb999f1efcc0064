"""Guest memory as the Linux layer and the loader see it: byte access by guest address.

Only the range backed by the wasm memory is checked here; whether a page is
mapped is the address space's business (mvvm.linux.mm).
"""

from __future__ import annotations

import ctypes

from mvvm.errors import GuestFault
from mvvm.runtime import layout, memories


class GuestMemory:
    base = layout.GUEST_BASE
    limit = layout.GUEST_LIMIT

    def __init__(self, host_address: int) -> None:
        self._origin = host_address - layout.BIAS     # host address of guest address 0

    def _at(self, addr: int, size: int) -> int:
        """The host address of [addr, addr + size). An empty range has no address to check,
        as in Linux, where read(fd, NULL, 0) and an iovec {NULL, 0} are fine."""
        if size < 0 or size and (addr < self.base or addr + size > self.limit):
            raise GuestFault(addr)
        return self._origin + addr

    def host_address(self, addr: int) -> int:
        """Where guest address addr is in the host process (for zero-copy views)."""
        return self._at(addr, 1)

    def read(self, addr: int, size: int) -> bytes:
        return ctypes.string_at(self._at(addr, size), size)

    def copy(self, addr: int, size: int) -> bytearray:
        """A copy of [addr, addr + size), made faster than `read` makes one for megabytes
        (no bytes object to build: a memmove into a fresh buffer)."""
        out = bytearray(size)
        if size:
            ctypes.memmove((ctypes.c_char * size).from_buffer(out), self._at(addr, size), size)
        return out

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        size = len(data)
        if isinstance(data, bytearray) and size:
            source: object = (ctypes.c_char * size).from_buffer(data)  # no copy of megabytes
        else:
            source = bytes(data)
        ctypes.memmove(self._at(addr, size), source, size)

    def fill(self, addr: int, size: int, value: int = 0) -> None:
        if value == 0:
            memories.zero(self._at(addr, size), size)
        else:
            ctypes.memset(self._at(addr, size), value, size)

    def read_u32(self, addr: int) -> int:
        return ctypes.c_uint32.from_address(self._at(addr, 4)).value

    def read_cstring(self, addr: int, limit: int = 1 << 16) -> bytes:
        """A NUL-terminated string, read up to the end of the backed range."""
        size = min(limit, self.limit - addr) if addr >= self.base else 0
        chunk = self.read(addr, size) if size > 0 else b""
        end = chunk.find(b"\0")
        if end < 0:
            raise GuestFault(addr + len(chunk))
        return chunk[:end]
