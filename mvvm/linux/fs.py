"""The guest's files: its descriptor table and the mapping of guest paths to host paths.

Guest descriptors are numbers in a table of host descriptors the guest opened
(plus the inherited stdio), so a guest can never name a host descriptor the VM
itself holds, whatever number it guesses.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
from dataclasses import dataclass
from typing import NamedTuple

from . import procfs
from .abi import AT_FDCWD
from .errors import SyscallError
from .rlimits import RLIMIT_NOFILE, ResourceLimits

STDIO = (0, 1, 2)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.getdents64.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
_libc.getdents64.restype = ctypes.c_ssize_t


@dataclass
class OpenFile:
    """One guest descriptor. Inherited stdio is not owned: closing it leaves the host's open."""

    host: int
    cloexec: bool = False
    owned: bool = True


class HostPath(NamedTuple):
    """A path as the host's *at functions take it: dir_fd None means the host cwd."""

    path: bytes
    dir_fd: int | None


class Files:
    def __init__(self, limits: ResourceLimits, *, exe: str, pid: int) -> None:
        self._fds = {fd: OpenFile(fd, owned=False) for fd in STDIO}
        self._limits = limits
        self.exe = os.fsencode(exe)
        self.pid = pid

    def get(self, fd: int) -> OpenFile:
        try:
            return self._fds[fd]
        except KeyError:
            raise SyscallError(errno.EBADF) from None

    def host(self, fd: int) -> int:
        return self.get(fd).host

    def install(self, host: int, *, cloexec: bool = False, lowest: int = 0) -> int:
        """Give an owned host fd the lowest free guest number >= lowest (EMFILE closes it)."""
        fd = next(n for n in itertools.count(lowest) if n not in self._fds)
        if fd >= self._limits.get(RLIMIT_NOFILE)[0]:
            os.close(host)
            raise SyscallError(errno.EMFILE)
        self._fds[fd] = OpenFile(host, cloexec)
        return fd

    def dup(self, fd: int, *, lowest: int = 0, cloexec: bool = False) -> int:
        if lowest >= self._limits.get(RLIMIT_NOFILE)[0]:
            raise SyscallError(errno.EINVAL)
        return self.install(os.dup(self.host(fd)), cloexec=cloexec, lowest=lowest)

    def dup_to(self, fd: int, new: int, *, cloexec: bool) -> int:
        """dup3: make new a copy of fd, closing what new was."""
        if not 0 <= new < self._limits.get(RLIMIT_NOFILE)[0]:
            raise SyscallError(errno.EBADF)
        host = os.dup(self.host(fd))
        if new in self._fds:
            self.close(new)
        self._fds[new] = OpenFile(host, cloexec)
        return new

    def close(self, fd: int) -> None:
        entry = self.get(fd)
        del self._fds[fd]
        if entry.owned:
            os.close(entry.host)

    def resolve(self, dirfd: int, path: bytes) -> HostPath:
        """The host path for a guest path relative to dirfd.

        Every path syscall goes through here, so this is where a sysroot or root
        confinement will apply; for now guest paths are host paths.
        """
        if procfs.self_entry(path, self.pid) == b"exe":
            return HostPath(self.exe, None)
        if path.startswith(b"/") or dirfd == AT_FDCWD:
            return HostPath(path, None)
        return HostPath(path, self.host(dirfd))


def read_dir(host_fd: int, size: int) -> bytes:
    """Host getdents64 records (struct linux_dirent64 is the same on every architecture)."""
    buf = ctypes.create_string_buffer(size)
    n = _libc.getdents64(host_fd, buf, size)
    if n < 0:
        raise SyscallError(ctypes.get_errno())
    return buf.raw[:n]
