"""Syscalls through Kernel.syscall, with guest memory faked over a bytearray."""

import ctypes
import errno
import io
import os
import pty
import stat
import time

import pytest
from test_linux_mm import MMAP_TOP, RW, FakeMemory

from mvvm.errors import GuestExit, GuestSignal
from mvvm.linux import Kernel
from mvvm.linux.abi import AT_FDCWD, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, O_CLOEXEC
from mvvm.linux.paths import ConfinedPaths
from mvvm.linux.structs import (
    Iovec,
    Rlimit,
    SigAction,
    Stat,
    Statx,
    Termios,
    Timespec,
    Utsname,
)
from mvvm.linux.syscalls import TABLE
from mvvm.runtime.address_space import PAGE, PROT_READ, AddressSpace

NR = {call.name: nr for nr, call in TABLE.items()}
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT = 0, 1, 2, 0o100
EXE = "/opt/guest/prog"


class Guest:
    """A kernel plus a scratch heap in guest memory, to call syscalls as a program would."""

    def __init__(self, paths: ConfinedPaths | None = None) -> None:
        self.mem = FakeMemory()
        self.space = AddressSpace(self.mem, mmap_top=MMAP_TOP)
        self.trace = io.StringIO()
        self.kernel = Kernel(self.mem, self.space, exe=EXE, strace=self.trace, paths=paths)
        self.scratch = self.space.map(0, 64 * PAGE, RW, name="scratch")
        self.free = self.scratch

    def __call__(self, name: str, *args: int) -> int:
        regs = tuple(a & (1 << 64) - 1 for a in args) + (0,) * (6 - len(args))
        return self.kernel.syscall(NR[name], regs)

    def alloc(self, data: bytes | int) -> int:
        """Guest memory holding data (or that many zero bytes), 16-byte aligned."""
        data = bytes(data) if isinstance(data, int) else data
        addr, self.free = self.free, self.free + (len(data) + 15) // 16 * 16
        self.mem.write(addr, data)
        return addr

    def string(self, text: str | bytes) -> int:
        return self.alloc(os.fsencode(text) + b"\0")

    def struct(self, layout, addr):
        return layout.from_buffer_copy(self.mem.read(addr, ctypes.sizeof(layout)))

    def lines(self) -> list[str]:
        return self.trace.getvalue().splitlines()


@pytest.fixture
def g() -> Guest:
    return Guest()


def test_file_round_trip(g, tmp_path):
    path = g.string(tmp_path / "f.txt")
    fd = g("openat", AT_FDCWD, path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    assert fd == 3
    assert g("write", fd, g.alloc(b"hello, world"), 12) == 12
    assert g("lseek", fd, 7, 0) == 7
    buf = g.alloc(16)
    assert g("read", fd, buf, 16) == 5
    assert g.mem.read(buf, 5) == b"world"
    assert g("read", fd, buf, 16) == 0

    st = g.alloc(ctypes.sizeof(Stat))
    assert g("fstat", fd, st) == 0
    s = g.struct(Stat, st)
    host = os.stat(tmp_path / "f.txt")
    assert (s.st_size, s.st_ino, s.st_mode) == (12, host.st_ino, host.st_mode)
    assert stat.S_ISREG(s.st_mode)
    assert s.st_mtime * 10**9 + s.st_mtime_nsec == host.st_mtime_ns

    assert g("close", fd) == 0
    assert g("close", fd) == -errno.EBADF
    assert g("read", fd, buf, 1) == -errno.EBADF
    assert g.lines()[0].endswith(
        f'openat(AT_FDCWD,"{tmp_path}/f.txt",O_RDWR|O_CREAT|O_CLOEXEC,0644) = 3')


def test_newfstatat_statx_and_errors(g, tmp_path):
    (tmp_path / "d").mkdir()
    st = g.alloc(ctypes.sizeof(Stat))
    assert g("newfstatat", AT_FDCWD, g.string(tmp_path / "d"), st, 0) == 0
    assert stat.S_ISDIR(g.struct(Stat, st).st_mode)
    missing = g.string(tmp_path / "nope")
    assert g("newfstatat", AT_FDCWD, missing, st, 0) == -errno.ENOENT
    assert g.lines()[-1].endswith(" = -1 errno=2 (No such file or directory)")

    stx = g.alloc(ctypes.sizeof(Statx))
    assert g("statx", AT_FDCWD, g.string(tmp_path), 0, 0x7FF, stx) == 0
    x = g.struct(Statx, stx)
    assert x.stx_ino == os.stat(tmp_path).st_ino and stat.S_ISDIR(x.stx_mode)


def test_bad_pointers_are_efault(g, tmp_path):
    unmapped = 0x20000
    assert g("write", 1, unmapped, 4) == -errno.EFAULT
    assert g("openat", AT_FDCWD, unmapped, 0, 0) == -errno.EFAULT
    assert g.lines()[-1].endswith(f"openat(AT_FDCWD,{unmapped:#x},O_RDONLY,0) = -1 errno=14 "
                                  "(Bad address)")
    ro = g.space.map(0, PAGE, PROT_READ)
    fd = g("openat", AT_FDCWD, g.string(__file__), O_RDONLY, 0)
    assert g("read", fd, ro, 16) == -errno.EFAULT
    assert g("lseek", fd, 0, 1) == 0                 # the failed read consumed nothing
    assert g("read", fd, g.scratch + 64 * PAGE - 8, 16) == -errno.EFAULT
    assert g("clock_gettime", 0, unmapped) == -errno.EFAULT


def test_unknown_syscall_is_enosys_and_traced(g):
    assert g.kernel.syscall(500, (0,) * 6) == -errno.ENOSYS
    assert g.lines() == [f"{os.getpid()} Unknown syscall 500 = -1 errno=38 "
                         "(Function not implemented)"]


@pytest.mark.parametrize("name", ["exit", "exit_group"])
def test_exit(g, name):
    with pytest.raises(GuestExit) as e:
        g(name, 300)
    assert e.value.status == 300 & 0xFF
    assert g.lines() == [f"{os.getpid()} {name}(300)"]


def test_guest_fds_are_virtual(g):
    host = os.open(os.devnull, os.O_RDONLY)
    try:
        assert g("close", host) == -errno.EBADF        # a VM fd the guest never opened
        os.fstat(host)
    finally:
        os.close(host)
    assert g("close", 2) == 0                          # inherited stdio: the host's stays open
    os.fstat(2)
    assert g("dup3", 1, 2, 0) == 2
    assert g("fcntl", 2, 1, 0) == 0                    # F_GETFD
    assert g("dup3", 1, 9, O_CLOEXEC) == 9
    assert g("fcntl", 9, 1, 0) == 1
    assert g("fcntl", 9, 1030, 5) == 5                 # F_DUPFD_CLOEXEC: lowest free >= 5
    assert g("dup", 9) == 3


def test_pipe_readv_writev(g):
    fds = g.alloc(8)
    assert g("pipe2", fds, O_CLOEXEC) == 0
    r, w = (int.from_bytes(g.mem.read(fds + i, 4), "little") for i in (0, 4))
    parts = [g.alloc(b"abc"), g.alloc(b"defg")]
    iov = g.alloc(b"".join(bytes(Iovec(p, n)) for p, n in zip(parts, (3, 4), strict=True)))
    assert g("writev", w, iov, 2) == 7
    outs = [g.alloc(2), g.alloc(8)]
    iov = g.alloc(b"".join(bytes(Iovec(p, n)) for p, n in zip(outs, (2, 8), strict=True)))
    assert g("readv", r, iov, 2) == 7
    assert g.mem.read(outs[0], 2) + g.mem.read(outs[1], 5) == b"abcdefg"
    assert g("fcntl", r, 3, 0) == O_RDONLY              # F_GETFL
    assert g("fcntl", w, 3, 0) & 3 == O_WRONLY


def test_getdents64_and_dirs(g, tmp_path):
    for name in ("a", "bb"):
        (tmp_path / name).write_text(name)
    fd = g("openat", AT_FDCWD, g.string(tmp_path), 0o200000, 0)
    buf = g.alloc(4096)
    n = g("getdents64", fd, buf, 4096)
    names, pos = set(), 0
    while pos < n:
        reclen = int.from_bytes(g.mem.read(buf + pos + 16, 2), "little")
        names.add(g.mem.read(buf + pos + 19, reclen - 19).rstrip(b"\0"))
        pos += reclen
    assert names == {b".", b"..", b"a", b"bb"}
    assert g("getdents64", fd, buf, 4096) == 0

    assert g("mkdirat", fd, g.string("sub"), 0o755) == 0
    assert (tmp_path / "sub").is_dir()
    assert g("unlinkat", fd, g.string("sub"), 0x200) == 0
    assert g("unlinkat", fd, g.string("a"), 0) == 0
    assert g("faccessat", fd, g.string("a"), 0) == -errno.ENOENT
    assert g("faccessat", fd, g.string("bb"), 4) == 0
    assert sorted(os.listdir(tmp_path)) == ["bb"]


def test_cwd(g, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    buf = g.alloc(4096)
    assert g("getcwd", buf, 4096) == len(str(tmp_path)) + 1
    assert g.mem.read(buf, len(str(tmp_path)) + 1) == os.fsencode(tmp_path) + b"\0"
    assert g("getcwd", buf, 2) == -errno.ERANGE
    (tmp_path / "x").mkdir()
    assert g("chdir", g.string("x")) == 0
    assert os.getcwd() == str(tmp_path / "x")


def test_proc_self(g):
    buf = g.alloc(256)
    exe = g.string("/proc/self/exe")
    assert g("readlinkat", AT_FDCWD, exe, buf, 256) == len(EXE)
    assert g.mem.read(buf, len(EXE)) == EXE.encode()
    assert g("readlinkat", AT_FDCWD, exe, buf, 4) == 4
    fd = g("openat", AT_FDCWD, g.string(f"/proc/{os.getpid()}/maps"), O_RDONLY, 0)
    n = g("read", fd, buf, 256)
    line = g.mem.read(buf, n).decode().splitlines()[0]
    assert line.startswith(f"{g.scratch:08x}-{g.scratch + 64 * PAGE:08x} rw-p ")
    assert line.endswith(" scratch")


def test_mmap_syscalls(g, tmp_path):
    anon = MAP_PRIVATE | MAP_ANONYMOUS
    addr = g("mmap", 0, 3 * PAGE, RW, anon, -1, 0)
    assert addr == g.scratch - 3 * PAGE
    assert g.lines()[-1].endswith(
        f"mmap(NULL,{3 * PAGE},PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0) = {addr:#x}")
    assert g("mmap", addr, PAGE, RW, anon | MAP_FIXED_NOREPLACE, -1, 0) == -errno.EEXIST
    assert g("mmap", 0, 0, RW, anon, -1, 0) == -errno.EINVAL
    assert g("mprotect", addr, PAGE, PROT_READ) == 0
    null = g("openat", AT_FDCWD, g.string(os.devnull), O_RDWR, 0)
    assert g("write", null, addr, PAGE) == PAGE
    assert g("read", null, addr, 1) == -errno.EFAULT
    assert g("munmap", addr, 3 * PAGE) == 0
    assert g.space.prot_at(addr + PAGE) == 0

    data = os.urandom(PAGE + 100)
    (tmp_path / "blob").write_bytes(data)
    fd = g("openat", AT_FDCWD, g.string(tmp_path / "blob"), O_RDONLY, 0)
    addr = g("mmap", 0, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE)
    assert g.mem.read(addr, 100) == data[PAGE:]
    assert g.mem.read(addr + 100, 3 * PAGE - 100) == bytes(3 * PAGE - 100)
    assert g.space.mappings()[0].name == str(tmp_path / "blob")
    assert g("mmap", 0, PAGE, RW, 1, fd, 0) == -errno.EACCES   # shared, writable, O_RDONLY


def test_brk_syscall(g):
    g.space.set_brk(0x100000)
    assert g("brk", 0) == 0x100000
    assert g("brk", 0x102000) == 0x102000
    assert g.lines()[-1].endswith("brk(0x102000) = 0x102000")
    assert g("getrandom", 0x101000, 0x1000, 0) == 0x1000
    assert g.space.prot_at(0x101FFF) == RW


def test_clocks(g):
    ts = g.alloc(16)
    assert g("clock_gettime", 0, ts) == 0
    t = g.struct(Timespec, ts)
    assert abs(t.tv_sec + t.tv_nsec / 1e9 - time.time()) < 5
    assert 0 <= t.tv_nsec < 10**9
    g("clock_gettime", 1, ts)
    first = g.struct(Timespec, ts)
    assert g("clock_gettime", 6, ts) == 0            # MONOTONIC_COARSE
    g("clock_gettime", 1, ts)
    second = g.struct(Timespec, ts)
    assert (second.tv_sec, second.tv_nsec) >= (first.tv_sec, first.tv_nsec)
    assert g("clock_gettime", 99, ts) == -errno.EINVAL
    assert g("clock_getres", 1, ts) == 0 and g.struct(Timespec, ts).tv_nsec > 0
    assert g.lines()[0].endswith(f"clock_gettime(CLOCK_REALTIME,{ts:#x}) = 0")
    req = g.alloc(bytes(Timespec(0, 1000)))
    assert g("nanosleep", req, 0) == 0
    assert g("nanosleep", g.alloc(bytes(Timespec(0, 10**9))), 0) == -errno.EINVAL


def test_uname(g):
    buf = g.alloc(ctypes.sizeof(Utsname))
    assert g("uname", buf) == 0
    u = g.struct(Utsname, buf)
    assert (u.sysname, u.machine, u.release) == (b"Linux", b"riscv64", b"6.1.0")
    assert u.nodename == os.uname().nodename.encode()


def test_process_state(g):
    assert g("getpid") == g("gettid") == g("set_tid_address", g.alloc(4)) == os.getpid()
    assert g("getuid") == os.getuid()
    lim = g.alloc(16)
    assert g("prlimit64", 0, 3, 0, lim) == 0
    assert g.struct(Rlimit, lim).rlim_cur == 8 << 20
    assert g("setrlimit", 7, g.alloc(bytes(Rlimit(4, 4)))) == 0
    assert [g("dup", 1) for _ in range(2)] == [3, -errno.EMFILE]
    assert g("prlimit64", 1, 3, 0, lim) == -errno.ESRCH
    rnd = g.alloc(32)
    assert g("getrandom", rnd, 32, 0) == 32 and g.mem.read(rnd, 32) != bytes(32)
    mask = g.alloc(128)
    n = g("sched_getaffinity", 0, 128, mask)
    assert n % 8 == 0
    bits = int.from_bytes(g.mem.read(mask, n), "little")
    assert {i for i in range(n * 8) if bits >> i & 1} == os.sched_getaffinity(0)


def test_signals(g):
    act, old = g.alloc(bytes(SigAction(0x1234, 0x4, 0x2))), g.alloc(24)
    assert g("rt_sigaction", 10, act, 0, 8) == 0
    assert g("rt_sigaction", 10, 0, old, 8) == 0
    assert g.struct(SigAction, old).sa_handler == 0x1234
    assert g("rt_sigaction", 9, act, 0, 8) == -errno.EINVAL
    assert g("rt_sigaction", 10, act, 0, 4) == -errno.EINVAL
    assert g.lines()[0].endswith(f"rt_sigaction(SIGUSR1,{act:#x},NULL,8) = 0")
    assert g("rt_sigprocmask", 0, g.alloc((1 << 5 | 1 << 8).to_bytes(8, "little")), 0, 8) == 0
    assert g.kernel.signals.mask == 1 << 5                 # SIGKILL cannot be blocked
    assert g("kill", 0, 6) == 0                            # SIGABRT is blocked
    assert g("rt_sigprocmask", 1, g.alloc((1 << 5).to_bytes(8, "little")), old, 8) == 0
    assert int.from_bytes(g.mem.read(old, 8), "little") == 1 << 5
    assert g("kill", 0, 17) == 0                           # SIGCHLD: ignored by default
    with pytest.raises(GuestSignal) as e:
        g("tgkill", os.getpid(), os.getpid(), 6)
    assert e.value.signo == 6


def test_ioctl_terminal(g, tmp_path):
    fd = g("openat", AT_FDCWD, g.string(__file__), O_RDONLY, 0)
    buf = g.alloc(64)
    assert g("ioctl", fd, 0x5401, buf) == -errno.ENOTTY
    assert g("ioctl", fd, 0x1234, buf) == -errno.ENOTTY
    assert g("ioctl", 77, 0x5401, buf) == -errno.EBADF
    controller, tty = pty.openpty()
    try:
        fd = g("openat", AT_FDCWD, g.string(os.ttyname(tty)), O_RDWR, 0)
        assert g("ioctl", fd, 0x5401, buf) == 0
        t = g.struct(Termios, buf)
        assert t.c_lflag == pty.tty.tcgetattr(tty)[3]
        t.c_lflag &= ~pty.tty.ECHO
        g.mem.write(buf, bytes(t))
        assert g("ioctl", fd, 0x5402, buf) == 0
        assert not pty.tty.tcgetattr(tty)[3] & pty.tty.ECHO
        assert g("ioctl", fd, 0x5413, buf) == 0
    finally:
        os.close(controller)
        os.close(tty)


def test_strace_quotes_strings(g):
    g("chdir", g.string(b'/no such\n"dir"\xff'))
    assert g.lines()[-1].endswith(
        'chdir("/no such\\n\\"dir\\"\\xff") = -1 errno=2 (No such file or directory)')


# Calls that legitimately end the guest, sleep, or could block on an empty pipe.
NOT_FUZZED = {"exit", "exit_group", "kill", "tkill", "tgkill", "nanosleep", "clock_nanosleep",
              "pipe2",
              # They would fork or replace pytest, change its session or group, or wait
              # for as long as the garbage says (tested by the programs instead).
              "clone", "clone3", "execve", "execveat", "setsid", "setpgid", "futex", "ppoll",
              "pselect6", "epoll_pwait", "epoll_pwait2", "accept", "accept4", "recvfrom",
              "recvmsg", "sync", "flock", "fcntl", "wait4", "waitid", "connect", "sendto",
              "sendmsg", "setpriority",
              # They wait for a signal, need a cpu's registers, or start timer threads.
              "rt_sigsuspend", "rt_sigtimedwait", "rt_sigreturn", "setitimer", "timer_settime"}


def test_garbage_arguments_never_raise(g, tmp_path, monkeypatch):
    """Whatever a guest passes, the result is a number in a0, never a Python exception."""
    import random

    monkeypatch.chdir(tmp_path)
    for fd in (0, 1, 2):                 # keep the fuzzer off pytest's own stdio
        g("close", fd)
    rng = random.Random(1234)
    names = sorted(set(NR) - NOT_FUZZED)
    g.mem.write(g.scratch, bytes(rng.choice(b"abc\0") for _ in range(64 * PAGE)))
    choices = [0, 1, 3, 4096, -1, AT_FDCWD, 1 << 63, (1 << 64) - 1, g.scratch,
               g.scratch + 8 * PAGE, g.scratch + 64 * PAGE - 3, 0x20000]
    old_umask = os.umask(0o22)
    try:
        for _ in range(5000):
            name = rng.choice(names)
            args = [rng.choice(choices) if rng.random() < 0.8 else rng.getrandbits(64)
                    for _ in range(6)]
            result = g(name, *args)
            assert isinstance(result, int) and result >= -4095, (name, args)
    finally:
        os.umask(old_umask)


def test_riscv_hwprobe_reports_what_mvvm_implements(g):
    pairs = g.alloc(bytes(16 * 4))
    for i, key in enumerate((4, 3, 8, 99)):             # IMA_EXT_0, BASE, TIME_CSR_FREQ, ?
        g.mem.write(pairs + 16 * i, key.to_bytes(8, "little", signed=True))
    assert g("riscv_hwprobe", pairs, 4, 0, 0, 0) == 0
    words = [int.from_bytes(g.mem.read(pairs + 8 * i, 8), "little", signed=True)
             for i in range(8)]
    fd_c_zba_zbb_zbs_zicboz_zbc = 1 | 2 | 8 | 16 | 32 | 64 | 128        # no V (4)
    zbkb_zbkc_zbkx_zihintntl_zicond_zihintpause = (1 << 8 | 1 << 9 | 1 << 10 | 1 << 29
                                                   | 1 << 35 | 1 << 36)
    zfh_zfhmin_zfa = 1 << 27 | 1 << 28 | 1 << 32
    zimop_zca_zcb_zcd_zcmop_zawrs_zicbom = sum(1 << b for b in (42, 43, 44, 45, 47, 48, 55))
    extensions = (fd_c_zba_zbb_zbs_zicboz_zbc | zbkb_zbkc_zbkx_zihintntl_zicond_zihintpause
                  | zimop_zca_zcb_zcd_zcmop_zawrs_zicbom | zfh_zfhmin_zfa)
    assert words == [4, extensions, 3, 1, 8, 10_000_000, -1, 0]
    assert g("riscv_hwprobe", pairs, 1, 0, 0, 1) == -errno.EINVAL
    assert "riscv_hwprobe(" in g.lines()[0]


def test_priority_reaches_only_the_guests_own_processes(g):
    """getpriority/setpriority: the guest's own process by pid, 0, its process group or its
    user; any other process, group or user (host processes) is ESRCH, and an unknown
    `which` EINVAL. (setting is tested on a value that changes nothing: pytest's own.)"""
    prio_process, prio_pgrp, prio_user = 0, 1, 2
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    for which, who in ((prio_process, 0), (prio_process, g.kernel.pid), (prio_pgrp, 0),
                       (prio_pgrp, os.getpgid(0)), (prio_user, 0), (prio_user, os.getuid())):
        assert g("getpriority", which, who) == 20 - nice
        assert g("setpriority", which, who, nice) == 0
    for which, who in ((prio_process, 1), (prio_pgrp, 1), (prio_user, os.getuid() + 1)):
        assert g("getpriority", which, who) == -errno.ESRCH
        assert g("setpriority", which, who, nice) == -errno.ESRCH
    assert g("getpriority", 3, 0) == -errno.EINVAL


def test_no_device_nodes_under_a_confined_tree(tmp_path, monkeypatch):
    """Under --root a guest makes no character or block device (EPERM, as in an
    unprivileged container), which would reach the host's device; a FIFO it may make."""
    monkeypatch.chdir(tmp_path)
    g = Guest(ConfinedPaths({b"/": os.fsencode(tmp_path)}))
    for kind in (stat.S_IFCHR, stat.S_IFBLK):
        assert g("mknodat", AT_FDCWD, g.string("/kmsg"), kind | 0o600, os.makedev(1, 11)) \
            == -errno.EPERM
    assert not (tmp_path / "kmsg").exists()
    assert g("mknodat", AT_FDCWD, g.string("/fifo"), stat.S_IFIFO | 0o600, 0) == 0
    assert stat.S_ISFIFO((tmp_path / "fifo").stat().st_mode)


def test_socket_refused_without_network(g):
    g.kernel.network = False
    assert g("socket", 2, 1, 0) == -errno.EACCES                 # AF_INET
    fd = g("socket", 1, 1, 0)                                     # AF_UNIX
    assert fd >= 0 and g("close", fd) == 0
    assert g.lines()[0].endswith("socket(PF_INET,SOCK_STREAM,0) = -1 errno=13 "
                                 "(Permission denied)")
