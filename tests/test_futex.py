"""Futexes (mvvm.linux.futex) driven by real host threads over a fake guest memory, and the
futex syscall's argument handling (mvvm.linux.syscalls.futex).

No test depends on timing except that a timeout ends a wait: a thread is known to be
waiting when the queue counts it (`Futexes.waiting`), and every wait that must end
either has a deadline far away (reaching it is a failure: a lost wake-up) or is ended by
the test.
"""

from __future__ import annotations

import ctypes
import errno
import threading
import time

import pytest

from mvvm.errors import GuestFault
from mvvm.linux.futex import BITSET_MATCH_ANY, Futexes, WakeOp
from mvvm.linux.signals import ERESTARTNOHAND, ERESTARTSYS, SignalState, signal_info
from mvvm.linux.structs import Timespec
from mvvm.linux.syscalls.futex import FUTEX_OP, sys_futex

BASE = 0x10000
A, B, C = BASE, BASE + 4, BASE + 8
TIMESPEC = BASE + 64
NEVER = 10.0            # seconds: a wait that lasts this long has lost its wake-up
SIGUSR1 = 10
WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET, WAKE_BITSET = 0, 1, 3, 4, 5, 9, 10
PRIVATE, REALTIME = 128, 256


class FakeKernel:
    """What Futexes needs of a guest thread's Kernel: its signals, the process's futexes
    and memory (a few words at BASE; anything else is unmapped)."""

    def __init__(self, memory: ctypes.Array | None = None, futexes: Futexes | None = None
                 ) -> None:
        self.memory = memory if memory is not None else (ctypes.c_int32 * 32)()
        self.futexes = futexes or Futexes()
        self.signals = SignalState()

    def thread(self) -> FakeKernel:
        """Another thread of the same process."""
        return FakeKernel(self.memory, self.futexes)

    def _offset(self, addr: int, size: int) -> int:
        offset = addr - BASE
        if offset < 0 or offset + size > ctypes.sizeof(self.memory):
            raise GuestFault(addr)
        return offset

    def load_struct(self, layout, addr: int):
        return layout.from_buffer_copy(self.memory, self._offset(addr, ctypes.sizeof(layout)))

    def store_struct(self, addr: int, value) -> None:
        data = bytes(value)
        ctypes.memmove(ctypes.addressof(self.memory) + self._offset(addr, len(data)), data,
                       len(data))

    def word(self, addr: int) -> int:
        return self.memory[self._offset(addr, 4) // 4]

    def set(self, addr: int, value: int) -> None:
        self.memory[self._offset(addr, 4) // 4] = value


class Waiting(threading.Thread):
    """A thread of k's process waiting on addr: result is the return value or errno."""

    def __init__(self, k: FakeKernel, addr: int, expected: int,
                 bitset: int = BITSET_MATCH_ANY, timeout: float = NEVER) -> None:
        super().__init__(daemon=True)
        self.k = k.thread()
        self.args_ = (addr, expected, bitset, timeout)
        self.result: int | None = None

    def run(self) -> None:
        addr, expected, bitset, timeout = self.args_
        try:
            self.result = self.k.futexes.wait(self.k, addr, expected, bitset,
                                              time.monotonic() + timeout)
        except OSError as e:
            self.result = e.errno

    def outcome(self) -> int | None:
        self.join(NEVER)
        assert not self.is_alive(), "the wait never ended"
        return self.result


def until(condition, what: str) -> None:
    """Spin until condition() (which must become true without the test's help)."""
    end = time.monotonic() + NEVER
    while not condition():
        assert time.monotonic() < end, what
        time.sleep(0.0002)


def waiter(k: FakeKernel, addr: int, expected: int = 0, **kw) -> Waiting:
    """A started Waiting, once it is in addr's queue."""
    before = k.futexes.waiting(addr)
    w = Waiting(k, addr, expected, **kw)
    w.start()
    until(lambda: k.futexes.waiting(addr) > before or w.result is not None, "not queued")
    assert w.result is None, f"the wait ended at once: {w.result}"
    return w


@pytest.fixture
def k() -> FakeKernel:
    return FakeKernel()


# -- Futexes ------------------------------------------------------------------------------

def test_wait_on_a_changed_word_is_eagain_and_wake_without_waiters_is_zero(k):
    k.set(A, 5)
    with pytest.raises(OSError) as e:
        k.futexes.wait(k, A, 4)
    assert e.value.errno == errno.EAGAIN
    assert k.futexes.waiting(A) == 0
    assert k.futexes.wake(A, 1) == 0


def test_words_compare_as_32_bits(k):
    """The syscall passes a C int; the word reads signed: -1 and 0xffffffff are one."""
    k.set(A, -1)
    w = waiter(k, A, 0xFFFFFFFF)
    assert k.futexes.wake(A, 1) == 1
    assert w.outcome() == 0


def test_unmapped_word_faults(k):
    with pytest.raises(GuestFault):
        k.futexes.wait(k, BASE - 4, 0)
    assert not k.futexes._queues


def test_wake_takes_the_oldest_and_counts(k):
    first, second, third = (waiter(k, A) for _ in range(3))
    assert k.futexes.wake(A, 2) == 2
    assert first.outcome() == 0 and second.outcome() == 0
    assert third.is_alive() and k.futexes.waiting(A) == 1
    assert k.futexes.wake(A, 0) == 0
    assert k.futexes.wake(A, 5) == 1
    assert third.outcome() == 0
    assert not k.futexes._queues


def test_bitsets_choose_the_waiters(k):
    low, high = waiter(k, A, bitset=0b01), waiter(k, A, bitset=0b10)
    assert k.futexes.wake(A, 10, 0b100) == 0
    assert k.futexes.wake(A, 10, 0b10) == 1
    assert high.outcome() == 0 and low.is_alive()
    assert k.futexes.wake(A, 10) == 1            # FUTEX_WAKE matches any bitset
    assert low.outcome() == 0


def test_timeout(k):
    w = Waiting(k, A, 0, timeout=0.02)
    w.start()
    assert w.outcome() == errno.ETIMEDOUT
    assert k.futexes.waiting(A) == 0
    assert k.futexes.wake(A, 1) == 0


def test_a_due_signal_ends_the_wait(k):
    w = waiter(k, A)
    w.k.signals.post(signal_info(SIGUSR1))
    assert w.outcome() == ERESTARTSYS
    assert k.futexes.waiting(A) == 0


def test_a_blocked_signal_does_not(k):
    w = Waiting(k, A, 0)
    w.k.signals.mask = 1 << (SIGUSR1 - 1)
    w.start()
    until(lambda: k.futexes.waiting(A) == 1, "not queued")
    w.k.signals.post(signal_info(SIGUSR1))
    assert k.futexes.wake(A, 1) == 1
    assert w.outcome() == 0


def test_a_signal_already_due_ends_it_at_once(k):
    k.signals.post(signal_info(SIGUSR1))
    with pytest.raises(OSError) as e:
        k.futexes.wait(k, A, 0, deadline=time.monotonic() + NEVER)
    assert e.value.errno == ERESTARTSYS
    assert k.futexes.waiting(A) == 0


def test_requeue_wakes_some_and_moves_others(k):
    waiters = [waiter(k, A) for _ in range(4)]
    assert k.futexes.requeue(k, A, 1, B, 2) == 3
    assert waiters[0].outcome() == 0
    assert k.futexes.waiting(A) == 1 and k.futexes.waiting(B) == 2
    assert k.futexes.wake(B, 10) == 2           # the moved ones now wait on B
    assert waiters[1].outcome() == 0 and waiters[2].outcome() == 0
    assert k.futexes.wake(A, 10) == 1
    assert waiters[3].outcome() == 0


def test_a_moved_waiter_times_out_from_its_new_queue(k):
    w = waiter(k, A, timeout=0.05)
    assert k.futexes.requeue(k, A, 0, B, 1) == 1
    assert w.outcome() == errno.ETIMEDOUT
    assert not k.futexes._queues


def test_requeue_to_the_same_word_keeps_the_order(k):
    first, second = waiter(k, A), waiter(k, A)
    assert k.futexes.requeue(k, A, 0, A, 1) == 1
    assert k.futexes.wake(A, 1) == 1
    assert first.outcome() == 0 and second.is_alive()
    assert k.futexes.wake(A, 1) == 1
    assert second.outcome() == 0


def test_cmp_requeue_checks_the_word(k):
    w = waiter(k, A)
    with pytest.raises(OSError) as e:
        k.futexes.requeue(k, A, 1, B, 1, expected=7)
    assert e.value.errno == errno.EAGAIN
    assert k.futexes.waiting(A) == 1 and k.futexes.waiting(B) == 0
    assert k.futexes.requeue(k, A, 0, B, 1, expected=0) == 1
    assert k.futexes.wake(B, 1) == 1
    assert w.outcome() == 0


def encode(op: int, oparg: int, cmp: int, cmparg: int) -> int:
    """FUTEX_OP(op, oparg, cmp, cmparg) of linux/futex.h."""
    return (op & 0xF) << 28 | (cmp & 0xF) << 24 | (oparg & 0xFFF) << 12 | cmparg & 0xFFF


SET, ADD, OR, ANDN, XOR, SHIFT = 0, 1, 2, 3, 4, 8
EQ, NE, LT, GE, LE, GT = range(6)


@pytest.mark.parametrize(("old", "op", "oparg", "cmp", "cmparg", "new", "wakes"), [
    (5, SET, 9, EQ, 5, 9, True),
    (5, ADD, -1, EQ, 4, 4, False),              # the test is of the old value
    (-3, ADD, 1, LT, 0, -2, True),              # signed comparisons, 12-bit signed args
    (0b1000, OR, 0b0011, NE, 8, 0b1011, False),
    (0b1111, ANDN, 0b0101, GE, -2048, 0b1010, True),
    (0b1111, XOR, 0b0101, LE, 15, 0b1010, True),
    (1, SHIFT | OR, 31, GT, 1, -(1 << 31) | 1, False),    # oparg is 1 << 31
    (0x7FFFFFFF, ADD, 1, GT, 0, -(1 << 31), True),        # wraps at 32 bits
])
def test_wake_op(k, old, op, oparg, cmp, cmparg, new, wakes):
    k.set(B, old)
    on_a, on_b = waiter(k, A), waiter(k, B, old)
    assert k.futexes.wake_op(k, A, 1, B, 1, encode(op, oparg, cmp, cmparg)) == 1 + wakes
    assert k.word(B) == new
    assert on_a.outcome() == 0
    assert (k.futexes.waiting(B) == 0) == wakes
    k.futexes.wake(B, 1)
    assert on_b.outcome() == 0


def test_wake_op_rejects_unknown_ops(k):
    k.set(B, 3)
    for encoded, changed in ((encode(5, 1, EQ, 0), 3), (encode(SET, 1, 6, 0), 1)):
        with pytest.raises(OSError) as e:
            k.futexes.wake_op(k, A, 1, B, 1, encoded)
        assert e.value.errno == errno.ENOSYS
        assert k.word(B) == changed        # an unknown test comes after the change (Linux)


def test_wake_op_decoding():
    assert WakeOp.decode(encode(ADD, 0xFFF, LT, 0x800)) == WakeOp(ADD, -1, LT, -2048)
    assert WakeOp.decode(encode(SHIFT | ANDN, 35, EQ, 0)) == WakeOp(ANDN, 8, EQ, 0)


class AtomicWords:
    """The guest's atomic instructions, which Futexes does not take part in."""

    def __init__(self, k: FakeKernel) -> None:
        self.k = k
        self.lock = threading.Lock()

    def cmpxchg(self, addr: int, old: int, new: int) -> int:
        with self.lock:
            value = self.k.word(addr)
            if value == old:
                self.k.set(addr, new)
            return value

    def xchg(self, addr: int, new: int) -> int:
        with self.lock:
            value = self.k.word(addr)
            self.k.set(addr, new)
            return value

    def add(self, addr: int, delta: int) -> int:
        with self.lock:
            value = self.k.word(addr)
            self.k.set(addr, value + delta)
            return value


def test_mutex_stress_loses_no_wakeup(k):
    """Drepper's futex mutex (0 free, 1 locked, 2 locked with waiters), the way glibc's
    lll_lock works: threads take turns on a counter; a lost wake-up leaves a thread
    waiting for ever, which NEVER turns into a failure."""
    atomic, threads, rounds = AtomicWords(k), 4, 300
    counter = [0]
    failures: list[int] = []

    def lock(t: FakeKernel) -> None:
        c = atomic.cmpxchg(A, 0, 1)
        if c == 0:
            return
        if c != 2:
            c = atomic.xchg(A, 2)
        while c != 0:
            try:
                t.futexes.wait(t, A, 2, deadline=time.monotonic() + NEVER)
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    failures.append(e.errno)
                    return
            c = atomic.xchg(A, 2)

    def unlock(t: FakeKernel) -> None:
        if atomic.add(A, -1) != 1:
            atomic.xchg(A, 0)
            t.futexes.wake(A, 1)

    def work() -> None:
        t = k.thread()
        for _ in range(rounds):
            lock(t)
            value = counter[0]
            time.sleep(0)               # let the others run into the lock
            counter[0] = value + 1
            unlock(t)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(NEVER * 2)
    assert not failures and not any(w.is_alive() for w in workers)
    assert counter[0] == threads * rounds
    assert not k.futexes._queues


def test_ping_pong_loses_no_wakeup(k):
    """Two threads hand a turn back and forth through one word, each sleeping until the
    other's wake: every handoff needs its wake-up."""
    rounds, failures = 1000, []

    def play(me: int) -> None:
        t = k.thread()
        for _ in range(rounds):
            while k.word(A) != me:
                try:
                    t.futexes.wait(t, A, 1 - me, deadline=time.monotonic() + NEVER)
                except OSError as e:
                    if e.errno != errno.EAGAIN:
                        failures.append(e.errno)
                        return
            k.set(A, 1 - me)
            t.futexes.wake(A, 1)
            time.sleep(0)               # most often, the other is asleep by now

    players = [threading.Thread(target=play, args=(me,), daemon=True) for me in (0, 1)]
    for p in players:
        p.start()
    for p in players:
        p.join(NEVER * 2)
    assert not failures and not any(p.is_alive() for p in players)


# -- the syscall --------------------------------------------------------------------------

def futex(k: FakeKernel, addr: int, op: int, value: int = 0, timeout: int = 0,
          addr2: int = 0, value3: int = 0) -> int:
    """sys_futex as Kernel.syscall calls it: -errno on failure."""
    try:
        return sys_futex(k, addr, op, value, timeout, addr2, value3)
    except OSError as e:
        return -e.errno
    except GuestFault:
        return -errno.EFAULT


def test_syscall_arguments(k):
    assert futex(k, A, 42) == -errno.ENOSYS
    assert futex(k, A, WAKE | REALTIME, 1) == -errno.ENOSYS
    assert futex(k, A, WAIT_BITSET | PRIVATE, 0, 0, 0, 0) == -errno.EINVAL     # bitset 0
    assert futex(k, A, WAKE_BITSET, 1, 0, 0, 0) == -errno.EINVAL
    assert futex(k, A + 2, WAKE, 1) == -errno.EINVAL                          # misaligned
    assert futex(k, A, REQUEUE, 1, 0, B + 1) == -errno.EINVAL
    assert futex(k, A, CMP_REQUEUE, -1, 1, B, 0) == -errno.EINVAL             # count < 0
    assert futex(k, A, WAIT, 1) == -errno.EAGAIN
    assert futex(k, BASE - 4, WAIT, 0) == -errno.EFAULT
    assert futex(k, A, WAKE | PRIVATE, 1) == 0


@pytest.mark.parametrize(("sec", "nsec"), [(-1, 0), (0, -1), (0, 1_000_000_000)])
def test_syscall_rejects_bad_timeouts(k, sec, nsec):
    k.store_struct(TIMESPEC, Timespec(sec, nsec))
    assert futex(k, A, WAIT, 0, TIMESPEC) == -errno.EINVAL


@pytest.mark.parametrize("op", [WAIT, WAIT | REALTIME, WAIT_BITSET, WAIT_BITSET | REALTIME])
def test_syscall_timeouts(k, op):
    """WAIT's timeout is relative (1 ms here); WAIT_BITSET's is absolute (1 s after the
    clock's origin: long past)."""
    k.store_struct(TIMESPEC, Timespec(0, 1_000_000) if op & 0x7F == WAIT else Timespec(1, 0))
    assert futex(k, A, op | PRIVATE, 0, TIMESPEC, 0, BITSET_MATCH_ANY) == -errno.ETIMEDOUT


def test_syscall_wake_counts_at_least_one(k):
    """Linux's wake loop counts before it compares: FUTEX_WAKE of 0 wakes one."""
    w = waiter(k, A)
    assert futex(k, A, WAKE | PRIVATE, 0) == 1
    assert w.outcome() == 0


def test_syscall_requeue_takes_its_count_from_the_timeout_argument(k):
    waiters = [waiter(k, A) for _ in range(3)]
    assert futex(k, A, CMP_REQUEUE | PRIVATE, 1, 1, B, 1) == -errno.EAGAIN
    assert futex(k, A, CMP_REQUEUE | PRIVATE, 1, 1, B, 0) == 2
    assert futex(k, A, WAKE_BITSET, 5, 0, 0, 1) == 1
    assert futex(k, B, WAKE, 5) == 1
    assert all(w.outcome() == 0 for w in waiters)


def test_syscall_wake_op(k):
    k.set(B, 1)
    assert futex(k, A, WAKE_OP | PRIVATE, 1, 1, B, encode(SET, 0, GT, 0)) == 0
    assert k.word(B) == 0


def test_syscall_timed_wait_interrupted_is_erestartnohand(k):
    """EINTR when a handler runs, even with SA_RESTART, as Linux's timed futex waits."""
    k.store_struct(TIMESPEC, Timespec(100, 0))
    k.signals.post(signal_info(SIGUSR1))
    assert futex(k, A, WAIT, 0, TIMESPEC) == -ERESTARTNOHAND
    assert futex(k, A, WAIT, 0) == -ERESTARTSYS


def test_strace_shows_the_op(k):
    assert FUTEX_OP.show(k, PRIVATE | WAIT) == "FUTEX_PRIVATE_FLAG|FUTEX_WAIT"
    assert FUTEX_OP.show(k, REALTIME | WAIT_BITSET) == "FUTEX_CLOCK_REALTIME|FUTEX_WAIT_BITSET"
    assert FUTEX_OP.show(k, 99) == "0x63"
