"""Futex wait queues: the threads of a guest process wait on guest words and wake each other.

The idea of Linux's hash buckets, with one bucket: a waiter reads the word, compares it
with the value it expects and joins the address's queue while holding the lock that every
waker takes. A waker changes the word first and then takes the lock, so either the waiter
read the new value (EAGAIN: it does not sleep) or it is already queued when the waker
looks: no wake-up is lost. Waking sets the waiter's flag and kicks its signal state's
wake pipe (`SignalState.kick`), which ends its `SignalState.sleep`; the kick is made under
the lock, so the waiter (which leaves its queue under the lock) is still there to get it.

Queues are keyed by guest address alone. Linux keys a private futex by (mm, address) and
a shared one by the mapped object and offset; here only this process's memory is visible
(a forked child has its own copy of it, and its own Futexes), so private and shared
futexes are the same thing, and a shared futex does not reach another process.
"""

from __future__ import annotations

import ctypes
import errno
import operator
import struct
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from ..errors import GuestFault, SyscallError
from .signals import ERESTARTSYS

if TYPE_CHECKING:
    from .kernel import Kernel

BITSET_MATCH_ANY = 0xFFFFFFFF
WORD = 0xFFFFFFFF
# One host poll waits at most this long (its timeout is a C int of milliseconds); a longer
# wait polls again.
LONGEST_POLL = 1 << 20

# FUTEX_WAKE_OP's encoding (futex(2)): op (3 bits), OPARG_SHIFT, cmp (4 bits), then two
# signed 12-bit arguments.
FUTEX_OP_OPARG_SHIFT = 8
WAKE_OPS: dict[int, Callable[[int, int], int]] = {
    0: lambda old, arg: arg,                # FUTEX_OP_SET
    1: operator.add,                        # FUTEX_OP_ADD
    2: operator.or_,                        # FUTEX_OP_OR
    3: lambda old, arg: old & ~arg,         # FUTEX_OP_ANDN
    4: operator.xor,                        # FUTEX_OP_XOR
}
WAKE_CMPS: dict[int, Callable[[int, int], bool]] = {
    0: operator.eq, 1: operator.ne, 2: operator.lt, 3: operator.ge, 4: operator.le,
    5: operator.gt,
}


class Waiter:
    """One waiting thread: the queue it is in now (a requeue changes it), the wakes that
    match it (their bitsets share a bit with its own), and how to end its sleep."""

    __slots__ = ("addr", "bitset", "kick", "woken")

    def __init__(self, addr: int, bitset: int, kick: Callable[[], None]) -> None:
        self.addr = addr
        self.bitset = bitset
        self.kick = kick
        self.woken = False


class WakeOp(NamedTuple):
    """A decoded FUTEX_WAKE_OP value3: what to do to the second word, and the test of its
    old value that decides whether its waiters are woken too."""

    op: int
    oparg: int
    cmp: int
    cmparg: int

    @classmethod
    def decode(cls, encoded: int) -> WakeOp:
        """As Linux's futex_atomic_op_inuser: a shifted oparg is 1 << (oparg & 31)."""
        op, cmp = (encoded >> 28) & 0xF, (encoded >> 24) & 0xF
        oparg, cmparg = _signed12(encoded >> 12), _signed12(encoded)
        if op & FUTEX_OP_OPARG_SHIFT:
            op, oparg = op & ~FUTEX_OP_OPARG_SHIFT, 1 << (oparg & 31)
        return cls(op, oparg, cmp, cmparg)

    def apply(self, old: int) -> int:
        return WAKE_OPS[self.op](old, self.oparg)

    def test(self, old: int) -> bool:
        return WAKE_CMPS[self.cmp](old, self.cmparg)


def _signed12(value: int) -> int:
    value &= 0xFFF
    return value - 0x1000 if value & 0x800 else value


def _same_word(a: int, b: int) -> bool:
    """Whether two values are the same 32-bit word (either may be signed or unsigned)."""
    return not (a ^ b) & WORD


class Futexes:
    """The futex queues of one process, shared by its threads (each with its own Kernel).

    Addresses are checked by the caller (4-byte alignment); reading a word goes through
    the Kernel, so an unmapped one raises GuestFault (EFAULT) without changing anything.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[int, list[Waiter]] = {}

    # -- waiting --------------------------------------------------------------------------

    def wait(self, k: Kernel, addr: int, expected: int, bitset: int = BITSET_MATCH_ANY,
             deadline: float | None = None) -> int:
        """Sleep on addr while it holds expected, until a wake matching bitset (0), the
        deadline, a time.monotonic() value (ETIMEDOUT), or a signal due for the thread
        (ERESTARTSYS: the syscall layer makes it EINTR or a restart)."""
        waiter = self._enqueue(k, addr, expected, bitset)
        try:
            signalled = self._sleep(k, waiter, deadline)
        finally:
            woken = self._leave(waiter)
        if woken:
            return 0        # a wake wins over a signal that came at the same time, as Linux
        raise SyscallError(ERESTARTSYS if signalled else errno.ETIMEDOUT)

    def _enqueue(self, k: Kernel, addr: int, expected: int, bitset: int) -> Waiter:
        """The value check and the enqueue, under the wakers' lock (see the module)."""
        with self._lock:
            self._check(k, addr, expected)
            waiter = Waiter(addr, bitset, k.signals.kick)
            self._queues.setdefault(addr, []).append(waiter)
            return waiter

    @staticmethod
    def _sleep(k: Kernel, waiter: Waiter, deadline: float | None) -> bool:
        """Sleep until woken or a signal is due (True), or until the deadline (False)."""
        signals = k.signals

        def done() -> bool:
            return waiter.woken or bool(signals.due())

        while True:
            left = None if deadline is None else min(deadline - time.monotonic(), LONGEST_POLL)
            if signals.sleep(None if left is None else max(left, 0), done):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def _leave(self, waiter: Waiter) -> bool:
        """Whether the waiter was woken; if not, it leaves the queue it is in now."""
        with self._lock:
            if not waiter.woken:
                self._queues[waiter.addr].remove(waiter)
                self._prune(waiter.addr)
            return waiter.woken

    # -- waking ---------------------------------------------------------------------------

    def wake(self, addr: int, count: int, bitset: int = BITSET_MATCH_ANY) -> int:
        """Wake up to count waiters on addr whose bitsets share a bit with bitset, oldest
        first; how many."""
        with self._lock:
            return self._wake(addr, count, bitset)

    def requeue(self, k: Kernel, addr: int, count: int, addr2: int, count2: int,
                expected: int | None = None) -> int:
        """FUTEX_REQUEUE (expected None) and FUTEX_CMP_REQUEUE (EAGAIN unless *addr holds
        expected, checked under the lock): wake up to count waiters on addr and move up to
        count2 of the others to addr2. The number woken plus the number moved, as Linux
        returns for both."""
        with self._lock:
            if expected is not None:
                self._check(k, addr, expected)
            woken = self._wake(addr, count, BITSET_MATCH_ANY)
            return woken + self._move(addr, addr2, count2)

    def wake_op(self, k: Kernel, addr: int, count: int, addr2: int, count2: int,
                encoded: int) -> int:
        """FUTEX_WAKE_OP: change *addr2 as encoded says, wake up to count waiters on addr,
        and up to count2 on addr2 if its old value passes the encoded test; how many woken.

        The read-modify-write is atomic with respect to other futex calls (it is made
        under the lock), not to the guest's own atomic instructions on the word, which run
        without it. An unknown op is ENOSYS before the word changes, an unknown test after
        (as Linux)."""
        op = WakeOp.decode(encoded)
        if op.op not in WAKE_OPS:
            raise SyscallError(errno.ENOSYS)
        with self._lock:
            old = k.load_struct(ctypes.c_int32, addr2).value
            k.store_struct(addr2, ctypes.c_int32(op.apply(old)))      # truncated to 32 bits
            if op.cmp not in WAKE_CMPS:
                raise SyscallError(errno.ENOSYS)
            woken = self._wake(addr, count, BITSET_MATCH_ANY)
            if op.test(old):
                woken += self._wake(addr2, count2, BITSET_MATCH_ANY)
            return woken

    # -- under the lock -------------------------------------------------------------------

    @staticmethod
    def _check(k: Kernel, addr: int, expected: int) -> None:
        if not _same_word(k.load_struct(ctypes.c_int32, addr).value, expected):
            raise SyscallError(errno.EAGAIN)

    def _wake(self, addr: int, count: int, bitset: int) -> int:
        queue = self._queues.get(addr, [])
        chosen = [w for w in queue if w.bitset & bitset][:max(count, 0)]
        for waiter in chosen:
            queue.remove(waiter)
            waiter.woken = True
            waiter.kick()
        self._prune(addr)
        return len(chosen)

    def _move(self, addr: int, addr2: int, count: int) -> int:
        """Move the first count waiters of addr to the end of addr2's queue (a requeue to
        the same address leaves them where they are, as Linux)."""
        queue = self._queues.get(addr, [])
        moving = queue[:max(count, 0)]
        if addr2 != addr and moving:
            del queue[:len(moving)]
            for waiter in moving:
                waiter.addr = addr2
            self._queues.setdefault(addr2, []).extend(moving)
            self._prune(addr)
        return len(moving)

    def _prune(self, addr: int) -> None:
        """An empty queue goes, so the table holds only addresses with waiters."""
        if addr in self._queues and not self._queues[addr]:
            del self._queues[addr]

    def waiting(self, addr: int) -> int:
        """How many threads wait on addr (for tests and debugging)."""
        with self._lock:
            return len(self._queues.get(addr, ()))


# -- robust futex lists -------------------------------------------------------------------

# The owner word of a robust mutex (futex(2)): the owner's tid, and two flags.
FUTEX_WAITERS, FUTEX_OWNER_DIED, FUTEX_TID_MASK = 0x80000000, 0x40000000, 0x3FFFFFFF
ROBUST_LIST_LIMIT = 2048        # entries walked at most, as Linux (a list may be a loop)


def exit_robust_list(k: Kernel) -> None:
    """A thread ends (Linux's exit_robust_list): every robust mutex on its list (struct
    robust_list_head: the list, futex_offset, list_op_pending) whose word still names it
    gets FUTEX_OWNER_DIED, keeping FUTEX_WAITERS, and one waiter is woken, so the next
    locker gets EOWNERDEAD. The list is the guest's: a bad pointer ends the walk. (The
    word's update is atomic against futex calls, not the guest's own atomics.)"""
    head, _ = k.robust_list
    if not head:
        return
    try:
        first, offset, pending = struct.unpack("<QqQ", k.load(head, 24))
        entry = first & ~1              # bit 0 marks a PI futex: the same word here
        for _ in range(ROBUST_LIST_LIMIT):
            if entry == head:
                break
            following = int.from_bytes(k.load(entry, 8), "little") & ~1
            if entry != pending & ~1:
                _owner_died(k, entry + offset)
            entry = following
        if pending & ~1:
            _owner_died(k, (pending & ~1) + offset)
    except GuestFault:
        pass


def _owner_died(k: Kernel, addr: int) -> None:
    word = int.from_bytes(k.load(addr, 4), "little")
    if word & FUTEX_TID_MASK != k.tid:
        return
    k.store(addr, ((word & FUTEX_WAITERS) | FUTEX_OWNER_DIED).to_bytes(4, "little"))
    if word & FUTEX_WAITERS:
        k.futexes.wake(addr, 1)
