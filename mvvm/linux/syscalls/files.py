"""File and descriptor syscalls: open, read, write, stat, directories, pipes, fcntl, ioctl."""

from __future__ import annotations

import errno
import fcntl
import os
import termios
from collections.abc import Callable
from ctypes import c_int32, c_uint8
from typing import TYPE_CHECKING

from .. import abi, procfs
from ..abi import (
    AT_EACCESS,
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_REMOVEDIR,
    AT_SYMLINK_NOFOLLOW,
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFD,
    F_GETFL,
    F_SETFD,
    F_SETFL,
    FD_CLOEXEC,
    MAX_RW_COUNT,
    O_CLOEXEC,
    O_DIRECT,
    O_NONBLOCK,
    TCGETS,
    TCSETS,
    TCSETSF,
    TCSETSW,
    TIOCGWINSZ,
)
from ..errors import SyscallError
from ..fs import read_dir
from ..mm import PROT_WRITE
from ..structs import KERNEL_NCCS, Iovec, Stat, Statx, StatxTimestamp, Termios, split_ns
from ..table import (
    DIRFD,
    FCNTL_CMD,
    FD,
    HEX,
    INT,
    IOCTL,
    LONG,
    LONG_HEX,
    MODE,
    OPEN_FLAGS,
    PATH,
    PTR,
    SIZE,
    WHENCE,
    SyscallSet,
)

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

IOV_MAX = 1024
DIRENT_CHUNK = 1 << 20          # getdents64 may return fewer entries than fit: bounds the copy
STATX_BASIC_STATS = 0x7FF
PIPE_FLAGS = O_CLOEXEC | O_NONBLOCK | O_DIRECT
Buffers = list[tuple[int, int]]


# Reading and writing: every variant is a list of (address, size) buffers and an
# optional file offset.

def _read(k: Kernel, fd: int, bufs: Buffers, offset: int | None = None) -> int:
    """Fill guest buffers in order; all are checked first, so a bad one consumes no input."""
    host = k.files.host(fd)
    for addr, size in bufs:
        k.space.check(addr, size, PROT_WRITE)
    want = min(sum(size for _, size in bufs), MAX_RW_COUNT)
    data = os.read(host, want) if offset is None else os.pread(host, want, offset)
    rest = memoryview(data)
    for addr, size in bufs:
        k.store(addr, rest[:size])
        rest = rest[size:]
    return len(data)


def _write(k: Kernel, fd: int, bufs: Buffers, offset: int | None = None) -> int:
    host = k.files.host(fd)
    data = b"".join(k.load(addr, size) for addr, size in bufs)[:MAX_RW_COUNT]
    return os.write(host, data) if offset is None else os.pwrite(host, data, offset)


def _iovecs(k: Kernel, iov: int, count: int) -> Buffers:
    if not 0 <= count <= IOV_MAX:
        raise SyscallError(errno.EINVAL)
    return [(v.iov_base, v.iov_len) for v in k.load_struct(Iovec * count, iov)]


@syscalls(63, FD, PTR, SIZE)
def sys_read(k: Kernel, fd: int, buf: int, count: int) -> int:
    return _read(k, fd, [(buf, count)])


@syscalls(64, FD, PTR, SIZE)
def sys_write(k: Kernel, fd: int, buf: int, count: int) -> int:
    return _write(k, fd, [(buf, count)])


@syscalls(65, FD, PTR, INT)
def sys_readv(k: Kernel, fd: int, iov: int, count: int) -> int:
    return _read(k, fd, _iovecs(k, iov, count))


@syscalls(66, FD, PTR, INT)
def sys_writev(k: Kernel, fd: int, iov: int, count: int) -> int:
    return _write(k, fd, _iovecs(k, iov, count))


@syscalls(67, FD, PTR, SIZE, LONG)
def sys_pread64(k: Kernel, fd: int, buf: int, count: int, offset: int) -> int:
    return _read(k, fd, [(buf, count)], offset)


@syscalls(68, FD, PTR, SIZE, LONG)
def sys_pwrite64(k: Kernel, fd: int, buf: int, count: int, offset: int) -> int:
    return _write(k, fd, [(buf, count)], offset)


@syscalls(69, FD, PTR, INT, LONG)
def sys_preadv(k: Kernel, fd: int, iov: int, count: int, offset: int) -> int:
    return _read(k, fd, _iovecs(k, iov, count), offset)


@syscalls(70, FD, PTR, INT, LONG)
def sys_pwritev(k: Kernel, fd: int, iov: int, count: int, offset: int) -> int:
    return _write(k, fd, _iovecs(k, iov, count), offset)


# Opening and closing.

@syscalls(56, DIRFD, PATH, OPEN_FLAGS, MODE)
def sys_openat(k: Kernel, dirfd: int, path: bytes, flags: int, mode: int) -> int:
    if procfs.self_entry(path, k.pid) == b"maps":
        host = procfs.memory_file("maps", procfs.maps_text(k.space.mappings()))
    else:
        where = k.files.resolve(dirfd, path)
        host = os.open(where.path, abi.OPEN_FLAGS.to_host(flags) | os.O_CLOEXEC, mode & 0o7777,
                       dir_fd=where.dir_fd)
    return k.files.install(host, cloexec=bool(flags & O_CLOEXEC))


@syscalls(57, FD)
def sys_close(k: Kernel, fd: int) -> int:
    k.files.close(fd)
    return 0


@syscalls(23, FD)
def sys_dup(k: Kernel, fd: int) -> int:
    return k.files.dup(fd)


@syscalls(24, FD, FD, OPEN_FLAGS)
def sys_dup3(k: Kernel, fd: int, new: int, flags: int) -> int:
    if fd == new or flags & ~O_CLOEXEC:
        raise SyscallError(errno.EINVAL)
    return k.files.dup_to(fd, new, cloexec=bool(flags))


@syscalls(59, PTR, OPEN_FLAGS)
def sys_pipe2(k: Kernel, fds: int, flags: int) -> int:
    if flags & ~PIPE_FLAGS:
        raise SyscallError(errno.EINVAL)
    k.space.check(fds, 8, PROT_WRITE)
    read_end, write_end = os.pipe2(abi.OPEN_FLAGS.to_host(flags) | os.O_CLOEXEC)
    cloexec = bool(flags & O_CLOEXEC)
    guest_read = k.files.install(read_end, cloexec=cloexec)
    try:
        guest_write = k.files.install(write_end, cloexec=cloexec)
    except OSError:
        k.files.close(guest_read)
        raise
    k.store_struct(fds, (c_int32 * 2)(guest_read, guest_write))
    return 0


# Descriptor control.

def _dupfd(k: Kernel, fd: int, arg: int) -> int:
    return k.files.dup(fd, lowest=arg)


def _dupfd_cloexec(k: Kernel, fd: int, arg: int) -> int:
    return k.files.dup(fd, lowest=arg, cloexec=True)


def _getfd(k: Kernel, fd: int, arg: int) -> int:
    return FD_CLOEXEC if k.files.get(fd).cloexec else 0


def _setfd(k: Kernel, fd: int, arg: int) -> int:
    k.files.get(fd).cloexec = bool(arg & FD_CLOEXEC)
    return 0


def _getfl(k: Kernel, fd: int, arg: int) -> int:
    return abi.OPEN_FLAGS.from_host(fcntl.fcntl(k.files.host(fd), fcntl.F_GETFL))


def _setfl(k: Kernel, fd: int, arg: int) -> int:
    """Set the status flags (the host ignores those F_SETFL may not change, as Linux does)."""
    fcntl.fcntl(k.files.host(fd), fcntl.F_SETFL, abi.OPEN_FLAGS.to_host(arg & 0xFFFFFFFF))
    return 0


_FCNTL: dict[int, Callable[[Kernel, int, int], int]] = {
    F_DUPFD: _dupfd, F_DUPFD_CLOEXEC: _dupfd_cloexec, F_GETFD: _getfd, F_SETFD: _setfd,
    F_GETFL: _getfl, F_SETFL: _setfl,
}


@syscalls(25, FD, FCNTL_CMD, LONG_HEX)
def sys_fcntl(k: Kernel, fd: int, cmd: int, arg: int) -> int:
    k.files.get(fd)
    if cmd not in _FCNTL:
        raise SyscallError(errno.EINVAL)
    return _FCNTL[cmd](k, fd, arg)


@syscalls(62, FD, LONG, WHENCE)
def sys_lseek(k: Kernel, fd: int, offset: int, whence: int) -> int:
    return os.lseek(k.files.host(fd), offset, whence)


@syscalls(46, FD, LONG)
def sys_ftruncate(k: Kernel, fd: int, length: int) -> int:
    os.ftruncate(k.files.host(fd), length)
    return 0


@syscalls(82, FD)
def sys_fsync(k: Kernel, fd: int) -> int:
    os.fsync(k.files.host(fd))
    return 0


@syscalls(83, FD)
def sys_fdatasync(k: Kernel, fd: int) -> int:
    os.fdatasync(k.files.host(fd))
    return 0


# Terminal control: the host's terminal, in the guest's struct termios.

def _tcgets(k: Kernel, host: int, arg: int) -> int:
    iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(host)
    chars = [c if isinstance(c, int) else c[0] for c in cc[:KERNEL_NCCS]]
    k.store_struct(arg, Termios(iflag, oflag, cflag, lflag, 0, (c_uint8 * KERNEL_NCCS)(*chars)))
    return 0


def _tcsets(when: int) -> Callable[[Kernel, int, int], int]:
    """TCSETS, TCSETSW or TCSETSF: the speed lives in c_cflag, as in the kernel's struct."""
    def tcsets(k: Kernel, host: int, arg: int) -> int:
        t = k.load_struct(Termios, arg)
        speed = t.c_cflag & termios.CBAUD
        cc = list(t.c_cc) + [0] * (termios.NCCS - KERNEL_NCCS)
        termios.tcsetattr(host, when, [t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag,
                                       speed, speed, cc])
        return 0
    return tcsets


def _winsize(k: Kernel, host: int, arg: int) -> int:
    """struct winsize is four u16 everywhere, so the host's bytes are the guest's."""
    k.store(arg, fcntl.ioctl(host, termios.TIOCGWINSZ, bytes(8)))
    return 0


_IOCTL: dict[int, Callable[[Kernel, int, int], int]] = {
    TCGETS: _tcgets, TCSETS: _tcsets(termios.TCSANOW), TCSETSW: _tcsets(termios.TCSADRAIN),
    TCSETSF: _tcsets(termios.TCSAFLUSH), TIOCGWINSZ: _winsize,
}


@syscalls(29, FD, IOCTL, PTR)
def sys_ioctl(k: Kernel, fd: int, request: int, arg: int) -> int:
    host = k.files.host(fd)
    if request not in _IOCTL:
        raise SyscallError(errno.ENOTTY)
    try:
        return _IOCTL[request](k, host, arg)
    except termios.error as e:
        raise SyscallError(e.args[0]) from None


# Status.

def _stat(st: os.stat_result) -> Stat:
    times = {}
    for which in ("atime", "mtime", "ctime"):
        times[f"st_{which}"], times[f"st_{which}_nsec"] = split_ns(getattr(st, f"st_{which}_ns"))
    return Stat(st_dev=st.st_dev, st_ino=st.st_ino, st_mode=st.st_mode, st_nlink=st.st_nlink,
                st_uid=st.st_uid, st_gid=st.st_gid, st_rdev=st.st_rdev, st_size=st.st_size,
                st_blksize=st.st_blksize, st_blocks=st.st_blocks, **times)


def _statx(st: os.stat_result) -> Statx:
    def stamp(ns: int) -> StatxTimestamp:
        return StatxTimestamp(*split_ns(ns))
    return Statx(stx_mask=STATX_BASIC_STATS, stx_blksize=st.st_blksize, stx_nlink=st.st_nlink,
                 stx_uid=st.st_uid, stx_gid=st.st_gid, stx_mode=st.st_mode, stx_ino=st.st_ino,
                 stx_size=st.st_size, stx_blocks=st.st_blocks,
                 stx_atime=stamp(st.st_atime_ns), stx_ctime=stamp(st.st_ctime_ns),
                 stx_mtime=stamp(st.st_mtime_ns),
                 stx_rdev_major=os.major(st.st_rdev), stx_rdev_minor=os.minor(st.st_rdev),
                 stx_dev_major=os.major(st.st_dev), stx_dev_minor=os.minor(st.st_dev))


def _stat_at(k: Kernel, dirfd: int, path: bytes, flags: int) -> os.stat_result:
    """stat for the *at calls: AT_EMPTY_PATH means dirfd itself."""
    if not path and flags & AT_EMPTY_PATH:
        return os.stat(k.files.host(dirfd)) if dirfd != AT_FDCWD else os.stat(".")
    where = k.files.resolve(dirfd, path)
    return os.stat(where.path, dir_fd=where.dir_fd,
                   follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)


@syscalls(80, FD, PTR)
def sys_fstat(k: Kernel, fd: int, buf: int) -> int:
    k.store_struct(buf, _stat(os.fstat(k.files.host(fd))))
    return 0


@syscalls(79, DIRFD, PATH, PTR, HEX)
def sys_newfstatat(k: Kernel, dirfd: int, path: bytes, buf: int, flags: int) -> int:
    k.store_struct(buf, _stat(_stat_at(k, dirfd, path, flags)))
    return 0


@syscalls(291, DIRFD, PATH, HEX, HEX, PTR)
def sys_statx(k: Kernel, dirfd: int, path: bytes, flags: int, mask: int, buf: int) -> int:
    k.store_struct(buf, _statx(_stat_at(k, dirfd, path, flags)))
    return 0


def _access(k: Kernel, dirfd: int, path: bytes, mode: int, flags: int) -> int:
    """Existence errors (ENOENT, ENOTDIR...) as stat reports them, then EACCES for rights."""
    if mode & ~7:
        raise SyscallError(errno.EINVAL)
    follow = not flags & AT_SYMLINK_NOFOLLOW
    where = k.files.resolve(dirfd, path)
    os.stat(where.path, dir_fd=where.dir_fd, follow_symlinks=follow)
    if mode and not os.access(where.path, mode, dir_fd=where.dir_fd,
                              effective_ids=bool(flags & AT_EACCESS), follow_symlinks=follow):
        raise SyscallError(errno.EACCES)
    return 0


@syscalls(48, DIRFD, PATH, INT)
def sys_faccessat(k: Kernel, dirfd: int, path: bytes, mode: int) -> int:
    return _access(k, dirfd, path, mode, 0)


@syscalls(439, DIRFD, PATH, INT, HEX)
def sys_faccessat2(k: Kernel, dirfd: int, path: bytes, mode: int, flags: int) -> int:
    return _access(k, dirfd, path, mode, flags)


@syscalls(78, DIRFD, PATH, PTR, INT)
def sys_readlinkat(k: Kernel, dirfd: int, path: bytes, buf: int, size: int) -> int:
    if size <= 0:
        raise SyscallError(errno.EINVAL)
    if procfs.self_entry(path, k.pid) == b"exe":
        target = k.files.exe
    else:
        where = k.files.resolve(dirfd, path)
        target = os.readlink(where.path, dir_fd=where.dir_fd)
    k.store(buf, target[:size])
    return min(len(target), size)


# Directories and names.

@syscalls(61, FD, PTR, SIZE)
def sys_getdents64(k: Kernel, fd: int, dirp: int, count: int) -> int:
    host = k.files.host(fd)
    count = min(count, DIRENT_CHUNK)
    k.space.check(dirp, count, PROT_WRITE)
    data = read_dir(host, count)
    k.store(dirp, data)
    return len(data)


@syscalls(17, PTR, SIZE)
def sys_getcwd(k: Kernel, buf: int, size: int) -> int:
    """The raw syscall returns the length including the NUL, not the pointer libc returns."""
    cwd = os.getcwdb() + b"\0"
    if size < len(cwd):
        raise SyscallError(errno.ERANGE)
    k.store(buf, cwd)
    return len(cwd)


@syscalls(49, PATH)
def sys_chdir(k: Kernel, path: bytes) -> int:
    os.chdir(k.files.resolve(AT_FDCWD, path).path)
    return 0


@syscalls(50, FD)
def sys_fchdir(k: Kernel, fd: int) -> int:
    os.fchdir(k.files.host(fd))
    return 0


@syscalls(34, DIRFD, PATH, MODE)
def sys_mkdirat(k: Kernel, dirfd: int, path: bytes, mode: int) -> int:
    where = k.files.resolve(dirfd, path)
    os.mkdir(where.path, mode & 0o7777, dir_fd=where.dir_fd)
    return 0


@syscalls(35, DIRFD, PATH, HEX)
def sys_unlinkat(k: Kernel, dirfd: int, path: bytes, flags: int) -> int:
    if flags & ~AT_REMOVEDIR:
        raise SyscallError(errno.EINVAL)
    where = k.files.resolve(dirfd, path)
    remove = os.rmdir if flags else os.unlink
    remove(where.path, dir_fd=where.dir_fd)
    return 0


@syscalls(36, PATH, DIRFD, PATH)
def sys_symlinkat(k: Kernel, target: bytes, dirfd: int, path: bytes) -> int:
    """The target is stored as given: it is link content, not a path resolved now."""
    where = k.files.resolve(dirfd, path)
    os.symlink(target, where.path, dir_fd=where.dir_fd)
    return 0


@syscalls(276, DIRFD, PATH, DIRFD, PATH, HEX)
def sys_renameat2(k: Kernel, olddirfd: int, old: bytes, newdirfd: int, new: bytes,
                  flags: int) -> int:
    if flags:
        raise SyscallError(errno.EINVAL)
    src, dst = k.files.resolve(olddirfd, old), k.files.resolve(newdirfd, new)
    os.rename(src.path, dst.path, src_dir_fd=src.dir_fd, dst_dir_fd=dst.dir_fd)
    return 0
