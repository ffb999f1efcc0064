"""The syscall entry point, and the guest-memory access every syscall goes through.

`Kernel.syscall` looks the number up in the table, decodes the arguments by
their declared kinds, runs the implementation and turns every failure a guest
can cause into -errno, tracing the call if asked.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import TextIO, TypeVar

from ..errors import GuestExit, GuestFault, GuestSignal
from .errors import SyscallError
from .fs import Files
from .mm import PAGE, PROT_READ, PROT_WRITE, AddressSpace, GuestMemory
from .rlimits import ResourceLimits
from .signals import SignalState
from .strace import Tracer
from .syscalls import TABLE

Struct = TypeVar("Struct", ctypes.Structure, ctypes.Array)


class Kernel:
    """The Linux personality of one guest process."""

    def __init__(self, mem: GuestMemory, space: AddressSpace, *, exe: str,
                 strace: TextIO | None = None) -> None:
        self.mem = mem
        self.space = space
        self.pid = os.getpid()
        self.limits = ResourceLimits()
        self.files = Files(self.limits, exe=exe, pid=self.pid)
        self.signals = SignalState()
        self.clear_child_tid = 0
        self.robust_list = (0, 0)
        self.tracer = Tracer(strace, self.pid) if strace else None

    def syscall(self, nr: int, args: tuple[int, int, int, int, int, int]) -> int:
        """Run syscall nr with a0..a5; return the new a0 (-errno on failure)."""
        call = TABLE.get(nr)
        if call is None:
            if self.tracer:
                self.tracer.unknown(nr)
            return -errno.ENOSYS
        shown = call.show(self, args) if self.tracer else []
        try:
            result = call.impl(self, *call.decode(self, args))
        except (GuestExit, GuestSignal):
            if self.tracer:
                self.tracer.exiting(call.name, shown)
            raise
        except GuestFault:
            result = -errno.EFAULT
        except OSError as e:
            result = -(e.errno or errno.EIO)
        if self.tracer:
            self.tracer.returned(call.name, shown, result, call.hex_result)
        return result

    # Guest memory, with the rights a user access would need.

    def load(self, addr: int, size: int) -> bytes:
        self.space.check(addr, size, PROT_READ)
        return self.mem.read(addr, size)

    def store(self, addr: int, data: bytes | memoryview) -> None:
        self.space.check(addr, len(data), PROT_WRITE)
        self.mem.write(addr, data)

    def load_struct(self, layout: type[Struct], addr: int) -> Struct:
        """A guest struct (or array of them) read into its ctypes layout."""
        return layout.from_buffer_copy(self.load(addr, ctypes.sizeof(layout)))

    def store_struct(self, addr: int, value: ctypes.Structure | ctypes.Array) -> None:
        self.store(addr, bytes(value))

    def load_cstring(self, addr: int, limit: int) -> bytes:
        """A NUL-terminated string of fewer than limit bytes (else ENAMETOOLONG).

        Read a page at a time, so a string ending just before an unmapped page is fine.
        """
        out = bytearray()
        while len(out) < limit:
            chunk = self.load(addr, PAGE - addr % PAGE)
            end = chunk.find(0)
            if end >= 0:
                out += chunk[:end]
                break
            out += chunk
            addr += len(chunk)
        if len(out) >= limit:
            raise SyscallError(errno.ENAMETOOLONG)
        return bytes(out)
