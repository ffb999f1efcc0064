"""How guest paths become host paths: the host's tree seen through a sysroot, or a confined one.

`HostPaths` is qemu-user's view: guest paths are host paths, except that an
absolute path that exists under the sysroot (`-L`) names the file there, so a
dynamically linked program finds its riscv64 loader and libraries.

`ConfinedPaths` is `--root`/`--map`: the guest's tree is made of host
directories mounted at guest paths, and the resolution of every path (`..`,
symlinks, absolute link targets) happens here, in the guest's namespace, so
nothing the guest names can lead outside those directories. The host only ever
sees the final, fully resolved path, with no symlink left in it to follow.

That leaves a race: a guest thread may swap a directory of that path for a symlink
between the resolution and the host call. So the host never walks the resolved path
by name: `resolve` has the kernel open its parent directory beneath the mount's
directory (openat2 with RESOLVE_IN_ROOT, where no symlink can lead out), and the host
call takes the last component relative to that descriptor, without following it
(MVVM already did). `open` has the kernel walk the whole path that way. Only chdir still
takes a whole host path, and it moves only the host's cwd, which no resolution uses.
"""

from __future__ import annotations

import ctypes
import errno
import os
import posixpath
import threading
from typing import NamedTuple

from ..errors import SyscallError

MAX_LINKS = 40          # Linux's limit on symlinks followed in one lookup (ELOOP beyond)
RESOLVE_NO_MAGICLINKS, RESOLVE_IN_ROOT = 0x02, 0x10
SYS_OPENAT2 = 437       # the same number on every architecture
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dir_fd: int, path: bytes, flags: int, mode: int, resolve: int) -> int:
    """The host's openat2 (Python's os module has none); OSError on failure. Unlike
    openat, it refuses a mode where the flags create nothing."""
    creates = flags & (os.O_CREAT | os.O_TMPFILE)
    how = _OpenHow(flags, mode if creates else 0, resolve)
    fd = _libc.syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_int(dir_fd), ctypes.c_char_p(path),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return fd


def _beneath(top: bytes, path: bytes, flags: int, mode: int) -> int:
    """Open path (b"": top itself) with the kernel walking it beneath the directory top,
    which no symlink or `..` can leave."""
    root = os.open(top, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return openat2(root, path or b".", flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    finally:
        os.close(root)


class HostPath(NamedTuple):
    """A path as the host's *at functions take it: dir_fd None means the host cwd.

    guest is the canonical guest path where the view knows it (confined), which a
    directory's descriptor keeps so that paths relative to it resolve in the guest tree.
    """

    path: bytes
    dir_fd: int | None
    guest: bytes | None = None
    whole: bytes = b""      # confined: the whole host path (path is then the last component)

    @property
    def full(self) -> bytes:
        """The whole host path, for the calls that take no directory descriptor."""
        return self.whole or self.path

    def follows(self, follow: bool) -> bool:
        """Whether the host call may follow a symlink in the last component: never for a
        confined path, whose links MVVM followed itself (one there now was swapped in)."""
        return follow and not self.whole


class HostPaths:
    """Guest paths are host paths, looked up under the sysroot first when absolute."""

    confined = False

    def __init__(self, sysroot: str | None = None) -> None:
        self.sysroot = os.fsencode(os.path.abspath(sysroot)) if sysroot else None

    def resolve(self, path: bytes, *, base: bytes | None = None, base_fd: int | None = None,
                follow: bool = True) -> HostPath:
        """The host path for a guest path relative to base_fd (None: the cwd)."""
        if path.startswith(b"/"):
            return HostPath(self._in_sysroot(path), None)
        return HostPath(path, base_fd)

    def _in_sysroot(self, path: bytes) -> bytes:
        if self.sysroot and path != b"/":
            candidate = self.sysroot + path
            if os.path.lexists(candidate):
                return candidate
        return path

    def getcwd(self) -> bytes:
        return os.getcwdb()

    def chdir(self, guest: bytes, host: HostPath) -> None:
        os.chdir(host.path)

    def where(self) -> str:
        """Where absolute paths are looked up, for messages."""
        if self.sysroot is None:
            return "on the host"
        return f"in the sysroot {os.fsdecode(self.sysroot)}, then on the host"

    def release(self) -> None:
        """Nothing to close: host paths are used as they are."""

    def guest_path(self, host: bytes) -> bytes:
        """The guest's name for a host file (the program, for /proc/self/exe)."""
        return os.path.abspath(host)


class ConfinedPaths:
    """A guest tree made of host directories mounted at guest paths (`/` is the root)."""

    confined = True

    def __init__(self, mounts: dict[bytes, bytes], *, host_cwd: bool = True) -> None:
        """mounts: guest path -> host directory; "/" must be among them. The guest starts
        in the host's cwd if a mount holds it, else in "/". host_cwd: the host process's
        cwd follows the guest's (an embedding's host program keeps its own: False, and
        the guest starts in "/"); resolution never needs it, paths come out absolute."""
        self.mounts = {posixpath.normpath(g): os.path.realpath(h) for g, h in mounts.items()}
        self.host_cwd = host_cwd
        self._held = threading.local()
        self.cwd = b"/"
        if host_cwd:
            self.cwd = self.guest_path(os.getcwdb()) or b"/"
            self._enter(self.cwd)

    # The guest's cwd is a guest path; the host's follows it where it can.

    def getcwd(self) -> bytes:
        return self.cwd

    def chdir(self, guest: bytes, host: HostPath) -> None:
        """The host cwd moves too, to the directory as the kernel finds it beneath the tree
        (a symlink swapped in since stays inside)."""
        fd = self.open(guest, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0)
        try:
            self.cwd = guest
            if self.host_cwd:
                os.fchdir(fd)
        finally:
            os.close(fd)

    def _enter(self, guest: bytes) -> None:
        try:
            os.chdir(self.host_of(guest))
        except OSError:
            self.cwd = b"/"
            os.chdir(self.host_of(b"/"))

    def where(self) -> str:
        """Where absolute paths are looked up, for messages."""
        return f"in the guest's tree ({os.fsdecode(self.mounts[b'/'])} as /)"

    def guest_path(self, host: bytes) -> bytes:
        """The guest path of a host file inside one of the mounts (b"" if outside all)."""
        host = os.path.realpath(host)
        for guest, top in sorted(self.mounts.items(), key=lambda m: -len(m[1])):
            if host == top or host.startswith(top.rstrip(b"/") + b"/"):
                return posixpath.normpath(b"/" + (guest + b"/" + host[len(top):]).lstrip(b"/"))
        return b""

    # Resolution.

    def absolute(self, path: bytes, base: bytes | None) -> bytes:
        """A guest path made absolute against base (a directory's guest path, b"" for a
        descriptor that is no directory of the guest tree) or, if None, the cwd."""
        if path.startswith(b"/"):
            return path
        if base == b"":
            raise SyscallError(errno.ENOTDIR)
        return (base if base is not None else self.cwd).rstrip(b"/") + b"/" + path

    def resolve(self, path: bytes, *, base: bytes | None = None, base_fd: int | None = None,
                follow: bool = True) -> HostPath:
        """Resolve every component in the guest's namespace; the host gets a link-free path.

        base is the guest path of the directory a relative path starts from (the cwd if
        None); base_fd is ignored, since the host must never resolve anything itself.
        """
        if not path:
            raise SyscallError(errno.ENOENT)
        guest = self.canonical(self.absolute(path, base), follow)
        top, rest = self._mount_of(guest)
        parent, _, name = rest.rpartition(b"/")
        return HostPath(name or b".", self._directory(top, parent), guest, self.host_of(guest))

    def _directory(self, top: bytes, path: bytes) -> int:
        """A descriptor (O_PATH) of the directory at path beneath the mount directory top,
        opened by the kernel within it; held until the syscall ends (`release`)."""
        try:
            fd = _beneath(top, path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0)
        except OSError as error:
            raise SyscallError(error.errno or errno.ENOENT) from None
        held = self._held.__dict__.setdefault("fds", [])
        held.append(fd)
        return fd

    def release(self) -> None:
        """Close the directory descriptors this thread's resolutions opened."""
        for fd in self._held.__dict__.pop("fds", []):
            os.close(fd)

    def canonical(self, path: bytes, follow: bool = True) -> bytes:
        """The guest path with `.`, `..` and symlinks resolved, `..` stopping at `/`."""
        pending = [p for p in path.split(b"/") if p]
        done: list[bytes] = []
        links = 0
        trailing_slash = path.endswith(b"/")
        while pending:
            name = pending.pop(0)
            if name == b".":
                continue
            if name == b"..":
                if done:
                    done.pop()
                continue
            candidate = b"/" + b"/".join([*done, name])
            last = not pending
            target = self._link(candidate) if follow or not last or trailing_slash else None
            if target is None:
                done.append(name)
                continue
            links += 1
            if links > MAX_LINKS:
                raise SyscallError(errno.ELOOP)
            if target.startswith(b"/"):
                done = []
            pending = [p for p in target.split(b"/") if p] + pending
        return b"/" + b"/".join(done)

    def _link(self, guest: bytes) -> bytes | None:
        """The target of guest if it is a symlink, else None."""
        try:
            return os.readlink(self.host_of(guest))
        except OSError:
            return None

    def host_of(self, guest: bytes) -> bytes:
        """The host path of a canonical guest path, through the deepest mount holding it."""
        top, rest = self._mount_of(guest)
        return os.path.join(top, rest) if rest else top

    def _mount_of(self, guest: bytes) -> tuple[bytes, bytes]:
        """The host directory of the deepest mount holding a canonical guest path, and the
        path's rest beneath it (b"" for the mount point itself)."""
        for point in sorted(self.mounts, key=len, reverse=True):
            if guest == point or guest.startswith(point.rstrip(b"/") + b"/"):
                return self.mounts[point], guest[len(point):].lstrip(b"/")
        raise SyscallError(errno.ENOENT)

    def open(self, guest: bytes, flags: int, mode: int) -> int:
        """Open a canonical guest path with host open flags, the kernel resolving it again
        beneath its mount's directory, so that a symlink swapped in since stays inside."""
        return _beneath(*self._mount_of(guest), flags, mode)
