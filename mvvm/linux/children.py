"""The guest's child processes: host processes it forked, each held by a pidfd.

A pid alone would name whatever process has it now: a child reaped behind the guest's
back (SIGCHLD ignored reaps it at once) leaves its pid free for an unrelated host
process, and the guest's parent, once it ends, is replaced by whatever adopts the
guest. A signal through a pidfd reaches that one process or none, and a wait names
only the children (a host wait for "any child" would also reap processes the host
program started itself: an embedding's, or the shell's that exec'd MVVM).
"""

from __future__ import annotations

import errno
import os
import select
import signal
from collections.abc import Callable, Iterator
from typing import TypeVar

from ..errors import SyscallError
from .signals import ERESTARTSYS, SignalState

T = TypeVar("T")
STOP_POLL_MS = 50       # how often a wait for a stop or a continue (no pidfd event) looks


class Children:
    def __init__(self) -> None:
        # pid -> pidfd; None where the host had no descriptor left (EMFILE): that child is
        # then signalled by pid and waited for by polling
        self._fds: dict[int, int | None] = {}
        self._parent: tuple[int, int | None] | None = None  # the guest that forked this one

    def __contains__(self, pid: object) -> bool:
        return pid in self._fds

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._fds))

    def add(self, pid: int) -> None:
        self._fds[pid] = _pidfd(pid)

    def discard(self, pid: int) -> None:
        fd = self._fds.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def became_child(self, parent: int) -> None:
        """After fork, in the child: its parent's children are not its own; its parent is,
        by the pid it had before the fork (the child may run only after the parent has
        ended, and getppid() is then whoever adopted it)."""
        for pid in list(self._fds):
            self.discard(pid)
        if self._parent is not None and self._parent[1] is not None:
            os.close(self._parent[1])
        try:
            self._parent = (parent, _pidfd(parent))
        except ProcessLookupError:
            self._parent = None

    def signal(self, pid: int, signo: int) -> None:
        """signo (0: only the check) to a child, or to the guest parent by the pid it had:
        once that process is gone (reaped), ESRCH, whoever has the pid or adopted the
        guest since."""
        if pid in self._fds:
            fd = self._fds[pid]
        elif self._parent is not None and pid == self._parent[0]:
            fd = self._parent[1]
        else:
            raise SyscallError(errno.EPERM if pid <= 0 else errno.ESRCH)
        try:
            if fd is None:
                os.kill(pid, signo)
            else:
                signal.pidfd_send_signal(fd, signo)
        except ProcessLookupError:
            raise SyscallError(errno.ESRCH) from None

    def named(self, pid: int) -> list[int]:
        """The children a pid argument of wait4 or kill names: that one, every one (-1),
        those in the caller's process group (0) or in group -pid. Only children: the host
        process around the guest has processes of its own."""
        if pid > 0:
            return [pid]
        if pid == -1:
            return list(self)
        return self.in_group(os.getpgid(0) if pid == 0 else -pid)

    def in_group(self, pgid: int) -> list[int]:
        """The children in process group pgid."""
        found = []
        for pid in self:
            try:
                if os.getpgid(pid) == pgid:
                    found.append(pid)
            except ProcessLookupError:
                pass
        return found

    def first(self, pids: list[int], options: int, signals: SignalState,
              attempt: Callable[[int, int], T | None]) -> T | None:
        """The first news of these children: attempt(pid, options | WNOHANG) for each in
        turn until one has some; under WNOHANG None if none has, else wait for one to
        end (its pidfd becomes readable; stops and continues are looked for every
        STOP_POLL_MS), a due signal interrupting the wait. ECHILD if none is a child."""
        while True:
            for pid in pids:
                try:
                    news = attempt(pid, options | os.WNOHANG)
                except ChildProcessError:      # reaped by the host (SIGCHLD ignored)
                    self.discard(pid)
                    continue
                if news is not None:
                    return news
            pids = [pid for pid in pids if pid in self]
            if not pids:
                raise SyscallError(errno.ECHILD)
            if options & os.WNOHANG:
                return None
            poller = select.poll()
            fds = [self._fds[pid] for pid in pids if pid in self._fds]
            for fd in fds:
                if fd is not None:
                    poller.register(fd, select.POLLIN)
            looks = options & (os.WUNTRACED | os.WCONTINUED) or None in fds
            signals.poll(poller, STOP_POLL_MS if looks else None, ERESTARTSYS)


def _pidfd(pid: int) -> int | None:
    """A pidfd for pid, or None when the host has no descriptor to spare."""
    try:
        return os.pidfd_open(pid)
    except OSError as error:
        if error.errno in (errno.EMFILE, errno.ENFILE):
            return None
        raise
