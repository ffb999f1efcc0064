"""Process and thread creation and waiting: clone (threads, fork, vfork), clone3, execve,
wait4, waitid.

A guest thread (CLONE_THREAD) is a host thread running a cpu of its own on the shared
image (mvvm.linux.process.Process.start_thread).

A guest fork is a host fork of the whole VM process: the wasmtime store, guest memory and
the kernel's tables are copied with it, so the child goes on from the same point with a0
= 0. CLONE_VM without CLONE_THREAD (vfork, posix_spawn) is a fork whose parent waits until
the child has called execve or ended, as vfork's parent does; the child's writes to memory
are its own, which programs that only call execve or _exit in it do not notice.
"""

from __future__ import annotations

import errno
import os
import stat
from ctypes import LittleEndianStructure, c_int32, c_uint64, sizeof
from typing import TYPE_CHECKING, Any, NoReturn

from ...errors import Restart, SyscallError
from .. import hoststack
from ..abi import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    CLONE_CHILD_CLEARTID,
    CLONE_CHILD_SETTID,
    CLONE_PARENT_SETTID,
    CLONE_SETTLS,
    CLONE_SIGHAND,
    CLONE_THREAD,
    CLONE_VFORK,
    CLONE_VM,
    CSIGNAL,
)
from ..paths import HostPath
from ..structs import Rusage, SigInfo
from ..table import (
    AT_FLAGS,
    CLONE_FLAGS,
    DIRFD,
    INT,
    PATH,
    PTR,
    SIZE,
    STRINGS,
    WAIT_FLAGS,
    SyscallSet,
)
from .process import rusage

if TYPE_CHECKING:
    from ..kernel import Cpu, Kernel

syscalls = SyscallSet()

SP, TP = 2, 4
ELF_MAGIC = b"\x7fELF"
EM_RISCV = 243
MAX_INTERPRETERS = 4            # #! scripts naming #! scripts: Linux's limit
BINPRM_BUF_SIZE = 256
SIGCHLD = 17


class CloneArgs(LittleEndianStructure):
    """struct clone_args (clone3), as far as a fork needs it."""

    _fields_ = [(name, c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size",
        "tls", "set_tid", "set_tid_size", "cgroup")]


def _clone(k: Kernel, flags: int, stack: int, parent_tid: int, child_tid: int,
           tls: int) -> int:
    """clone's checks (as Linux's copy_process makes them), then a thread or a fork."""
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND or \
            flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise SyscallError(errno.EINVAL)
    if flags & CLONE_THREAD:
        return _thread(k, flags, stack, parent_tid, child_tid, tls)
    return _fork(k, flags, stack, parent_tid, child_tid, tls)


def _thread(k: Kernel, flags: int, stack: int, parent_tid: int, child_tid: int,
            tls: int) -> int:
    """A new thread: the caller's registers, a0 = 0, on its own stack and tp if given, from
    the instruction after the ecall; its tid words are stored before it runs."""
    if k.start_thread is None:
        raise SyscallError(errno.ENOSYS)
    cpu = k.cpu.spawn()
    _child_registers(cpu, flags, stack, tls)

    def setup(child: Kernel) -> None:
        if flags & CLONE_PARENT_SETTID:
            k.store_struct(parent_tid, c_int32(child.tid))
        if flags & CLONE_CHILD_SETTID:
            k.store_struct(child_tid, c_int32(child.tid))
        if flags & CLONE_CHILD_CLEARTID:
            child.clear_child_tid = child_tid

    return k.start_thread(k, cpu, setup)


def _fork(k: Kernel, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int) -> int:
    """clone's process forms; returns in both processes, as fork does."""
    if k.embedded:
        raise SyscallError(errno.ENOSYS)
    done_read, done_write = os.pipe2(os.O_CLOEXEC) if flags & CLONE_VFORK else (None, None)
    with k.cpu.image.forking():
        pid = os.fork()
    if pid == 0:
        if done_read is not None:
            os.close(done_read)
        k.vfork_done = done_write
        return _child(k, flags, stack, child_tid, tls)
    k.children.add(pid)
    if flags & CLONE_PARENT_SETTID:
        k.store_struct(parent_tid, c_int32(pid))
    if done_read is not None:
        os.close(done_write)
        os.read(done_read, 1)           # EOF: the child called execve or ended
        os.close(done_read)
    return pid


def _child(k: Kernel, flags: int, stack: int, child_tid: int, tls: int) -> int:
    """The child's side of a fork: its own pid and tid words, then its own stack and tp if
    given (which the run loop must pick up: a Restart)."""
    k.became_child()
    if flags & CLONE_CHILD_SETTID:
        k.store_struct(child_tid, c_int32(k.pid))
    if flags & CLONE_CHILD_CLEARTID:
        k.clear_child_tid = child_tid
    if not stack and not flags & CLONE_SETTLS:
        return 0
    _child_registers(k.cpu, flags, stack, tls)
    raise Restart()


def _child_registers(cpu: Cpu, flags: int, stack: int, tls: int) -> None:
    """Where a clone's child starts: a0 = 0, its own stack and tp if given, after the
    ecall."""
    cpu.x[10] = 0
    if stack:
        cpu.x[SP] = stack
    if flags & CLONE_SETTLS:
        cpu.x[TP] = tls
    cpu.pc += 4


@syscalls(220, CLONE_FLAGS, PTR, PTR, PTR, PTR)
def sys_clone(k: Kernel, flags: int, stack: int, parent_tid: int, tls: int,
              child_tid: int) -> int:
    """riscv64's argument order (as glibc's clone.S passes it): flags, stack, parent_tid,
    tls, child_tid."""
    return _clone(k, flags & ~CSIGNAL, stack, parent_tid, child_tid, tls)


@syscalls(435, PTR, SIZE)
def sys_clone3(k: Kernel, args: int, size: int) -> int:
    if size < sizeof(CloneArgs) - 3 * 8:            # CLONE_ARGS_SIZE_VER0
        raise SyscallError(errno.EINVAL)
    a = CloneArgs.from_buffer_copy(k.load(args, min(size, sizeof(CloneArgs))).ljust(
        sizeof(CloneArgs), b"\0"))
    if a.flags & CSIGNAL or a.set_tid or a.exit_signal > 64:
        raise SyscallError(errno.EINVAL)
    stack = a.stack + a.stack_size if a.stack else 0
    return _clone(k, a.flags, stack, a.parent_tid, a.child_tid, a.tls)


# execve.

def _exec(k: Kernel, path: bytes, argv: list[bytes], envp: list[bytes], depth: int = 0) -> int:
    """Start a riscv64 program (in a new image of this process), a #! script's interpreter,
    or, if allowed, a host program in place of the VM."""
    if k.embedded:
        raise SyscallError(errno.ENOSYS)
    where = k.files.resolve(AT_FDCWD, path)
    data = _program(k, where)
    head = data[:BINPRM_BUF_SIZE]
    if head.startswith(b"#!"):
        if depth >= MAX_INTERPRETERS:
            raise SyscallError(errno.ELOOP)
        interpreter, *arg = head[2:].split(b"\n")[0].strip().split(None, 1)
        return _exec(k, interpreter, [interpreter, *arg, path, *argv[1:]], envp, depth + 1)
    if head.startswith(ELF_MAGIC) and int.from_bytes(head[18:20], "little") == EM_RISCV:
        k.exec_image(k, where.full, argv, envp, path, data)
    if not k.host_exec:
        raise SyscallError(errno.ENOEXEC)
    _exec_host(k, where.full, argv, envp)


def _program(k: Kernel, where: HostPath) -> bytes:
    """The bytes of the file execve names, from one descriptor (under a confined tree the
    kernel opens it beneath the tree, so a racing guest cannot swap in a file outside):
    EACCES unless it is a regular file with the execute right, as execve says."""
    fd = k.files.open(where, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, 0)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or \
                not os.access(f"/proc/self/fd/{fd}", os.X_OK):
            raise SyscallError(errno.EACCES)    # a directory, FIFO or device: never run
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    finally:
        os.close(fd)


def _exec_host(k: Kernel, path: bytes, argv: list[bytes], envp: list[bytes]) -> NoReturn:
    """Replace the VM by a host program, with the guest's descriptors at their guest numbers."""
    table = {fd: os.dup(host) for fd, host in k.files.table().items()}
    for fd, host in table.items():
        os.dup2(host, fd, inheritable=True)
    hoststack.restore()
    os.execve(path, argv, dict(item.partition(b"=")[::2] for item in envp))


@syscalls(221, PATH, STRINGS, STRINGS)
def sys_execve(k: Kernel, path: bytes, argv: list[bytes], envp: list[bytes]) -> int:
    return _exec(k, path, argv, envp)


@syscalls(281, DIRFD, PATH, STRINGS, STRINGS, AT_FLAGS)
def sys_execveat(k: Kernel, dirfd: int, path: bytes, argv: list[bytes], envp: list[bytes],
                 flags: int) -> int:
    """Only the forms that name a file by path (AT_FDCWD or an absolute path)."""
    if flags & AT_EMPTY_PATH or (dirfd != AT_FDCWD and not path.startswith(b"/")):
        raise SyscallError(errno.ENOSYS)
    return _exec(k, path, argv, envp)


# Waiting. Children are host processes and their statuses the host's, which Linux encodes
# the same way everywhere.

def _reaped(k: Kernel, pid: int, ended: bool) -> int:
    """A wait's report of pid: if it ended (not a stop or a continue), it is no child now."""
    if ended:
        k.children.discard(pid)
    return pid


@syscalls(260, INT, PTR, WAIT_FLAGS, PTR)
def sys_wait4(k: Kernel, pid: int, status: int, options: int, usage: int) -> int:
    news = k.children.first(k.children.named(pid), options, k.signals,
                            lambda child, flags: _news(os.wait4(child, flags)))
    child, raw, used = news or (0, 0, None)
    if child and status:
        k.store_struct(status, c_int32(raw))
    if child and usage:
        k.store_struct(usage, rusage(used))
    return _reaped(k, child, os.WIFEXITED(raw) or os.WIFSIGNALED(raw)) if child else 0


P_ALL, P_PID, P_PGID = 0, 1, 2
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3


def _news(result: tuple[int, int, Any]) -> tuple[int, int, Any] | None:
    """os.wait4's result if a child had news (its pid is not 0)."""
    return result if result[0] else None


def _siginfo(result: os.waitid_result) -> SigInfo:
    info = SigInfo(signo=SIGCHLD, code=result.si_code)
    info.child.pid, info.child.uid = result.si_pid, result.si_uid
    info.child.status = result.si_status
    return info


@syscalls(95, INT, INT, PTR, WAIT_FLAGS, PTR)
def sys_waitid(k: Kernel, idtype: int, ident: int, info: int, options: int, usage: int) -> int:
    """The children's rusage is not known per child: usage gets zeros."""
    if idtype not in (P_ALL, P_PID, P_PGID):
        raise SyscallError(errno.EINVAL)
    named = k.children.in_group(ident or os.getpgid(0)) if idtype == P_PGID \
        else k.children.named(ident if idtype == P_PID else -1)
    result = k.children.first(named, options, k.signals,
                              lambda child, flags: os.waitid(os.P_PID, child, flags))
    if info:
        k.store_struct(info, _siginfo(result) if result else SigInfo())
    if usage:
        k.store_struct(usage, Rusage())
    if result and not options & os.WNOWAIT:
        _reaped(k, result.si_pid, result.si_code in (CLD_EXITED, CLD_KILLED, CLD_DUMPED))
    return 0
