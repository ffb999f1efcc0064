"""Memory syscalls: brk, mmap, munmap, mremap, mprotect, madvise, msync, mlock, mincore,
membarrier, riscv_flush_icache."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from typing import TYPE_CHECKING

from ...errors import GuestFault, SyscallError
from ...runtime.address_space import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, page_up
from .. import procfs
from ..abi import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_TYPE,
    MAX_RW_COUNT,
)
from ..table import FD, HEX, INT, LONG, MAP_FLAGS, PROT, PTR, SIZE, SyscallSet

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC
MAP_TYPES = (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE)
FLUSH_ICACHE_LOCAL = 1


@syscalls(214, PTR, hex_result=True)
def sys_brk(k: Kernel, addr: int) -> int:
    return k.space.brk(addr)


def _file_source(k: Kernel, fd: int, length: int, offset: int, shared_write: bool
                 ) -> tuple[int, int, str]:
    """The host descriptor a file mapping's contents are read from (a copy: mappings are
    private), how many bytes to read (a regular file's size bounds them: ld.so maps a
    library's whole span from its file first), and its name. Only what Linux can map: a
    directory, a pipe or a socket is ENODEV, before anything is mapped.

    A writable shared mapping would have to carry writes back to the file, which
    a copy cannot: refused with ENODEV (EACCES if the fd could not write anyway).
    """
    host = k.files.host(fd)
    mode = fcntl.fcntl(host, fcntl.F_GETFL) & os.O_ACCMODE
    if mode == os.O_WRONLY:
        raise SyscallError(errno.EACCES)
    if shared_write:
        raise SyscallError(errno.ENODEV if mode == os.O_RDWR else errno.EACCES)
    info = os.fstat(host)
    if stat.S_ISREG(info.st_mode):
        length = min(length, max(0, info.st_size - offset))
    elif not (stat.S_ISBLK(info.st_mode) or stat.S_ISCHR(info.st_mode)):
        raise SyscallError(errno.ENODEV)
    return host, min(length, MAX_RW_COUNT), procfs.fd_path(host)


@syscalls(222, PTR, SIZE, PROT, MAP_FLAGS, FD, LONG, hex_result=True)
def sys_mmap(k: Kernel, addr: int, length: int, prot: int, flags: int, fd: int,
             offset: int) -> int:
    """A file's contents go from the kernel straight into guest memory, with no bytes
    object between (which held a large mapping's size twice over for a moment)."""
    kind = flags & MAP_TYPE
    if not length or offset % PAGE or kind not in MAP_TYPES or prot & ~PROT_ALL:
        raise SyscallError(errno.EINVAL)
    host, size, name = -1, 0, ""
    if not flags & MAP_ANONYMOUS:
        shared_write = kind != MAP_PRIVATE and bool(prot & PROT_WRITE)
        host, size, name = _file_source(k, fd, length, offset, shared_write)
    start = k.space.map(addr, length, prot, fixed=bool(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)),
                        replace=not flags & MAP_FIXED_NOREPLACE, name=name)
    if size:
        try:
            k.mem.read_file(start, size, host, offset)
        except OSError:
            k.space.unmap(start, length)
            raise
    return start


@syscalls(215, PTR, SIZE)
def sys_munmap(k: Kernel, addr: int, length: int) -> int:
    k.space.unmap(addr, length)
    return 0


@syscalls(226, PTR, SIZE, PROT)
def sys_mprotect(k: Kernel, addr: int, length: int, prot: int) -> int:
    if prot & ~PROT_ALL:
        raise SyscallError(errno.EINVAL)
    k.space.protect(addr, length, prot)
    return 0


MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2


@syscalls(216, PTR, SIZE, SIZE, HEX, PTR, hex_result=True)
def sys_mremap(k: Kernel, old: int, old_length: int, new_length: int, flags: int,
               new: int) -> int:
    if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED):
        raise SyscallError(errno.EINVAL)
    return k.space.remap(old, old_length, new_length, may_move=bool(flags & MREMAP_MAYMOVE),
                         to=new if flags & MREMAP_FIXED else None)


def _mapped(k: Kernel, addr: int, length: int) -> None:
    """The range must be page-aligned (EINVAL) and mapped throughout (ENOMEM)."""
    if addr % PAGE:
        raise SyscallError(errno.EINVAL)
    try:
        k.space.check(addr, length, 0)
    except GuestFault:
        raise SyscallError(errno.ENOMEM) from None


@syscalls(227, PTR, SIZE, HEX)
def sys_msync(k: Kernel, addr: int, length: int, flags: int) -> int:
    """File mappings are private copies or read-only: there is nothing to write back."""
    _mapped(k, addr, length)
    return 0


@syscalls(228, PTR, SIZE)
def sys_mlock(k: Kernel, addr: int, length: int) -> int:
    """Guest memory is never swapped out by MVVM: locking is only checked."""
    _mapped(k, addr - addr % PAGE, length + addr % PAGE)
    return 0


@syscalls(229, PTR, SIZE)
def sys_munlock(k: Kernel, addr: int, length: int) -> int:
    return sys_mlock(k, addr, length)


@syscalls(230, HEX)
def sys_mlockall(k: Kernel, flags: int) -> int:
    return 0


@syscalls(231)
def sys_munlockall(k: Kernel) -> int:
    return 0


@syscalls(232, PTR, SIZE, PTR)
def sys_mincore(k: Kernel, addr: int, length: int, vec: int) -> int:
    """Every mapped page is resident."""
    _mapped(k, addr, length)
    k.store(vec, b"\1" * (page_up(length) // PAGE))
    return 0


MEMBARRIER_CMDS = 0x1 | 0x8 | 0x10 | 0x20 | 0x40    # GLOBAL, PRIVATE_EXPEDITED(+_SYNC_CORE)


@syscalls(283, INT, HEX, INT)
def sys_membarrier(k: Kernel, cmd: int, flags: int, cpu: int) -> int:
    """One thread sees its own memory in order: every barrier is already there."""
    if cmd == 0:
        return MEMBARRIER_CMDS
    if cmd & ~MEMBARRIER_CMDS or cmd & (cmd - 1):
        raise SyscallError(errno.EINVAL)
    return 0


MADV_DONTNEED = 4


@syscalls(233, PTR, SIZE, INT)
def sys_madvise(k: Kernel, addr: int, length: int, advice: int) -> int:
    """Advice is only advice, but MADV_DONTNEED has an effect programs rely on (jemalloc
    checks it): anonymous pages read as zero afterwards."""
    if addr % PAGE:
        raise SyscallError(errno.EINVAL)
    if advice == MADV_DONTNEED:
        k.space.discard(addr, length)
    return 0


@syscalls(259, PTR, PTR, HEX)
def sys_riscv_flush_icache(k: Kernel, start: int, end: int, flags: int) -> int:
    if flags & ~FLUSH_ICACHE_LOCAL:
        raise SyscallError(errno.EINVAL)
    k.space.flush_code(start, end - start)
    return 0
