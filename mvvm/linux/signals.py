"""The guest's signal state: dispositions, blocked mask and alternate stack.

Syscalls record it; delivering signals to guest handlers reads it (later work).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .abi import SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK, SIGKILL, SIGSTOP
from .structs import SigAction, StackT

SS_DISABLE = 2
UNBLOCKABLE = 1 << (SIGKILL - 1) | 1 << (SIGSTOP - 1)
MASK_CHANGES: dict[int, Callable[[int, int], int]] = {
    SIG_BLOCK: lambda mask, bits: mask | bits,
    SIG_UNBLOCK: lambda mask, bits: mask & ~bits,
    SIG_SETMASK: lambda mask, bits: bits,
}
# Signals whose default action is to be ignored (or to stop, which a lone guest cannot do).
DEFAULT_IGNORED = frozenset({17, 18, 19, 20, 21, 22, 23, 28})


@dataclass
class SignalState:
    actions: dict[int, SigAction] = field(default_factory=dict)
    mask: int = 0
    altstack: StackT = field(default_factory=lambda: StackT(ss_flags=SS_DISABLE))

    def change_mask(self, how: int, bits: int) -> None:
        """rt_sigprocmask's update (how is a key of MASK_CHANGES); SIGKILL and SIGSTOP
        silently stay unblocked."""
        self.mask = MASK_CHANGES[how](self.mask, bits) & ~UNBLOCKABLE

    def exec_reset(self) -> None:
        """execve: handlers go back to SIG_DFL (ignored signals stay ignored), the
        alternate stack goes; the mask stays."""
        self.actions = {n: a for n, a in self.actions.items() if a.sa_handler == SIG_IGN}
        self.altstack = StackT(ss_flags=SS_DISABLE)

    def is_blocked(self, signo: int) -> bool:
        return bool(self.mask >> (signo - 1) & 1)

    def action(self, signo: int) -> SigAction:
        """The current disposition (SIG_DFL until the guest sets one)."""
        return self.actions.get(signo) or SigAction(sa_handler=SIG_DFL)

    def is_fatal(self, signo: int) -> bool:
        """Whether the signal, sent now, would kill the guest by its default action."""
        handler = self.action(signo).sa_handler
        return handler == SIG_DFL and signo not in DEFAULT_IGNORED

    def is_ignored(self, signo: int) -> bool:
        handler = self.action(signo).sa_handler
        return handler == SIG_IGN or (handler == SIG_DFL and signo in DEFAULT_IGNORED)
