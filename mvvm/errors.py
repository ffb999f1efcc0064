"""Exceptions that end or interrupt a guest, shared by the runtime and the Linux layer.

They are plain Python exceptions so that every layer can raise them; the
runtime turns them into a Linux-like exit status and a one-line message.
"""

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
