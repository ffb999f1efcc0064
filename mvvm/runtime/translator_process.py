"""Tier 1's translator in a process of its own.

Translating is Python, and holds the GIL: on tier 1's thread it slowed the guest's
thread about one for one, each of whose syscalls, hot entries and installs waited for
the GIL (cmake -P from an empty cache ran 2.1 s, and 1.6 s with tier 1 off). Here the
translator runs in a child process: tier 1's thread sends it an entry and the options,
with a copy of tier 0's profile in memory they share, answers its reads of guest code
(through the image, which watches what it hands out, as in-process translation does:
`Image.code_page`), and gets the region back as plain data (RegionBody), which it
compiles with the GIL released.

One child serves all of a process's images, one translation at a time. It ends when
its pipe closes: when this process exits, or in a fork's child, which drops its
parent's and starts its own when it needs one. If it cannot start or dies, tier 1
translates in-process for the rest of the run.
"""

from __future__ import annotations

import mmap
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvvm.errors import GuestFault
from mvvm.runtime.profile import SIZE, ProfileData, translator_profile

if TYPE_CHECKING:
    from mvvm.translator.modules import RegionBody

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
        # Shared with the child: the profile a translation reads, then the saved one.
        self._profiles: mmap.mmap | None = None
        self._saved: ProfileData | None = None  # the saved profile copied there
        self._ready = False                     # the child has said it is
        self.lost = False

    def emit(self, pc: int, inner: bool, options: dict[str, bool],
             profile: tuple[ProfileData, ProfileData | None],
             readers: dict[str, Reader]) -> RegionBody:
        """The region at pc, translated by the child (emit_region's options, and the
        budget mvvm.translator.region.budget gives for inner) along profile (tier 0's
        tables and the saved ones); readers answer its reads of guest code by kind:
        "page" (a page's bytes, or None), "fetch" (an instruction across a page
        boundary) and "read_only" (a jump table's word). A GuestFault in a reader is
        raised here, and what the child's translator raised as TranslatorError;
        TranslatorLost if the child is gone or could not be talked to."""
        with self._lock:
            self._start()
            try:
                if not self._ready:         # its first word, before it reads any
                    self._ready = _receive(self._fds[1]) == ("ready",)
                saved = self._share(profile)
                _send(self._fds[0], ("emit", pc, inner, options, saved))
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
        if self._child is None:
            try:
                self._spawn()
            except OSError as error:    # no descriptors, memory or processes left
                self.lost = True
                self._close(ours=True)
                raise TranslatorLost(str(error)) from error

    def _spawn(self) -> None:
        """The child, its pipes and the memory the profiles are shared in (what was made
        before a failure is closed: its ends here, our ends by _close)."""
        theirs: list[int] = []          # the child's ends of the pipes, the shared memory
        try:
            child_in, parent_out = os.pipe()
            theirs.append(child_in)
            self._fds = (parent_out, -1)
            parent_in, child_out = os.pipe()
            theirs.append(child_out)
            self._fds = (parent_out, parent_in)
            shared = os.memfd_create("mvvm-profiles")
            theirs.append(shared)
            os.ftruncate(shared, 2 * SIZE)
            self._profiles = mmap.mmap(shared, 2 * SIZE)
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__, str(shared)], stdin=child_in,
                stdout=child_out, stderr=subprocess.DEVNULL, pass_fds=(shared,),
                env={**os.environ, "PYTHONPATH": os.pathsep.join(
                    filter(None, (PACKAGE_ROOT, os.environ.get("PYTHONPATH"))))})
        finally:
            for fd in theirs:
                os.close(fd)
        self._saved, self._ready = None, False

    def _share(self, profile: tuple[ProfileData, ProfileData | None]) -> bool:
        """Copy tier 0's tables where the child reads them (0.8 MB: 0.1 ms; a pipe took
        1-2 ms), and the saved ones once; whether there are saved ones."""
        assert self._profiles is not None
        live, saved = profile
        view = memoryview(self._profiles)
        live.copy_into(view[:SIZE])
        if saved is not None and saved is not self._saved:
            saved.copy_into(view[SIZE:])
            self._saved = saved
        return saved is not None

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
        if self._profiles is not None:
            self._profiles.close()
            self._profiles = None
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
    """The child's view of the parent, which answers its reads of guest code (and watches
    the pages it hands out)."""

    def __init__(self, into: int, out: int) -> None:
        self.into, self.out = into, out

    def ask(self, kind: str, address: int) -> Any:
        _send(self.out, (kind, address))
        answer, value = _receive(self.into)
        if answer == "fault":
            raise GuestFault(value)
        return value

    def read_only(self, address: int) -> int | None:
        return self.ask("read_only", address)


def serve(into: int, out: int, profiles: memoryview) -> None:
    """The child's loop: a region to translate, until the pipe closes; profiles holds tier
    0's tables, then the saved ones (`TranslatorProcess._share`)."""
    from mvvm.translator.region import budget, paged_fetch
    from mvvm.translator.translate import emit_region

    parent = _Parent(into, out)
    live, saved = ProfileData.over(profiles[:SIZE]), ProfileData.over(profiles[SIZE:])
    _send(out, ("ready",))
    while True:
        try:
            _, pc, inner, options, has_saved = _receive(into)
        except EOFError:
            return
        profile = translator_profile(live, saved if has_saved else None)
        fetch = paged_fetch(lambda base: parent.ask("page", base),
                            lambda pc: parent.ask("fetch", pc))     # pages afresh
        try:
            code = emit_region(pc, fetch, budget(inner), profile=profile,
                               read_only=parent.read_only, **options)
            reply: tuple[str, object] = ("done", code.body())
        except GuestFault as fault:
            reply = ("fault", fault.addr)
        except Exception as error:  # noqa: BLE001 - the parent counts it as tier 1's error
            reply = ("error", f"{type(error).__name__}: {error}")
        _send(out, reply)


def main() -> None:
    """Speak on stdin and (a copy of) stdout, and read the profiles from the shared memory
    whose descriptor is argv[1]; anything printed goes to /dev/null. SIGINT is the
    parent's to act on: the end of its pipe ends this process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    profiles = mmap.mmap(int(sys.argv[1]), 2 * SIZE, prot=mmap.PROT_READ)
    out = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    serve(0, out, memoryview(profiles))


if __name__ == "__main__":
    main()
