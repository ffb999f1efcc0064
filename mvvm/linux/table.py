"""The syscall table: each syscall's number, name, argument kinds and implementation.

An argument kind says both how the raw register becomes the value the
implementation gets (sign extension, reading a path string) and how strace
shows it, so the one declaration drives dispatch and tracing alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from ..errors import GuestFault
from . import abi

if TYPE_CHECKING:
    from .kernel import Kernel

PATH_MAX = 4096


class Arg:
    """The base kind: the raw register as an unsigned 64-bit value (size_t), in decimal."""

    def value(self, k: Kernel, raw: int) -> object:
        return raw

    def show(self, k: Kernel, raw: int) -> str:
        return str(self.value(k, raw))


class Signed(Arg):
    """A C int (32 bits: the kernel ignores the upper half) or long (64 bits)."""

    def __init__(self, bits: int) -> None:
        self.sign = 1 << (bits - 1)
        self.mask = (1 << bits) - 1

    def value(self, k: Kernel, raw: int) -> int:
        return ((raw & self.mask) ^ self.sign) - self.sign


class Unsigned(Arg):
    """An unsigned int (32 bits) or unsigned long (64 bits)."""

    def __init__(self, bits: int) -> None:
        self.mask = (1 << bits) - 1

    def value(self, k: Kernel, raw: int) -> int:
        return raw & self.mask


class Hex(Unsigned):
    """A value best read in hex: flags without a table, masks, untyped fcntl arguments."""

    def show(self, k: Kernel, raw: int) -> str:
        return hex(self.value(k, raw))


class Pointer(Arg):
    def show(self, k: Kernel, raw: int) -> str:
        return hex(raw) if raw else "NULL"


class DirFd(Signed):
    def __init__(self) -> None:
        super().__init__(32)

    def show(self, k: Kernel, raw: int) -> str:
        value = self.value(k, raw)
        return "AT_FDCWD" if value == abi.AT_FDCWD else str(value)


class Path(Arg):
    """A NUL-terminated string; the implementation gets its bytes (EFAULT if unreadable)."""

    def value(self, k: Kernel, raw: int) -> bytes:
        return k.load_cstring(raw, PATH_MAX)

    def show(self, k: Kernel, raw: int) -> str:
        try:
            return quote(self.value(k, raw))
        except (GuestFault, OSError):
            return PTR.show(k, raw)


class OptionalPath(Path):
    """A path that may be NULL (utimensat's futimens form): the implementation gets None."""

    def value(self, k: Kernel, raw: int) -> bytes | None:
        return super().value(k, raw) if raw else None

    def show(self, k: Kernel, raw: int) -> str:
        return super().show(k, raw) if raw else "NULL"


class StringList(Arg):
    """A NULL-terminated array of string pointers (execve's argv and envp), shown quoted."""

    def value(self, k: Kernel, raw: int) -> list[bytes]:
        return k.load_strings(raw)

    def show(self, k: Kernel, raw: int) -> str:
        try:
            return "[" + ",".join(quote(s) for s in self.value(k, raw)) + "]"
        except (GuestFault, OSError):
            return PTR.show(k, raw)


class SockAddr(Pointer):
    """A struct sockaddr, decoded for strace as qemu does (family, then the address)."""

    def show(self, k: Kernel, raw: int) -> str:
        try:
            return sockaddr_text(k.load(raw, 2) + k.load(raw + 2, 26)) if raw else "NULL"
        except (GuestFault, OSError):
            return super().show(k, raw)


def sockaddr_text(data: bytes) -> str:
    """{sin_family=AF_INET,sin_port=htons(80),sin_addr=inet_addr("127.0.0.1")}, as qemu."""
    family = int.from_bytes(data[:2], "little")
    if family == abi.AF_INET and len(data) >= 8:
        addr = ".".join(str(b) for b in data[4:8])
        port = int.from_bytes(data[2:4], "big")
        return f'{{sin_family=AF_INET,sin_port=htons({port}),sin_addr=inet_addr("{addr}")}}'
    if family == abi.AF_INET6 and len(data) >= 24:
        port = int.from_bytes(data[2:4], "big")
        return f"{{sin6_family=AF_INET6,sin6_port=htons({port}),sin6_addr={data[8:24].hex()}}}"
    if family == abi.AF_UNIX:
        path = data[2:].split(b"\0")[0]
        return f"{{sun_family=AF_UNIX,sun_path={quote(path)}}}"
    return f"{{sa_family={family}}}"


class Mode(Unsigned):
    def __init__(self) -> None:
        super().__init__(32)

    def show(self, k: Kernel, raw: int) -> str:
        value = self.value(k, raw)
        return f"0{value:o}" if value else "0"


class Flags(Unsigned):
    def __init__(self, flags: abi.FlagSet) -> None:
        super().__init__(32)
        self.flags = flags

    def show(self, k: Kernel, raw: int) -> str:
        return self.flags.show(self.value(k, raw))


class Choice(Signed):
    """A C int chosen from named values (clock ids, whence, ioctl requests...).

    Unnamed values show in decimal, or in hex where hex is how they are written
    (ioctl requests).
    """

    def __init__(self, names: dict[int, str], *, hex_fallback: bool = False) -> None:
        super().__init__(32)
        self.names = names
        self.hex_fallback = hex_fallback

    def show(self, k: Kernel, raw: int) -> str:
        value = self.value(k, raw)
        if value in self.names:
            return self.names[value]
        return hex(raw & self.mask) if self.hex_fallback else str(value)


def quote(data: bytes) -> str:
    """A C-style quoted string, as strace prints paths."""
    escapes = {0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x09: "\\t"}
    body = "".join(escapes.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}")
                   for b in data)
    return f'"{body}"'


SIZE = Arg()
INT = Signed(32)
LONG = Signed(64)
HEX = Hex(32)
LONG_HEX = Hex(64)
PTR = Pointer()
FD = INT
DIRFD = DirFd()
PATH = Path()
OPT_PATH = OptionalPath()
STRINGS = StringList()
SOCKADDR = SockAddr()
AT_FLAGS = Flags(abi.AT_FLAGS)
DOMAIN = Choice(abi.DOMAINS)
SOCK_TYPE = Flags(abi.SOCK_TYPES)
SOCKET_LEVEL = Choice(abi.SOCKET_LEVELS)
SHUTDOWN_HOW = Choice(abi.SHUTDOWN_HOW)
MSG_FLAGS = Flags(abi.MSG_FLAGS)
CLONE_FLAGS = Flags(abi.CLONE_FLAGS)
WAIT_FLAGS = Flags(abi.WAIT_FLAGS)
MODE = Mode()
OPEN_FLAGS = Flags(abi.OPEN_FLAGS)
PROT = Flags(abi.PROT_FLAGS)
MAP_FLAGS = Flags(abi.MAP_FLAGS)
CLOCK = Choice(abi.CLOCKS)
WHENCE = Choice(abi.WHENCE)
FCNTL_CMD = Choice(abi.FCNTL_CMDS)
RESOURCE = Choice(abi.RLIMITS)
SIGNAL = Choice(abi.SIGNALS)
SIGMASK_HOW = Choice(abi.SIGMASK_HOW)
IOCTL = Choice(abi.IOCTLS, hex_fallback=True)


class Syscall:
    """One table entry. impl takes the kernel, then the decoded arguments, and returns a0."""

    __slots__ = ("nr", "name", "args", "impl", "hex_result", "decoders")

    def __init__(self, nr: int, name: str, args: tuple[Arg, ...], impl: Callable[..., int],
                 hex_result: bool = False) -> None:
        self.nr = nr
        self.name = name
        self.args = args
        self.impl = impl
        self.hex_result = hex_result
        self.decoders: tuple[Callable[[Kernel, int], object], ...] = tuple(
            kind.value for kind in args)

    def decode(self, k: Kernel, regs: tuple[int, ...]) -> list[object] | tuple[()]:
        """The implementation's arguments from a0..a5 (only as many as it declares).
        Written for speed: this runs on every syscall (about 0.3 us here, not 0.7)."""
        if not self.decoders:
            return ()
        return [decode(k, regs[i]) for i, decode in enumerate(self.decoders)]

    def show(self, k: Kernel, regs: tuple[int, ...]) -> list[str]:
        return [kind.show(k, raw) for kind, raw in zip(self.args, regs, strict=False)]


Impl = TypeVar("Impl", bound=Callable[..., int])


class SyscallSet:
    """Collects a module's syscalls: `@syscalls(nr, *arg_kinds)` on a `sys_<name>` function."""

    def __init__(self) -> None:
        self.entries: list[Syscall] = []

    def __call__(self, nr: int, *args: Arg, hex_result: bool = False) -> Callable[[Impl], Impl]:
        def register(impl: Impl) -> Impl:
            name = impl.__name__.removeprefix("sys_")
            self.entries.append(Syscall(nr, name, args, impl, hex_result))
            return impl
        return register


def build_table(sets: Iterable[SyscallSet]) -> dict[int, Syscall]:
    """Merge syscall sets by number; a number claimed twice is a bug in this package."""
    table: dict[int, Syscall] = {}
    for entry in (e for s in sets for e in s.entries):
        if entry.nr in table:
            raise ValueError(f"syscall {entry.nr} declared twice: {entry.name}")
        table[entry.nr] = entry
    return table
