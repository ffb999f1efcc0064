"""What a call into an embedded guest can end with, besides its result."""

from __future__ import annotations

from mvvm.errors import signal_name


class MachineError(Exception):
    """Something an embedded guest did, or that was asked of it, stopped a run or call."""


class GuestFault(MachineError):
    """The guest faulted (SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGTRAP) or was killed by a
    signal (abort's SIGABRT) inside a run or call. The machine stays usable: call again, or
    `restore` a snapshot if the fault may have left its memory inconsistent.

    address is the faulting data address where the signal has one (SIGSEGV, SIGBUS);
    backtrace is the guest's call chain, innermost first, as far as its frame pointers
    tell (only the pc without them).
    """

    def __init__(self, signo: int, pc: int, address: int | None, message: str,
                 backtrace: list[str]) -> None:
        name = signal_name(signo)
        where = "\n  ".join(backtrace)
        super().__init__(f"{name}: {message}" + (f"\n  {where}" if backtrace else ""))
        self.signal = signo
        self.pc = pc
        self.address = address
        self.backtrace = backtrace


class Exited(MachineError):
    """The guest called exit inside a call (a run that exits returns the status instead).
    Its memory and heap stay, and it can be called again."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the guest exited with status {status}")
        self.status = status


class BudgetExceeded(MachineError):
    """The call or run retired max_instructions instructions: `resume()` goes on."""


class Timeout(MachineError):
    """The call or run took longer than its timeout: `resume()` goes on."""


class AddressError(MachineError, ValueError):
    """The host asked for guest memory that is not mapped."""
