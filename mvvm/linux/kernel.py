"""The syscall entry point, and the guest-memory access every syscall goes through.

`Kernel.syscall` looks the number up in the table, decodes the arguments by
their declared kinds, runs the implementation and turns every failure a guest
can cause into -errno, tracing the call if asked.
"""

from __future__ import annotations

import copy
import ctypes
import errno
import os
from collections.abc import Callable
from typing import Protocol, TextIO, TypeVar

from ..errors import GuestExit, GuestFault, GuestSignal, Restart, SyscallError
from ..runtime.address_space import PAGE, PROT_READ, PROT_WRITE, AddressSpace, GuestMemory
from .children import Children
from .fs import Files
from .futex import Futexes
from .paths import ConfinedPaths, HostPaths
from .rlimits import ResourceLimits
from .signals import RESTARTS, SI_USER, SignalState, send_self
from .strace import Tracer
from .syscalls import TABLE

Struct = TypeVar("Struct", ctypes.Structure, ctypes.Array)
SIGPIPE = 13
ARG_MAX = 2 << 20                 # bytes of execve arguments and environment, as on Linux
# execve of a riscv64 program: (kernel, host path, argv, envp, execfn); raises Restart.
# (The program's bytes come along, read from the descriptor execve opened: under a confined
# tree, a path is never opened by name twice.)
ExecImage = Callable[["Kernel", bytes, list[bytes], list[bytes], bytes, bytes], None]
# clone of a thread: (kernel, its cpu, set-up before it runs) -> tid.
StartThread = Callable[["Kernel", "Cpu", Callable[["Kernel"], None]], int]


class Cpu(Protocol):
    """What syscalls and signal delivery see of the cpu (mvvm.runtime.vm.VM): registers a
    syscall may change before asking for a Restart, and the requests signals make."""

    x: ctypes.Array
    f: ctypes.Array
    pc: int
    fcsr: int

    def wake(self) -> None: ...

    def interrupt(self, reason: BaseException) -> None: ...

    def spawn(self) -> Cpu: ...

    def require_precise(self) -> None: ...


class Kernel:
    """The Linux personality of one guest thread: what its process shares (files, memory,
    limits, signal dispositions, futexes, the thread table) and what is its own (tid, cpu,
    signal mask, clear_child_tid, robust list). Each guest thread has its own Kernel made
    by `for_thread`; syscalls get the calling thread's.

    paths is the guest's view of the file system (mvvm.linux.paths); network False refuses
    sockets other than AF_UNIX; host_exec lets execve start host (non-riscv64) programs;
    exec_image is how execve starts a riscv64 program (mvvm.linux.process provides it).
    embedded: the guest lives inside a host program (mvvm.embed): it has no host process
    of its own to fork, replace by execve, or stop.
    """

    def __init__(self, mem: GuestMemory, space: AddressSpace, *, exe: str,
                 strace: TextIO | None = None, paths: HostPaths | ConfinedPaths | None = None,
                 network: bool = True, host_exec: bool = False,
                 exec_image: ExecImage | None = None, embedded: bool = False) -> None:
        self.mem = mem
        self.space = space
        self.pid = os.getpid()
        self.tid = self.pid                 # the main thread's tid is the pid
        self.limits = ResourceLimits()
        self.files = Files(self.limits, exe=exe, pid=self.pid, paths=paths)
        self.signals = SignalState()
        self.clear_child_tid = 0
        self.robust_list = (0, 0)
        self.tracer = Tracer(strace, self.pid) if strace else None
        self.network = network
        self.host_exec = host_exec
        self.exec_image = exec_image
        self.embedded = embedded
        self.umask = 0o022                  # an embedded guest's own (see sys_umask)
        self.start_thread: StartThread | None = None
        self.cpu: Cpu | None = None
        self.vfork_done: int | None = None  # host fd a vfork parent waits on, until execve
        self.task_name = os.path.basename(os.fsencode(exe))[:15]     # prctl PR_SET_NAME
        self.prctl = {"pdeathsig": 0, "dumpable": 1, "no_new_privs": 0}
        self.children = Children()          # the guest processes it forked
        self.parent_is_guest = False        # forked by a guest: dies of its signals for real
        self.futexes = Futexes()
        self.threads: dict[int, Kernel] = {self.tid: self}     # the process's, by tid

    def for_thread(self, tid: int, cpu: Cpu) -> Kernel:
        """The kernel of a new thread of this process (clone with CLONE_THREAD): shared
        state by reference, the thread's own fresh; the signal mask is inherited."""
        thread = copy.copy(self)
        thread.tid, thread.cpu = tid, cpu
        thread.signals = self.signals.new_thread()
        thread.clear_child_tid = 0
        thread.robust_list = (0, 0)
        self.threads[tid] = thread
        return thread

    def became_child(self) -> None:
        """After fork, in the child: a new pid, no children, a guest parent (the pid this
        kernel had)."""
        parent = self.pid
        self.pid = self.tid = self.files.pid = os.getpid()
        self.threads = {self.tid: self}     # only the forking thread goes on
        self.futexes = Futexes()
        if self.tracer:
            self.tracer.pid = self.pid
        self.children.became_child(parent)
        self.parent_is_guest = True
        self.signals.after_fork()

    def became_new_image(self) -> None:
        """execve's point of no return: close-on-exec files go, caught signals revert to
        their default, and a vfork parent may go on."""
        self.files.close_on_exec()
        self.signals.exec_reset()
        self.release_vfork_parent()

    def broken_pipe(self) -> None:
        """A write met EPIPE: Linux sends SIGPIPE, whose default action kills (the VM's
        Python ignores it on the host, so the guest's disposition decides here)."""
        send_self(self, SIGPIPE, SI_USER, "a write to a pipe with no reader")

    def release_vfork_parent(self) -> None:
        if self.vfork_done is not None:
            os.close(self.vfork_done)
            self.vfork_done = None

    def syscall(self, nr: int, args: tuple[int, int, int, int, int, int]) -> int:
        """Run syscall nr with a0..a5; return the new a0 (-errno on failure)."""
        call = TABLE.get(nr)
        if call is None:
            if self.tracer:
                self.tracer.unknown(nr)
            return -errno.ENOSYS
        shown = call.show(self, args) if self.tracer else []
        try:
            result = call.impl(self, *call.decode(self, args))
        except (GuestExit, GuestSignal):
            if self.tracer:
                self.tracer.exiting(call.name, shown)
            raise
        except Restart:
            if self.tracer:         # execve, or a forked child on its own stack: it returned
                self.tracer.returned(call.name, shown, 0, call.hex_result)
            raise
        except GuestFault:
            result = -errno.EFAULT
        except OSError as e:
            result = -(e.errno or errno.EIO)
        except (OverflowError, ValueError, MemoryError):
            result = -errno.EINVAL      # a size or number too large for the host's calls
        finally:
            self.files.paths.release()  # the directories its paths were resolved in
        if -result in RESTARTS:             # a signal interrupted it: see signals.deliver_due
            self.signals.interrupted = (-result, args[0])
            if self.cpu is not None:
                self.cpu.wake()
        if self.tracer:
            self.tracer.returned(call.name, shown, result, call.hex_result)
        return result

    # Guest memory, with the rights a user access would need.

    def load(self, addr: int, size: int) -> bytes:
        self.space.check(addr, size, PROT_READ)
        return self.mem.read(addr, size)

    def store(self, addr: int, data: bytes | memoryview) -> None:
        self.space.check(addr, len(data), PROT_WRITE)
        self.mem.write(addr, data)

    def load_struct(self, layout: type[Struct], addr: int) -> Struct:
        """A guest struct (or array of them) read into its ctypes layout."""
        return layout.from_buffer_copy(self.load(addr, ctypes.sizeof(layout)))

    def store_struct(self, addr: int, value: ctypes.Structure | ctypes.Array) -> None:
        self.store(addr, bytes(value))

    def load_strings(self, addr: int) -> list[bytes]:
        """A NULL-terminated array of string pointers (argv, envp); NULL is an empty list."""
        out: list[bytes] = []
        total = 0
        while addr:
            pointer = self.load_struct(ctypes.c_uint64, addr).value
            if not pointer:
                break
            out.append(self.load_cstring(pointer, ARG_MAX))
            total += len(out[-1]) + 9
            if total > ARG_MAX:
                raise SyscallError(errno.E2BIG)
            addr += 8
        return out

    def load_cstring(self, addr: int, limit: int) -> bytes:
        """A NUL-terminated string of fewer than limit bytes (else ENAMETOOLONG).

        Read a page at a time, so a string ending just before an unmapped page is fine.
        """
        out = bytearray()
        while len(out) < limit:
            chunk = self.load(addr, PAGE - addr % PAGE)
            end = chunk.find(0)
            if end >= 0:
                out += chunk[:end]
                break
            out += chunk
            addr += len(chunk)
        if len(out) >= limit:
            raise SyscallError(errno.ENAMETOOLONG)
        return bytes(out)
