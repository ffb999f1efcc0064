"""Sockets through the host: the guest's calls become the host's on the host descriptors.

struct sockaddr (in, in6, un), struct msghdr, cmsghdr, socket option values, and the
numbers of families, types, levels, options and MSG_ flags are the same on riscv64 and on
the 64-bit Linux hosts MVVM runs on, so they pass through as bytes. What changes on the
way: descriptors (guest numbers, and those passed with SCM_RIGHTS), AF_UNIX paths under a
confined tree (resolved in it like every path), and what --no-network refuses.
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Callable
from ctypes import LittleEndianStructure, c_int32, c_uint32, c_uint64, sizeof
from typing import TYPE_CHECKING

from ...errors import SyscallError
from ..abi import AF_UNIX, AT_FDCWD, SOCK_CLOEXEC, SOCK_NONBLOCK
from ..fs import libc
from ..structs import Iovec
from ..table import (
    DOMAIN,
    FD,
    INT,
    MSG_FLAGS,
    PTR,
    SHUTDOWN_HOW,
    SIZE,
    SOCK_TYPE,
    SOCKADDR,
    SOCKET_LEVEL,
    SyscallSet,
)
from .files import IOV_MAX, MAX_RW_COUNT

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

SOCKADDR_MAX = 128                  # sizeof(struct sockaddr_storage)
SUN_PATH_MAX = 108
SOL_SOCKET, SCM_RIGHTS = 1, 1
MSG_CMSG_CLOEXEC = 0x40000000
MSG_NOSIGNAL = 0x4000
CONTROL_MAX = 1 << 16
OPTION_MAX = 1 << 12


class MsgHdr(LittleEndianStructure):
    """struct msghdr, the same 56 bytes on riscv64 and the host."""

    _fields_ = [("name", c_uint64), ("namelen", c_uint32), ("iov", c_uint64),
                ("iovlen", c_uint64), ("control", c_uint64), ("controllen", c_uint64),
                ("flags", c_int32)]


class CmsgHdr(LittleEndianStructure):
    _fields_ = [("len", c_uint64), ("level", c_int32), ("type", c_int32)]


def _check(result: int) -> int:
    if result < 0:
        raise SyscallError(ctypes.get_errno())
    return result


def _sent(k: Kernel, flags: int, result: int) -> int:
    """A send's result; EPIPE raises SIGPIPE unless MSG_NOSIGNAL, as for write."""
    if result < 0 and ctypes.get_errno() == errno.EPIPE and not flags & MSG_NOSIGNAL:
        k.broken_pipe()
    return _check(result)


def _align(n: int) -> int:
    return (n + 7) & ~7


# Addresses.

def _address(k: Kernel, addr: int, length: int, *, binding: bool = False) -> bytes:
    """A guest sockaddr for the host: an AF_UNIX path is resolved like any guest path (the
    last component not followed when binding); an abstract one is host-wide, so only a
    guest with the network may use it."""
    if not 0 <= length <= SOCKADDR_MAX:
        raise SyscallError(errno.EINVAL)
    data = k.load(addr, length) if length else b""
    if len(data) < 3 or int.from_bytes(data[:2], "little") != AF_UNIX:
        return data
    if data[2] == 0:
        if not k.network:
            raise SyscallError(errno.EACCES)
        return data
    if not k.files.paths.confined:
        return data
    path = data[2:].split(b"\0")[0]
    where = k.files.resolve(AT_FDCWD, path, follow=not binding)
    # Through the magic link of the directory the kernel opened beneath the tree: a
    # symlink a guest thread swaps in meanwhile cannot take the socket's path outside.
    host = b"/proc/self/fd/%d/%s" % (where.dir_fd, where.path)
    if len(host) >= SUN_PATH_MAX:
        raise SyscallError(errno.ENAMETOOLONG)
    return data[:2] + host + b"\0"


def _address_out(k: Kernel, addr: int, length_ptr: int,
                 fill: Callable[[ctypes.Array | None, object], int]) -> int:
    """Call fill(buffer, &length) with room for the guest's *length_ptr bytes, then copy
    the (possibly truncated) address and its real length back, as accept and getsockname
    do. Returns fill's result."""
    room = k.load_struct(c_uint32, length_ptr).value if addr else 0
    buffer = ctypes.create_string_buffer(SOCKADDR_MAX)
    length = c_uint32(SOCKADDR_MAX)
    result = fill(buffer if addr else None, ctypes.byref(length) if addr else None)
    if addr:
        k.store(addr, buffer.raw[:min(room, length.value)])
        k.store_struct(length_ptr, c_uint32(length.value))
    return result


# Creating and connecting.

def _socket_flags(type_: int) -> int:
    return (type_ & ~SOCK_CLOEXEC) | SOCK_CLOEXEC


@syscalls(198, DOMAIN, SOCK_TYPE, INT)
def sys_socket(k: Kernel, domain: int, type_: int, protocol: int) -> int:
    if domain != AF_UNIX and not k.network:
        raise SyscallError(errno.EACCES)
    host = _check(libc.socket(domain, _socket_flags(type_), protocol))
    return k.files.install(host, cloexec=bool(type_ & SOCK_CLOEXEC))


@syscalls(199, DOMAIN, SOCK_TYPE, INT, PTR)
def sys_socketpair(k: Kernel, domain: int, type_: int, protocol: int, sv: int) -> int:
    if domain != AF_UNIX and not k.network:
        raise SyscallError(errno.EACCES)
    pair = (c_int32 * 2)()
    _check(libc.socketpair(domain, _socket_flags(type_), protocol, pair))
    cloexec = bool(type_ & SOCK_CLOEXEC)
    first = k.files.install(pair[0], cloexec=cloexec)
    try:
        second = k.files.install(pair[1], cloexec=cloexec)
    except OSError:
        k.files.close(first)
        raise
    k.store_struct(sv, (c_int32 * 2)(first, second))
    return 0


@syscalls(200, FD, SOCKADDR, INT)
def sys_bind(k: Kernel, fd: int, addr: int, length: int) -> int:
    data = _address(k, addr, length, binding=True)
    return _check(libc.bind(k.files.host(fd), data, len(data)))


@syscalls(203, FD, SOCKADDR, INT)
def sys_connect(k: Kernel, fd: int, addr: int, length: int) -> int:
    data = _address(k, addr, length)
    return _check(libc.connect(k.files.host(fd), data, len(data)))


@syscalls(201, FD, INT)
def sys_listen(k: Kernel, fd: int, backlog: int) -> int:
    return _check(libc.listen(k.files.host(fd), backlog))


@syscalls(242, FD, PTR, PTR, SOCK_TYPE)
def sys_accept4(k: Kernel, fd: int, addr: int, length: int, flags: int) -> int:
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        raise SyscallError(errno.EINVAL)
    host = k.files.host(fd)
    new = _address_out(k, addr, length, lambda buf, n: _check(
        libc.accept4(host, buf, n, flags | SOCK_CLOEXEC)))
    return k.files.install(new, cloexec=bool(flags & SOCK_CLOEXEC))


@syscalls(202, FD, PTR, PTR)
def sys_accept(k: Kernel, fd: int, addr: int, length: int) -> int:
    return sys_accept4(k, fd, addr, length, 0)


@syscalls(204, FD, PTR, PTR)
def sys_getsockname(k: Kernel, fd: int, addr: int, length: int) -> int:
    host = k.files.host(fd)
    return _address_out(k, addr, length, lambda buf, n: _check(libc.getsockname(host, buf, n)))


@syscalls(205, FD, PTR, PTR)
def sys_getpeername(k: Kernel, fd: int, addr: int, length: int) -> int:
    host = k.files.host(fd)
    return _address_out(k, addr, length, lambda buf, n: _check(libc.getpeername(host, buf, n)))


@syscalls(210, FD, SHUTDOWN_HOW)
def sys_shutdown(k: Kernel, fd: int, how: int) -> int:
    return _check(libc.shutdown(k.files.host(fd), how))


# Options.

@syscalls(208, FD, SOCKET_LEVEL, INT, PTR, INT)
def sys_setsockopt(k: Kernel, fd: int, level: int, name: int, value: int, length: int) -> int:
    if not 0 <= length <= OPTION_MAX:
        raise SyscallError(errno.EINVAL)
    data = k.load(value, length) if length else b""
    return _check(libc.setsockopt(k.files.host(fd), level, name, data, length))


@syscalls(209, FD, SOCKET_LEVEL, INT, PTR, PTR)
def sys_getsockopt(k: Kernel, fd: int, level: int, name: int, value: int, length: int) -> int:
    room = min(k.load_struct(c_uint32, length).value, OPTION_MAX)
    buffer = ctypes.create_string_buffer(max(room, 1))
    size = c_uint32(room)
    _check(libc.getsockopt(k.files.host(fd), level, name, buffer, ctypes.byref(size)))
    k.store(value, buffer.raw[:size.value])
    k.store_struct(length, size)
    return 0


# Data.

@syscalls(206, FD, PTR, SIZE, MSG_FLAGS, SOCKADDR, INT)
def sys_sendto(k: Kernel, fd: int, buf: int, length: int, flags: int, addr: int,
               addrlen: int) -> int:
    data = k.load(buf, min(length, MAX_RW_COUNT))
    to = _address(k, addr, addrlen) if addr else None
    return _sent(k, flags, libc.sendto(k.files.host(fd), data, len(data), flags, to,
                                       len(to) if to else 0))


@syscalls(207, FD, PTR, SIZE, MSG_FLAGS, PTR, PTR)
def sys_recvfrom(k: Kernel, fd: int, buf: int, length: int, flags: int, addr: int,
                 addrlen: int) -> int:
    host = k.files.host(fd)
    data = ctypes.create_string_buffer(max(min(length, MAX_RW_COUNT), 1))
    got = _address_out(k, addr, addrlen, lambda name, n: _check(
        libc.recvfrom(host, data, min(length, MAX_RW_COUNT), flags, name, n)))
    k.store(buf, data.raw[:min(got, length)])
    return got


def _iov(k: Kernel, msg: MsgHdr) -> list[tuple[int, int]]:
    if msg.iovlen > IOV_MAX:
        raise SyscallError(errno.EMSGSIZE)
    vectors = k.load_struct(Iovec * msg.iovlen, msg.iov) if msg.iovlen else []
    return [(v.iov_base, v.iov_len) for v in vectors]


def _control_to_host(k: Kernel, data: bytes) -> bytes:
    """Control messages with SCM_RIGHTS descriptors renumbered to the host's."""
    out, at = bytearray(data), 0
    while at + sizeof(CmsgHdr) <= len(data):
        head = CmsgHdr.from_buffer_copy(data, at)
        if head.len < sizeof(CmsgHdr) or at + head.len > len(data):
            raise SyscallError(errno.EINVAL)
        if (head.level, head.type) == (SOL_SOCKET, SCM_RIGHTS):
            body = at + sizeof(CmsgHdr)
            count = (head.len - sizeof(CmsgHdr)) // 4
            fds = (c_int32 * count).from_buffer_copy(data, body)
            out[body:body + 4 * count] = bytes((c_int32 * count)(
                *(k.files.host(fd) for fd in fds)))
        at += _align(head.len)
    return bytes(out)


def _control_to_guest(k: Kernel, data: bytes, cloexec: bool) -> bytes:
    """Received SCM_RIGHTS descriptors installed in the guest's table, renumbered."""
    out, at = bytearray(data), 0
    while at + sizeof(CmsgHdr) <= len(data):
        head = CmsgHdr.from_buffer_copy(data, at)
        if head.len < sizeof(CmsgHdr):
            break
        if (head.level, head.type) == (SOL_SOCKET, SCM_RIGHTS):
            body = at + sizeof(CmsgHdr)
            count = (min(head.len, len(data) - at) - sizeof(CmsgHdr)) // 4
            hosts = (c_int32 * count).from_buffer_copy(data, body)
            out[body:body + 4 * count] = bytes((c_int32 * count)(
                *(k.files.install(h, cloexec=cloexec) for h in hosts)))
        at += _align(head.len)
    return bytes(out)


def _host_msghdr(name: ctypes.Array | None, namelen: int, buffers: list[ctypes.Array],
                 control: ctypes.Array | None) -> tuple[MsgHdr, ctypes.Array]:
    """A host msghdr over host buffers (kept alive by the caller through the returned iov)."""
    iov = (Iovec * len(buffers))(*(Iovec(ctypes.addressof(b), len(b)) for b in buffers))
    msg = MsgHdr(name=ctypes.addressof(name) if name is not None else 0,
                 namelen=namelen, iov=ctypes.addressof(iov), iovlen=len(buffers),
                 control=ctypes.addressof(control) if control is not None else 0,
                 controllen=len(control) if control is not None else 0)
    return msg, iov


@syscalls(211, FD, PTR, MSG_FLAGS)
def sys_sendmsg(k: Kernel, fd: int, message: int, flags: int) -> int:
    msg = k.load_struct(MsgHdr, message)
    to = _address(k, msg.name, msg.namelen) if msg.name else None
    name = ctypes.create_string_buffer(to, len(to)) if to else None
    buffers = [ctypes.create_string_buffer(k.load(a, n), n) for a, n in _iov(k, msg) if n]
    control = None
    if msg.controllen:
        raw = _control_to_host(k, k.load(msg.control, min(msg.controllen, CONTROL_MAX)))
        control = ctypes.create_string_buffer(raw, len(raw))
    host, _keep = _host_msghdr(name, len(to) if to else 0, buffers, control)
    return _sent(k, flags, libc.sendmsg(k.files.host(fd), ctypes.byref(host), flags))


@syscalls(212, FD, PTR, MSG_FLAGS)
def sys_recvmsg(k: Kernel, fd: int, message: int, flags: int) -> int:
    msg = k.load_struct(MsgHdr, message)
    targets = _iov(k, msg)
    buffers = [ctypes.create_string_buffer(max(n, 1)) for _, n in targets]
    name = ctypes.create_string_buffer(SOCKADDR_MAX) if msg.name else None
    control = (ctypes.create_string_buffer(min(msg.controllen, CONTROL_MAX))
               if msg.controllen else None)
    host, _keep = _host_msghdr(name, SOCKADDR_MAX if name is not None else 0, buffers,
                               control)
    got = _check(libc.recvmsg(k.files.host(fd), ctypes.byref(host), flags))
    left = got
    for (addr, size), buffer in zip(targets, buffers, strict=True):
        k.store(addr, buffer.raw[:min(size, left)])
        left -= min(size, left)
    if name is not None:
        k.store(msg.name, name.raw[:min(msg.namelen, host.namelen)])
    msg.namelen = host.namelen if name is not None else 0
    if control is not None:
        data = _control_to_guest(k, control.raw[:host.controllen],
                                 bool(flags & MSG_CMSG_CLOEXEC))
        k.store(msg.control, data)
    msg.controllen = host.controllen if control is not None else 0
    msg.flags = host.flags
    k.store_struct(message, msg)
    return got


libc.sendto.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                        ctypes.c_char_p, ctypes.c_uint32]
libc.recvfrom.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_void_p, ctypes.c_void_p]
for _name in ("sendto", "recvfrom", "sendmsg", "recvmsg"):
    getattr(libc, _name).restype = ctypes.c_ssize_t
