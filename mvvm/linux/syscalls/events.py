"""Waiting for descriptors and event sources: ppoll, pselect6, epoll, eventfd, timerfd.

The host does the waiting on the host descriptors behind the guest's. Event bits, the
timerfd and eventfd flags and struct itimerspec are the same on the host; only struct
epoll_event differs (packed to 12 bytes on x86-64, 16 on riscv64), so it is converted.
ppoll and pselect6 wait with the signal mask they are given, and a signal due to the
guest ends their wait (mvvm.linux.signals); epoll's waits are not interrupted.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
from ctypes import LittleEndianStructure, c_int32, c_uint32, c_uint64
from typing import TYPE_CHECKING

from ...errors import SyscallError
from ..fs import libc
from ..structs import NS_PER_SEC, Timespec
from ..table import CLOCK, FD, HEX, INT, PTR, SIZE, SyscallSet

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
SELECT_READ = POLLIN | POLLHUP | POLLERR
SELECT_WRITE = POLLOUT | POLLERR
FD_SETSIZE = 1024
MAX_POLL_FDS = 1 << 20
EPOLL_CLOEXEC = 0o2000000
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EPOLL_MAX_EVENTS = (1 << 31) // 16
CLOEXEC_NONBLOCK = 0o2004000                   # the flag bits eventfd2/timerfd_create share
EFD_SEMAPHORE = 1
TFD_TIMER_FLAGS = 0x3                          # ABSTIME | CANCEL_ON_SET


class SigmaskArg(LittleEndianStructure):
    """pselect6's sixth argument: the signal mask's address and size."""

    _fields_ = [("set", c_uint64), ("size", c_uint64)]


class PollFd(LittleEndianStructure):
    _fields_ = [("fd", c_int32), ("events", ctypes.c_int16), ("revents", ctypes.c_int16)]


class EpollEvent(LittleEndianStructure):
    """The guest's struct epoll_event: natural alignment, 16 bytes."""

    _fields_ = [("events", c_uint32), ("data", c_uint64)]


class HostEpollEvent(LittleEndianStructure):
    """The x86-64 host's, packed to 12 bytes (EPOLL_PACKED)."""

    _pack_ = 1
    _fields_ = [("events", c_uint32), ("data", c_uint64)]


libc.epoll_ctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
libc.epoll_wait.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.timerfd_gettime.argtypes = [ctypes.c_int, ctypes.c_void_p]
ITIMERSPEC_SIZE = 32
SIGSET_SIZE = 8


def _host_call(result: int) -> int:
    if result < 0:
        raise SyscallError(ctypes.get_errno())
    return result


def _timeout_ms(k: Kernel, addr: int) -> int | None:
    """A timespec timeout as poll's milliseconds (rounded up); None for NULL (no timeout)."""
    if not addr:
        return None
    ts = k.load_struct(Timespec, addr)
    if ts.tv_sec < 0 or not 0 <= ts.tv_nsec < NS_PER_SEC:
        raise SyscallError(errno.EINVAL)
    return ts.tv_sec * 1000 + (ts.tv_nsec + 999_999) // 1_000_000


def _poll(k: Kernel, wanted: dict[int, int], timeout_ms: int | None) -> dict[int, int]:
    """Poll guest fds for events; the guest fds that have some, with their revents.
    A guest fd that is not open reports POLLNVAL, as Linux does."""
    poller = select.poll()
    host_to_guest: dict[int, list[int]] = {}
    ready: dict[int, int] = {}
    for fd, events in wanted.items():
        try:
            host = k.files.host(fd)
        except OSError:
            ready[fd] = POLLNVAL
            continue
        host_to_guest.setdefault(host, []).append(fd)
        poller.register(host, events)
    if ready:
        timeout_ms = 0
    for host, revents in k.signals.poll(poller, timeout_ms):
        for fd in host_to_guest[host]:
            ready[fd] = revents & (wanted[fd] | POLLERR | POLLHUP | POLLNVAL)
    return {fd: ev for fd, ev in ready.items() if ev}


@syscalls(73, PTR, INT, PTR, PTR, SIZE)
def sys_ppoll(k: Kernel, fds: int, nfds: int, timeout: int, sigmask: int, size: int) -> int:
    if not 0 <= nfds <= MAX_POLL_FDS:
        raise SyscallError(errno.EINVAL)
    _wait_with_mask(k, sigmask, size)
    entries = k.load_struct(PollFd * nfds, fds) if nfds else []
    wanted: dict[int, int] = {}
    for e in entries:
        if e.fd >= 0:
            wanted[e.fd] = wanted.get(e.fd, 0) | (e.events & 0xFFFF)
    ready = _poll(k, wanted, _timeout_ms(k, timeout))
    for e in entries:
        e.revents = ready.get(e.fd, 0) & (e.events | POLLERR | POLLHUP | POLLNVAL) \
            if e.fd >= 0 else 0
    if nfds:
        k.store_struct(fds, entries)
    return sum(1 for e in entries if e.revents)


def _wait_with_mask(k: Kernel, sigset: int, size: int) -> None:
    """Wait with the guest's signal mask at sigset (if any) in place of its own."""
    if sigset:
        if size != SIGSET_SIZE:
            raise SyscallError(errno.EINVAL)
        k.signals.wait_with_mask(int.from_bytes(k.load(sigset, SIGSET_SIZE), "little"))


def _fd_set(k: Kernel, addr: int, nfds: int) -> set[int]:
    if not addr:
        return set()
    bits = int.from_bytes(k.load(addr, (nfds + 63) // 64 * 8), "little")
    return {fd for fd in range(nfds) if bits >> fd & 1}


def _store_fd_set(k: Kernel, addr: int, nfds: int, fds: set[int]) -> None:
    if addr:
        k.store(addr, sum(1 << fd for fd in fds).to_bytes((nfds + 63) // 64 * 8, "little"))


@syscalls(72, INT, PTR, PTR, PTR, PTR, PTR)
def sys_pselect6(k: Kernel, nfds: int, readfds: int, writefds: int, exceptfds: int,
                 timeout: int, sigmask: int) -> int:
    """select as a poll: readable, writable and exceptional as Linux's select maps them.
    The time left is not written back to the timeout."""
    if not 0 <= nfds <= FD_SETSIZE:
        raise SyscallError(errno.EINVAL)
    if sigmask:
        mask = k.load_struct(SigmaskArg, sigmask)
        _wait_with_mask(k, mask.set, mask.size)
    sets = [_fd_set(k, addr, nfds) for addr in (readfds, writefds, exceptfds)]
    wanted: dict[int, int] = {}
    for fds, events in zip(sets, (POLLIN, POLLOUT, POLLPRI), strict=True):
        for fd in fds:
            wanted[fd] = wanted.get(fd, 0) | events
    ready = _poll(k, wanted, _timeout_ms(k, timeout))
    if any(ev & POLLNVAL for ev in ready.values()):
        raise SyscallError(errno.EBADF)
    results = [{fd for fd in fds if ready.get(fd, 0) & mask}
               for fds, mask in zip(sets, (SELECT_READ, SELECT_WRITE, POLLPRI), strict=True)]
    for addr, fds in zip((readfds, writefds, exceptfds), results, strict=True):
        _store_fd_set(k, addr, nfds, fds)
    return sum(len(fds) for fds in results)


# epoll: a host epoll instance; the guest's data word rides along unchanged.

@syscalls(20, HEX)
def sys_epoll_create1(k: Kernel, flags: int) -> int:
    if flags & ~EPOLL_CLOEXEC:
        raise SyscallError(errno.EINVAL)
    return k.files.install(_host_call(libc.epoll_create1(EPOLL_CLOEXEC)),
                           cloexec=bool(flags & EPOLL_CLOEXEC))


@syscalls(21, FD, INT, FD, PTR)
def sys_epoll_ctl(k: Kernel, epfd: int, op: int, fd: int, event: int) -> int:
    if op not in (EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD):
        raise SyscallError(errno.EINVAL)
    host_event = None
    if op != EPOLL_CTL_DEL:
        guest = k.load_struct(EpollEvent, event)
        host_event = HostEpollEvent(guest.events, guest.data)
    pointer = ctypes.byref(host_event) if host_event is not None else None
    _host_call(libc.epoll_ctl(k.files.host(epfd), op, k.files.host(fd), pointer))
    return 0


def _epoll_wait(k: Kernel, epfd: int, events: int, maxevents: int, timeout_ms: int) -> int:
    if not 0 < maxevents <= EPOLL_MAX_EVENTS:
        raise SyscallError(errno.EINVAL)
    host = (HostEpollEvent * min(maxevents, 1024))()
    count = _host_call(libc.epoll_wait(k.files.host(epfd), host, len(host), timeout_ms))
    if count:
        k.store_struct(events, (EpollEvent * count)(
            *(EpollEvent(e.events, e.data) for e in host[:count])))
    return count


@syscalls(22, FD, PTR, INT, INT, PTR, SIZE)
def sys_epoll_pwait(k: Kernel, epfd: int, events: int, maxevents: int, timeout: int,
                    sigmask: int, size: int) -> int:
    return _epoll_wait(k, epfd, events, maxevents, timeout)


@syscalls(441, FD, PTR, INT, PTR, PTR, SIZE)
def sys_epoll_pwait2(k: Kernel, epfd: int, events: int, maxevents: int, timeout: int,
                     sigmask: int, size: int) -> int:
    ms = _timeout_ms(k, timeout)
    return _epoll_wait(k, epfd, events, maxevents, -1 if ms is None else ms)


# eventfd and timerfd: host objects, whose flags share the guest's values.

@syscalls(19, INT, HEX)
def sys_eventfd2(k: Kernel, initval: int, flags: int) -> int:
    if flags & ~(CLOEXEC_NONBLOCK | EFD_SEMAPHORE):
        raise SyscallError(errno.EINVAL)
    host = os.eventfd(initval & 0xFFFFFFFF, (flags & ~os.O_CLOEXEC) | os.EFD_CLOEXEC)
    return k.files.install(host, cloexec=bool(flags & os.O_CLOEXEC))


@syscalls(85, CLOCK, HEX)
def sys_timerfd_create(k: Kernel, clock: int, flags: int) -> int:
    if flags & ~CLOEXEC_NONBLOCK:
        raise SyscallError(errno.EINVAL)
    host = _host_call(libc.timerfd_create(clock, flags | os.O_CLOEXEC))
    return k.files.install(host, cloexec=bool(flags & os.O_CLOEXEC))


@syscalls(86, FD, HEX, PTR, PTR)
def sys_timerfd_settime(k: Kernel, fd: int, flags: int, new: int, old: int) -> int:
    if flags & ~TFD_TIMER_FLAGS:
        raise SyscallError(errno.EINVAL)
    value = ctypes.create_string_buffer(k.load(new, ITIMERSPEC_SIZE), ITIMERSPEC_SIZE)
    previous = ctypes.create_string_buffer(ITIMERSPEC_SIZE)
    _host_call(libc.timerfd_settime(k.files.host(fd), flags, value, previous))
    if old:
        k.store(old, previous.raw)
    return 0


@syscalls(87, FD, PTR)
def sys_timerfd_gettime(k: Kernel, fd: int, current: int) -> int:
    out = ctypes.create_string_buffer(ITIMERSPEC_SIZE)
    _host_call(libc.timerfd_gettime(k.files.host(fd), out))
    k.store(current, out.raw)
    return 0
