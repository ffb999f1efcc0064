"""A Linux process around the VM: load the program, set up the kernel, run, and go on across
execve (a new VM for the new image) and the restarts syscalls ask for (mvvm.linux.errors).

A process forked by a guest is a real host process; when its guest dies of a signal it
dies of that signal itself, so that the parent's wait4 sees what Linux would report.
"""

from __future__ import annotations

import errno
import gc
import os
import resource
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NoReturn, TextIO

from mvvm.elf.loader import ElfError, load_program
from mvvm.errors import GuestSignal
from mvvm.linux.abi import AT_FDCWD
from mvvm.linux.errors import Restart, SyscallError
from mvvm.linux.kernel import Kernel
from mvvm.linux.paths import ConfinedPaths, HostPaths
from mvvm.linux.signals import HostSignals, deliver_due, deliver_fault
from mvvm.runtime.vm import VM, Stats

SP = 2
DEFAULT_SYSROOT = "/usr/riscv64-linux-gnu"


@dataclass
class FileSystemOptions:
    """The guest's view of files: qemu's sysroot (-L), or a confined tree (--root, --map)."""

    sysroot: str | None = None
    root: str | None = None
    maps: list[str] = field(default_factory=list)      # "HOST:GUEST"

    def paths(self) -> HostPaths | ConfinedPaths:
        if self.root is None and not self.maps:
            return HostPaths(self._sysroot())
        mounts = {b"/": os.fsencode(self.root or _empty_root())}
        for item in self.maps:
            host, sep, guest = item.rpartition(":")
            if not sep or not guest.startswith("/"):
                raise ElfError(f"--map {item}: expected HOST:GUEST with an absolute GUEST")
            mounts[os.fsencode(guest)] = os.fsencode(host)
        return ConfinedPaths(mounts)

    def _sysroot(self) -> str | None:
        """-L, else QEMU_LD_PREFIX as qemu reads it, else the Debian cross sysroot if there."""
        chosen = self.sysroot or os.environ.get("QEMU_LD_PREFIX")
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

    def __init__(self, kernel: Kernel, in_asm: TextIO | None) -> None:
        self.kernel = kernel
        self.in_asm = in_asm
        self.vm: VM | None = None
        self._cache_dir: Path | None | bool = True          # True: each VM's default

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
        """Stop the running image soon with reason (see `VM.interrupt`)."""
        assert self.vm is not None
        self.vm.interrupt(reason)

    def load(self, host_path: str, argv: list[str] | list[bytes],
             envp: list[str] | list[bytes], execfn: str | bytes | None = None) -> VM:
        """A new VM holding the program, ready to run; the kernel is not switched to it."""
        vm = VM(in_asm=self.in_asm)
        if self._cache_dir is not True:
            vm.cache_dir = self._cache_dir
        files = self.kernel.files

        def resolve(guest: str) -> str:
            return os.fsdecode(files.resolve(AT_FDCWD, os.fsencode(guest)).path)

        image = load_program(host_path, argv, envp, vm.memory, vm.space, resolve=resolve,
                             execfn=os.fsdecode(execfn) if execfn is not None else None)
        vm.x[SP] = image.sp
        vm.pc = image.entry
        return vm

    def switch(self, vm: VM, host_path: str) -> None:
        """Make vm the process's image: the kernel's memory, syscalls, signals and the cpu."""
        self.vm = vm
        kernel = self.kernel
        kernel.mem, kernel.space, kernel.cpu = vm.memory, vm.space, vm
        kernel.files.set_exe(host_path)
        vm.syscall_handler = kernel.syscall
        vm.safe_point = partial(deliver_due, kernel)
        vm.fault_handler = partial(deliver_fault, kernel)
        kernel.signals.attention = vm.wake
        if kernel.signals.due():            # pending across execve: delivered at its start
            vm.wake()

    def exec_image(self, k: Kernel, host_path: bytes, argv: list[bytes], envp: list[bytes],
                   execfn: bytes) -> NoReturn:
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
            try:
                self.vm.run()
            except Restart as restart:
                if restart.image is not None:
                    gc.collect()        # the old image's store, memory and code go now
                continue
            except GuestSignal as killed:
                if self.kernel.parent_is_guest:
                    die_of(killed)
                raise


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
                  host_exec: bool = False) -> Process:
    """A process ready to `run()` the program at path, as execve would leave it.

    Under a confined tree (--root/--map) path is a guest path, as for chroot.
    """
    paths = (files or FileSystemOptions()).paths()
    host_path = paths.resolve(os.fsencode(path)).path if paths.confined else path
    kernel = Kernel(None, None, exe=os.fsdecode(host_path), strace=strace, paths=paths,
                    network=network, host_exec=host_exec)
    process = Process(kernel, in_asm)
    kernel.exec_image = process.exec_image
    if threading.current_thread() is threading.main_thread():    # where signal.signal works
        kernel.signals.host = HostSignals(kernel.signals)
    try:
        vm = process.load(os.fsdecode(host_path), argv, envp, execfn=path)
    except SyscallError as error:
        raise ElfError(f"Could not open '{path}': {error.strerror}") from None
    process.switch(vm, os.fsdecode(host_path))
    return process
