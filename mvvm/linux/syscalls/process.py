"""Process syscalls: exit, identity, limits, accounting, system information, randomness."""

from __future__ import annotations

import errno
import os
import resource
import time
from ctypes import c_uint64, sizeof
from typing import TYPE_CHECKING

from ...errors import GuestExit
from ..errors import SyscallError
from ..mm import PROT_WRITE
from ..structs import Rlimit, Rusage, Sysinfo, Timeval, Tms, Utsname
from ..table import HEX, INT, MODE, PTR, RESOURCE, SIZE, SyscallSet

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

RELEASE = b"6.1.0"
MACHINE = b"riscv64"
ROBUST_LIST_HEAD_SIZE = 24
GETRANDOM_FLAGS = 0x7                  # GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE
GETRANDOM_MAX = 0x1FFFFFF              # Linux returns at most this much per call
CLOCK_TICKS = 100                      # USER_HZ, what times() counts in
RUSAGE_WHO = {0: resource.RUSAGE_SELF, -1: resource.RUSAGE_CHILDREN, 1: resource.RUSAGE_THREAD}


def own_process(k: Kernel, pid: int) -> None:
    """The guest is alone: other pids are host processes it must not reach."""
    if pid not in (0, k.pid):
        raise SyscallError(errno.ESRCH)


@syscalls(93, INT)
def sys_exit(k: Kernel, status: int) -> int:
    raise GuestExit(status)


@syscalls(94, INT)
def sys_exit_group(k: Kernel, status: int) -> int:
    raise GuestExit(status)


# Identity. The guest is one single-threaded process, the host process itself.

@syscalls(172)
def sys_getpid(k: Kernel) -> int:
    return k.pid


@syscalls(178)
def sys_gettid(k: Kernel) -> int:
    return k.pid


@syscalls(173)
def sys_getppid(k: Kernel) -> int:
    return os.getppid()


@syscalls(174)
def sys_getuid(k: Kernel) -> int:
    return os.getuid()


@syscalls(175)
def sys_geteuid(k: Kernel) -> int:
    return os.geteuid()


@syscalls(176)
def sys_getgid(k: Kernel) -> int:
    return os.getgid()


@syscalls(177)
def sys_getegid(k: Kernel) -> int:
    return os.getegid()


@syscalls(96, PTR)
def sys_set_tid_address(k: Kernel, tidptr: int) -> int:
    k.clear_child_tid = tidptr
    return k.pid


@syscalls(99, PTR, SIZE)
def sys_set_robust_list(k: Kernel, head: int, length: int) -> int:
    if length != ROBUST_LIST_HEAD_SIZE:
        raise SyscallError(errno.EINVAL)
    k.robust_list = (head, length)
    return 0


@syscalls(166, MODE)
def sys_umask(k: Kernel, mask: int) -> int:
    """The host's umask is the guest's: the host applies it to every file the guest creates."""
    return os.umask(mask & 0o777)


# Limits.

@syscalls(163, RESOURCE, PTR)
def sys_getrlimit(k: Kernel, res: int, old: int) -> int:
    k.store_struct(old, Rlimit(*k.limits.get(res)))
    return 0


@syscalls(164, RESOURCE, PTR)
def sys_setrlimit(k: Kernel, res: int, new: int) -> int:
    limit = k.load_struct(Rlimit, new)
    k.limits.set(res, limit.rlim_cur, limit.rlim_max)
    return 0


@syscalls(261, INT, RESOURCE, PTR, PTR)
def sys_prlimit64(k: Kernel, pid: int, res: int, new: int, old: int) -> int:
    """setrlimit and getrlimit in one; old reports the limit from before the change."""
    own_process(k, pid)
    previous = Rlimit(*k.limits.get(res))
    if new:
        sys_setrlimit(k, res, new)
    if old:
        k.store_struct(old, previous)
    return 0


# Accounting and system information.

def _timeval(seconds: float) -> Timeval:
    usec = round(seconds * 1_000_000)
    return Timeval(usec // 1_000_000, usec % 1_000_000)


@syscalls(165, INT, PTR)
def sys_getrusage(k: Kernel, who: int, buf: int) -> int:
    if who not in RUSAGE_WHO:
        raise SyscallError(errno.EINVAL)
    usage = resource.getrusage(RUSAGE_WHO[who])
    counters = {name: getattr(usage, name) for name, _ in Rusage._fields_[2:]}
    k.store_struct(buf, Rusage(_timeval(usage.ru_utime), _timeval(usage.ru_stime), **counters))
    return 0


@syscalls(153, PTR)
def sys_times(k: Kernel, buf: int) -> int:
    t = os.times()
    if buf:
        k.store_struct(buf, Tms(*(round(v * CLOCK_TICKS) for v in t[:4])))
    return round(t.elapsed * CLOCK_TICKS)


@syscalls(179, PTR)
def sys_sysinfo(k: Kernel, buf: int) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    loads = (c_uint64 * 3)(*(round(load * 65536) for load in os.getloadavg()))
    k.store_struct(buf, Sysinfo(
        uptime=int(time.clock_gettime(time.CLOCK_BOOTTIME)), loads=loads,
        totalram=os.sysconf("SC_PHYS_PAGES") * page, freeram=os.sysconf("SC_AVPHYS_PAGES") * page,
        procs=1, mem_unit=1))
    return 0


@syscalls(160, PTR)
def sys_uname(k: Kernel, buf: int) -> int:
    host = os.uname()
    k.store_struct(buf, Utsname(sysname=b"Linux", nodename=host.nodename.encode()[:64],
                                release=RELEASE, version=host.version.encode()[:64],
                                machine=MACHINE, domainname=b"(none)"))
    return 0


# Scheduling.

@syscalls(124)
def sys_sched_yield(k: Kernel) -> int:
    return 0


@syscalls(123, INT, SIZE, PTR)
def sys_sched_getaffinity(k: Kernel, pid: int, size: int, mask: int) -> int:
    """The host's CPU set, in a mask as long as the host's CPU count needs (in longs)."""
    own_process(k, pid)
    cpus = os.sched_getaffinity(0)
    needed = (max(cpus) // 64 + 1) * sizeof(c_uint64)
    if size < needed or size % sizeof(c_uint64):
        raise SyscallError(errno.EINVAL)
    k.store(mask, sum(1 << cpu for cpu in cpus).to_bytes(needed, "little"))
    return needed


@syscalls(278, PTR, SIZE, HEX)
def sys_getrandom(k: Kernel, buf: int, length: int, flags: int) -> int:
    if flags & ~GETRANDOM_FLAGS:
        raise SyscallError(errno.EINVAL)
    length = min(length, GETRANDOM_MAX)
    k.space.check(buf, length, PROT_WRITE)          # before paying for the random bytes
    k.store(buf, os.urandom(length))
    return length
