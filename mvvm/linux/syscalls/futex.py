"""futex: the threads of a process wait for and wake each other on guest words (the
queues are mvvm.linux.futex.Futexes, shared by the process's threads).

FUTEX_PRIVATE_FLAG changes nothing: private and shared futexes are keyed alike, by guest
address, since only this process's memory is visible (see mvvm.linux.futex). Timeouts:
FUTEX_WAIT's is relative, WAIT_BITSET's absolute on CLOCK_MONOTONIC, or CLOCK_REALTIME
with FUTEX_CLOCK_REALTIME (read once at the start: a later change of the clock is not
followed). The priority-inheritance operations, FUTEX_FD and futex_waitv are ENOSYS.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from ...errors import SyscallError
from ..futex import BITSET_MATCH_ANY
from ..signals import ERESTARTNOHAND, ERESTARTSYS
from ..structs import NS_PER_SEC, Timespec
from ..table import HEX, INT, PTR, SIZE, Hex, SyscallSet

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_NAMES = {0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD", 3: "FUTEX_REQUEUE",
               4: "FUTEX_CMP_REQUEUE", 5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI",
               7: "FUTEX_UNLOCK_PI", 8: "FUTEX_TRYLOCK_PI", 9: "FUTEX_WAIT_BITSET",
               10: "FUTEX_WAKE_BITSET", 11: "FUTEX_WAIT_REQUEUE_PI",
               12: "FUTEX_CMP_REQUEUE_PI", 13: "FUTEX_LOCK_PI2"}
# The operations that may use FUTEX_CLOCK_REALTIME (Linux's list; only two implemented).
REALTIME_OPS = frozenset({FUTEX_WAIT, FUTEX_WAIT_BITSET, 11, 13})


class FutexOp(Hex):
    """futex's op, shown as qemu's strace does: FUTEX_PRIVATE_FLAG|FUTEX_WAIT."""

    def __init__(self) -> None:
        super().__init__(32)

    def show(self, k: Kernel, raw: int) -> str:
        op = self.value(k, raw)
        flags = [name for bit, name in ((FUTEX_PRIVATE_FLAG, "FUTEX_PRIVATE_FLAG"),
                                        (FUTEX_CLOCK_REALTIME, "FUTEX_CLOCK_REALTIME"))
                 if op & bit]
        cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
        return "|".join([*flags, FUTEX_NAMES.get(cmd, hex(cmd))])


FUTEX_OP = FutexOp()


class Call(NamedTuple):
    """One futex call's arguments. The fourth is a timeout pointer for the waits and a
    count (val2, a C int) for the requeues and WAKE_OP."""

    addr: int
    op: int
    value: int
    timeout: int
    addr2: int
    value3: int

    @property
    def val2(self) -> int:
        low = self.timeout & 0xFFFFFFFF
        return low - (1 << 32) if low & 0x80000000 else low

    @property
    def realtime(self) -> bool:
        return bool(self.op & FUTEX_CLOCK_REALTIME)


@syscalls(98, PTR, FUTEX_OP, INT, PTR, PTR, HEX)
def sys_futex(k: Kernel, addr: int, op: int, value: int, timeout: int, addr2: int,
              value3: int) -> int:
    call = Call(addr, op, value, timeout, addr2, value3)
    cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    if call.realtime and cmd not in REALTIME_OPS or cmd not in OPERATIONS:
        raise SyscallError(errno.ENOSYS)
    return OPERATIONS[cmd](k, call)


@syscalls(449, PTR, SIZE, HEX, PTR, INT)
def sys_futex_waitv(k: Kernel, waiters: int, count: int, flags: int, timeout: int,
                    clock: int) -> int:
    """Not implemented (glibc does not use it; it is for Wine's many-object waits):
    ENOSYS, which programs take as a kernel older than 5.16."""
    raise SyscallError(errno.ENOSYS)


# -- the operations ---------------------------------------------------------------------

def _wait(k: Kernel, call: Call) -> int:
    deadline = _relative_deadline(k, call.timeout) if call.timeout else None
    return _sleep(k, call, BITSET_MATCH_ANY, deadline)


def _wait_bitset(k: Kernel, call: Call) -> int:
    deadline = _absolute_deadline(k, call.timeout, call.realtime) if call.timeout else None
    return _sleep(k, call, _bitset(call.value3), deadline)


def _sleep(k: Kernel, call: Call, bitset: int, deadline: float | None) -> int:
    """A signal ends an untimed wait with ERESTARTSYS (SA_RESTART restarts it) and a timed
    one as Linux's ERESTART_RESTARTBLOCK does: EINTR when a handler runs, else a restart.
    ERESTARTNOHAND stands for the latter (a restarted FUTEX_WAIT waits its whole relative
    timeout again, where Linux waits only what was left)."""
    try:
        return k.futexes.wait(k, _aligned(call.addr), call.value, bitset, deadline)
    except SyscallError as e:
        if e.errno == ERESTARTSYS and deadline is not None:
            raise SyscallError(ERESTARTNOHAND) from None
        raise


def _wake(k: Kernel, call: Call) -> int:
    return k.futexes.wake(_aligned(call.addr), _wake_count(call.value), BITSET_MATCH_ANY)


def _wake_bitset(k: Kernel, call: Call) -> int:
    bitset = _bitset(call.value3)
    return k.futexes.wake(_aligned(call.addr), _wake_count(call.value), bitset)


def _requeue(k: Kernel, call: Call) -> int:
    return _move(k, call, None)


def _cmp_requeue(k: Kernel, call: Call) -> int:
    return _move(k, call, call.value3)


def _move(k: Kernel, call: Call, expected: int | None) -> int:
    """Negative counts are EINVAL (Linux since 5.13 or so; before, they meant "all")."""
    if call.value < 0 or call.val2 < 0:
        raise SyscallError(errno.EINVAL)
    return k.futexes.requeue(k, _aligned(call.addr), call.value, _aligned(call.addr2),
                             call.val2, expected)


def _wake_op(k: Kernel, call: Call) -> int:
    return k.futexes.wake_op(k, _aligned(call.addr), _wake_count(call.value),
                             _aligned(call.addr2), _wake_count(call.val2), call.value3)


OPERATIONS: dict[int, Callable[[Kernel, Call], int]] = {
    FUTEX_WAIT: _wait, FUTEX_WAKE: _wake, FUTEX_REQUEUE: _requeue,
    FUTEX_CMP_REQUEUE: _cmp_requeue, FUTEX_WAKE_OP: _wake_op,
    FUTEX_WAIT_BITSET: _wait_bitset, FUTEX_WAKE_BITSET: _wake_bitset,
}


# -- arguments ----------------------------------------------------------------------------

def _aligned(addr: int) -> int:
    """A futex word is a naturally aligned u32 (EINVAL otherwise, as Linux)."""
    if addr % 4:
        raise SyscallError(errno.EINVAL)
    return addr


def _bitset(value3: int) -> int:
    if not value3:
        raise SyscallError(errno.EINVAL)
    return value3


def _wake_count(value: int) -> int:
    """Linux's wake loops count a waiter before testing the limit: 0 or less wakes one."""
    return max(value, 1)


def _load_ns(k: Kernel, addr: int) -> int:
    """A guest timespec in ns; EINVAL unless valid (tv_sec >= 0, 0 <= tv_nsec < 1 s)."""
    ts = k.load_struct(Timespec, addr)
    if ts.tv_sec < 0 or not 0 <= ts.tv_nsec < NS_PER_SEC:
        raise SyscallError(errno.EINVAL)
    return ts.tv_sec * NS_PER_SEC + ts.tv_nsec


def _relative_deadline(k: Kernel, addr: int) -> float:
    """FUTEX_WAIT's timeout, as a time.monotonic() deadline."""
    return time.monotonic() + _load_ns(k, addr) / NS_PER_SEC


def _absolute_deadline(k: Kernel, addr: int, realtime: bool) -> float:
    """WAIT_BITSET's time on its clock, as a time.monotonic() deadline (time.monotonic is
    CLOCK_MONOTONIC on Linux; a real-time one is converted by the clocks' offset now)."""
    clock = time.CLOCK_REALTIME if realtime else time.CLOCK_MONOTONIC
    return time.monotonic() + (_load_ns(k, addr) - time.clock_gettime_ns(clock)) / NS_PER_SEC
