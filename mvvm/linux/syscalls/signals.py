"""Signal syscalls: dispositions, mask and alternate stack are recorded; a signal the
guest sends itself takes its default action (delivery to handlers comes later)."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from ...errors import GuestSignal
from ..abi import NSIG, SIGKILL, SIGNALS, SIGSTOP
from ..errors import SyscallError
from ..signals import MASK_CHANGES, SS_DISABLE
from ..structs import SigAction, StackT
from ..table import INT, PTR, SIGMASK_HOW, SIGNAL, SIZE, SyscallSet
from .process import own_process

if TYPE_CHECKING:
    from ..kernel import Kernel

syscalls = SyscallSet()

SIGSET_SIZE = 8
SS_ONSTACK = 1
SS_AUTODISARM = 1 << 31
MINSIGSTKSZ = 2048


def _check_signal(signo: int) -> None:
    if not 1 <= signo <= NSIG:
        raise SyscallError(errno.EINVAL)


def _check_sigset_size(size: int) -> None:
    if size != SIGSET_SIZE:
        raise SyscallError(errno.EINVAL)


@syscalls(134, SIGNAL, PTR, PTR, SIZE)
def sys_rt_sigaction(k: Kernel, signo: int, act: int, oldact: int, size: int) -> int:
    _check_sigset_size(size)
    _check_signal(signo)
    new = k.load_struct(SigAction, act) if act else None
    if new is not None and signo in (SIGKILL, SIGSTOP):
        raise SyscallError(errno.EINVAL)
    if oldact:
        k.store_struct(oldact, k.signals.action(signo))
    if new is not None:
        k.signals.actions[signo] = new
    return 0


@syscalls(135, SIGMASK_HOW, PTR, PTR, SIZE)
def sys_rt_sigprocmask(k: Kernel, how: int, sigset: int, oldset: int, size: int) -> int:
    _check_sigset_size(size)
    bits = int.from_bytes(k.load(sigset, SIGSET_SIZE), "little") if sigset else None
    if bits is not None and how not in MASK_CHANGES:
        raise SyscallError(errno.EINVAL)
    if oldset:
        k.store(oldset, k.signals.mask.to_bytes(SIGSET_SIZE, "little"))
    if bits is not None:
        k.signals.change_mask(how, bits)
    return 0


@syscalls(132, PTR, PTR)
def sys_sigaltstack(k: Kernel, ss: int, old: int) -> int:
    new = k.load_struct(StackT, ss) if ss else None
    if new is not None:
        if new.ss_flags & ~(SS_ONSTACK | SS_DISABLE | SS_AUTODISARM):
            raise SyscallError(errno.EINVAL)
        if not new.ss_flags & SS_DISABLE and new.ss_size < MINSIGSTKSZ:
            raise SyscallError(errno.ENOMEM)
    if old:
        k.store_struct(old, k.signals.altstack)
    if new is not None:
        k.signals.altstack = new
    return 0


def _send_self(k: Kernel, signo: int) -> int:
    """A signal to the guest itself: ignored, or fatal by default, or (caught) not yet
    deliverable. A blocked signal would stay pending; with no delivery yet it is dropped."""
    if signo == 0:
        return 0
    _check_signal(signo)
    if k.signals.is_ignored(signo) or k.signals.is_blocked(signo):
        return 0
    if k.signals.is_fatal(signo):
        raise GuestSignal(signo, SIGNALS.get(signo, f"signal {signo}"))
    raise SyscallError(errno.ENOSYS)


def _send_other(k: Kernel, pid: int, signo: int) -> int:
    """A signal to another guest process (a child it forked, or the guest that forked it):
    a host signal to that host process. Other host processes are out of the guest's reach,
    and so are process groups, which hold the processes around the VM too."""
    if pid not in k.children and not (k.parent_is_guest and pid == os.getppid()):
        raise SyscallError(errno.EPERM if pid <= 0 else errno.ESRCH)
    if signo:
        _check_signal(signo)
    os.kill(pid, signo)
    return 0


@syscalls(129, INT, SIGNAL)
def sys_kill(k: Kernel, pid: int, signo: int) -> int:
    if pid in (0, k.pid):
        return _send_self(k, signo)
    return _send_other(k, pid, signo)


@syscalls(130, INT, SIGNAL)
def sys_tkill(k: Kernel, tid: int, signo: int) -> int:
    own_process(k, tid)
    return _send_self(k, signo)


@syscalls(131, INT, INT, SIGNAL)
def sys_tgkill(k: Kernel, tgid: int, tid: int, signo: int) -> int:
    own_process(k, tgid)
    own_process(k, tid)
    return _send_self(k, signo)
