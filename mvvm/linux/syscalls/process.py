"""Process syscalls: exit, identity, limits, accounting, system information, randomness."""

from __future__ import annotations

import errno
import functools
import os
import resource
import time
from ctypes import LittleEndianStructure, c_int32, c_int64, c_uint32, c_uint64, sizeof
from typing import TYPE_CHECKING

from ...errors import GuestExit, SyscallError, ThreadExit
from ...runtime.address_space import PROT_WRITE
from ...runtime.layout import GUEST_LIMIT
from ..structs import Rlimit, Rusage, Sysinfo, Timeval, Tms, Utsname
from ..table import HEX, INT, LONG_HEX, PTR, RESOURCE, SIZE, SyscallSet

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
    """The guest is alone: other pids are host processes it must not reach. Its own pid
    and its threads' tids are its own (glibc's pthread_getattr_np asks about a thread)."""
    if pid != 0 and pid != k.pid and pid not in k.threads:
        raise SyscallError(errno.ESRCH)


@syscalls(93, INT)
def sys_exit(k: Kernel, status: int) -> int:
    raise ThreadExit(status)


@syscalls(94, INT)
def sys_exit_group(k: Kernel, status: int) -> int:
    raise GuestExit(status)


# Identity. The guest process is the host process; its threads are host threads.

@syscalls(172)
def sys_getpid(k: Kernel) -> int:
    return k.pid


@syscalls(178)
def sys_gettid(k: Kernel) -> int:
    return k.tid


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
    return k.tid


@syscalls(99, PTR, SIZE)
def sys_set_robust_list(k: Kernel, head: int, length: int) -> int:
    if length != ROBUST_LIST_HEAD_SIZE:
        raise SyscallError(errno.EINVAL)
    k.robust_list = (head, length)
    return 0


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


def rusage(usage: resource.struct_rusage) -> Rusage:
    """The host's accounting in the guest's struct rusage."""
    counters = {name: getattr(usage, name) for name, _ in Rusage._fields_[2:]}
    return Rusage(_timeval(usage.ru_utime), _timeval(usage.ru_stime), **counters)


@syscalls(165, INT, PTR)
def sys_getrusage(k: Kernel, who: int, buf: int) -> int:
    if who not in RUSAGE_WHO:
        raise SyscallError(errno.EINVAL)
    k.store_struct(buf, rusage(resource.getrusage(RUSAGE_WHO[who])))
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


@syscalls(122, INT, SIZE, PTR)
def sys_sched_setaffinity(k: Kernel, pid: int, size: int, mask: int) -> int:
    """Accepted and not applied: the VM process keeps the host's CPUs."""
    own_process(k, pid)
    if not any(k.load(mask, min(size, 128))):
        raise SyscallError(errno.EINVAL)
    return 0


@syscalls(120, INT)
def sys_sched_getscheduler(k: Kernel, pid: int) -> int:
    own_process(k, pid)
    return 0                            # SCHED_OTHER


@syscalls(121, INT, PTR)
def sys_sched_getparam(k: Kernel, pid: int, param: int) -> int:
    own_process(k, pid)
    k.store_struct(param, c_int32(0))
    return 0


PRIO_PROCESS, PRIO_PGRP, PRIO_USER = 0, 1, 2


def _priority_target(k: Kernel, which: int, who: int) -> int:
    """The host process (or thread) a get/setpriority names: the guest's own (0, its pid,
    a thread's tid), or a child. Its process group and its user mean its own process: on
    the host they hold processes the guest must not reach (the shell's job, every process
    of the user). Anything else is ESRCH."""
    if which not in (PRIO_PROCESS, PRIO_PGRP, PRIO_USER):
        raise SyscallError(errno.EINVAL)
    own = {PRIO_PROCESS: k.pid, PRIO_PGRP: os.getpgid(0), PRIO_USER: os.getuid()}[which]
    if who in (0, own):
        return 0
    if which == PRIO_PROCESS and (who in k.threads or who in k.children):
        return who
    raise SyscallError(errno.ESRCH)


@syscalls(141, INT, INT)
def sys_getpriority(k: Kernel, which: int, who: int) -> int:
    """The raw syscall returns 20 - nice, so that it is never negative."""
    return 20 - os.getpriority(PRIO_PROCESS, _priority_target(k, which, who))


@syscalls(140, INT, INT, INT)
def sys_setpriority(k: Kernel, which: int, who: int, nice: int) -> int:
    _not_embedded(k)
    os.setpriority(PRIO_PROCESS, _priority_target(k, which, who), nice)
    return 0


@syscalls(168, PTR, PTR, PTR)
def sys_getcpu(k: Kernel, cpu: int, node: int, cache: int) -> int:
    for addr in (cpu, node):
        if addr:
            k.store_struct(addr, c_uint32(0))
    return 0


@syscalls(278, PTR, SIZE, HEX)
def sys_getrandom(k: Kernel, buf: int, length: int, flags: int) -> int:
    if flags & ~GETRANDOM_FLAGS:
        raise SyscallError(errno.EINVAL)
    length = min(length, GETRANDOM_MAX)
    k.space.check(buf, length, PROT_WRITE)          # before paying for the random bytes
    k.store(buf, os.urandom(length))
    return length


# Identity beyond the basics: the host's, read-only (changing them is EPERM unless a no-op).

@syscalls(148, PTR, PTR, PTR)
def sys_getresuid(k: Kernel, ruid: int, euid: int, suid: int) -> int:
    for addr, value in zip((ruid, euid, suid), os.getresuid(), strict=True):
        k.store_struct(addr, c_uint32(value))
    return 0


@syscalls(150, PTR, PTR, PTR)
def sys_getresgid(k: Kernel, rgid: int, egid: int, sgid: int) -> int:
    for addr, value in zip((rgid, egid, sgid), os.getresgid(), strict=True):
        k.store_struct(addr, c_uint32(value))
    return 0


@syscalls(158, INT, PTR)
def sys_getgroups(k: Kernel, size: int, groups: int) -> int:
    ids = os.getgroups()
    if size == 0:
        return len(ids)
    if size < len(ids):
        raise SyscallError(errno.EINVAL)
    k.store_struct(groups, (c_uint32 * len(ids))(*ids))
    return len(ids)


def _same_id(current: tuple[int, ...], *wanted: int) -> int:
    """setuid and friends: only the ids the guest already has (-1: unchanged)."""
    if any(w not in (-1, *current) for w in wanted):
        raise SyscallError(errno.EPERM)
    return 0


@syscalls(146, INT)
def sys_setuid(k: Kernel, uid: int) -> int:
    return _same_id(os.getresuid(), uid)


@syscalls(144, INT)
def sys_setgid(k: Kernel, gid: int) -> int:
    return _same_id(os.getresgid(), gid)


@syscalls(147, INT, INT, INT)
def sys_setresuid(k: Kernel, ruid: int, euid: int, suid: int) -> int:
    return _same_id(os.getresuid(), ruid, euid, suid)


@syscalls(149, INT, INT, INT)
def sys_setresgid(k: Kernel, rgid: int, egid: int, sgid: int) -> int:
    return _same_id(os.getresgid(), rgid, egid, sgid)


@syscalls(155, INT)
def sys_getpgid(k: Kernel, pid: int) -> int:
    return os.getpgid(_own_or_child(k, pid))


@syscalls(154, INT, INT)
def sys_setpgid(k: Kernel, pid: int, pgid: int) -> int:
    """Only for the guest itself or its children (a shell's job control), and only into a
    group of its own: a new one, or one its process or a child leads or is in (the
    host's other groups hold processes the guest must not join, or signal as one)."""
    _not_embedded(k)
    if pid and pid != k.pid and pid not in k.children:
        raise SyscallError(errno.ESRCH)
    if pgid and pgid not in (pid or k.pid, os.getpgid(0)) and not k.children.in_group(pgid):
        raise SyscallError(errno.EPERM)
    os.setpgid(pid, pgid)
    return 0


@syscalls(156, INT)
def sys_getsid(k: Kernel, pid: int) -> int:
    return os.getsid(_own_or_child(k, pid))


def _own_or_child(k: Kernel, pid: int) -> int:
    """The host pid to ask about for a guest pid: a child's own; 0 (the guest's process)
    for the guest, its threads or 0; ESRCH for any other host process."""
    if pid in k.children:
        return pid
    own_process(k, pid)
    return 0


@syscalls(157)
def sys_setsid(k: Kernel) -> int:
    _not_embedded(k)
    return os.setsid()


def _not_embedded(k: Kernel) -> None:
    """An embedded guest's process is its host program's: it may not renice it, or move
    it to another process group or session (EPERM, as for an unprivileged caller)."""
    if k.embedded:
        raise SyscallError(errno.EPERM)


# prctl: the few options programs use at start-up.

PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_SET_NAME, PR_GET_NAME = 15, 16
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
PR_SET_VMA = 0x53564D41
TASK_COMM_LEN = 16


def _task_name(k: Kernel, addr: int) -> bytes:
    """At most TASK_COMM_LEN - 1 bytes up to a NUL, as strncpy_from_user reads them: none
    past those, so a name that ends at a page the guest may not read is fine."""
    name = b""
    while len(name) < TASK_COMM_LEN - 1:
        byte = k.load(addr + len(name), 1)
        if byte == b"\0":
            break
        name += byte
    return name


@syscalls(167, INT, LONG_HEX, LONG_HEX, LONG_HEX, LONG_HEX)
def sys_prctl(k: Kernel, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    if option == PR_SET_NAME:
        k.task_name = _task_name(k, arg2)
        return 0
    if option == PR_GET_NAME:
        k.store(arg2, k.task_name.ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option in PRCTL_VALUES:
        return _prctl_value(k, option, arg2)
    if option == PR_SET_VMA:
        return 0
    raise SyscallError(errno.EINVAL)


# option -> (the key it sets or reads in Kernel.prctl, whether it reads into *arg2).
PRCTL_VALUES = {
    PR_SET_PDEATHSIG: ("pdeathsig", False), PR_GET_PDEATHSIG: ("pdeathsig", True),
    PR_SET_DUMPABLE: ("dumpable", False), PR_GET_DUMPABLE: ("dumpable", None),
    PR_SET_NO_NEW_PRIVS: ("no_new_privs", False), PR_GET_NO_NEW_PRIVS: ("no_new_privs", None),
}


def _prctl_value(k: Kernel, option: int, arg2: int) -> int:
    """A per-process value: set from arg2, or returned (None) or stored at *arg2 (True)."""
    key, reads = PRCTL_VALUES[option]
    if reads is False:
        k.prctl[key] = arg2
        return 0
    if reads:
        k.store_struct(arg2, c_int32(k.prctl[key]))
        return 0
    return k.prctl[key]


# riscv_hwprobe: what this CPU implements, as Linux reports it. The extensions are exactly
# those of the instruction table's rows and compressed forms (RV64IMAFDC, where C with D is
# Zca and Zcd, and the Z extensions; no V), plus the HINTs that run as the base
# instructions they are encoded as (Zihintpause's pause is a fence, Zihintntl's are adds
# to x0), plus Zbkc, which is two of Zbc's rows (clmul, clmulh), by the bits of Linux's
# asm/hwprobe.h.

HWPROBE_IMA_FD, HWPROBE_IMA_C = 1 << 0, 1 << 1
HWPROBE_EXTENSIONS = {"Zba": 3, "Zbb": 4, "Zbs": 5, "Zicboz": 6, "Zbc": 7, "Zbkb": 8,
                      "Zbkc": 9, "Zbkx": 10, "Zfh": 27, "Zfhmin": 28, "Zihintntl": 29,
                      "Zfa": 32, "Zicond": 35, "Zihintpause": 36,
                      "Zimop": 42, "Zca": 43, "Zcb": 44, "Zcd": 45, "Zcmop": 47, "Zawrs": 48,
                      "Zicbom": 55}
ZBKC = {"clmul", "clmulh"}
MISALIGNED_FAST = 3                    # wasm loads and stores at any alignment
MISALIGNED_UNSUPPORTED = 4


@functools.cache
def _hwprobe() -> dict[int, int]:
    """riscv_hwprobe's keys and values, made at the first call: they read the instruction
    table, which a run from a warm code cache need not build at all (2 ms of its start)."""
    from ...isa import rvc, table

    implemented = ({spec.ext for spec in table.TABLE} | {form.ext for form in rvc.FORMS}
                   | {"Zca", "Zcd", "Zihintntl", "Zihintpause"}
                   | ({"Zbkc"} if {spec.name for spec in table.TABLE} >= ZBKC else set()))
    return {
        0: 0, 1: 0, 2: 0,                  # mvendorid, marchid, mimpid
        3: 1,                              # BASE_BEHAVIOR: IMA
        4: HWPROBE_IMA_FD | HWPROBE_IMA_C | sum(   # IMA_EXT_0
            1 << bit for ext, bit in HWPROBE_EXTENSIONS.items() if ext in implemented),
        5: MISALIGNED_FAST,                # CPUPERF_0
        6: table.CACHE_BLOCK,              # ZICBOZ_BLOCK_SIZE
        7: GUEST_LIMIT - 1,                # HIGHEST_VIRT_ADDRESS
        8: 10_000_000,                     # TIME_CSR_FREQ: rdtime's 10 MHz
        9: MISALIGNED_FAST,                # MISALIGNED_SCALAR_PERF
        10: MISALIGNED_UNSUPPORTED,        # MISALIGNED_VECTOR_PERF: no V
        12: table.CACHE_BLOCK,             # ZICBOM_BLOCK_SIZE
    }


HWPROBE_MAX_PAIRS = 1 << 16


class HwprobePair(LittleEndianStructure):
    _fields_ = [("key", c_int64), ("value", c_uint64)]


@syscalls(258, PTR, SIZE, SIZE, PTR, HEX)
def sys_riscv_hwprobe(k: Kernel, pairs: int, count: int, cpusetsize: int, cpus: int,
                      flags: int) -> int:
    """Every CPU is the same, so the cpu set does not matter; an unknown key reads -1."""
    if flags or count > HWPROBE_MAX_PAIRS:
        raise SyscallError(errno.EINVAL)
    if count:
        wanted = k.load_struct(HwprobePair * count, pairs)
        values = _hwprobe()
        for pair in wanted:
            known = pair.key in values
            pair.value = values[pair.key] if known else 0
            pair.key = pair.key if known else -1
        k.store_struct(pairs, wanted)
    return 0
