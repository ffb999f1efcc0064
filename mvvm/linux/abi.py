"""riscv64 Linux ABI constants, and the flag tables that both translate and display them.

Values are the guest's (asm-generic), never the host's: a table knows each
flag's guest bits, its name for strace, and (where the host must see it) the
host's bits by the same name in the os module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

MAX_RW_COUNT = 0x7FFFF000      # Linux caps one read, write or copy at this many bytes

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_EACCESS = 0x200
AT_EMPTY_PATH = 0x1000

O_ACCMODE = 3
O_RDONLY = 0
O_WRONLY = 1
O_RDWR = 2
O_NONBLOCK = 0o4000
O_DIRECT = 0o40000
O_CLOEXEC = 0o2000000
FD_CLOEXEC = 1

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_SHARED_VALIDATE = 0x03
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_FIXED_NOREPLACE = 0x100000

F_DUPFD = 0
F_GETFD = 1
F_SETFD = 2
F_GETFL = 3
F_SETFL = 4
F_DUPFD_CLOEXEC = 1030
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_SETOWN, F_GETOWN = 8, 9
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
F_ADD_SEALS, F_GET_SEALS = 1033, 1034
LOCK_CMDS = (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)

TCGETS = 0x5401
TCSETS = 0x5402
TCSETSW = 0x5403
TCSETSF = 0x5404
TIOCGPGRP = 0x540F
TIOCGWINSZ = 0x5413
TIOCSWINSZ = 0x5414
FIONREAD = 0x541B
FIONBIO = 0x5421
FIONCLEX = 0x5450
FIOCLEX = 0x5451

SIG_DFL = 0
SIG_IGN = 1
SIG_BLOCK = 0
SIG_UNBLOCK = 1
SIG_SETMASK = 2
SIGKILL = 9
SIGSTOP = 19
NSIG = 64


class FlagSet:
    """A bit-flag argument: how strace names it and how it maps to the host's bits.

    An optional enumerated field (the access mode of open, the type of mmap)
    occupies field_mask and is named as a whole; the other bits are named one
    by one, multi-bit flags (O_SYNC includes O_DSYNC) listed before their parts.
    """

    def __init__(self, bits: Sequence[tuple[str, int]], *, field_mask: int = 0,
                 field: dict[int, str] | None = None, zero: str = "0") -> None:
        self.bits = tuple(bits)
        self.field_mask = field_mask
        self.field = field or {}
        self.zero = zero
        self._host = {name: getattr(os, name, 0) for name, _ in self.bits}

    def show(self, value: int) -> str:
        parts = []
        if self.field:
            code = value & self.field_mask
            parts.append(self.field.get(code, hex(code)))
        rest = value & ~self.field_mask
        for name, bits in self.bits:
            if rest & bits == bits:
                parts.append(name)
                rest &= ~bits
        if rest:
            parts.append(hex(rest))
        return "|".join(parts) or self.zero

    def to_host(self, value: int) -> int:
        """The host's flags for guest flags; bits the host lacks or we do not know drop out."""
        host = value & self.field_mask
        for name, bits in self.bits:
            if value & bits == bits:
                host |= self._host[name]
        return host

    def from_host(self, host: int) -> int:
        value = host & self.field_mask
        for name, bits in self.bits:
            if self._host[name] and host & self._host[name] == self._host[name]:
                value |= bits
        return value


OPEN_FLAGS = FlagSet(
    [("O_TMPFILE", 0o20200000), ("O_SYNC", 0o4010000), ("O_CREAT", 0o100),
     ("O_EXCL", 0o200), ("O_NOCTTY", 0o400), ("O_TRUNC", 0o1000), ("O_APPEND", 0o2000),
     ("O_NONBLOCK", O_NONBLOCK), ("O_DSYNC", 0o10000), ("O_ASYNC", 0o20000),
     ("O_DIRECT", O_DIRECT), ("O_LARGEFILE", 0o100000), ("O_DIRECTORY", 0o200000),
     ("O_NOFOLLOW", 0o400000), ("O_NOATIME", 0o1000000), ("O_CLOEXEC", O_CLOEXEC),
     ("O_PATH", 0o10000000)],
    field_mask=O_ACCMODE, field={O_RDONLY: "O_RDONLY", O_WRONLY: "O_WRONLY", O_RDWR: "O_RDWR"})

PROT_FLAGS = FlagSet(
    [("PROT_READ", 1), ("PROT_WRITE", 2), ("PROT_EXEC", 4)], zero="PROT_NONE")

MAP_FLAGS = FlagSet(
    [("MAP_FIXED", MAP_FIXED), ("MAP_ANONYMOUS", MAP_ANONYMOUS), ("MAP_GROWSDOWN", 0x100),
     ("MAP_DENYWRITE", 0x800), ("MAP_EXECUTABLE", 0x1000), ("MAP_LOCKED", 0x2000),
     ("MAP_NORESERVE", 0x4000), ("MAP_POPULATE", 0x8000), ("MAP_NONBLOCK", 0x10000),
     ("MAP_STACK", 0x20000), ("MAP_HUGETLB", 0x40000),
     ("MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE)],
    field_mask=MAP_TYPE,
    field={MAP_SHARED: "MAP_SHARED", MAP_PRIVATE: "MAP_PRIVATE",
           MAP_SHARED_VALIDATE: "MAP_SHARED_VALIDATE"})

# Enumerated arguments, by value, for strace.
CLOCKS = {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID",
          3: "CLOCK_THREAD_CPUTIME_ID", 4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE",
          6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME", 11: "CLOCK_TAI"}
WHENCE = {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"}
FCNTL_CMDS = {F_DUPFD: "F_DUPFD", F_GETFD: "F_GETFD", F_SETFD: "F_SETFD", F_GETFL: "F_GETFL",
              F_SETFL: "F_SETFL", F_DUPFD_CLOEXEC: "F_DUPFD_CLOEXEC", F_GETLK: "F_GETLK",
              F_SETLK: "F_SETLK", F_SETLKW: "F_SETLKW", F_SETOWN: "F_SETOWN",
              F_GETOWN: "F_GETOWN", F_OFD_GETLK: "F_OFD_GETLK", F_OFD_SETLK: "F_OFD_SETLK",
              F_OFD_SETLKW: "F_OFD_SETLKW", F_SETPIPE_SZ: "F_SETPIPE_SZ",
              F_GETPIPE_SZ: "F_GETPIPE_SZ", F_ADD_SEALS: "F_ADD_SEALS",
              F_GET_SEALS: "F_GET_SEALS"}
RLIMITS = dict(enumerate(
    ["RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
     "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
     "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"]))
SIGMASK_HOW = {SIG_BLOCK: "SIG_BLOCK", SIG_UNBLOCK: "SIG_UNBLOCK", SIG_SETMASK: "SIG_SETMASK"}
SIGNALS = dict(enumerate(
    ["SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
     "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
     "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
     "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"], start=1))
IOCTLS = {TCGETS: "TCGETS", TCSETS: "TCSETS", TCSETSW: "TCSETSW", TCSETSF: "TCSETSF",
          TIOCGWINSZ: "TIOCGWINSZ", TIOCSWINSZ: "TIOCSWINSZ", TIOCGPGRP: "TIOCGPGRP",
          FIONREAD: "FIONREAD", FIONBIO: "FIONBIO", FIOCLEX: "FIOCLEX", FIONCLEX: "FIONCLEX"}

AT_FLAGS = FlagSet([("AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW), ("AT_REMOVEDIR", AT_REMOVEDIR),
                    ("AT_SYMLINK_FOLLOW", 0x400), ("AT_NO_AUTOMOUNT", 0x800),
                    ("AT_EMPTY_PATH", AT_EMPTY_PATH)])

# Sockets: the numbers are the same on every Linux host MVVM runs on (x86-64, arm64).
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_TYPE_MASK = 0xF
SOCK_NONBLOCK = O_NONBLOCK
SOCK_CLOEXEC = O_CLOEXEC
DOMAINS = {0: "PF_UNSPEC", AF_UNIX: "PF_LOCAL", AF_INET: "PF_INET", AF_INET6: "PF_INET6",
           16: "PF_NETLINK", 17: "PF_PACKET"}
SOCK_TYPES = FlagSet([("SOCK_NONBLOCK", SOCK_NONBLOCK), ("SOCK_CLOEXEC", SOCK_CLOEXEC)],
                     field_mask=SOCK_TYPE_MASK,
                     field={1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET"})
SOCKET_LEVELS = {0: "SOL_IP", 1: "SOL_SOCKET", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6"}
SHUTDOWN_HOW = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
MSG_FLAGS = FlagSet([("MSG_OOB", 1), ("MSG_PEEK", 2), ("MSG_DONTROUTE", 4), ("MSG_TRUNC", 0x20),
                     ("MSG_DONTWAIT", 0x40), ("MSG_EOR", 0x80), ("MSG_WAITALL", 0x100),
                     ("MSG_NOSIGNAL", 0x4000), ("MSG_MORE", 0x8000),
                     ("MSG_CMSG_CLOEXEC", 0x40000000)])

# Processes.
CLONE_VM = 0x100
CLONE_FS = 0x200
CLONE_FILES = 0x400
CLONE_SIGHAND = 0x800
CLONE_VFORK = 0x4000
CLONE_THREAD = 0x10000
CLONE_SETTLS = 0x80000
CLONE_PARENT_SETTID = 0x100000
CLONE_CHILD_CLEARTID = 0x200000
CLONE_CHILD_SETTID = 0x1000000
CSIGNAL = 0xFF
CLONE_FLAGS = FlagSet(
    [("CLONE_VM", CLONE_VM), ("CLONE_FS", CLONE_FS), ("CLONE_FILES", CLONE_FILES),
     ("CLONE_SIGHAND", CLONE_SIGHAND), ("CLONE_PIDFD", 0x1000), ("CLONE_PTRACE", 0x2000),
     ("CLONE_VFORK", CLONE_VFORK), ("CLONE_PARENT", 0x8000), ("CLONE_THREAD", CLONE_THREAD),
     ("CLONE_NEWNS", 0x20000), ("CLONE_SYSVSEM", 0x40000), ("CLONE_SETTLS", CLONE_SETTLS),
     ("CLONE_PARENT_SETTID", CLONE_PARENT_SETTID),
     ("CLONE_CHILD_CLEARTID", CLONE_CHILD_CLEARTID), ("CLONE_DETACHED", 0x400000),
     ("CLONE_UNTRACED", 0x800000), ("CLONE_CHILD_SETTID", CLONE_CHILD_SETTID)],
    field_mask=CSIGNAL, field={0: "0", **{n: name for n, name in SIGNALS.items()}})
WAIT_FLAGS = FlagSet([("WNOHANG", 1), ("WUNTRACED", 2), ("WEXITED", 4), ("WCONTINUED", 8),
                      ("WNOWAIT", 0x1000000), ("__WNOTHREAD", 0x20000000),
                      ("__WALL", 0x40000000), ("__WCLONE", 0x80000000)])

