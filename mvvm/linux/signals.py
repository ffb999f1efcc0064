"""The guest's signals: dispositions, blocked masks, pending signals, alternate stacks,
interval timers, and delivery at the VM's safe points.

As on Linux, a process's threads share a `SignalGroup` (dispositions, timers, the signals
sent to the process) and each has its own `SignalState` (mask, alternate stack, the
signals sent to it). Anything may make a signal pending, from any host thread: `post`
sends it to the process, `post_thread` to one thread. When the signal is due in a thread
(pending and not blocked there) that thread's cpu is asked for its attention (VM.wake:
the running syscall returns to a safe point, and translated code leaves at its next loop
iteration or region change) and a syscall it waits in (`sleep`, `poll`) wakes. A signal
sent to the process goes to one thread that does not block it, as Linux's complete_signal
chooses; if all block it, to whichever unblocks it first. At the safe point `deliver_due`
takes the thread's due signals in Linux's order and runs each one's default action or
pushes a frame for its handler (mvvm.linux.sigframe); a syscall a signal interrupted
returns -EINTR or is restarted, as its -ERESTART* code and SA_RESTART say.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import signal
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import GuestFault, GuestSignal, SyscallError
from ..runtime.precise import SEGV_ACCERR, SEGV_MAPERR
from .abi import NSIG, SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK, SIGKILL, SIGSTOP
from .sigframe import SigInfo, push_frame
from .structs import SigAction, StackT

if TYPE_CHECKING:
    from ..runtime.precise import Fault
    from .kernel import Kernel

SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048
SA_RESTART, SA_NODEFER, SA_RESETHAND = 0x10000000, 0x40000000, 0x80000000
SIGSEGV, SIGRTMIN = 11, 32
SI_USER, SI_KERNEL = 0, 0x80
# What a syscall a signal interrupts returns (include/linux/errno.h); see `_finish_syscall`.
ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND = 512, 513, 514
RESTARTS = frozenset({ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND})
POLLIN = 0x1

UNBLOCKABLE = 1 << (SIGKILL - 1) | 1 << (SIGSTOP - 1)
MASK_CHANGES: dict[int, Callable[[int, int], int]] = {
    SIG_BLOCK: lambda mask, bits: mask | bits,
    SIG_UNBLOCK: lambda mask, bits: mask & ~bits,
    SIG_SETMASK: lambda mask, bits: bits,
}
DEFAULT_IGNORED = frozenset({17, 18, 23, 28})       # SIGCHLD, SIGCONT, SIGURG, SIGWINCH
DEFAULT_STOP = frozenset({19, 20, 21, 22})          # SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU
# Delivered before the others when several are due (SIGSEGV, SIGBUS, SIGILL, SIGTRAP,
# SIGFPE, SIGSYS), as Linux's next_signal does.
SYNCHRONOUS = sum(1 << (n - 1) for n in (11, 7, 4, 5, 8, 31))
# Host signals never forwarded: SIGKILL and SIGSTOP; the faults wasmtime handles itself
# (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP); SIGPIPE, which the host ignores and the
# Linux layer sends on EPIPE; 32 and 33, the host threads library's.
NOT_FORWARDED = frozenset({9, 19, 11, 7, 4, 8, 5, 13, 32, 33})
PYTHON_IGNORES = frozenset({13, 25})    # SIGPIPE, SIGXFSZ: ignored by Python, not inherited


def bit(signo: int) -> int:
    return 1 << (signo - 1)


def disabled_stack() -> StackT:
    return StackT(ss_sp=0, ss_flags=SS_DISABLE, ss_size=0)


def _nothing() -> None:
    """The attention callback until a cpu runs the thread (mvvm.linux.process)."""


class _Queue:
    """Pending signals by number (not locked: the group's lock guards every queue). A
    standard signal is queued once; real-time ones each time they are sent."""

    def __init__(self) -> None:
        self._signals: dict[int, list[SigInfo]] = {}

    def add(self, info: SigInfo) -> bool:
        """Queue info; whether it was (not when its standard signal is already pending)."""
        queue = self._signals.setdefault(info.signo, [])
        if queue and info.signo < SIGRTMIN:
            return False
        queue.append(info)
        return True

    def bits(self) -> int:
        return sum(bit(signo) for signo in self._signals)

    def take(self, bits: int) -> SigInfo | None:
        """Dequeue the first pending signal among bits: synchronous ones first, then the
        lowest number (Linux's next_signal)."""
        ready = self.bits() & bits
        if not ready:
            return None
        first = ready & SYNCHRONOUS or ready
        signo = (first & -first).bit_length()
        queue = self._signals[signo]
        info = queue.pop(0)
        if not queue:
            del self._signals[signo]
        return info

    def discard(self, signo: int) -> None:
        self._signals.pop(signo, None)

    def clear(self) -> None:
        self._signals.clear()


class _WakePipe:
    """A thread's wake-up pipe, made at its first wait: kick writes a byte, sleep and poll
    wait for one. It is closed with the object (not when its thread exits), so that a late
    kick from another thread never writes to a file descriptor number reused since."""

    def __init__(self) -> None:
        self.read, self.write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        weakref.finalize(self, _close_all, self.read, self.write)

    def kick(self) -> None:
        with contextlib.suppress(BlockingIOError):     # full: waiters wake anyway
            os.write(self.write, b"!")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.read, 512):
                pass


def _close_all(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


def _rouse(threads: list[SignalState]) -> None:
    """Outside the group's lock: ask each thread to act on a signal now due there."""
    for thread in threads:
        thread.attention()
        thread.kick()


class SignalGroup:
    """What a process's threads share: dispositions, timers, host forwarding, the
    rt_sigreturn trampoline, the signals sent to the process, and the threads' states
    (the main thread's first). One lock guards the group's and every thread's pending
    signals, and the masks as posting reads them."""

    def __init__(self) -> None:
        self.actions: dict[int, SigAction] = {}
        self.itimers: dict[int, Timer] = {}             # setitimer's, by `which`
        self.timers: dict[int, Timer] = {}              # timer_create's, by id
        self.trampoline: int | None = None  # the rt_sigreturn page (mvvm.linux.sigframe)
        self.host: HostSignals | None = None    # set when the guest runs in a VM process
        self.pending = _Queue()                         # process-directed signals
        self.threads: list[SignalState] = []
        self.lock = threading.Lock()

    def action(self, signo: int) -> SigAction:
        """The current disposition (SIG_DFL until the guest sets one)."""
        return self.actions.get(signo) or SigAction(sa_handler=SIG_DFL)

    def set_action(self, signo: int, action: SigAction) -> None:
        """rt_sigaction's change; a signal made ignored loses its pending instances, in
        the process's queue and in every thread's."""
        action.sa_mask &= ~UNBLOCKABLE
        self.actions[signo] = action
        if self.host is not None:
            self.host.follow(signo, action.sa_handler)
        if self.ignores(signo):
            with self.lock:
                for queue in [self.pending, *(t.queue for t in self.threads)]:
                    queue.discard(signo)

    def ignores(self, signo: int) -> bool:
        handler = self.action(signo).sa_handler
        return handler == SIG_IGN or (handler == SIG_DFL and signo in DEFAULT_IGNORED)

    def post(self, info: SigInfo, prefer: SignalState | None = None) -> None:
        """Send a signal to the process: discarded if ignored (unless the first thread
        it would go to blocks it, as Linux's sig_ignored looks at that one); queued once
        if standard; then one thread is asked to take it: prefer, else the main thread,
        else any that does not block it. If all block it, waiters (sigtimedwait) are
        woken to look, and `set_mask` asks whichever thread unblocks it first."""
        signo = info.signo
        with self.lock:
            first = self._first(prefer)
            if first is None or first.is_ignored(signo) or not self.pending.add(info):
                return
            takers = self._takers(bit(signo), first)
            threads = list(self.threads)
        if takers:
            _rouse(takers)
        else:
            for thread in threads:
                thread.kick()

    def receiver(self, signo: int, prefer: SignalState | None = None) -> SignalState | None:
        """The thread `post` would send signo to now; None if every thread blocks it."""
        with self.lock:
            takers = self._takers(bit(signo), self._first(prefer))
        return takers[0] if takers else None

    def _first(self, prefer: SignalState | None) -> SignalState | None:
        """prefer if it is a thread of the group, else the main thread (the first)."""
        if prefer is not None and prefer in self.threads:
            return prefer
        return self.threads[0] if self.threads else None

    def _takers(self, bits: int, first: SignalState | None = None,
                skip: SignalState | None = None) -> list[SignalState]:
        """Under the lock: the threads to ask so that each signal of bits is taken by a
        thread that does not block it, first if it can, then the earliest that can
        (Linux's complete_signal, and retarget_shared_pending when skip stops taking)."""
        chosen = []
        for thread in [first, *self.threads] if first is not None else self.threads:
            takes = bits & ~thread.mask
            if takes and thread is not skip:
                chosen.append(thread)
                bits &= ~takes
        return chosen

    def retarget(self, bits: int, skip: SignalState) -> None:
        """The process's pending signals of bits no longer go to skip (it blocks them now,
        or exits): ask other threads to take them."""
        with self.lock:
            takers = self._takers(self.pending.bits() & bits, skip=skip)
        _rouse(takers)


class _Shared:
    """A SignalState attribute that is its group's, the same in every thread."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, state: SignalState, owner: type | None = None) -> Any:
        return getattr(state.group, self.name)

    def __set__(self, state: SignalState, value: object) -> None:
        setattr(state.group, self.name, value)


class SignalState:
    """One guest thread's signals, in its process's group; post() and post_thread() may
    be called from any host thread. The group's attributes read (and set) through it."""

    actions = _Shared()
    itimers = _Shared()
    timers = _Shared()
    trampoline = _Shared()
    host = _Shared()

    def __init__(self, group: SignalGroup | None = None) -> None:
        """The main thread's state in a new group, or another thread's in group."""
        self.group = group or SignalGroup()
        self.mask = 0
        self.altstack = disabled_stack()
        self.attention: Callable[[], None] = _nothing
        self.saved_mask: int | None = None  # the mask to restore after a wait with its own
        self.interrupted: tuple[int, int] | None = None   # (ERESTART* code, orig a0)
        self.queue = _Queue()                           # thread-directed signals
        self._pipe: _WakePipe | None = None             # wakes waiting syscalls
        with self.group.lock:
            self.group.threads.append(self)

    # -- threads ----------------------------------------------------------------------

    def new_thread(self) -> SignalState:
        """A new thread's state (clone with CLONE_THREAD): this one's mask, no alternate
        stack, nothing pending."""
        thread = SignalState(self.group)
        thread.mask = self.mask
        return thread

    def exit_thread(self) -> None:
        """The thread leaves its group: its own pending signals go with it; the process's
        go to the threads that remain (it never took one it did not deliver)."""
        group = self.group
        with group.lock:
            if self in group.threads:
                group.threads.remove(self)
            self.queue.clear()
        group.retarget(~0, self)

    # -- dispositions and the mask --------------------------------------------------------

    def action(self, signo: int) -> SigAction:
        """The current disposition (SIG_DFL until the guest sets one)."""
        return self.group.action(signo)

    def set_action(self, signo: int, action: SigAction) -> None:
        """rt_sigaction's change (see SignalGroup.set_action)."""
        self.group.set_action(signo, action)

    def is_blocked(self, signo: int) -> bool:
        return bool(self.mask & bit(signo))

    def is_fatal(self, signo: int) -> bool:
        """Whether the signal, sent now, would kill the guest by its default action."""
        return self.action(signo).sa_handler == SIG_DFL and signo not in \
            DEFAULT_IGNORED | DEFAULT_STOP

    def is_ignored(self, signo: int) -> bool:
        """Whether the signal would be discarded if sent now (blocked ones never are)."""
        return self.group.ignores(signo) and not self.is_blocked(signo)

    def change_mask(self, how: int, bits: int) -> None:
        """rt_sigprocmask's update (how is a key of MASK_CHANGES)."""
        self.set_mask(MASK_CHANGES[how](self.mask, bits))

    def set_mask(self, bits: int) -> None:
        """SIGKILL and SIGSTOP silently stay unblocked; a signal this unblocks is due."""
        self._replace_mask(bits)
        if self.due():
            self.attention()

    def wait_with_mask(self, bits: int) -> None:
        """The mask of a syscall that waits (rt_sigsuspend, ppoll): the old one comes back
        at the safe point after it, in the frame of the signal delivered then, if any."""
        if self.saved_mask is None:
            self.saved_mask = self.mask
        self._replace_mask(bits)
        self.attention()

    def _replace_mask(self, bits: int) -> None:
        """Under the lock, so that `post` never picks this thread for a signal it just
        blocked; the process's pending signals it now blocks go to other threads."""
        with self.group.lock:
            newly = bits & ~self.mask
            self.mask = bits & ~UNBLOCKABLE
        if newly:
            self.group.retarget(newly, self)

    # -- pending signals ------------------------------------------------------------------

    def post(self, info: SigInfo) -> None:
        """Send a signal to this thread's process, this thread first if it does not block
        it (SignalGroup.post)."""
        self.group.post(info, self)

    def post_thread(self, info: SigInfo) -> None:
        """Send a signal to this thread only (tgkill, a fault, SIGPIPE, SIGEV_THREAD_ID):
        discarded if ignored or if the thread has exited; queued once if standard."""
        signo = info.signo
        with self.group.lock:
            if self not in self.group.threads or self.is_ignored(signo) or \
                    not self.queue.add(info):
                return
        if not self.is_blocked(signo):
            self.attention()
        self.kick()

    def kick(self) -> None:
        """Wake a `sleep` or `poll` of this thread (to look at its condition again)."""
        pipe = self._pipe
        if pipe is not None:
            pipe.kick()

    def pending(self) -> int:
        """The signals pending for this thread: its own and its process's."""
        with self.group.lock:
            return self.queue.bits() | self.group.pending.bits()

    def due(self) -> int:
        return self.pending() & ~self.mask

    def take(self, bits: int) -> SigInfo | None:
        """Dequeue the first pending signal among bits, the thread's own before the
        process's, as Linux's dequeue_signal."""
        with self.group.lock:
            return self.queue.take(bits) or self.group.pending.take(bits)

    # -- waiting ------------------------------------------------------------------------

    def sleep(self, seconds: float | None, until: Callable[[], int]) -> bool:
        """Wait up to seconds (None: for ever) until `until()` is non-zero; whether it is."""
        deadline = None if seconds is None else time.monotonic() + seconds
        pipe = self._wake_pipe()
        poller = select.poll()
        poller.register(pipe.read, POLLIN)
        while True:
            pipe.drain()
            if until():
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            poller.poll(None if left is None else math.ceil(left * 1000))

    def poll(self, poller: select.poll, timeout_ms: int | None,
             interrupted: int = ERESTARTNOHAND) -> list[tuple[int, int]]:
        """poller.poll(timeout_ms), ended by a due signal with the given -ERESTART* code
        (poll and select end with ERESTARTNOHAND, as on Linux)."""
        pipe = self._wake_pipe()
        poller.register(pipe.read, POLLIN)
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        while True:
            pipe.drain()
            if self.due():
                raise SyscallError(interrupted)
            left = None if deadline is None else max(0, deadline - time.monotonic())
            events = [e for e in poller.poll(None if left is None else math.ceil(left * 1000))
                      if e[0] != pipe.read]
            if events or left == 0:
                return events

    def wait_ready(self, host_fd: int, events: int) -> None:
        """Before a read (or write) that may block on host_fd: wait for it in `poll`, so
        that a signal interrupts the wait (ERESTARTSYS: SA_RESTART restarts the call).
        Only while a signal can come from within (a handler, a timer): others come from
        outside, as host signals, which interrupt the host call themselves."""
        if not (self.itimers or self.timers or self._catching()) or \
                not os.get_blocking(host_fd):
            return
        poller = select.poll()
        poller.register(host_fd, events)
        self.poll(poller, None, ERESTARTSYS)

    def _catching(self) -> bool:
        return any(a.sa_handler not in (SIG_DFL, SIG_IGN) for a in self.actions.values())

    def _wake_pipe(self) -> _WakePipe:
        if self._pipe is None:
            self._pipe = _WakePipe()
        return self._pipe

    # -- the alternate stack ------------------------------------------------------------

    def on_altstack(self, sp: int) -> bool:
        """Whether sp is on the alternate stack (never, by construction, if it disarms)."""
        stack = self.altstack
        if stack.ss_flags & SS_AUTODISARM:
            return False
        return stack.ss_sp < sp <= stack.ss_sp + stack.ss_size

    def altstack_report(self, sp: int) -> StackT:
        """What sigaltstack reports: SS_ONSTACK when sp is on it."""
        stack = self.altstack
        mode = SS_DISABLE if not stack.ss_size else SS_ONSTACK if self.on_altstack(sp) else 0
        return StackT(ss_sp=stack.ss_sp, ss_flags=mode | stack.ss_flags & SS_AUTODISARM,
                      ss_size=stack.ss_size)

    def set_altstack(self, new: StackT, sp: int) -> None:
        """sigaltstack's change (also rt_sigreturn's); not while running on the old one."""
        if self.on_altstack(sp):
            raise SyscallError(errno.EPERM)
        mode = new.ss_flags & 0xFFFFFFFF & ~SS_AUTODISARM
        if mode not in (0, SS_ONSTACK, SS_DISABLE):
            raise SyscallError(errno.EINVAL)
        if mode == SS_DISABLE:
            self.altstack = disabled_stack()
        elif new.ss_size < MINSIGSTKSZ:
            raise SyscallError(errno.ENOMEM)
        else:
            self.altstack = StackT.from_buffer_copy(new)

    def disarm_altstack(self) -> None:
        """After a frame saved it: SS_AUTODISARM stacks are disabled until rt_sigreturn."""
        if self.altstack.ss_flags & SS_AUTODISARM:
            self.altstack = disabled_stack()

    # -- fork and execve ------------------------------------------------------------------

    def exec_reset(self) -> None:
        """execve: handlers go back to SIG_DFL (ignored signals stay ignored), the
        alternate stack and the POSIX timers go; the mask, the pending signals and the
        setitimer timers stay."""
        for signo, action in list(self.actions.items()):
            if action.sa_handler != SIG_IGN:
                self.set_action(signo, SigAction(sa_handler=SIG_DFL))
        self.altstack = disabled_stack()
        self.trampoline = None
        for timer in self.timers.values():
            timer.disarm()
        self.timers.clear()

    def after_fork(self) -> None:
        """In a forked child: this thread alone in the group (the others stayed in the
        parent, as did the timers' threads), no pending signals, no timers, a new lock
        (another thread may have held the parent's) and a wake pipe of its own."""
        group = self.group
        group.lock = threading.Lock()
        group.threads = [self]
        group.pending.clear()
        self.queue.clear()
        group.itimers.clear()
        group.timers.clear()
        self._pipe = None
        if group.host is not None:
            group.host.after_fork(self)


class HostSignals:
    """Host signals sent to the VM process reach the guest, as qemu-user forwards them: a
    signal the guest catches gets a host handler, one it ignores is ignored by the host
    too, and SIG_DFL brings back the host's own disposition (the host's default action
    is the guest's). Python runs a handler only between bytecodes of the main thread, so
    the host handler does nothing: a pump thread reads each signal number from Python's
    wakeup fd and posts it to the process (which wakes a cpu, even in a busy loop).

    state is the main thread's: signal.signal works on the host's main thread only, so a
    disposition another thread sets is mirrored at the main thread's next safe point.

    A signal the VM process was started with ignored (nohup, a shell's background job)
    starts ignored in the guest too, as execve keeps it; its default is then SIG_DFL."""

    def __init__(self, state: SignalState) -> None:
        self.state = state
        self._original: dict[int, object] = {}          # the host's own dispositions
        self._forwarded: set[int] = set()
        self._pump: tuple[int, int] | None = None
        self._deferred: dict[int, int] = {}             # signo: handler, from other threads
        for signo in range(1, NSIG + 1):
            if signo not in NOT_FORWARDED | PYTHON_IGNORES and \
                    signal.getsignal(signo) == signal.SIG_IGN:
                state.group.actions[signo] = SigAction(sa_handler=SIG_IGN)
                self._original[signo] = signal.SIG_DFL

    def follow(self, signo: int, handler: int) -> None:
        """Mirror a guest disposition on the host, now on the main thread, else soon."""
        if signo in NOT_FORWARDED or signo > NSIG:
            return
        if threading.current_thread() is not threading.main_thread():
            self._deferred[signo] = handler
            self.state.attention()
            return
        self._deferred.pop(signo, None)
        self._original.setdefault(signo, signal.getsignal(signo))
        self._forwarded.discard(signo)
        if handler == SIG_IGN:
            signal.signal(signo, signal.SIG_IGN)
        elif handler == SIG_DFL:
            signal.signal(signo, self._original[signo])
        else:
            self._start_pump()
            self._forwarded.add(signo)
            signal.signal(signo, _host_handler)

    def settle(self) -> None:
        """On the main thread: mirror the dispositions other threads set."""
        if self._deferred and threading.current_thread() is threading.main_thread():
            with contextlib.suppress(KeyError):     # emptied
                while True:
                    self.follow(*self._deferred.popitem())

    def after_fork(self, state: SignalState) -> None:
        """The child's main thread is the one that forked (state); it shares the parent's
        pump pipe and has no pump thread: a new pump."""
        self.state = state
        if self._pump is not None:
            for fd in self._pump:
                os.close(fd)
            self._pump = None
            self._start_pump()

    def _start_pump(self) -> None:
        if self._pump is not None:
            return
        read, write = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        self._pump = (read, write)
        threading.Thread(target=self._run_pump, args=(read,), daemon=True).start()

    def _run_pump(self, read: int) -> None:
        with contextlib.suppress(OSError):
            while numbers := os.read(read, 64):
                for signo in numbers:
                    if signo in self._forwarded:
                        self.state.post(signal_info(signo, SI_USER))


def _host_handler(signo: int, frame: object) -> None:
    """A forwarded signal's host handler: the pump thread does the work."""


class Timer:
    """An interval timer (setitimer, timer_create) on a host clock: a host thread waits
    for each expiry and calls fire. CPU-time clocks (ITIMER_VIRTUAL, ITIMER_PROF) are
    waited for in wall time and checked again, since CPU time never runs faster."""

    def __init__(self, clock: int, fire: Callable[[], None]) -> None:
        self.clock = clock
        self.fire = fire
        self.deadline: int | None = None    # on the clock, in ns
        self.interval = 0
        self._cancel = threading.Event()

    def arm(self, value_ns: int, interval_ns: int, *, absolute: bool = False) -> None:
        """Start (value 0: stop) the timer; value is relative unless absolute."""
        self.disarm()
        if not value_ns:
            return
        self.interval = interval_ns
        self.deadline = value_ns if absolute else time.clock_gettime_ns(self.clock) + value_ns
        self._cancel = threading.Event()
        threading.Thread(target=self._run, args=(self._cancel,), daemon=True).start()

    def disarm(self) -> None:
        self._cancel.set()
        self.deadline = None
        self.interval = 0

    def remaining(self) -> tuple[int, int]:
        """(ns to the next expiry, interval ns); zeros when the timer is off."""
        if self.deadline is None:
            return 0, 0
        return max(1, self.deadline - time.clock_gettime_ns(self.clock)), self.interval

    def _run(self, cancel: threading.Event) -> None:
        """Fire at each expiry until cancelled; expiries missed while late are skipped,
        as one pending signal stands for them all."""
        deadline, interval = self.deadline or 0, self.interval
        while not cancel.wait(max(0, deadline - time.clock_gettime_ns(self.clock)) / 1e9):
            now = time.clock_gettime_ns(self.clock)
            if now < deadline:
                continue
            self.fire()
            if not interval or cancel.is_set():
                break
            deadline += interval * ((now - deadline) // interval + 1)
            self.deadline = deadline
        if not cancel.is_set():
            self.deadline = None


# -- delivery ---------------------------------------------------------------------------

def signal_info(signo: int, code: int = SI_KERNEL, pid: int = 0, uid: int = 0,
                value: int = 0) -> SigInfo:
    info = SigInfo(signo=signo, code=code)
    info.sender.pid, info.sender.uid, info.sender.value = pid, uid, value
    return info


def send(k: Kernel, info: SigInfo, thread: SignalState | None = None,
         why: str = "sent by the guest to itself") -> None:
    """A signal the guest sends itself from a syscall: to one of its threads, else to the
    process. One that kills by default kills at once if a thread it may go to does not
    block it (Linux ends the whole group when it is sent), with why as the message; the
    others become pending, due at the receiving thread's next safe point."""
    state, signo = k.signals, info.signo
    receiver = state.group.receiver(signo, state) if thread is None else thread
    if receiver is not None and not receiver.is_blocked(signo) and receiver.is_fatal(signo):
        raise GuestSignal(signo, why)
    if thread is None:
        state.post(info)
    else:
        thread.post_thread(info)


def send_self(k: Kernel, signo: int, code: int, why: str = "sent by the guest to itself"
              ) -> None:
    """A signal the calling thread sends itself (raise, SIGPIPE): see `send`."""
    send(k, signal_info(signo, code, k.pid, os.getuid()), k.signals, why)


def deliver_due(k: Kernel) -> None:
    """At a safe point: act on every due signal, the way Linux does on its way back to
    user mode; handlers' frames nest, the last pushed runs first."""
    state = k.signals
    if state.host is not None:
        state.host.settle()
    interrupted, state.interrupted = state.interrupted, None
    while (info := state.take(~state.mask)) is not None:
        action = state.action(info.signo)
        if action.sa_handler == SIG_DFL:
            _default_action(k, info.signo)
        elif action.sa_handler != SIG_IGN:
            if interrupted is not None:
                _finish_syscall(k, interrupted, action)
                interrupted = None
            _run_handler(k, info, action)
    if interrupted is not None:
        _finish_syscall(k, interrupted, None)
    if state.saved_mask is not None:
        saved, state.saved_mask = state.saved_mask, None
        state.set_mask(saved)


def deliver_fault(k: Kernel, fault: Fault) -> None:
    """A synchronous fault at the cpu's pc: to the faulting thread's handler, unless the
    signal is blocked or ignored, which kills, as Linux's force_sig_fault does, with the
    fault's own message."""
    state = k.signals
    if state.action(fault.signo).sa_handler in (SIG_DFL, SIG_IGN) or \
            state.is_blocked(fault.signo):
        raise fault
    info = SigInfo(signo=fault.signo, code=_fault_code(k, fault))
    info.addr = fault.addr
    state.post_thread(info)
    deliver_due(k)


def _fault_code(k: Kernel, fault: Fault) -> int:
    """A SIGSEGV at a mapped address is one of rights, SEGV_ACCERR: the trap only says
    the access faulted."""
    if fault.signo == SIGSEGV and fault.code == SEGV_MAPERR:
        try:
            k.space.check(fault.addr, 1, 0)
        except GuestFault:
            return SEGV_MAPERR
        return SEGV_ACCERR
    return fault.code


def _default_action(k: Kernel, signo: int) -> None:
    """Ignore, stop (the whole VM process, until a SIGCONT; an embedded guest has no
    process of its own to stop, and goes on) or kill."""
    if signo in DEFAULT_STOP:
        if not k.embedded:
            os.kill(os.getpid(), SIGSTOP)
    elif signo not in DEFAULT_IGNORED:
        raise GuestSignal(signo, "the default action of a signal the guest received")


def _finish_syscall(k: Kernel, interrupted: tuple[int, int], action: SigAction | None) -> None:
    """The syscall before this safe point was interrupted (its a0 is -ERESTART*): with a
    handler to run, it fails with EINTR unless SA_RESTART asks (ERESTARTSYS) or it is
    never to fail (ERESTARTNOINTR); otherwise it runs again from its ecall."""
    code, orig_a0 = interrupted
    cpu = k.cpu
    restart = action is None or code == ERESTARTNOINTR or (
        code == ERESTARTSYS and action.sa_flags & SA_RESTART)
    if restart:
        cpu.pc -= 4
        cpu.x[10] = orig_a0
    else:
        cpu.x[10] = -errno.EINTR & ((1 << 64) - 1)


def _run_handler(k: Kernel, info: SigInfo, action: SigAction) -> None:
    """Push the handler's frame; block sa_mask and (unless SA_NODEFER) the signal itself
    while it runs; SA_RESETHAND makes the disposition SIG_DFL again."""
    state = k.signals
    signo = info.signo
    saved = state.saved_mask if state.saved_mask is not None else state.mask
    try:
        push_frame(k, info, action.sa_handler, action.sa_flags, saved)
    except GuestFault:
        _force_sigsegv(k, signo)
        return
    state.saved_mask = None
    blocked = state.mask | action.sa_mask | (0 if action.sa_flags & SA_NODEFER else bit(signo))
    if action.sa_flags & SA_RESETHAND:
        state.set_action(signo, SigAction(sa_handler=SIG_DFL))
    state.set_mask(blocked)


def _force_sigsegv(k: Kernel, signo: int) -> None:
    """No room for a frame: SIGSEGV, by its default action if that is what failed."""
    state = k.signals
    if signo == SIGSEGV:
        state.set_action(SIGSEGV, SigAction(sa_handler=SIG_DFL))
    state.set_mask(state.mask & ~bit(SIGSEGV))
    state.post_thread(signal_info(SIGSEGV))
