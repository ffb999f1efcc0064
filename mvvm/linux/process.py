"""A Linux process around the VM: load the program, set up the kernel, run, and go on across
execve (a new VM for the new image) and the restarts syscalls ask for (mvvm.errors).

A process forked by a guest is a real host process; when its guest dies of a signal it
dies of that signal itself, so that the parent's wait4 sees what Linux would report.

Each guest thread is a host thread with a cpu of its own (mvvm.runtime.vm.VM) on the
image the process's threads share. The guest's main thread runs on the host's main
thread, which is where the process ends: a thread that ends the whole process
(exit_group, a fatal signal, execve) hands its outcome to the main thread, interrupting
it in translated code or, with the host signal WAKE_MAIN, in a blocking syscall.
"""

from __future__ import annotations

import errno
import gc
import os
import resource
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress
from ctypes import c_int32
from functools import partial
from pathlib import Path
from typing import NoReturn, TextIO

from mvvm.elf.loader import ElfError, LoaderMissing, load_program
from mvvm.errors import GuestExit, GuestFault, GuestSignal, Restart, SyscallError, ThreadExit
from mvvm.linux import hoststack
from mvvm.linux.abi import AT_FDCWD
from mvvm.linux.futex import exit_robust_list
from mvvm.linux.kernel import Kernel
from mvvm.linux.paths import ConfinedPaths, HostPaths
from mvvm.linux.signals import HostSignals, deliver_due, deliver_fault
from mvvm.runtime.address_space import Rights
from mvvm.runtime.image import TIERED, Image, Stats
from mvvm.runtime.layout import CALL_DEPTH_LIMIT, DEEP_CALL_DEPTH, STACK_SIZE
from mvvm.runtime.vm import VM

SP = 2
DEFAULT_SYSROOT = "/usr/riscv64-linux-gnu"
WAKE_MAIN = signal.SIGRTMAX             # see the module's docstring
INTERNAL_ERROR = 70


class Killed(Exception):  # noqa: N818 - a control transfer, not an error
    """Another thread ended the process or replaced its image: this thread just ends."""


class FileSystemOptions:
    """The guest's view of files: qemu's sysroot (-L), or a confined tree (--root, --map)."""

    def __init__(self, sysroot: str | None = None, root: str | None = None,
                 maps: list[str] | None = None) -> None:
        self.sysroot = sysroot
        self.root = root
        self.maps = maps or []          # "HOST:GUEST"

    def paths(self) -> HostPaths | ConfinedPaths:
        if self.root is None and not self.maps:
            return HostPaths(find_sysroot(self.sysroot))
        mounts = {b"/": os.fsencode(self.root or _empty_root())}
        for item in self.maps:
            host, sep, guest = item.rpartition(":")
            if not sep or not guest.startswith("/"):
                raise ElfError(f"--map {item}: expected HOST:GUEST with an absolute GUEST")
            mounts[os.fsencode(guest)] = os.fsencode(host)
        for host in mounts.values():
            real = os.path.realpath(host)
            if real == b"/proc" or real.startswith(b"/proc/"):
                raise ElfError(f"{os.fsdecode(host)}: the host's /proc is MVVM's own process "
                               "(/proc/self/mem is its memory): not shown to a confined guest")
        return ConfinedPaths(mounts)



def find_sysroot(chosen: str | None) -> str | None:
    """Where riscv64 libraries are: the chosen one (-L), else QEMU_LD_PREFIX as qemu reads
    it, else the Debian cross sysroot if it is there."""
    chosen = chosen or os.environ.get("QEMU_LD_PREFIX")
    if chosen:
        return chosen
    return DEFAULT_SYSROOT if os.path.isdir(DEFAULT_SYSROOT) else None


def _empty_root() -> str:
    """The root for --map without --root: an empty, read-only directory of the VM's own."""
    root = tempfile.mkdtemp(prefix="mvvm-root-")
    os.chmod(root, 0o555)
    return root


class Process:
    """One guest process: the kernel, and the VM running its current image."""

    def __init__(self, kernel: Kernel, in_asm: TextIO | None, tier: str = TIERED,
                 profiler: str | None = None, stack_size: int = STACK_SIZE) -> None:
        self.kernel = kernel
        self.in_asm = in_asm
        self.tier = tier
        self.profiler = profiler
        self.stack_size = stack_size                # each image's, execve's too (qemu -s)
        self.vm: VM | None = None
        self._cache_dir: Path | None | bool = True          # True: each VM's default
        self.ended: BaseException | None = None     # a thread's outcome for the main one
        self._changed = threading.Condition()       # a thread ended, or the process
        self._in_syscall = False                    # the main thread is in a syscall
        self._main_cpu: VM | None = None            # the cpu the main thread runs
        self.bias = 0                               # the load bias of the last program loaded
        # A debugger's hold on the threads (mvvm.gdbstub): runs a thread's kernel by the
        # given callable, as it says; None: threads just run.
        self.debugger: Callable[[Kernel, Callable[[], None]], None] | None = None
        # Whether the main thread, and the threads started here, have the host stack that
        # deep guest calls need (an embedding's threads are its own, of any size).
        self._deep_main = not kernel.embedded and hoststack.grow_main_stack()
        self._deep_threads = not kernel.embedded and hoststack.thread_stacks()

    @property
    def stats(self) -> Stats:
        assert self.vm is not None
        return self.vm.stats

    @property
    def cache_dir(self) -> Path | None:
        assert self.vm is not None
        return self.vm.cache_dir

    @cache_dir.setter
    def cache_dir(self, value: Path | None) -> None:
        """The code cache directory of this image and of those execve starts later."""
        self._cache_dir = value
        if self.vm is not None:
            self.vm.cache_dir = value

    def interrupt(self, reason: BaseException) -> None:
        """End the process soon with reason (a time limit), from any host thread: the main
        thread raises it, in translated code or in a blocking syscall; the others end."""
        self._hand_to_main(reason)

    def load(self, host_path: str, argv: list[str] | list[bytes],
             envp: list[str] | list[bytes], execfn: str | bytes | None = None,
             image: Image | None = None, data: bytes | None = None) -> VM:
        """A new VM holding the program, ready to run; the kernel is not switched to it.
        image: the one to load it into (a new one by default); data: the program's bytes,
        if read already (else read from host_path)."""
        vm = VM(in_asm=self.in_asm, image=image, tier=self.tier, profiler=self.profiler,
                sandbox=self.kernel.embedded)
        main = threading.current_thread() is threading.main_thread()
        vm.call_depth = _call_depth(self._deep_main if main else self._deep_threads)
        if self._cache_dir is not True:
            vm.cache_dir = self._cache_dir
        vm.space.enforce_protection(Rights.GRANTED if self.kernel.embedded else Rights.EXACT)
        files = self.kernel.files

        def resolve(guest: str) -> str:
            return os.fsdecode(files.resolve(AT_FDCWD, os.fsencode(guest)).full)

        try:
            image = load_program(host_path, argv, envp, vm.memory, vm.space, resolve=resolve,
                                 execfn=os.fsdecode(execfn) if execfn is not None else None,
                                 data=data, stack_size=self.stack_size)
        except LoaderMissing as missing:
            raise ElfError(f"{missing} (looked {files.paths.where()})") from None
        self.bias = image.bias
        vm.x[SP] = image.sp
        vm.pc = image.entry
        return vm

    def switch(self, vm: VM, host_path: str) -> None:
        """Make vm the process's image: the kernel's memory, syscalls, signals and the cpu."""
        self.vm = vm
        kernel = self.kernel
        kernel.mem, kernel.space, kernel.cpu = vm.memory, vm.space, vm
        kernel.files.set_exe(host_path)
        _attach(kernel, vm)
        vm.syscall_handler = self._main_syscall
        if kernel.signals.due():            # pending across execve: delivered at its start
            vm.wake()

    def _main_syscall(self, nr: int, args: tuple[int, ...]) -> int:
        """The main thread's syscalls, which another thread's end may interrupt."""
        self._in_syscall = True
        try:
            if self.ended is not None:
                raise self.ended
            return self.kernel.syscall(nr, args)
        finally:
            self._in_syscall = False

    def _wake_main(self, signo: int, frame: object) -> None:
        """WAKE_MAIN's handler: a blocking syscall of the main thread gives way to the
        outcome another thread ended the process with."""
        if self._in_syscall and self.ended is not None:
            raise self.ended

    # -- threads --------------------------------------------------------------------------

    def start_thread(self, k: Kernel, cpu: VM, setup: Callable[[Kernel], None]) -> int:
        """Run cpu as a new thread of k's process, on a host thread of its own; setup gets
        the new thread's kernel before it runs (clone's tid stores). Its tid is the host
        thread's, so it is unique on the host as Linux's are."""
        go = threading.Event()
        handoff: list[Kernel] = []
        cpu.call_depth = _call_depth(self._deep_threads)
        host = threading.Thread(target=self._thread_main, args=(go, handoff), daemon=True)
        host.start()
        child = k.for_thread(host.native_id, cpu)
        _attach(child, cpu)
        setup(child)
        handoff.append(child)
        go.set()
        return child.tid

    def _thread_main(self, go: threading.Event, handoff: list[Kernel]) -> None:
        go.wait()
        k = handoff[0]
        try:
            if self.debugger is not None:
                self.debugger(k, partial(k.cpu.run, keep_code=False))
            else:
                k.cpu.run(keep_code=False)
        except (ThreadExit, Killed):
            pass
        except BaseException as outcome:    # noqa: BLE001 - exit_group, a signal, an error
            self._end(outcome)
        finally:
            self._thread_exit(k)

    def _thread_exit(self, k: Kernel) -> None:
        """What Linux does when a thread ends: the robust mutexes it holds are marked as
        their owner's death (exit_robust_list); CLONE_CHILD_CLEARTID's word is cleared and
        its futex woken (pthread_join waits on it); the thread leaves the process."""
        exit_robust_list(k)
        if k.clear_child_tid:
            with suppress(GuestFault):
                k.store_struct(k.clear_child_tid, c_int32(0))
                k.futexes.wake(k.clear_child_tid, 1)
        k.threads.pop(k.tid, None)
        k.signals.exit_thread()
        k.cpu.retire()
        with self._changed:
            self._changed.notify_all()

    def _end(self, outcome: BaseException) -> None:
        """A thread other than main ended the process (exit_group, a fatal signal, an
        internal error) or gave it a new image (execve): the main thread takes the
        outcome over, the others end."""
        if threading.current_thread() is threading.main_thread():
            _exit_now(outcome, self.kernel)     # a forked child of a thread: no main to tell
        self._hand_to_main(outcome)

    def _hand_to_main(self, outcome: BaseException) -> None:
        """The main thread ends the process with outcome (the first one handed over): in
        translated code at its next safe point, in a blocking syscall by WAKE_MAIN; every
        other thread just ends."""
        with self._changed:
            if self.ended is None:
                self.ended = outcome
            self._changed.notify_all()
        main = self._main_cpu or self.vm
        assert main is not None
        for cpu in list(main.image.cpus):
            cpu.interrupt(self.ended if cpu is main else Killed())
        if self._in_syscall:
            signal.pthread_kill(threading.main_thread().ident, WAKE_MAIN)

    def _others_end(self, leader: ThreadExit) -> BaseException:
        """The main thread called exit with other threads running: the process lives on
        until the last one ends (its status is the main thread's) or one ends it."""
        self._thread_exit(self.kernel)
        with self._changed:
            while self.ended is None and self.kernel.threads:
                self._changed.wait()
        return self.ended or leader

    def exec_image(self, k: Kernel, host_path: bytes, argv: list[bytes], envp: list[bytes],
                   execfn: bytes, data: bytes) -> NoReturn:
        """execve of a riscv64 program: load it in a new VM; past that, nothing can fail, and
        the old image is dropped when the run loop restarts in the new one."""
        try:
            vm = self.load(os.fsdecode(host_path), argv, envp, execfn)
        except ElfError:
            raise SyscallError(errno.ENOEXEC) from None
        k.became_new_image()
        self.switch(vm, os.fsdecode(host_path))
        raise Restart(vm)

    def run(self) -> None:
        """Run until the guest ends: GuestExit or GuestSignal, as `VM.run` raises them."""
        while True:
            assert self.vm is not None
            self._main_cpu = self.vm
            try:
                self.vm.run()
            except Restart as restart:
                if restart.image is not None:
                    self._new_image()
                continue
            except ThreadExit as done:
                if len(self.kernel.threads) > 1:
                    raise self._others_end(done) from None
                raise
            except GuestSignal as killed:
                if self.kernel.parent_is_guest:
                    die_of(killed)
                raise

    def _new_image(self) -> None:
        """After execve: the old image's other threads end, as Linux's de_thread has them."""
        for thread in list(self.kernel.threads.values()):
            if thread is not self.kernel:
                thread.cpu.interrupt(Killed())
        self.kernel.threads = {self.kernel.tid: self.kernel}
        self.ended = None
        gc.collect()            # the old image's store, memory and code go now


def _attach(kernel: Kernel, vm: VM) -> None:
    """Make kernel the Linux side of the cpu vm: its syscalls, signals and faults."""
    vm.syscall_handler = kernel.syscall
    vm.safe_point = partial(deliver_due, kernel)
    vm.fault_handler = partial(deliver_fault, kernel)
    kernel.signals.attention = vm.wake


def _call_depth(deep: bool) -> int:
    return DEEP_CALL_DEPTH if deep else CALL_DEPTH_LIMIT


def _exit_now(outcome: BaseException, kernel: Kernel) -> NoReturn:
    """End the host process with outcome, from its only thread (after a thread's fork)."""
    if isinstance(outcome, GuestSignal):
        die_of(outcome)
    sys.stdout.flush()
    os._exit(outcome.status if isinstance(outcome, GuestExit) else INTERNAL_ERROR)


def die_of(killed: GuestSignal) -> NoReturn:
    """End this host process by the guest's fatal signal (without a core file), so the
    guest parent's wait sees WIFSIGNALED with that signal; silently, as Linux does."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(killed.signo, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [killed.signo])
    os.kill(os.getpid(), killed.signo)
    os._exit(128 + killed.signo)


def start_process(path: str, argv: list[str], envp: list[str], *,
                  in_asm: TextIO | None = None, strace: TextIO | None = None,
                  files: FileSystemOptions | None = None, network: bool = True,
                  host_exec: bool = False, tier: str = TIERED,
                  profiler: str | None = None, stack_size: int = STACK_SIZE) -> Process:
    """A process ready to `run()` the program at path, as execve would leave it.

    Under a confined tree (--root/--map) path is a guest path, as for chroot. tier: how
    code runs (mvvm.runtime.image); profiler: tell `perf` about compiled code
    (mvvm.runtime.engine.make_engine); stack_size: the bytes mapped for the stack, as
    qemu's -s (mvvm.elf.loader.build_stack).
    """
    paths = (files or FileSystemOptions()).paths()
    host_path = paths.resolve(os.fsencode(path)).full if paths.confined else path
    kernel = Kernel(None, None, exe=os.fsdecode(host_path), strace=strace, paths=paths,
                    network=network, host_exec=host_exec)
    process = Process(kernel, in_asm, tier, profiler, stack_size)
    kernel.exec_image = process.exec_image
    kernel.start_thread = process.start_thread
    if threading.current_thread() is threading.main_thread():    # where signal.signal works
        kernel.signals.host = HostSignals(kernel.signals)
        signal.signal(WAKE_MAIN, process._wake_main)
    if os.path.isfile(host_path) and not os.access(host_path, os.X_OK):
        raise ElfError("Permission denied")        # as execve, and qemu, refuse it
    try:
        vm = process.load(os.fsdecode(host_path), argv, envp, execfn=path)
    except SyscallError as error:
        raise ElfError(f"Could not open '{path}': {error.strerror}") from None
    process.switch(vm, os.fsdecode(host_path))
    return process
