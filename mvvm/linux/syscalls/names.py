"""Path and metadata syscalls: stat, access, links, directories, modes, owners, times, statfs.

Every path goes through `Files.resolve`, so the sysroot and --root confinement apply to all
of them alike; a call that must not follow a symlink in the last component says so there.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from ctypes import create_string_buffer
from typing import TYPE_CHECKING

from ...errors import SyscallError
from ...runtime.address_space import PROT_WRITE
from .. import procfs
from ..abi import AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW
from ..fs import libc, read_dir
from ..paths import HostPath
from ..structs import Stat, Statx, StatxTimestamp, split_ns
from ..table import (
    AT_FLAGS,
    DIRFD,
    FD,
    HEX,
    INT,
    MODE,
    OPT_PATH,
    PATH,
    PTR,
    SIZE,
    SyscallSet,
)

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

DIRENT_CHUNK = 1 << 20          # getdents64 may return fewer entries than fit: bounds the copy
STATX_BASIC_STATS = 0x7FF
AT_SYMLINK_FOLLOW = 0x400
STATFS_SIZE = 120               # struct statfs: the same 120 bytes on every 64-bit Linux
RENAME_FLAGS = 0x7              # NOREPLACE | EXCHANGE | WHITEOUT
HOST_AT_FDCWD = -100

libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint]
libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]


def _host_call(result: int) -> int:
    if result < 0:
        raise SyscallError(ctypes.get_errno())
    return result


def _at(where: HostPath) -> int:
    return HOST_AT_FDCWD if where.dir_fd is None else where.dir_fd


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
    follow = not flags & AT_SYMLINK_NOFOLLOW
    where = k.files.resolve(dirfd, path, follow=follow)
    return os.stat(where.path, dir_fd=where.dir_fd, follow_symlinks=where.follows(follow))


@syscalls(80, FD, PTR)
def sys_fstat(k: Kernel, fd: int, buf: int) -> int:
    k.store_struct(buf, _stat(os.fstat(k.files.host(fd))))
    return 0


@syscalls(79, DIRFD, PATH, PTR, AT_FLAGS)
def sys_newfstatat(k: Kernel, dirfd: int, path: bytes, buf: int, flags: int) -> int:
    k.store_struct(buf, _stat(_stat_at(k, dirfd, path, flags)))
    return 0


@syscalls(291, DIRFD, PATH, AT_FLAGS, HEX, PTR)
def sys_statx(k: Kernel, dirfd: int, path: bytes, flags: int, mask: int, buf: int) -> int:
    k.store_struct(buf, _statx(_stat_at(k, dirfd, path, flags)))
    return 0


def _statfs(k: Kernel, buf: int, call: object, target: object) -> int:
    """statfs and fstatfs: the host's struct is the guest's, byte for byte."""
    out = create_string_buffer(STATFS_SIZE)
    _host_call(call(target, out))
    k.store(buf, out.raw)
    return 0


@syscalls(43, PATH, PTR)
def sys_statfs(k: Kernel, path: bytes, buf: int) -> int:
    where = k.files.resolve(AT_FDCWD, path)
    flags = os.O_PATH | os.O_CLOEXEC | (0 if where.follows(True) else os.O_NOFOLLOW)
    fd = os.open(where.path, flags, dir_fd=where.dir_fd)
    try:
        return _statfs(k, buf, libc.fstatfs, fd)
    finally:
        os.close(fd)


@syscalls(44, FD, PTR)
def sys_fstatfs(k: Kernel, fd: int, buf: int) -> int:
    return _statfs(k, buf, libc.fstatfs, k.files.host(fd))


def _access(k: Kernel, dirfd: int, path: bytes, mode: int, flags: int) -> int:
    """Existence errors (ENOENT, ENOTDIR...) as stat reports them, then EACCES for rights."""
    if mode & ~7:
        raise SyscallError(errno.EINVAL)
    follow = not flags & AT_SYMLINK_NOFOLLOW
    where = k.files.resolve(dirfd, path, follow=follow)
    os.stat(where.path, dir_fd=where.dir_fd, follow_symlinks=where.follows(follow))
    if mode and not os.access(where.path, mode, dir_fd=where.dir_fd,
                              effective_ids=bool(flags & AT_EACCESS),
                              follow_symlinks=where.follows(follow)):
        raise SyscallError(errno.EACCES)
    return 0


@syscalls(48, DIRFD, PATH, INT)
def sys_faccessat(k: Kernel, dirfd: int, path: bytes, mode: int) -> int:
    return _access(k, dirfd, path, mode, 0)


@syscalls(439, DIRFD, PATH, INT, AT_FLAGS)
def sys_faccessat2(k: Kernel, dirfd: int, path: bytes, mode: int, flags: int) -> int:
    return _access(k, dirfd, path, mode, flags)


@syscalls(78, DIRFD, PATH, PTR, INT)
def sys_readlinkat(k: Kernel, dirfd: int, path: bytes, buf: int, size: int) -> int:
    if size <= 0:
        raise SyscallError(errno.EINVAL)
    if procfs.self_entry(path, k.pid) == b"exe":
        target = k.files.exe_name
    else:
        where = k.files.resolve(dirfd, path, follow=False)
        target = os.readlink(where.path, dir_fd=where.dir_fd)
    k.store(buf, target[:size])
    return min(len(target), size)


# Modes, owners and times.

@syscalls(52, FD, MODE)
def sys_fchmod(k: Kernel, fd: int, mode: int) -> int:
    os.chmod(k.files.host(fd), mode & 0o7777)
    return 0


@syscalls(53, DIRFD, PATH, MODE)
def sys_fchmodat(k: Kernel, dirfd: int, path: bytes, mode: int) -> int:
    where = k.files.resolve(dirfd, path)
    if where.follows(True):
        os.chmod(where.path, mode & 0o7777, dir_fd=where.dir_fd)
        return 0
    # Linux has no chmod that leaves a symlink alone: change the file through an O_PATH
    # descriptor of it (a symlink swapped in makes that ELOOP).
    fd = os.open(where.path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=where.dir_fd)
    try:
        os.chmod(f"/proc/self/fd/{fd}", mode & 0o7777)
    finally:
        os.close(fd)
    return 0


@syscalls(55, FD, INT, INT)
def sys_fchown(k: Kernel, fd: int, uid: int, gid: int) -> int:
    os.chown(k.files.host(fd), uid, gid)
    return 0


@syscalls(54, DIRFD, PATH, INT, INT, AT_FLAGS)
def sys_fchownat(k: Kernel, dirfd: int, path: bytes, uid: int, gid: int, flags: int) -> int:
    if not path and flags & AT_EMPTY_PATH:
        return sys_fchown(k, dirfd, uid, gid)
    follow = not flags & AT_SYMLINK_NOFOLLOW
    where = k.files.resolve(dirfd, path, follow=follow)
    os.chown(where.path, uid, gid, dir_fd=where.dir_fd, follow_symlinks=where.follows(follow))
    return 0


@syscalls(88, DIRFD, OPT_PATH, PTR, AT_FLAGS)
def sys_utimensat(k: Kernel, dirfd: int, path: bytes | None, times: int, flags: int) -> int:
    """struct timespec[2] with UTIME_NOW/UTIME_OMIT is the host's too: passed as bytes.
    A NULL path is futimens on dirfd."""
    stamps = k.load(times, 32) if times else None
    if path is None:
        target, at = None, k.files.host(dirfd)
    else:
        follow = not flags & AT_SYMLINK_NOFOLLOW
        where = k.files.resolve(dirfd, path, follow=follow)
        target, at = where.path, _at(where)
        flags = 0 if where.follows(follow) else AT_SYMLINK_NOFOLLOW
    _host_call(libc.utimensat(at, target, stamps, flags & AT_SYMLINK_NOFOLLOW))
    return 0


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
    cwd = k.files.paths.getcwd() + b"\0"
    if size < len(cwd):
        raise SyscallError(errno.ERANGE)
    k.store(buf, cwd)
    return len(cwd)


@syscalls(49, PATH)
def sys_chdir(k: Kernel, path: bytes) -> int:
    where = k.files.resolve(AT_FDCWD, path)
    k.files.paths.chdir(where.guest or where.path, where)
    return 0


@syscalls(50, FD)
def sys_fchdir(k: Kernel, fd: int) -> int:
    entry = k.files.get(fd)
    if k.files.paths.confined:
        k.files.paths.chdir(entry.path, k.files.paths.resolve(entry.path or b"/"))
    else:
        os.fchdir(entry.host)
    return 0


@syscalls(34, DIRFD, PATH, MODE)
def sys_mkdirat(k: Kernel, dirfd: int, path: bytes, mode: int) -> int:
    where = k.files.resolve(dirfd, path, follow=False)
    os.mkdir(where.path, mode & 0o7777, dir_fd=where.dir_fd)
    return 0


@syscalls(33, DIRFD, PATH, MODE, HEX)
def sys_mknodat(k: Kernel, dirfd: int, path: bytes, mode: int, dev: int) -> int:
    """A confined guest (--root, --map) makes no device nodes, as in an unprivileged
    container: a node it made would open the host's device (/dev/kmsg, a disk)."""
    if k.files.paths.confined and stat.S_IFMT(mode) in (stat.S_IFCHR, stat.S_IFBLK):
        raise SyscallError(errno.EPERM)
    where = k.files.resolve(dirfd, path, follow=False)
    os.mknod(where.path, mode, dev, dir_fd=where.dir_fd)
    return 0


@syscalls(35, DIRFD, PATH, AT_FLAGS)
def sys_unlinkat(k: Kernel, dirfd: int, path: bytes, flags: int) -> int:
    if flags & ~AT_REMOVEDIR:
        raise SyscallError(errno.EINVAL)
    where = k.files.resolve(dirfd, path, follow=False)
    remove = os.rmdir if flags else os.unlink
    remove(where.path, dir_fd=where.dir_fd)
    return 0


@syscalls(36, PATH, DIRFD, PATH)
def sys_symlinkat(k: Kernel, target: bytes, dirfd: int, path: bytes) -> int:
    """The target is stored as given: it is link content, resolved (in the guest's tree)
    only when a path goes through the link."""
    where = k.files.resolve(dirfd, path, follow=False)
    os.symlink(target, where.path, dir_fd=where.dir_fd)
    return 0


@syscalls(37, DIRFD, PATH, DIRFD, PATH, AT_FLAGS)
def sys_linkat(k: Kernel, olddirfd: int, old: bytes, newdirfd: int, new: bytes,
               flags: int) -> int:
    follow = bool(flags & AT_SYMLINK_FOLLOW)
    src = k.files.resolve(olddirfd, old, follow=follow)
    dst = k.files.resolve(newdirfd, new, follow=False)
    os.link(src.path, dst.path, src_dir_fd=src.dir_fd, dst_dir_fd=dst.dir_fd,
            follow_symlinks=src.follows(follow))
    return 0


@syscalls(276, DIRFD, PATH, DIRFD, PATH, HEX)
def sys_renameat2(k: Kernel, olddirfd: int, old: bytes, newdirfd: int, new: bytes,
                  flags: int) -> int:
    if flags & ~RENAME_FLAGS:
        raise SyscallError(errno.EINVAL)
    src = k.files.resolve(olddirfd, old, follow=False)
    dst = k.files.resolve(newdirfd, new, follow=False)
    _host_call(libc.renameat2(_at(src), src.path, _at(dst), dst.path, flags))
    return 0


@syscalls(166, MODE)
def sys_umask(k: Kernel, mask: int) -> int:
    """The host's umask is the guest's: the host applies it to every file the guest creates.
    An embedded guest's is only recorded: its host program's umask stays the program's."""
    if k.embedded:
        old, k.umask = k.umask, mask & 0o777
        return old
    return os.umask(mask & 0o777)

