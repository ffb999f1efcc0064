"""riscv64 Linux struct layouts, as ctypes structures.

ctypes lays fields out with the host C compiler's natural alignment, which on a
64-bit little-endian host is the riscv64 LP64 alignment, so these match the
guest's kernel ABI byte for byte (the tests pin every size). `Kernel.load_struct`
and `Kernel.store_struct` move them between guest memory and Python.
"""

from ctypes import (
    LittleEndianStructure,
    c_char,
    c_int32,
    c_int64,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
)
from ctypes import Union as CUnion  # not typing's Union

NS_PER_SEC = 1_000_000_000


def split_ns(ns: int) -> tuple[int, int]:
    """Nanoseconds as the (seconds, nanoseconds) pair every kernel time struct holds."""
    return divmod(ns, NS_PER_SEC)


class Stat(LittleEndianStructure):
    """asm-generic struct stat (128 bytes), for fstat and newfstatat."""

    _fields_ = [
        ("st_dev", c_uint64), ("st_ino", c_uint64), ("st_mode", c_uint32),
        ("st_nlink", c_uint32), ("st_uid", c_uint32), ("st_gid", c_uint32),
        ("st_rdev", c_uint64), ("pad1", c_uint64), ("st_size", c_int64),
        ("st_blksize", c_int32), ("pad2", c_int32), ("st_blocks", c_int64),
        ("st_atime", c_int64), ("st_atime_nsec", c_uint64),
        ("st_mtime", c_int64), ("st_mtime_nsec", c_uint64),
        ("st_ctime", c_int64), ("st_ctime_nsec", c_uint64),
        ("unused4", c_uint32), ("unused5", c_uint32),
    ]


class StatxTimestamp(LittleEndianStructure):
    _fields_ = [("tv_sec", c_int64), ("tv_nsec", c_uint32), ("reserved", c_int32)]


class Statx(LittleEndianStructure):
    """struct statx (256 bytes)."""

    _fields_ = [
        ("stx_mask", c_uint32), ("stx_blksize", c_uint32), ("stx_attributes", c_uint64),
        ("stx_nlink", c_uint32), ("stx_uid", c_uint32), ("stx_gid", c_uint32),
        ("stx_mode", c_uint16), ("spare0", c_uint16), ("stx_ino", c_uint64),
        ("stx_size", c_uint64), ("stx_blocks", c_uint64), ("stx_attributes_mask", c_uint64),
        ("stx_atime", StatxTimestamp), ("stx_btime", StatxTimestamp),
        ("stx_ctime", StatxTimestamp), ("stx_mtime", StatxTimestamp),
        ("stx_rdev_major", c_uint32), ("stx_rdev_minor", c_uint32),
        ("stx_dev_major", c_uint32), ("stx_dev_minor", c_uint32),
        ("stx_mnt_id", c_uint64), ("stx_dio_mem_align", c_uint32),
        ("stx_dio_offset_align", c_uint32), ("spare3", c_uint64 * 12),
    ]


class Timespec(LittleEndianStructure):
    _fields_ = [("tv_sec", c_int64), ("tv_nsec", c_int64)]


class Timeval(LittleEndianStructure):
    _fields_ = [("tv_sec", c_int64), ("tv_usec", c_int64)]


class Timezone(LittleEndianStructure):
    _fields_ = [("tz_minuteswest", c_int32), ("tz_dsttime", c_int32)]


class Iovec(LittleEndianStructure):
    _fields_ = [("iov_base", c_uint64), ("iov_len", c_uint64)]


class Utsname(LittleEndianStructure):
    _fields_ = [(name, c_char * 65) for name in
                ("sysname", "nodename", "release", "version", "machine", "domainname")]


KERNEL_NCCS = 19


class Termios(LittleEndianStructure):
    """The kernel's asm-generic struct termios (36 bytes), which TCGETS/TCSETS use."""

    _fields_ = [
        ("c_iflag", c_uint32), ("c_oflag", c_uint32), ("c_cflag", c_uint32),
        ("c_lflag", c_uint32), ("c_line", c_uint8), ("c_cc", c_uint8 * KERNEL_NCCS),
    ]


class Rlimit(LittleEndianStructure):
    _fields_ = [("rlim_cur", c_uint64), ("rlim_max", c_uint64)]


class Rusage(LittleEndianStructure):
    _fields_ = [("ru_utime", Timeval), ("ru_stime", Timeval)] + [
        (name, c_int64) for name in (
            "ru_maxrss", "ru_ixrss", "ru_idrss", "ru_isrss", "ru_minflt", "ru_majflt",
            "ru_nswap", "ru_inblock", "ru_oublock", "ru_msgsnd", "ru_msgrcv",
            "ru_nsignals", "ru_nvcsw", "ru_nivcsw")
    ]


class Tms(LittleEndianStructure):
    _fields_ = [(name, c_int64) for name in ("tms_utime", "tms_stime", "tms_cutime", "tms_cstime")]


class Sysinfo(LittleEndianStructure):
    _fields_ = [
        ("uptime", c_int64), ("loads", c_uint64 * 3), ("totalram", c_uint64),
        ("freeram", c_uint64), ("sharedram", c_uint64), ("bufferram", c_uint64),
        ("totalswap", c_uint64), ("freeswap", c_uint64), ("procs", c_uint16),
        ("pad", c_uint16), ("totalhigh", c_uint64), ("freehigh", c_uint64),
        ("mem_unit", c_uint32),
    ]


class SigAction(LittleEndianStructure):
    """The kernel's struct sigaction on riscv64: no sa_restorer, a 64-bit mask."""

    _fields_ = [("sa_handler", c_uint64), ("sa_flags", c_uint64), ("sa_mask", c_uint64)]


class StackT(LittleEndianStructure):
    _fields_ = [("ss_sp", c_uint64), ("ss_flags", c_int32), ("ss_size", c_uint64)]


class _Sender(LittleEndianStructure):
    """si_pid, si_uid and si_value of kill and sigqueue; a POSIX timer's si_tid,
    si_overrun and si_value are in the same places."""

    _fields_ = [("pid", c_int32), ("uid", c_uint32), ("value", c_uint64)]


class _Child(LittleEndianStructure):
    """SIGCHLD's fields, which waitid fills."""

    _fields_ = [("pid", c_int32), ("uid", c_uint32), ("status", c_int32), ("pad", c_int32),
                ("utime", c_int64), ("stime", c_int64)]


class _Details(CUnion):
    _fields_ = [("sender", _Sender), ("child", _Child), ("addr", c_uint64),
                ("raw", c_uint8 * 112)]


class SigInfo(LittleEndianStructure):
    """siginfo_t (128 bytes): si_addr for faults, a child's for SIGCHLD, the sender's
    fields otherwise."""

    _anonymous_ = ("details",)
    _fields_ = [("signo", c_int32), ("errno", c_int32), ("code", c_int32), ("pad", c_int32),
                ("details", _Details)]


