"""The host's view of an embedded guest's memory: reads and writes by guest address, as a
debugger has them (any mapped page, whatever the guest's own rights to it)."""

from __future__ import annotations

import ctypes

from mvvm.errors import GuestFault as BadAddress
from mvvm.runtime.address_space import AddressSpace
from mvvm.runtime.memory import GuestMemory

from .errors import AddressError

STRING_LIMIT = 1 << 20


class MachineMemory:
    def __init__(self, memory: GuestMemory, space: AddressSpace, owner: object) -> None:
        self._memory = memory
        self._space = space
        self._owner = owner             # kept alive by every view of the memory

    def _check(self, addr: int, size: int) -> None:
        try:
            self._space.check(addr, size, 0)
        except BadAddress as bad:
            raise AddressError(f"guest address {bad.addr:#x} is not mapped") from None

    def read(self, addr: int, size: int) -> bytes:
        self._check(addr, size)
        return self._memory.read(addr, size)

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        self._check(addr, len(data))
        self._memory.write(addr, data)

    def read_str(self, addr: int, limit: int = STRING_LIMIT) -> str:
        """A NUL-terminated UTF-8 string (undecodable bytes replaced)."""
        out = bytearray()
        while len(out) < limit:
            chunk = self.read(addr, min(4096 - addr % 4096, limit - len(out)))
            end = chunk.find(0)
            if end >= 0:
                out += chunk[:end]
                return out.decode(errors="replace")
            out += chunk
            addr += len(chunk)
        raise AddressError(f"no NUL within {limit} bytes of the string")

    def view(self, addr: int, size: int) -> memoryview:
        """A writable view of guest memory, without a copy. It stays valid while the range
        is mapped; the guest sees writes through it at once."""
        self._check(addr, size)
        array = (ctypes.c_ubyte * size).from_address(self._memory.host_address(addr))
        array._owner = self._owner          # type: ignore[attr-defined]
        return memoryview(array).cast("B")
