"""Clocks and sleeping: the host's clocks, which use the same Linux clock ids."""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING

from ...errors import SyscallError
from ..abi import CLOCKS
from ..structs import NS_PER_SEC, Timespec, Timeval, Timezone, split_ns
from ..table import CLOCK, HEX, PTR, SyscallSet

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

TIMER_ABSTIME = 1
SLEEP_CLOCKS = frozenset({0, 1, 7, 11})     # REALTIME, MONOTONIC, BOOTTIME, TAI
LONGEST_SLEEP = 1 << 32                     # seconds: "for ever" without overflowing the host


def _clock(clock: int) -> int:
    if clock not in CLOCKS:
        raise SyscallError(errno.EINVAL)
    return clock


def _timespec(ns: int) -> Timespec:
    return Timespec(*split_ns(ns))


def _load_ns(k: Kernel, addr: int) -> int:
    """A guest timespec as nanoseconds; EINVAL unless it is a valid, non-negative time."""
    ts = k.load_struct(Timespec, addr)
    if ts.tv_sec < 0 or not 0 <= ts.tv_nsec < NS_PER_SEC:
        raise SyscallError(errno.EINVAL)
    return ts.tv_sec * NS_PER_SEC + ts.tv_nsec


def _sleep(k: Kernel, ns: int, rem: int = 0) -> int:
    """Sleep ns; a signal due to the guest ends the sleep with EINTR, and rem (if given)
    gets the time that was left."""
    end = time.monotonic_ns() + ns
    if k.signals.sleep(min(max(ns, 0) / NS_PER_SEC, LONGEST_SLEEP), k.signals.due):
        if rem:
            k.store_struct(rem, _timespec(max(0, end - time.monotonic_ns())))
        raise SyscallError(errno.EINTR)
    return 0


@syscalls(113, CLOCK, PTR)
def sys_clock_gettime(k: Kernel, clock: int, tp: int) -> int:
    k.store_struct(tp, _timespec(time.clock_gettime_ns(_clock(clock))))
    return 0


@syscalls(114, CLOCK, PTR)
def sys_clock_getres(k: Kernel, clock: int, res: int) -> int:
    resolution = time.clock_getres(_clock(clock))
    if res:
        k.store_struct(res, _timespec(round(resolution * NS_PER_SEC)))
    return 0


@syscalls(169, PTR, PTR)
def sys_gettimeofday(k: Kernel, tv: int, tz: int) -> int:
    if tv:
        sec, ns = split_ns(time.time_ns())
        k.store_struct(tv, Timeval(sec, ns // 1000))
    if tz:
        k.store_struct(tz, Timezone())
    return 0


@syscalls(101, PTR, PTR)
def sys_nanosleep(k: Kernel, req: int, rem: int) -> int:
    return _sleep(k, _load_ns(k, req), rem)


@syscalls(115, CLOCK, HEX, PTR, PTR)
def sys_clock_nanosleep(k: Kernel, clock: int, flags: int, req: int, rem: int) -> int:
    if clock not in SLEEP_CLOCKS:
        raise SyscallError(errno.EINVAL)
    ns = _load_ns(k, req)
    if flags & TIMER_ABSTIME:
        return _sleep(k, ns - time.clock_gettime_ns(clock))
    return _sleep(k, ns, rem)
