"""Exceptions that end or interrupt a guest, shared by the runtime and the Linux layer.

They are plain Python exceptions so that every layer can raise them; the
runtime turns them into a Linux-like exit status and a one-line message.
"""

import os
import signal


def signal_name(signo: int) -> str:
    """SIGSEGV, SIGRTMIN...; real-time signals Python has no name for by number."""
    try:
        return signal.Signals(signo).name
    except ValueError:
        return f"signal {signo}"


class GuestFault(Exception):
    """The guest touched an address that is not mapped (or not with the needed rights).

    Inside a syscall this becomes -EFAULT; in translated code it is SIGSEGV.
    """

    def __init__(self, addr: int, message: str = "") -> None:
        super().__init__(message or f"bad guest address {addr:#x}")
        self.addr = addr


class GuestExit(Exception):
    """The guest asked to end (exit or exit_group) with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"exit {status}")
        self.status = status & 0xFF


class ThreadExit(GuestExit):
    """exit (not exit_group): only the calling thread ends; the process with it if it is
    the last one."""


class BudgetSpent(Exception):  # noqa: N818 - a limit reached, not an error
    """The guest retired the instructions its budget allowed (VM.set_budget); it stands
    exactly before the next one."""


class GuestSignal(Exception):
    """The guest is killed by a signal (no handler delivery yet): exit status 128 + signo."""

    def __init__(self, signo: int, message: str) -> None:
        super().__init__(message)
        self.signo = signo


class SyscallError(OSError):
    """A guest-visible failure carrying a Linux errno.

    It is an OSError so that the dispatcher turns it and the host's own OSErrors
    (whose errno values are the same Linux numbers) into -errno the same way.
    """

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, detail or os.strerror(code))


class Restart(Exception):  # noqa: N818 - a control transfer, not an error
    """A syscall changed the registers or pc (a forked child on its own stack, execve):
    the run loop must stop, and go on from the VM state, in `image` if one is given.

    Raising it is how a syscall leaves translated code without the region's write-back;
    mvvm.linux.process.Process catches it and resumes.
    """

    def __init__(self, image: object = None) -> None:
        super().__init__("restart")
        self.image = image
