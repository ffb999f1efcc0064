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
import threading
from collections.abc import Callable

from ..errors import SyscallError
from ..runtime.sync import synchronized
from . import procfs
from .abi import AT_FDCWD
from .paths import ConfinedPaths, HostPath, HostPaths
from .rlimits import RLIMIT_NOFILE, ResourceLimits

STDIO = (0, 1, 2)

libc = ctypes.CDLL(None, use_errno=True)    # the host calls Python's os module lacks
libc.getdents64.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
libc.getdents64.restype = ctypes.c_ssize_t
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


class OpenFile:
    """One guest descriptor. Inherited stdio is not owned: closing it leaves the host's open.

    path is the guest path it was opened by, where the path view needs it to resolve
    paths relative to the descriptor (b"": not a directory of the guest tree).
    """

    __slots__ = ("host", "cloexec", "owned", "path", "sink")

    def __init__(self, host: int, cloexec: bool = False, owned: bool = True, path: bytes = b"",
                 sink: Callable[[bytes], object] | None = None) -> None:
        self.host = host
        self.cloexec = cloexec
        self.owned = owned
        self.path = path
        self.sink = sink                # writes go here, not to host


class Files:
    """The guest's descriptor table and its view of paths (see mvvm.linux.paths)."""

    def __init__(self, limits: ResourceLimits, *, exe: str, pid: int,
                 paths: HostPaths | ConfinedPaths | None = None) -> None:
        self._lock = threading.RLock()
        self._fds = {fd: OpenFile(fd, owned=False) for fd in STDIO}
        self._limits = limits
        self.paths = paths or HostPaths()
        self.pid = pid
        self.exe = b""
        self.exe_name = b""
        self.set_exe(exe)

    def set_exe(self, host_path: str) -> None:
        """The running program: its host file and its name in the guest (/proc/self/exe)."""
        self.exe = os.fsencode(os.path.abspath(host_path))
        self.exe_name = self.paths.guest_path(self.exe) or self.exe

    def get(self, fd: int) -> OpenFile:
        try:
            return self._fds[fd]
        except KeyError:
            raise SyscallError(errno.EBADF) from None

    def host(self, fd: int) -> int:
        return self.get(fd).host

    @synchronized
    def set_stdio(self, fd: int, sink: Callable[[bytes], object] | None) -> None:
        """Make stdio fd (0-2) /dev/null, with what the guest writes to it going to sink:
        the embedded guest's streams are the embedding program's Python objects."""
        self._fds[fd] = OpenFile(os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC), sink=sink)

    @synchronized
    def install(self, host: int, *, cloexec: bool = False, lowest: int = 0,
                path: bytes = b"") -> int:
        """Give an owned host fd the lowest free guest number >= lowest (EMFILE closes it)."""
        fd = next(n for n in itertools.count(lowest) if n not in self._fds)
        if fd >= self._limits.get(RLIMIT_NOFILE)[0]:
            os.close(host)
            raise SyscallError(errno.EMFILE)
        self._fds[fd] = OpenFile(host, cloexec, path=path)
        return fd

    @synchronized
    def dup(self, fd: int, *, lowest: int = 0, cloexec: bool = False) -> int:
        if lowest >= self._limits.get(RLIMIT_NOFILE)[0]:
            raise SyscallError(errno.EINVAL)
        entry = self.get(fd)
        new = self.install(os.dup(entry.host), cloexec=cloexec, lowest=lowest, path=entry.path)
        self._fds[new].sink = entry.sink
        return new

    @synchronized
    def dup_to(self, fd: int, new: int, *, cloexec: bool) -> int:
        """dup3: make new a copy of fd, closing what new was."""
        if not 0 <= new < self._limits.get(RLIMIT_NOFILE)[0]:
            raise SyscallError(errno.EBADF)
        entry = self.get(fd)
        host = os.dup(entry.host)
        if new in self._fds:
            self.close(new)
        self._fds[new] = OpenFile(host, cloexec, path=entry.path, sink=entry.sink)
        return new

    @synchronized
    def close(self, fd: int) -> None:
        entry = self.get(fd)
        del self._fds[fd]
        if entry.owned:
            os.close(entry.host)

    @synchronized
    def close_on_exec(self) -> None:
        """execve: the descriptors marked close-on-exec go."""
        for fd in [fd for fd, entry in self._fds.items() if entry.cloexec]:
            self.close(fd)

    @synchronized
    def table(self) -> dict[int, int]:
        """Guest fd -> host fd, for handing the table to a host program (execve)."""
        return {fd: entry.host for fd, entry in self._fds.items()}

    def open(self, where: HostPath, flags: int, mode: int) -> int:
        """A host descriptor for a resolved path: in a confined tree, opened beneath it by
        the kernel (ConfinedPaths.open), so that a race with the guest cannot leave it."""
        paths = self.paths
        if paths.confined and where.guest is not None:
            return paths.open(where.guest, flags, mode)
        return os.open(where.path, flags, mode, dir_fd=where.dir_fd)

    def resolve(self, dirfd: int, path: bytes, *, follow: bool = True) -> HostPath:
        """The host path for a guest path relative to dirfd; every path syscall comes here.

        follow=False leaves a symlink in the last component unresolved (lstat, unlink,
        O_NOFOLLOW...). /proc/self/exe is the guest program, not the VM; in a confined tree,
        by its guest path, resolved beneath the tree like any other: the guest may have
        put a symlink to a host file in its place.
        """
        if follow and procfs.self_entry(path, self.pid) == b"exe":
            if not self.paths.confined:
                return HostPath(self.exe, None, self.exe_name)
            if not self.exe_name:
                raise SyscallError(errno.ENOENT)
            path = self.exe_name
        if path.startswith(b"/") or dirfd == AT_FDCWD:
            return self.paths.resolve(path, follow=follow)
        entry = self.get(dirfd)
        return self.paths.resolve(path, base=entry.path, base_fd=entry.host, follow=follow)


def read_dir(host_fd: int, size: int) -> bytes:
    """Host getdents64 records (struct linux_dirent64 is the same on every architecture)."""
    buf = ctypes.create_string_buffer(size)
    n = libc.getdents64(host_fd, buf, size)
    if n < 0:
        raise SyscallError(ctypes.get_errno())
    return buf.raw[:n]
