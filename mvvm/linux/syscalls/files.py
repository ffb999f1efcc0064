"""Descriptor syscalls: open, read, write and their variants, pipes, fcntl, locks, ioctl,
and the in-kernel copies (sendfile, copy_file_range). Paths and metadata are in names.py."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import termios
from collections.abc import Callable
from ctypes import LittleEndianStructure, c_int32, c_int64, c_uint8, c_uint64, sizeof
from typing import TYPE_CHECKING

from ...errors import SyscallError
from ...runtime.address_space import PROT_WRITE
from .. import abi, procfs
from ..abi import (
    F_ADD_SEALS,
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GET_SEALS,
    F_GETFD,
    F_GETFL,
    F_GETLK,
    F_GETOWN,
    F_GETPIPE_SZ,
    F_OFD_GETLK,
    F_SETFD,
    F_SETFL,
    F_SETOWN,
    F_SETPIPE_SZ,
    FD_CLOEXEC,
    FIOCLEX,
    FIONBIO,
    FIONCLEX,
    FIONREAD,
    LOCK_CMDS,
    MAX_RW_COUNT,
    O_CLOEXEC,
    O_DIRECT,
    O_NONBLOCK,
    TCGETS,
    TCSETS,
    TCSETSF,
    TCSETSW,
    TIOCGPGRP,
    TIOCGWINSZ,
    TIOCSWINSZ,
)
from ..fs import OpenFile, libc
from ..structs import KERNEL_NCCS, Iovec, Termios
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
    Unsigned,
)

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

IOV_MAX = 1024
O_CREAT_EXCL = 0o300
O_NOFOLLOW = 0o400000
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
    if offset is None:
        k.signals.wait_ready(host, select.POLLIN)       # a signal may interrupt the wait
    data = os.read(host, want) if offset is None else os.pread(host, want, offset)
    rest = memoryview(data)
    for addr, size in bufs:
        k.store(addr, rest[:size])
        rest = rest[size:]
    return len(data)


def _write(k: Kernel, fd: int, bufs: Buffers, offset: int | None = None) -> int:
    entry = k.files.get(fd)
    if len(bufs) == 1:                  # write(2): the common case, without the join
        data = k.load(bufs[0][0], min(bufs[0][1], MAX_RW_COUNT))
    else:
        data = b"".join(k.load(addr, size) for addr, size in bufs)[:MAX_RW_COUNT]
    if entry.sink is not None:
        if offset is not None:
            raise SyscallError(errno.ESPIPE)
        entry.sink(data)
        return len(data)
    host = entry.host
    try:
        return os.write(host, data) if offset is None else os.pwrite(host, data, offset)
    except BrokenPipeError:
        k.broken_pipe()
        raise


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

def _open(k: Kernel, dirfd: int, path: bytes, flags: int, mode: int, *,
          no_symlinks: bool = False) -> int:
    """openat's work: the last component is not followed for O_NOFOLLOW or O_CREAT|O_EXCL
    (Linux then fails on, or refuses to create through, a symlink)."""
    if procfs.self_entry(path, k.pid) == b"maps":
        return k.files.install(procfs.memory_file("maps", procfs.maps_text(k.space.mappings())),
                               cloexec=bool(flags & O_CLOEXEC))
    follow = not (flags & O_NOFOLLOW or flags & O_CREAT_EXCL == O_CREAT_EXCL or no_symlinks)
    where = k.files.resolve(dirfd, path, follow=follow)
    host_flags = abi.OPEN_FLAGS.to_host(flags) | os.O_CLOEXEC
    if no_symlinks:
        host_flags |= os.O_NOFOLLOW
    host = k.files.open(where, host_flags, mode & 0o7777)
    return k.files.install(host, cloexec=bool(flags & O_CLOEXEC), path=where.guest or b"")


@syscalls(56, DIRFD, PATH, OPEN_FLAGS, MODE)
def sys_openat(k: Kernel, dirfd: int, path: bytes, flags: int, mode: int) -> int:
    return _open(k, dirfd, path, flags, mode)


class OpenHow(LittleEndianStructure):
    _fields_ = [("flags", c_uint64), ("mode", c_uint64), ("resolve", c_uint64)]


RESOLVE_ALL = 0x3F
RESOLVE_NO_SYMLINKS = 0x04


@syscalls(437, DIRFD, PATH, PTR, SIZE)
def sys_openat2(k: Kernel, dirfd: int, path: bytes, how: int, size: int) -> int:
    """openat with struct open_how. Of the RESOLVE_ flags, NO_SYMLINKS refuses a symlink
    in the last component; the confinement ones (BENEATH, IN_ROOT) are what --root gives."""
    if size < sizeof(OpenHow):
        raise SyscallError(errno.EINVAL)
    request = k.load_struct(OpenHow, how)
    if request.resolve & ~RESOLVE_ALL or request.flags >> 32 or request.mode & ~0o7777:
        raise SyscallError(errno.EINVAL)
    return _open(k, dirfd, path, request.flags, request.mode,
                 no_symlinks=bool(request.resolve & RESOLVE_NO_SYMLINKS))


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


CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 2, 4
MFD_CLOEXEC = 1
MFD_FLAGS = 0x1F                    # CLOEXEC, ALLOW_SEALING, HUGETLB, NOEXEC_SEAL, EXEC


@syscalls(436, Unsigned(32), Unsigned(32), HEX)
def sys_close_range(k: Kernel, first: int, last: int, flags: int) -> int:
    """Close (or mark close-on-exec) every open guest fd in [first, last]."""
    if first > last or flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC):
        raise SyscallError(errno.EINVAL)
    for fd in [fd for fd in k.files.table() if first <= fd <= last]:
        if flags & CLOSE_RANGE_CLOEXEC:
            k.files.get(fd).cloexec = True
        else:
            k.files.close(fd)
    return 0


@syscalls(279, PATH, HEX)
def sys_memfd_create(k: Kernel, name: bytes, flags: int) -> int:
    if flags & ~MFD_FLAGS or len(name) > 249:
        raise SyscallError(errno.EINVAL)
    host = os.memfd_create(os.fsdecode(name), (flags & ~MFD_CLOEXEC) | os.MFD_CLOEXEC)
    return k.files.install(host, cloexec=bool(flags & MFD_CLOEXEC))


@syscalls(223, FD, LONG, LONG, INT)
def sys_fadvise64(k: Kernel, fd: int, offset: int, length: int, advice: int) -> int:
    """Advice only: checked, then followed by the host."""
    os.posix_fadvise(k.files.host(fd), offset, length, advice)
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


FLOCK_SIZE = 32     # struct flock: short type, whence; long start, len; int pid (as on x86-64)


def _record_lock(cmd: int) -> Callable[[Kernel, int, int], int]:
    """F_GETLK, F_SETLK(W) and the OFD forms: struct flock is laid out as on the host, whose
    numbers these commands share, so the guest's struct goes through as bytes."""
    def lock(k: Kernel, fd: int, arg: int) -> int:
        result = fcntl.fcntl(k.files.host(fd), cmd, k.load(arg, FLOCK_SIZE))
        if cmd in (F_GETLK, F_OFD_GETLK):
            k.store(arg, result)
        return 0
    return lock


def _host_int(cmd: int) -> Callable[[Kernel, int, int], int]:
    """A command whose argument and result are plain ints with the host's meaning."""
    def call(k: Kernel, fd: int, arg: int) -> int:
        return fcntl.fcntl(k.files.host(fd), cmd, arg & 0xFFFFFFFF)
    return call


def _setown(k: Kernel, fd: int, owner: int) -> int:
    """Who gets SIGIO and SIGURG for the descriptor: the host kernel sends them, so only the
    guest itself (its pid, a thread, its process group) or a child; any other host process
    or group is out of its reach (EPERM)."""
    owner = ctypes.c_int32(owner).value
    if owner and owner not in (k.pid, -os.getpgid(0)) and owner not in k.threads \
            and owner not in k.children:
        raise SyscallError(errno.EPERM)
    return fcntl.fcntl(k.files.host(fd), F_SETOWN, owner)


_FCNTL: dict[int, Callable[[Kernel, int, int], int]] = {
    F_DUPFD: _dupfd, F_DUPFD_CLOEXEC: _dupfd_cloexec, F_GETFD: _getfd, F_SETFD: _setfd,
    F_GETFL: _getfl, F_SETFL: _setfl,
    **{cmd: _record_lock(cmd) for cmd in LOCK_CMDS},
    F_SETOWN: _setown,
    **{cmd: _host_int(cmd) for cmd in (F_GETOWN, F_GETPIPE_SZ, F_SETPIPE_SZ, F_ADD_SEALS,
                                       F_GET_SEALS)},
}


@syscalls(25, FD, FCNTL_CMD, LONG_HEX)
def sys_fcntl(k: Kernel, fd: int, cmd: int, arg: int) -> int:
    k.files.get(fd)
    if cmd not in _FCNTL:
        raise SyscallError(errno.EINVAL)
    return _FCNTL[cmd](k, fd, arg)


@syscalls(32, FD, INT)
def sys_flock(k: Kernel, fd: int, operation: int) -> int:
    fcntl.flock(k.files.host(fd), operation)
    return 0


@syscalls(47, FD, HEX, LONG, LONG)
def sys_fallocate(k: Kernel, fd: int, mode: int, offset: int, length: int) -> int:
    if libc.fallocate(k.files.host(fd), mode, offset, length) < 0:
        raise SyscallError(ctypes.get_errno())
    return 0


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


@syscalls(81)
def sys_sync(k: Kernel) -> int:
    os.sync()
    return 0


@syscalls(84, FD, LONG, LONG, HEX)
def sys_sync_file_range(k: Kernel, fd: int, offset: int, length: int, flags: int) -> int:
    """Only a hint about write-back ordering; fdatasync covers every range."""
    os.fdatasync(k.files.host(fd))
    return 0


# Copies inside the kernel: an optional guest loff_t is read, used and advanced.

def _offset_in(k: Kernel, ptr: int) -> int | None:
    return k.load_struct(c_int64, ptr).value if ptr else None


def _offset_out(k: Kernel, ptr: int, offset: int | None, done: int) -> None:
    if ptr and offset is not None:
        k.store_struct(ptr, c_int64(offset + done))


@syscalls(71, FD, FD, PTR, SIZE)
def sys_sendfile(k: Kernel, out_fd: int, in_fd: int, offset_ptr: int, count: int) -> int:
    offset = _offset_in(k, offset_ptr)
    source = k.files.host(in_fd)
    if offset is None:
        offset = os.lseek(source, 0, os.SEEK_CUR)
        done = os.sendfile(k.files.host(out_fd), source, offset, min(count, MAX_RW_COUNT))
        os.lseek(source, offset + done, os.SEEK_SET)
        return done
    done = os.sendfile(k.files.host(out_fd), source, offset, min(count, MAX_RW_COUNT))
    _offset_out(k, offset_ptr, offset, done)
    return done


@syscalls(285, FD, PTR, FD, PTR, SIZE, HEX)
def sys_copy_file_range(k: Kernel, fd_in: int, off_in: int, fd_out: int, off_out: int,
                        count: int, flags: int) -> int:
    if flags:
        raise SyscallError(errno.EINVAL)
    src, dst = _offset_in(k, off_in), _offset_in(k, off_out)
    done = os.copy_file_range(k.files.host(fd_in), k.files.host(fd_out),
                              min(count, MAX_RW_COUNT), src, dst)
    _offset_out(k, off_in, src, done)
    _offset_out(k, off_out, dst, done)
    return done


# ioctl: the terminal requests (the host's terminal, in the guest's struct termios) and the
# generic ones. A handler gets the guest's descriptor entry and the argument.

Ioctl = Callable[["Kernel", OpenFile, int], int]


def _tcgets(k: Kernel, f: OpenFile, arg: int) -> int:
    iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(f.host)
    chars = [c if isinstance(c, int) else c[0] for c in cc[:KERNEL_NCCS]]
    k.store_struct(arg, Termios(iflag, oflag, cflag, lflag, 0, (c_uint8 * KERNEL_NCCS)(*chars)))
    return 0


def _tcsets(when: int) -> Ioctl:
    """TCSETS, TCSETSW or TCSETSF: the speed lives in c_cflag, as in the kernel's struct."""
    def tcsets(k: Kernel, f: OpenFile, arg: int) -> int:
        t = k.load_struct(Termios, arg)
        speed = t.c_cflag & termios.CBAUD
        cc = list(t.c_cc) + [0] * (termios.NCCS - KERNEL_NCCS)
        termios.tcsetattr(f.host, when, [t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag,
                                       speed, speed, cc])
        return 0
    return tcsets


def _winsize(k: Kernel, f: OpenFile, arg: int) -> int:
    """struct winsize is four u16 everywhere, so the host's bytes are the guest's."""
    k.store(arg, fcntl.ioctl(f.host, termios.TIOCGWINSZ, bytes(8)))
    return 0


def _int_in(request: int) -> Ioctl:
    """A request that takes a pointer to an int (TIOCSPGRP, FIONBIO): the host's number."""
    def call(k: Kernel, f: OpenFile, arg: int) -> int:
        fcntl.ioctl(f.host, request, k.load(arg, 4))
        return 0
    return call


def _int_out(request: int) -> Ioctl:
    """A request that fills an int (FIONREAD, TIOCGPGRP)."""
    def call(k: Kernel, f: OpenFile, arg: int) -> int:
        k.store(arg, fcntl.ioctl(f.host, request, bytes(4)))
        return 0
    return call


def _set_winsize(k: Kernel, f: OpenFile, arg: int) -> int:
    fcntl.ioctl(f.host, termios.TIOCSWINSZ, k.load(arg, 8))
    return 0


def _cloexec(value: bool) -> Ioctl:
    """FIOCLEX and FIONCLEX act on the guest's descriptor, not on the host's."""
    def call(k: Kernel, f: OpenFile, arg: int) -> int:
        f.cloexec = value
        return 0
    return call


_IOCTL: dict[int, Ioctl] = {
    TCGETS: _tcgets, TCSETS: _tcsets(termios.TCSANOW), TCSETSW: _tcsets(termios.TCSADRAIN),
    TCSETSF: _tcsets(termios.TCSAFLUSH), TIOCGWINSZ: _winsize, TIOCSWINSZ: _set_winsize,
    FIONREAD: _int_out(termios.FIONREAD), TIOCGPGRP: _int_out(termios.TIOCGPGRP),
    FIONBIO: _int_in(termios.FIONBIO), FIOCLEX: _cloexec(True), FIONCLEX: _cloexec(False),
}


# What only a terminal answers. Programs ask it of every file they open, or of stdout
# before each write (cmake -P: 6,400 times), and a file that is no terminal fails at
# once: tcgetattr's exception, made a SyscallError and caught again, cost 2 us of 5.
_TERMINAL = frozenset({TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ, TIOCGPGRP})


@syscalls(29, FD, IOCTL, PTR)
def sys_ioctl(k: Kernel, fd: int, request: int, arg: int) -> int:
    entry = k.files.get(fd)
    handler = _IOCTL.get(request)
    if handler is None or (request in _TERMINAL and not os.isatty(entry.host)):
        return -errno.ENOTTY
    try:
        return handler(k, entry, arg)
    except termios.error as e:
        raise SyscallError(e.args[0]) from None


