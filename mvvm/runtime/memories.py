"""The memories wasmtime runs on, made by MVVM (wasmtime's host memory creator).

Every guest thread has a store of its own, and a store cannot be used by two threads
at once; yet the threads must see one guest memory. A wasm shared memory would do, but
wasmtime 50 makes a new host instance for each import of it, and a fault in its guard
pages then matches several of them and panics ("assertion failed: fault.is_none()").
So each store gets an ordinary (unshared) memory, and this creator gives all of a
process's stores the same host pages for it: one reservation, made once, at one
address. Plain accesses then compile as before, faults in the guard pages trap as
before, wasm atomics (valid on unshared memories) are real atomics, and a host fork
copies the pages like any private mapping.

Other memories (each thread's VM memory) get reservations of their own, each as large
as the guest memory's (address space only: 256 GiB of the host's 128 TiB), followed by
GUARD bytes of guard pages.

What wasmtime is told (its engine settings, mvvm.runtime.engine) shapes the code Cranelift
makes. Memories do not move (memory_may_move off; the guest memory never grows either), so
a function loads a memory's base once. The reservation wasmtime knows of is 4 GiB
(ENGINE_RESERVATION): enough for a 32-bit index (the VM memory's) to need no check at all,
and less than the guest memory's fixed size, which modules import exactly
(layout.GUEST_IMPORT). A memory64 that fitted in the reservation would be checked against
it with the access's offset folded into the constant, `index > reservation - (offset +
size)`: a different compare for each offset. This one's index is checked against its size
alone, and the guard pages past it catch the offset (at most 2 KiB, a RISC-V immediate):
accesses at several offsets from one register share a check (Cranelift's GVN): fib's
frame takes one compare instead of six. (The bench's times did not move: those compares
were well predicted and off the critical path; the code is smaller.)
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from wasmtime import _ffi as ffi

from mvvm.runtime import layout

PROT_NONE, PROT_READ, PROT_WRITE = 0, 1, 2
MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE = 0x02, 0x20, 0x4000
MAP_FAILED = ctypes.c_void_p(-1).value
GUEST_SIZE = layout.GUEST_PAGES * layout.WASM_PAGE  # the guest memory's size, fixed
RESERVATION = GUEST_SIZE        # what every memory reserves, guard pages aside
ENGINE_RESERVATION = 1 << 32    # the engine's memory_reservation (see above)
GUARD = 32 << 20                # its memory_guard_size (wasmtime's default on x86-64)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_is64 = ctypes.CDLL(ffi.dll._name).wasmtime_memorytype_is64
_is64.restype = ctypes.c_bool
_is64.argtypes = [ctypes.c_void_p]
MADV_DONTNEED = 4
HOST_PAGE = 0x1000


def zero(address: int, size: int) -> None:
    """Zero host memory of a region. Whole pages go back to the kernel instead (they read
    as zero again, and cost nothing until touched): mapping a large guest area, or the
    zero-filled part of a big program, then costs no memset."""
    start = -(-address // HOST_PAGE) * HOST_PAGE
    end = (address + size) // HOST_PAGE * HOST_PAGE
    if end - start < 16 * HOST_PAGE or _libc.madvise(start, end - start, MADV_DONTNEED):
        ctypes.memset(address, 0, size)
        return
    ctypes.memset(address, 0, start - address)
    ctypes.memset(end, 0, address + size - end)


def protect(address: int, size: int, rights: int) -> None:
    """mprotect host pages (PROT_NONE, PROT_READ or both with PROT_WRITE)."""
    if _libc.mprotect(address, size, rights):
        raise OSError(ctypes.get_errno(), f"mprotect of {size} bytes at {address:#x} failed")


class Region:
    """A reservation of span + GUARD bytes; the first `size` are read-write."""

    def __init__(self, size: int, maximum: int, span: int) -> None:
        self.span = span
        total = span + GUARD
        base = _libc.mmap(None, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0)
        if base in (None, MAP_FAILED):
            raise MemoryError(f"cannot reserve {total >> 20} MiB of host address space for "
                              f"guest memory (errno {ctypes.get_errno()}; a `ulimit -v`?)")
        self.base: int = base
        self.size = 0
        self.maximum = min(maximum, span)
        self.users = 1                  # its owner, and the wasmtime memories made on it
        self._lock = threading.Lock()
        self.grow(size)

    def grow(self, size: int) -> bool:
        """Make the first size bytes accessible; False beyond the maximum."""
        if size > self.maximum:
            return False
        if size > self.size:
            if _libc.mprotect(self.base + self.size, size - self.size, PROT_READ | PROT_WRITE):
                return False
            self.size = size
        return True

    def use(self) -> None:
        with self._lock:
            self.users += 1

    def release(self) -> None:
        """One user less: the owner (mvvm.runtime.image.Image, when it is collected) or a
        store's memory; the pages go with the last."""
        with self._lock:
            self.users -= 1
            if self.users:
                return
        _libc.munmap(self.base, self.span + GUARD)


class Creator:
    """wasmtime's host memory creator: the callbacks and the regions they hand out."""

    def __init__(self) -> None:
        self._regions: dict[int, Region] = {}       # by the env wasmtime passes back
        self._next_env = 1
        self._lock = threading.Lock()
        self._handing: Region | None = None         # see `handing_out`
        self._handing_lock = threading.Lock()
        self._callbacks = (ffi.wasmtime_new_memory_callback_t(self._new_memory),
                           ffi.wasmtime_memory_get_callback_t(self._get_memory),
                           ffi.wasmtime_memory_grow_callback_t(self._grow_memory),
                           ctypes.CFUNCTYPE(None, ctypes.c_void_p)(self._finalize),
                           ctypes.CFUNCTYPE(None, ctypes.c_void_p)(0))
        self.struct = ffi.wasmtime_memory_creator_t(None, self._callbacks[0], self._callbacks[4])

    @contextmanager
    def handing_out(self, region: Region) -> Iterator[None]:
        """The guest memories (the 64-bit ones) made inside this block are views of region
        (a process's guest memory, for each new thread's store)."""
        with self._handing_lock:
            self._handing = region
            try:
                yield
            finally:
                self._handing = None

    def _new_memory(self, env: int, memory_type: object, minimum: int, maximum: int,
                    reserved: int, guard: int, out: ctypes.Array) -> int:
        if reserved != ENGINE_RESERVATION or guard > GUARD:
            return _error(f"unexpected reservation {reserved:#x} + {guard:#x}")
        guest = _is64(memory_type)
        region = self._handing if guest else None
        if region is None:
            try:
                region = Region(minimum, maximum, RESERVATION)
            except MemoryError as error:
                return _error(str(error))
        else:
            region.use()
        with self._lock:
            key, self._next_env = self._next_env, self._next_env + 1
            self._regions[key] = region
        linear = out[0]
        linear.env = key
        linear.get_memory = self._callbacks[1]
        linear.grow_memory = self._callbacks[2]
        linear.finalizer = self._callbacks[3]
        return 0

    def _get_memory(self, env: int, size: ctypes.Array, maximum: ctypes.Array) -> int:
        region = self._regions[env]
        size[0], maximum[0] = region.size, region.maximum
        return region.base

    def _grow_memory(self, env: int, size: int) -> int:
        if self._regions[env].grow(size):
            return 0
        return _error(f"cannot grow a memory to {size:#x} bytes")

    def _finalize(self, env: int) -> None:
        """A store dropped its memory."""
        with self._lock:
            region = self._regions.pop(env)
        region.release()


def _error(message: str) -> int:
    """A wasmtime_error_t for a callback to return (wasmtime takes it over)."""
    error = ffi.wasmtime_error_new(f"MVVM's memory creator: {message}".encode())
    return ctypes.cast(error, ctypes.c_void_p).value or 0


CREATOR = Creator()
