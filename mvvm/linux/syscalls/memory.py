"""Memory syscalls: brk, mmap, munmap, mprotect, madvise, riscv_flush_icache."""

from __future__ import annotations

import errno
import fcntl
import os
from typing import TYPE_CHECKING

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
from ..errors import SyscallError
from ..mm import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE
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


def _file_contents(k: Kernel, fd: int, length: int, offset: int, shared_write: bool
                   ) -> tuple[bytes, str]:
    """What a file mapping starts with (a copy: mappings are private), and its name.

    A writable shared mapping would have to carry writes back to the file, which
    a copy cannot: refused with ENODEV (EACCES if the fd could not write anyway).
    """
    host = k.files.host(fd)
    mode = fcntl.fcntl(host, fcntl.F_GETFL) & os.O_ACCMODE
    if mode == os.O_WRONLY:
        raise SyscallError(errno.EACCES)
    if shared_write:
        raise SyscallError(errno.ENODEV if mode == os.O_RDWR else errno.EACCES)
    return os.pread(host, min(length, MAX_RW_COUNT), offset), procfs.fd_path(host)


@syscalls(222, PTR, SIZE, PROT, MAP_FLAGS, FD, LONG, hex_result=True)
def sys_mmap(k: Kernel, addr: int, length: int, prot: int, flags: int, fd: int,
             offset: int) -> int:
    kind = flags & MAP_TYPE
    if not length or offset % PAGE or kind not in MAP_TYPES or prot & ~PROT_ALL:
        raise SyscallError(errno.EINVAL)
    data, name = b"", ""
    if not flags & MAP_ANONYMOUS:
        shared_write = kind != MAP_PRIVATE and bool(prot & PROT_WRITE)
        data, name = _file_contents(k, fd, length, offset, shared_write)
    start = k.space.map(addr, length, prot, fixed=bool(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)),
                        replace=not flags & MAP_FIXED_NOREPLACE, name=name)
    k.mem.write(start, data)
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


@syscalls(233, PTR, SIZE, INT)
def sys_madvise(k: Kernel, addr: int, length: int, advice: int) -> int:
    """Advice is only advice; nothing here depends on it."""
    if addr % PAGE:
        raise SyscallError(errno.EINVAL)
    return 0


@syscalls(259, PTR, PTR, HEX)
def sys_riscv_flush_icache(k: Kernel, start: int, end: int, flags: int) -> int:
    if flags & ~FLUSH_ICACHE_LOCAL:
        raise SyscallError(errno.EINVAL)
    k.space.flush_code(start, end - start)
    return 0
