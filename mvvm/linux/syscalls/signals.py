"""Signal syscalls: dispositions, masks, waiting for signals, sending them, returning from
a handler (rt_sigreturn), the alternate stack, and the timers that send SIGALRM
(setitimer, which alarm uses, and timer_create). Delivery is mvvm.linux.signals'."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from ctypes import LittleEndianStructure, c_int32, c_uint8, c_uint64
from typing import TYPE_CHECKING

from ...errors import GuestFault, GuestSignal, Restart, SyscallError
from ...runtime.precise import TRAP_SIGNALS
from ..abi import NSIG, SIG_DFL, SIG_IGN, SIGKILL, SIGSTOP
from ..sigframe import SP, SigInfo, pop_frame
from ..signals import (
    ERESTARTNOHAND,
    MASK_CHANGES,
    SI_USER,
    UNBLOCKABLE,
    SignalState,
    Timer,
    send,
    signal_info,
)
from ..structs import NS_PER_SEC, SigAction, StackT, Timespec, Timeval, split_ns
from ..table import CLOCK, INT, PTR, SIGMASK_HOW, SIGNAL, SIZE, SyscallSet

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

SIGSET_SIZE = 8
SIGSEGV, SIGALRM, SIGVTALRM, SIGPROF = 11, 14, 26, 27
SI_TIMER, SI_TKILL = -2, -6
CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID = 1, 2
# ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF: (signal, host clock)
ITIMERS = {0: (SIGALRM, CLOCK_MONOTONIC), 1: (SIGVTALRM, CLOCK_PROCESS_CPUTIME_ID),
           2: (SIGPROF, CLOCK_PROCESS_CPUTIME_ID)}
TIMER_CLOCKS = frozenset({0, 1, 2, 7, 8, 9, 11})      # the POSIX clocks timers may use
# glibc names its own CPU clocks by the kernel's encoding (pid 0, CPUCLOCK_SCHED): the
# process's and the thread's, both measured as the VM process's CPU time.
CPU_CLOCKS = {-6: CLOCK_PROCESS_CPUTIME_ID, -2: CLOCK_PROCESS_CPUTIME_ID, 3: 2}
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID = 0, 1, 4
TIMER_ABSTIME = 1
US_PER_SEC = 1_000_000


class ItimerVal(LittleEndianStructure):
    _fields_ = [("it_interval", Timeval), ("it_value", Timeval)]


class ItimerSpec(LittleEndianStructure):
    _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]


class SigEvent(LittleEndianStructure):
    """struct sigevent (64 bytes), with the thread id of SIGEV_THREAD_ID."""

    _fields_ = [("sigev_value", c_uint64), ("sigev_signo", c_int32), ("sigev_notify", c_int32),
                ("sigev_tid", c_int32), ("pad", c_uint8 * 44)]


def _check_signal(signo: int) -> None:
    if not 1 <= signo <= NSIG:
        raise SyscallError(errno.EINVAL)


def _load_sigset(k: Kernel, addr: int, size: int) -> int:
    if size != SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    return int.from_bytes(k.load(addr, SIGSET_SIZE), "little")


def _store_sigset(k: Kernel, addr: int, bits: int) -> None:
    k.store(addr, bits.to_bytes(SIGSET_SIZE, "little"))


def _sp(k: Kernel) -> int:
    return k.cpu.x[SP] if k.cpu is not None else 0


# -- dispositions and masks ---------------------------------------------------------------

@syscalls(134, SIGNAL, PTR, PTR, SIZE)
def sys_rt_sigaction(k: Kernel, signo: int, act: int, oldact: int, size: int) -> int:
    """A handler for a signal that traps raise makes the VM precise (mvvm.runtime.precise),
    so that the handler sees the faulting instruction's registers."""
    if size != SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    _check_signal(signo)
    new = k.load_struct(SigAction, act) if act else None
    if new is not None and signo in (SIGKILL, SIGSTOP):
        raise SyscallError(errno.EINVAL)
    if oldact:
        k.store_struct(oldact, k.signals.action(signo))
    if new is not None:
        k.signals.set_action(signo, new)
        if signo in TRAP_SIGNALS and new.sa_handler not in (SIG_DFL, SIG_IGN) and k.cpu:
            k.cpu.require_precise()
    return 0


@syscalls(135, SIGMASK_HOW, PTR, PTR, SIZE)
def sys_rt_sigprocmask(k: Kernel, how: int, sigset: int, oldset: int, size: int) -> int:
    bits = _load_sigset(k, sigset, size) if sigset else None
    if size != SIGSET_SIZE or bits is not None and how not in MASK_CHANGES:
        raise SyscallError(errno.EINVAL)
    if oldset:
        _store_sigset(k, oldset, k.signals.mask)
    if bits is not None:
        k.signals.change_mask(how, bits)
    return 0


@syscalls(136, PTR, SIZE)
def sys_rt_sigpending(k: Kernel, sigset: int, size: int) -> int:
    """The pending signals that are blocked (the others are being delivered)."""
    if size > SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)
    bits = k.signals.pending() & k.signals.mask
    k.store(sigset, bits.to_bytes(SIGSET_SIZE, "little")[:size])
    return 0


# -- waiting for signals --------------------------------------------------------------------

@syscalls(133, PTR, SIZE)
def sys_rt_sigsuspend(k: Kernel, sigset: int, size: int) -> int:
    """Wait with the given mask until a signal is due; its handler runs with the old mask
    saved in its frame. Never restarted after a handler: EINTR."""
    state = k.signals
    state.wait_with_mask(_load_sigset(k, sigset, size))
    state.sleep(None, state.due)
    raise SyscallError(ERESTARTNOHAND)


@syscalls(137, PTR, PTR, PTR, SIZE)
def sys_rt_sigtimedwait(k: Kernel, sigset: int, info: int, timeout: int, size: int) -> int:
    """Take a pending signal of the set (blocked ones too), waiting up to timeout (NULL:
    for ever): EAGAIN when it passes, EINTR when another signal is due first. Taken while
    waiting, as another thread may take the signal that woke this one."""
    wanted = _load_sigset(k, sigset, size) & ~UNBLOCKABLE
    seconds = None
    if timeout:
        ts = k.load_struct(Timespec, timeout)
        if ts.tv_sec < 0 or not 0 <= ts.tv_nsec < NS_PER_SEC:
            raise SyscallError(errno.EINVAL)
        seconds = ts.tv_sec + ts.tv_nsec / NS_PER_SEC
    state = k.signals
    taken: list[SigInfo] = []

    def ready() -> int:
        got = state.take(wanted)
        if got is not None:
            taken.append(got)
        return bool(taken) or state.due()

    if not state.sleep(seconds, ready):
        raise SyscallError(errno.EAGAIN)
    if not taken:
        raise SyscallError(errno.EINTR)
    if info:
        k.store_struct(info, taken[0])
    return taken[0].signo


# -- returning from a handler, and its stack ----------------------------------------------

@syscalls(139)
def sys_rt_sigreturn(k: Kernel) -> int:
    """Restore what the frame at sp saved: registers, mask, alternate stack (whose
    errors Linux ignores). The run loop goes on from the restored state."""
    try:
        uc = pop_frame(k)
    except GuestFault:
        raise GuestSignal(SIGSEGV, "rt_sigreturn without a signal frame") from None
    k.signals.set_mask(uc.uc_sigmask)
    with contextlib.suppress(SyscallError):
        k.signals.set_altstack(uc.uc_stack, _sp(k))
    raise Restart()


@syscalls(132, PTR, PTR)
def sys_sigaltstack(k: Kernel, ss: int, old: int) -> int:
    sp = _sp(k)
    report = k.signals.altstack_report(sp)
    if ss:
        k.signals.set_altstack(k.load_struct(StackT, ss), sp)
    if old:
        k.store_struct(old, report)
    return 0


# -- sending ------------------------------------------------------------------------------

def _send_other(k: Kernel, pid: int, signo: int) -> int:
    """A signal to another guest process (a child it forked, or the guest that forked it):
    a host signal to that host process, by its pidfd (mvvm.linux.children). Other host
    processes are out of the guest's reach, and so are process groups, which hold the
    processes around the VM too."""
    if signo:
        _check_signal(signo)
    k.children.signal(pid, signo)
    return 0


def _thread(k: Kernel, tgid: int, tid: int) -> SignalState:
    """The signals of thread tid of process tgid, which must be the guest's own."""
    if tgid <= 0 or tid <= 0:
        raise SyscallError(errno.EINVAL)
    thread = k.threads.get(tid) if tgid == k.pid else None
    if thread is None:
        raise SyscallError(errno.ESRCH)
    return thread.signals


def _send(k: Kernel, signo: int, code: int, thread: SignalState | None = None) -> int:
    """signo (0: none, only the checks) to the guest's process, or to one of its threads."""
    if signo:
        _check_signal(signo)
        send(k, signal_info(signo, code, k.pid, os.getuid()), thread)
    return 0


@syscalls(129, INT, SIGNAL)
def sys_kill(k: Kernel, pid: int, signo: int) -> int:
    """A process group (0: the caller's, -pgid), or every process (-1), means the guest
    processes in it: the caller and its children. The host processes around the VM
    that share its group (the rest of a shell's pipeline) are not reached."""
    if pid == k.pid:
        return _send(k, signo, SI_USER)
    if pid > 0:
        return _send_other(k, pid, signo)
    itself = pid == 0 or -pid == os.getpgid(0)      # the caller's own group
    children = k.children.named(pid)
    if not children and not itself:
        raise SyscallError(errno.ESRCH)
    for child in children:
        with contextlib.suppress(SyscallError):     # ended meanwhile
            _send_other(k, child, signo)
    return _send(k, signo, SI_USER) if itself else 0


@syscalls(130, INT, SIGNAL)
def sys_tkill(k: Kernel, tid: int, signo: int) -> int:
    return _send(k, signo, SI_TKILL, _thread(k, k.pid, tid))


@syscalls(131, INT, INT, SIGNAL)
def sys_tgkill(k: Kernel, tgid: int, tid: int, signo: int) -> int:
    """raise() is tgkill(getpid(), gettid()): the signal is the calling thread's."""
    return _send(k, signo, SI_TKILL, _thread(k, tgid, tid))


def _queue(k: Kernel, signo: int, uinfo: int, thread: SignalState | None = None) -> int:
    """sigqueue to the guest itself, with the caller's siginfo as it is: Linux refuses one
    that pretends to come from the kernel or kill (si_code >= 0, SI_TKILL) only when it
    goes to another process."""
    _check_signal(signo)
    info = k.load_struct(SigInfo, uinfo)
    info.signo = signo
    send(k, info, thread)
    return 0


@syscalls(138, INT, SIGNAL, PTR)
def sys_rt_sigqueueinfo(k: Kernel, pid: int, signo: int, uinfo: int) -> int:
    """To another guest process as a plain signal."""
    if pid not in (0, k.pid):
        return _send_other(k, pid, signo)
    return _queue(k, signo, uinfo)


@syscalls(240, INT, INT, SIGNAL, PTR)
def sys_rt_tgsigqueueinfo(k: Kernel, tgid: int, tid: int, signo: int, uinfo: int) -> int:
    return _queue(k, signo, uinfo, _thread(k, tgid, tid))


# -- timers -------------------------------------------------------------------------------

def _timeval_ns(tv: Timeval) -> int:
    if tv.tv_sec < 0 or not 0 <= tv.tv_usec < US_PER_SEC:
        raise SyscallError(errno.EINVAL)
    return tv.tv_sec * NS_PER_SEC + tv.tv_usec * 1000


def _timespec_ns(ts: Timespec) -> int:
    if ts.tv_sec < 0 or not 0 <= ts.tv_nsec < NS_PER_SEC:
        raise SyscallError(errno.EINVAL)
    return ts.tv_sec * NS_PER_SEC + ts.tv_nsec


def _timeval(ns: int) -> Timeval:
    """Rounded up to microseconds: a timer about to expire still shows as running."""
    return Timeval(*divmod((ns + 999) // 1000, US_PER_SEC))


def _itimerval(timer: Timer | None) -> ItimerVal:
    value, interval = timer.remaining() if timer else (0, 0)
    return ItimerVal(_timeval(interval), _timeval(value))


def _itimer(k: Kernel, which: int) -> Timer | None:
    if which not in ITIMERS:
        raise SyscallError(errno.EINVAL)
    return k.signals.itimers.get(which)


@syscalls(102, INT, PTR)
def sys_getitimer(k: Kernel, which: int, value: int) -> int:
    k.store_struct(value, _itimerval(_itimer(k, which)))
    return 0


@syscalls(103, INT, PTR, PTR)
def sys_setitimer(k: Kernel, which: int, new: int, old: int) -> int:
    """ITIMER_REAL (SIGALRM, as alarm uses it), ITIMER_VIRTUAL and ITIMER_PROF (the VM's
    CPU time stands for the guest's user time)."""
    timer = _itimer(k, which)
    spec = k.load_struct(ItimerVal, new) if new else ItimerVal()
    value, interval = _timeval_ns(spec.it_value), _timeval_ns(spec.it_interval)
    if old:
        k.store_struct(old, _itimerval(timer))
    if timer is None:
        signo, clock = ITIMERS[which]
        group = k.signals.group     # to the process, the main thread first, as on Linux
        timer = group.itimers[which] = Timer(clock, lambda: group.post(signal_info(signo)))
    timer.arm(value, interval)
    return 0


def _posix_timer(k: Kernel, timer_id: int) -> Timer:
    timer = k.signals.timers.get(timer_id)
    if timer is None:
        raise SyscallError(errno.EINVAL)
    return timer


def _notify(k: Kernel, ev: SigEvent) -> Callable[[SigInfo], None] | None:
    """Where a timer's signal goes: to the process (SIGEV_SIGNAL), to one of its threads
    (SIGEV_THREAD_ID, which glibc's SIGEV_THREAD timers use for their helper thread), or
    nowhere (SIGEV_NONE)."""
    if ev.sigev_notify == SIGEV_NONE:
        return None
    thread = k.threads.get(ev.sigev_tid) if ev.sigev_notify == SIGEV_THREAD_ID else None
    if ev.sigev_notify != SIGEV_SIGNAL and thread is None:
        raise SyscallError(errno.EINVAL)
    _check_signal(ev.sigev_signo)
    return k.signals.group.post if thread is None else thread.signals.post_thread


@syscalls(107, CLOCK, PTR, PTR)
def sys_timer_create(k: Kernel, clock: int, event: int, created: int) -> int:
    """SIGEV_SIGNAL (SIGALRM with the timer id by default), SIGEV_NONE, SIGEV_THREAD_ID."""
    clock = CPU_CLOCKS.get(clock, clock)
    if clock not in TIMER_CLOCKS:
        raise SyscallError(errno.EINVAL)
    timers = k.signals.timers
    timer_id = min(set(range(len(timers) + 1)) - set(timers))
    ev = k.load_struct(SigEvent, event) if event else SigEvent(
        sigev_value=timer_id, sigev_signo=SIGALRM, sigev_notify=SIGEV_SIGNAL)
    notify = _notify(k, ev)
    k.store_struct(created, c_int32(timer_id))
    info = signal_info(ev.sigev_signo, SI_TIMER, timer_id, 0, ev.sigev_value)
    timers[timer_id] = Timer(clock, (lambda: None) if notify is None else (lambda: notify(info)))
    return 0


def _itimerspec(timer: Timer) -> ItimerSpec:
    value, interval = timer.remaining()
    return ItimerSpec(Timespec(*split_ns(interval)), Timespec(*split_ns(value)))


@syscalls(110, INT, INT, PTR, PTR)
def sys_timer_settime(k: Kernel, timer_id: int, flags: int, new: int, old: int) -> int:
    timer = _posix_timer(k, timer_id)
    spec = k.load_struct(ItimerSpec, new)
    value, interval = _timespec_ns(spec.it_value), _timespec_ns(spec.it_interval)
    if old:
        k.store_struct(old, _itimerspec(timer))
    timer.arm(value, interval, absolute=bool(flags & TIMER_ABSTIME))
    return 0


@syscalls(108, INT, PTR)
def sys_timer_gettime(k: Kernel, timer_id: int, current: int) -> int:
    k.store_struct(current, _itimerspec(_posix_timer(k, timer_id)))
    return 0


@syscalls(109, INT)
def sys_timer_getoverrun(k: Kernel, timer_id: int) -> int:
    """Expiries missed while the signal was pending are not counted: 0."""
    _posix_timer(k, timer_id)
    return 0


@syscalls(111, INT)
def sys_timer_delete(k: Kernel, timer_id: int) -> int:
    _posix_timer(k, timer_id).disarm()
    del k.signals.timers[timer_id]
    return 0
