"""Per-thread signal state: which thread a signal goes to, what a new thread inherits, the
order signals are taken in, and the signal syscalls that name a thread. No guest runs:
each thread is a SignalState (or a Kernel from for_thread) whose attention is counted."""

import errno
import threading
import time

import pytest
from test_linux_kernel import Guest

from mvvm.errors import GuestSignal
from mvvm.linux.abi import SIG_IGN
from mvvm.linux.signals import SI_USER, SignalState, bit, signal_info
from mvvm.linux.structs import SigAction, Timespec
from mvvm.linux.syscalls.signals import SIGEV_THREAD_ID, ItimerSpec, SigEvent

SIGSEGV, SIGUSR1, SIGUSR2, SIGTERM, SIGRT = 11, 10, 12, 15, 34
HANDLER = 0x1234


class Threads:
    """A process's thread states, the main thread's first, each counting its attention."""

    def __init__(self, count: int) -> None:
        self.states = [SignalState()]
        self.states += [self.states[0].new_thread() for _ in range(count - 1)]
        self.asked = [0] * count
        for n, state in enumerate(self.states):
            state.attention = lambda n=n: self.asked.__setitem__(n, self.asked[n] + 1)
        self.states[0].set_action(SIGUSR1, SigAction(sa_handler=HANDLER))

    def block(self, n: int, signo: int = SIGUSR1) -> None:
        self.states[n].set_mask(bit(signo))

    def __getitem__(self, n: int) -> SignalState:
        return self.states[n]


def usr1(signo: int = SIGUSR1):
    return signal_info(signo, SI_USER)


# -- targeting ----------------------------------------------------------------------------

def test_process_signal_goes_to_the_sender_first():
    t = Threads(3)
    t[2].post(usr1())
    assert t.asked == [0, 0, 1]
    assert t[2].due() == t[0].due() == bit(SIGUSR1)        # any thread may take it
    assert t[0].take(~0).signo == SIGUSR1
    assert t[2].due() == 0


def test_process_signal_goes_to_the_main_thread_if_the_sender_blocks_it():
    t = Threads(3)
    t.block(2)
    t[2].post(usr1())
    assert t.asked == [1, 0, 0]


def test_process_signal_goes_to_any_thread_that_does_not_block_it():
    t = Threads(3)
    t.block(0)
    t.block(2)
    t[2].post(usr1())
    assert t.asked == [0, 1, 0]
    t[0].group.post(usr1(SIGUSR2))              # a timer's: the main thread first
    assert t.asked == [1, 1, 0]


def test_blocked_everywhere_stays_pending_until_a_thread_unblocks_it():
    t = Threads(3)
    for n in range(3):
        t.block(n)
    t[0].post(usr1())
    assert t.asked == [0, 0, 0]
    assert all(state.pending() == bit(SIGUSR1) and not state.due() for state in t.states)
    t[1].set_mask(0)
    assert t.asked == [0, 1, 0]
    assert t[1].take(~t[1].mask).signo == SIGUSR1
    assert t[0].pending() == 0


def test_blocking_a_pending_process_signal_hands_it_to_another_thread():
    t = Threads(2)
    t[0].post(usr1())
    assert t.asked == [1, 0]
    t.block(0)                                  # before its safe point took it
    assert t.asked == [1, 1]


def test_thread_signal_goes_to_its_thread_only():
    t = Threads(3)
    t[1].post_thread(usr1())
    assert t.asked == [0, 1, 0]
    assert t[0].pending() == t[2].pending() == 0
    assert t[0].take(~0) is None
    t.block(1)
    t[1].post_thread(usr1(SIGUSR1))             # blocked there: no other thread is asked
    assert t.asked == [0, 1, 0]


def test_a_waiter_wakes_for_a_signal_every_thread_blocks():
    """sigwait's pattern: all threads block the signal; the one waiting is woken."""
    t = Threads(2)
    t.block(0)
    t.block(1)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(
        t[1].sleep(10, lambda: t[1].pending() & bit(SIGUSR1))))
    waiter.start()
    time.sleep(0.05)
    started = time.monotonic()
    t[0].post(usr1())
    waiter.join(5)
    assert woke == [True] and time.monotonic() - started < 2


# -- threads ------------------------------------------------------------------------------

def test_new_thread_inherits_the_mask_and_nothing_else():
    main = SignalState()
    main.set_mask(bit(SIGUSR2))
    main.altstack.ss_size, main.altstack.ss_flags = 8192, 0
    main.post_thread(usr1(SIGUSR2))
    thread = main.new_thread()
    assert thread.mask == bit(SIGUSR2) and thread.altstack.ss_flags == 2   # SS_DISABLE
    assert thread.pending() == 0 and main.pending() == bit(SIGUSR2)
    assert thread.group is main.group and thread.group.threads == [main, thread]


def test_shared_dispositions():
    t = Threads(2)
    assert t[1].action(SIGUSR1).sa_handler == HANDLER
    t[1].post(usr1(SIGUSR2))
    t[0].post_thread(usr1(SIGUSR2))
    t[1].set_action(SIGUSR2, SigAction(sa_handler=SIG_IGN))    # drops every queue's
    assert t[0].pending() == t[1].pending() == 0


def test_exit_thread_hands_process_signals_on():
    t = Threads(3)
    t.block(0)
    t[1].post(usr1())
    t[1].post_thread(usr1(SIGUSR2))
    assert t.asked == [0, 2, 0]
    t[1].exit_thread()                          # before its safe point took them
    assert t.asked == [0, 2, 1]
    assert t[0].group.threads == [t[0], t[2]]
    t[1].post_thread(usr1())                    # an exited thread gets nothing
    assert t[1].pending() == bit(SIGUSR1)       # the process's, still pending
    assert t[2].take(~0).signo == SIGUSR1 and t[1].pending() == 0


def test_after_fork_only_the_forking_thread_is_left():
    t = Threads(3)
    t.block(0)
    t[1].post(usr1())
    t[1].post_thread(usr1(SIGUSR2))
    t[1].after_fork()
    assert t[1].group.threads == [t[1]] and t[1].pending() == 0


# -- taking -------------------------------------------------------------------------------

def test_take_order_thread_first_then_synchronous_then_lowest():
    state = SignalState()
    state.post(usr1(SIGUSR1))
    state.post_thread(usr1(SIGRT))
    state.post_thread(usr1(SIGUSR2))
    state.post_thread(usr1(SIGSEGV))
    state.post(usr1(SIGRT))
    state.post(usr1(SIGRT))                     # real-time: queued each time
    state.post(usr1(SIGUSR1))                   # standard: once per queue
    order = [info.signo for info in iter(lambda: state.take(~0), None)]
    assert order == [SIGSEGV, SIGUSR2, SIGRT, SIGUSR1, SIGRT, SIGRT]


def test_pending_is_the_union():
    t = Threads(2)
    t.block(0, SIGUSR2)
    t.block(1, SIGUSR2)
    t[0].post(usr1(SIGUSR2))
    t[1].post_thread(usr1(SIGTERM))
    assert t[0].pending() == bit(SIGUSR2)
    assert t[1].pending() == bit(SIGUSR2) | bit(SIGTERM)


# -- syscalls naming a thread -------------------------------------------------------------

@pytest.fixture
def g() -> Guest:
    """A guest with a second thread and a handler for SIGUSR1."""
    guest = Guest()
    guest.kernel.for_thread(guest.kernel.pid + 1, None)
    guest.kernel.signals.set_action(SIGUSR1, SigAction(sa_handler=HANDLER))
    return guest


def test_tgkill_and_tkill_reach_their_thread(g):
    k = g.kernel
    other = k.threads[k.pid + 1].signals
    assert g("tgkill", k.pid, k.pid + 1, SIGUSR1) == 0
    assert other.pending() == bit(SIGUSR1) and k.signals.pending() == 0
    assert g("tkill", k.pid, SIGUSR1) == 0
    assert k.signals.pending() == bit(SIGUSR1)
    assert g("tkill", k.pid + 2, SIGUSR1) == -errno.ESRCH
    assert g("tgkill", k.pid + 1, k.pid + 1, SIGUSR1) == -errno.ESRCH
    assert g("tgkill", k.pid, 0, SIGUSR1) == -errno.EINVAL
    assert g("tkill", k.pid + 1, 0) == 0


def test_kill_goes_to_the_process(g):
    k = g.kernel
    other = k.threads[k.pid + 1].signals
    k.signals.set_mask(bit(SIGUSR1))
    assert g("kill", k.pid, SIGUSR1) == 0
    assert other.due() == bit(SIGUSR1)
    with pytest.raises(GuestSignal):            # SIGTERM kills: one thread lets it in
        g("kill", k.pid, SIGTERM)


def test_a_blocked_fatal_thread_signal_waits(g):
    k = g.kernel
    k.signals.set_mask(bit(SIGTERM))
    assert g("tgkill", k.pid, k.pid, SIGTERM) == 0
    assert k.signals.pending() == bit(SIGTERM)
    with pytest.raises(GuestSignal):
        g("tgkill", k.pid, k.pid + 1, SIGTERM)


def test_timer_for_a_thread(g):
    k = g.kernel
    other = k.threads[k.pid + 1].signals
    event, created = g.alloc(bytes(SigEvent(sigev_signo=SIGUSR1, sigev_notify=SIGEV_THREAD_ID,
                                            sigev_tid=k.pid + 7))), g.alloc(8)
    assert g("timer_create", 1, event, created) == -errno.EINVAL
    g.mem.write(event, bytes(SigEvent(sigev_signo=SIGUSR1, sigev_notify=SIGEV_THREAD_ID,
                                      sigev_tid=k.pid + 1)))
    assert g("timer_create", 1, event, created) == 0
    timer_id = int.from_bytes(g.mem.read(created, 4), "little")
    spec = g.alloc(bytes(ItimerSpec(it_value=Timespec(0, 1_000_000))))    # in 1 ms, once
    assert g("timer_settime", timer_id, 0, spec, 0) == 0
    assert other.sleep(5, other.pending) and other.take(~0).code == -2     # SI_TIMER
    assert k.signals.pending() == 0
