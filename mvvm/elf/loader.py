"""Loading a riscv64 Linux ELF image and building its initial stack, as Linux's binfmt_elf does.

A dynamically linked program (PT_INTERP) gets its loader mapped too, where mmap
would put it, and starts there with AT_BASE naming it, as on Linux; the loader's
path is looked up by the caller's resolver (the sysroot, or the confined tree).
Segments are copied into guest memory, not mapped: from the program's file straight
into it (`opened_image`), or from the bytes a caller read; the stack layout follows
the Linux riscv64 ABI: sp -> argc, argv[], NULL, envp[], NULL, auxv pairs,
AT_NULL, then the strings and AT_RANDOM's bytes higher up; sp 16-aligned.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import NamedTuple

from mvvm.runtime import layout
from mvvm.runtime.address_space import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace, page_up
from mvvm.runtime.memory import GuestMemory

PAGE = 0x1000
EM_RISCV = 243
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
PF_X, PF_W, PF_R = 1, 2, 4
PATH_MAX = 4096             # the longest PT_INTERP Linux takes

AT = {"NULL": 0, "PHDR": 3, "PHENT": 4, "PHNUM": 5, "PAGESZ": 6, "BASE": 7, "FLAGS": 8,
      "ENTRY": 9, "UID": 11, "EUID": 12, "GID": 13, "EGID": 14, "PLATFORM": 15, "HWCAP": 16,
      "CLKTCK": 17, "SECURE": 23, "RANDOM": 25, "EXECFN": 31}
# AT_HWCAP: one bit per single-letter extension ('a' is bit 0): RV64IMAFDC.
HWCAP = sum(1 << (ord(ext) - ord("a")) for ext in "imafdc")


class ElfError(Exception):
    """The file is not a riscv64 ELF program we can load; the message is for the user."""


class LoaderMissing(ElfError):
    """The program's dynamic loader (PT_INTERP) cannot be read; the caller says where it
    looked."""


class Segment(NamedTuple):
    vaddr: int
    offset: int
    filesz: int
    memsz: int
    flags: int


def _interpreter(raw: bytes) -> str:
    """The PT_INTERP path: a C string, which Linux requires to end the segment (else
    ENOEXEC); a NUL before that ends it early, as it does for the kernel."""
    if not 2 <= len(raw) <= PATH_MAX or not raw.endswith(b"\0"):
        raise ElfError("Invalid ELF image for this architecture")
    return raw.split(b"\0", 1)[0].decode(errors="replace")


Reader = Callable[[int, int], bytes]    # (offset, size) -> the file's bytes there


class ElfImage(NamedTuple):
    """A parsed ELF file: what the loader needs of its headers."""

    data: bytes             # the whole file; empty if read from `fd`
    type: int
    entry: int
    phoff: int
    phnum: int
    segments: tuple[Segment, ...]
    interpreter: str | None
    fd: int = -1            # the open file its segments are read from (`opened_image`)

    @classmethod
    def parse(cls, data: bytes) -> ElfImage:
        """The ELF file whose bytes are data."""
        return cls.read(lambda offset, size: data[offset:offset + size], len(data), data)

    @classmethod
    def read(cls, read: Reader, length: int, data: bytes = b"", fd: int = -1) -> ElfImage:
        """The ELF file of length bytes that read reads, looking only at its headers."""
        head = read(0, 64)
        if len(head) < 64 or head[:4] != b"\x7fELF":
            raise ElfError("Invalid ELF image for this architecture")
        ei_class, ei_data = head[4], head[5]
        e_type, machine = struct.unpack_from("<HH", head, 16)
        if ei_class != 2 or ei_data != 1 or machine != EM_RISCV or e_type not in (ET_EXEC, ET_DYN):
            raise ElfError("Invalid ELF image for this architecture")
        entry, phoff = struct.unpack_from("<QQ", head, 24)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        if phentsize != 56 or phoff + phnum * 56 > length:
            raise ElfError("Invalid ELF image for this architecture")
        headers = read(phoff, phnum * 56)
        segments, interpreter = [], None
        for i in range(phnum):
            p_type, flags, offset, vaddr, _, filesz, memsz = struct.unpack_from(
                "<IIQQQQQ", headers, i * 56)
            if p_type == PT_LOAD:
                if offset + filesz > length or filesz > memsz:
                    raise ElfError("Invalid ELF image for this architecture")
                segments.append(Segment(vaddr, offset, filesz, memsz, flags))
            elif p_type == PT_INTERP:
                interpreter = _interpreter(read(offset, min(filesz, PATH_MAX + 1)))
        if not segments:
            raise ElfError("Invalid ELF image for this architecture")
        return cls(data, e_type, entry, phoff, phnum, tuple(segments), interpreter, fd)

    def span(self) -> tuple[int, int]:
        """Lowest page and highest end of the loadable segments (unbiased)."""
        low = min(s.vaddr for s in self.segments) & ~(PAGE - 1)
        high = max(s.vaddr + s.memsz for s in self.segments)
        return low, high

    def phdr_vaddr(self) -> int:
        """Where the program headers are in memory (unbiased), for AT_PHDR, as Linux's
        load_elf_binary finds them: in the PT_LOAD whose file bytes hold them, else 0 (a
        file may keep them outside every segment; then the program cannot read them)."""
        for s in self.segments:
            if s.offset <= self.phoff < s.offset + s.filesz:
                return s.vaddr + self.phoff - s.offset
        return 0


def read_image(path: str) -> ElfImage:
    """The ELF file at path, all of it read (for those that look past the headers)."""
    with _open(path) as fd, open(fd, "rb", closefd=False) as file:
        return ElfImage.parse(file.read())


@contextmanager
def opened_image(path: str) -> Iterator[ElfImage]:
    """The ELF file at path with only its headers read, while open: `map_image` reads its
    segments from the file straight into guest memory. Read whole, then copied, ruff's
    21 MB took 64 ms to load, and cmake's 14 MB 28 ms; read in place, 12 and 8."""
    with _open(path) as fd:
        yield ElfImage.read(lambda offset, size: os.pread(fd, size, offset),
                            os.fstat(fd).st_size, fd=fd)


@contextmanager
def _open(path: str) -> Iterator[int]:
    """A descriptor of the file at path. Only a regular file, as execve has it (EACCES
    otherwise): a FIFO or /dev/zero would never end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise ElfError(f"Could not open '{path}': {error.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ElfError(f"Could not open '{path}': {os.strerror(errno.EACCES)}")
        yield fd
    finally:
        os.close(fd)


def _prot(flags: int) -> int:
    return ((PROT_READ if flags & PF_R else 0) | (PROT_WRITE if flags & PF_W else 0)
            | (PROT_EXEC if flags & PF_X else 0))


def map_image(image: ElfImage, memory: GuestMemory, space: AddressSpace, bias: int,
              name: str) -> int:
    """Copy every PT_LOAD segment to its biased address; returns the page-aligned end."""
    end = 0
    for s in image.segments:
        start = (s.vaddr + bias) & ~(PAGE - 1)
        stop = (s.vaddr + bias + s.memsz + PAGE - 1) & ~(PAGE - 1)
        if start < memory.base or stop > layout.MMAP_TOP:
            raise ElfError(f"segment at {s.vaddr + bias:#x} is outside the guest address space")
        space.map(start, stop - start, _prot(s.flags), fixed=True, name=name)
        if image.fd < 0:
            memory.write(s.vaddr + bias, image.data[s.offset:s.offset + s.filesz])
        elif memory.read_file(s.vaddr + bias, s.filesz, image.fd, s.offset) < s.filesz:
            raise ElfError(f"{name}: the file was cut short while it loaded")
        end = max(end, stop)
    return end


def load_bias(image: ElfImage) -> int:
    """ET_EXEC loads where it says; a position-independent image goes to PIE_BASE."""
    return 0 if image.type == ET_EXEC else layout.PIE_BASE - image.span()[0]


def map_interpreter(image: ElfImage, memory: GuestMemory, space: AddressSpace,
                    name: str) -> int:
    """Map the dynamic loader where mmap places a new mapping; returns its bias.

    The whole span is reserved first (PROT_NONE), so the holes between segments stay
    reserved as Linux's loader leaves them.
    """
    if image.type != ET_DYN:
        raise ElfError(f"{name}: the program interpreter is not position-independent")
    low, high = image.span()
    base = space.map(0, high - low, 0, name=name)
    bias = base - low
    map_image(image, memory, space, bias, name)
    return bias


class Process(NamedTuple):
    """Where a loaded program starts: entry pc and stack pointer."""

    entry: int
    sp: int
    brk: int
    bias: int               # where the program's own addresses are, less its link-time ones


Resolver = Callable[[str], str]        # a guest path -> the host path to read it from


def load_program(path: str, argv: list[str] | list[bytes], envp: list[str] | list[bytes],
                 memory: GuestMemory, space: AddressSpace, *,
                 resolve: Resolver = os.fspath, execfn: str | None = None,
                 data: bytes | None = None, stack_size: int = layout.STACK_SIZE) -> Process:
    """Load the program at host path (and its PT_INTERP, found by resolve) and build its
    stack of stack_size bytes (rounded up to pages, at least layout.STACK_LEAST, as qemu's
    -s); execfn is the name the program was started by (AT_EXECFN), path by default.
    data: the program's bytes, if the caller read them already (from a descriptor)."""
    with ExitStack() as files:              # the program's and its loader's, while loading
        image = ElfImage.parse(data) if data is not None else files.enter_context(
            opened_image(path))
        bias = load_bias(image)
        stack_bottom = layout.STACK_TOP - max(page_up(stack_size), layout.STACK_LEAST)
        space.mmap_top = min(space.mmap_top, stack_bottom - layout.STACK_GAP)  # ld.so: below
        end = map_image(image, memory, space, bias, os.path.abspath(path))
        if end > space.mmap_top:
            raise ElfError(f"a stack of {stack_size} bytes does not fit above the program")
        space.set_brk(end)
        entry = start = image.entry + bias
        interp_base = 0
        if image.interpreter is not None:
            interp_path = resolve(image.interpreter)
            try:
                interp = files.enter_context(opened_image(interp_path))
            except ElfError as error:
                raise LoaderMissing(f"its dynamic loader {image.interpreter}: {error}") from None
            interp_base = map_interpreter(interp, memory, space, image.interpreter)
            start = interp.entry + interp_base
    auxv = {
        "PHDR": image.phdr_vaddr() + bias, "PHENT": 56, "PHNUM": image.phnum, "PAGESZ": PAGE,
        "BASE": interp_base, "FLAGS": 0, "ENTRY": entry, "UID": os.getuid(),
        "EUID": os.geteuid(), "GID": os.getgid(), "EGID": os.getegid(), "SECURE": 0,
        "HWCAP": HWCAP, "CLKTCK": 100,
    }
    sp = build_stack(memory, space, argv, envp, auxv, execfn=execfn or path,
                     bottom=stack_bottom)
    return Process(start, sp, end, bias)


def build_stack(memory: GuestMemory, space: AddressSpace, argv: list[str] | list[bytes],
                envp: list[str] | list[bytes], auxv: dict[str, int], execfn: str,
                bottom: int) -> int:
    space.map(bottom, layout.STACK_TOP - bottom, PROT_READ | PROT_WRITE, fixed=True,
              name="[stack]")
    top = layout.STACK_TOP

    def push_bytes(data: bytes) -> int:
        nonlocal top
        top -= len(data)
        memory.write(top, data)
        return top

    execfn_addr = push_bytes(os.fsencode(execfn) + b"\0")
    env_addrs = [push_bytes(os.fsencode(s) + b"\0") for s in reversed(envp)][::-1]
    arg_addrs = [push_bytes(os.fsencode(s) + b"\0") for s in reversed(argv)][::-1]
    platform = push_bytes(b"riscv64\0")
    random_addr = push_bytes(os.urandom(16))
    vector = {**auxv, "RANDOM": random_addr, "EXECFN": execfn_addr, "PLATFORM": platform}
    words = [len(argv), *arg_addrs, 0, *env_addrs, 0]
    for key, value in vector.items():
        words += [AT[key], value]
    words += [AT["NULL"], 0]
    sp = (top - 8 * len(words)) & ~15
    memory.write(sp, struct.pack(f"<{len(words)}Q", *words))
    return sp
