"""Tier 1's translator in a process of its own.

Translating is Python, and holds the GIL: on tier 1's thread it slowed the guest's
thread about one for one, each of whose syscalls, hot entries and installs waited for
the GIL (cmake -P from an empty cache ran 2.1 s, and 1.6 s with tier 1 off). Here the
translator runs in a child process: tier 1's thread sends it an entry, the options and
a copy of tier 0's profile, answers its reads of guest code (through the image, which
watches what it hands out, as in-process translation does: `Image.code_page`), and
gets the region back as plain data (RegionBody), which it compiles with the GIL
released.

One child serves all of a process's images, one translation at a time. It ends when
its pipe closes: when this process exits, or in a fork's child, which drops its
parent's and starts its own when it needs one. If it cannot start or dies, tier 1
translates in-process for the rest of the run.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvvm.errors import GuestFault
from mvvm.runtime.profile import ProfileData, translator_profile

if TYPE_CHECKING:
    from mvvm.translator.translate import RegionBody

PAGE = 4096
PROFILE_SECONDS = 0.02      # a copy of tier 0's profile (0.8 MB) serves requests this long
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

Reader = Callable[[int], Any]   # an address -> what the child asked of it


class TranslatorLost(Exception):
    """The child is gone, or could not be talked to: tier 1 translates in-process."""


class TranslatorError(Exception):
    """The child's translator raised this (a bug there, as it would be here)."""


class TranslatorProcess:
    """The parent's end: a child started on first use, and the conversation with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._fds = (-1, -1)                    # (to the child, from it)
        self._sent: tuple[int, float] = (0, 0.0)  # (id of the profile last sent, when)
        self.lost = False

    def emit(self, pc: int, budget: int, options: dict[str, bool],
             profile: tuple[ProfileData, ProfileData | None],
             readers: dict[str, Reader]) -> RegionBody:
        """The region at pc, translated by the child (emit_region's budget and options)
        along profile (tier 0's tables and the saved ones); readers answer its reads of
        guest code by kind: "page" (a page's bytes, or None), "fetch" (an instruction
        across a page boundary) and "read_only" (a jump table's word). A GuestFault in a
        reader is raised here, and what the child's translator raised as TranslatorError;
        TranslatorLost if the child is gone or could not be talked to."""
        with self._lock:
            self._start()
            try:
                self._send_profile(profile)
                _send(self._fds[0], ("emit", pc, budget, options))
                return self._serve(readers)
            except (GuestFault, TranslatorError):
                raise                       # said by the child: the conversation is over
            except Exception as error:      # the pipe, or a reader: it is not
                self.lost = True
                self._close(ours=True)
                raise TranslatorLost(f"{type(error).__name__}: {error}") from error

    def _start(self) -> None:
        if self.lost:
            raise TranslatorLost("no translator process")
        if self._child is not None:
            return
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__], stdin=to_child, stdout=from_child,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(
                    filter(None, (PACKAGE_ROOT, os.environ.get("PYTHONPATH"))))})
        except OSError as error:
            for fd in (to_child, from_parent, to_parent, from_child):
                os.close(fd)
            self.lost = True
            raise TranslatorLost(str(error)) from error
        os.close(to_child)
        os.close(from_child)
        self._fds = (from_parent, to_parent)
        self._sent = (0, 0.0)

    def _send_profile(self, profile: tuple[ProfileData, ProfileData | None]) -> None:
        """A fresh copy, unless the child holds a recent one of the same tables (tier 0
        goes on counting; the copy is what the region is shaped by)."""
        live, saved = profile
        now = time.monotonic()
        if self._sent[0] != id(live) or now - self._sent[1] > PROFILE_SECONDS:
            _send(self._fds[0], ("profile", live.snapshot(),
                                 None if saved is None else saved.snapshot()))
            self._sent = (id(live), now)

    def _serve(self, readers: dict[str, Reader]) -> RegionBody:
        """Answer the child's reads until it sends the region."""
        while True:
            kind, value = _receive(self._fds[1])
            if kind == "done":
                return value
            if kind == "error":
                raise TranslatorError(value)
            if kind == "fault":
                raise GuestFault(value)
            try:
                answer = ("value", readers[kind](value))
            except GuestFault as fault:
                answer = ("fault", fault.addr)
            _send(self._fds[0], answer)

    def _close(self, ours: bool) -> None:
        """Close this end: the child reads the end of its pipe and exits; waited for if
        it is this process's child (a fork's is its parent's)."""
        for fd in self._fds:
            if fd >= 0:
                os.close(fd)
        self._fds = (-1, -1)
        child, self._child = self._child, None
        if child is not None and ours:
            try:
                child.wait(timeout=1)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        elif child is not None:
            child.returncode = 0            # so that nothing waits for it here

    def forked(self) -> None:
        """In a fork's child: the parent's translator is not this process's to talk to
        (and this process must not keep its pipe open)."""
        self._lock = threading.Lock()
        self._close(ours=False)


PROCESS = TranslatorProcess()
os.register_at_fork(after_in_child=PROCESS.forked)


def _send(fd: int, message: tuple[object, ...]) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(4, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def _receive(fd: int) -> Any:
    return pickle.loads(_read(fd, int.from_bytes(_read(fd, 4), "little")))


def _read(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError("the other end closed its pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- the child ------------------------------------------------------------------------------

class _Parent:
    """The child's view of the parent: its reads of guest code go there, a page at a
    time, and each translation reads its pages afresh (the parent watches them)."""

    def __init__(self, into: int, out: int) -> None:
        self.into, self.out = into, out
        self.pages: dict[int, bytes | None] = {}

    def ask(self, kind: str, address: int) -> Any:
        _send(self.out, (kind, address))
        answer, value = _receive(self.into)
        if answer == "fault":
            raise GuestFault(value)
        return value

    def fetch(self, pc: int) -> int | None:
        offset = pc & (PAGE - 1)
        if offset > PAGE - 4:           # the instruction may go on in the next page
            return self.ask("fetch", pc)
        base = pc - offset
        if base not in self.pages:
            self.pages[base] = self.ask("page", base)
        page = self.pages[base]
        return None if page is None else int.from_bytes(page[offset:offset + 4], "little")

    def read_only(self, address: int) -> int | None:
        return self.ask("read_only", address)


def serve(into: int, out: int) -> None:
    """The child's loop: a profile, or a region to translate, until the pipe closes."""
    from mvvm.translator.translate import emit_region

    parent = _Parent(into, out)
    profile = None
    while True:
        try:
            message = _receive(into)
        except EOFError:
            return
        if message[0] == "profile":
            live, saved = (ProfileData.from_snapshot(raw) for raw in message[1:])
            assert live is not None
            profile = translator_profile(live, saved)
            continue
        _, pc, budget, options = message
        parent.pages = {}
        try:
            code = emit_region(pc, parent.fetch, budget, profile=profile,
                               read_only=parent.read_only, **options)
            reply: tuple[str, object] = ("done", code.body())
        except GuestFault as fault:
            reply = ("fault", fault.addr)
        except Exception as error:  # noqa: BLE001 - the parent counts it as tier 1's error
            reply = ("error", f"{type(error).__name__}: {error}")
        _send(out, reply)


def main() -> None:
    """Speak on stdin and (a copy of) stdout; anything printed goes to /dev/null. SIGINT
    is the parent's to act on: the end of its pipe ends this process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    serve(0, out)


if __name__ == "__main__":
    main()
