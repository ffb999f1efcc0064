"""Programs that die of a signal, and files that are not riscv64 programs at all.

A guest killed by signal N must end MVVM with status 128+N, as qemu-riscv64 does, after
the output it wrote before the fault.  The messages differ (qemu 7.2 prints nothing at all
for a fatal signal), so of MVVM's stderr we ask only that it be one line, with no Python
traceback, for a signal that would dump core, and nothing for one that only terminates
(SIGPIPE: `mvvm run prog | head -1`).  A file MVVM cannot load must end it with status 1
and a one-line message; qemu refuses those files too but with status 1 or 255 depending on
the case, and prints its message to stdout, where it is lost when stdout is not a terminal.
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import pytest
import toolchain
from toolchain import PROGRAMS

from mvvm.cli import CORE_SIGNALS
from mvvm.elf.loader import ElfError, ElfImage, load_bias, map_image, opened_image, read_image
from mvvm.runtime.image import Image

FAULTS = PROGRAMS / "faults"

SIGSEGV, SIGILL, SIGTRAP, SIGABRT, SIGPIPE = 11, 4, 5, 6, 13

SIGNALLED = {
    "null_load": 128 + SIGSEGV,
    "null_store": 128 + SIGSEGV,
    "past_the_top": 128 + SIGSEGV,
    "wild_jump": 128 + SIGSEGV,
    "illegal_zero": 128 + SIGILL,
    "illegal_custom": 128 + SIGILL,
    "ebreak": 128 + SIGTRAP,
    "abort": 128 + SIGABRT,
    "broken_pipe": 128 + SIGPIPE,
}


def assert_one_line(stderr: bytes) -> None:
    text = stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in text, f"MVVM printed a Python traceback:\n{text}"
    lines = text.splitlines()
    assert len(lines) == 1 and lines[0].strip() and text.endswith("\n"), (
        f"MVVM's stderr should be one non-empty line ending in a newline, got {stderr!r}")


def assert_death_report(stderr: bytes, status: int) -> None:
    """What MVVM says when the guest dies of signal status - 128: one line for a signal
    that dumps core, nothing for one that only terminates (as Linux and qemu)."""
    if status - 128 in CORE_SIGNALS:
        assert_one_line(stderr)
    else:
        assert stderr == b"", f"a death by signal {status - 128} is silent, got {stderr!r}"


def fault_source(name: str) -> Path:
    (source,) = [p for p in (FAULTS / f"{name}.c", FAULTS / f"{name}.S") if p.exists()]
    return source


@pytest.mark.parametrize("name", sorted(SIGNALLED))
def test_fatal_signal(name, build_program, guest_env):
    binary = build_program(fault_source(name), "O2")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == SIGNALLED[name], f"qemu ended with {qemu.status}: {qemu}"
    assert qemu.stdout.startswith(b"about to "), qemu
    mvvm = toolchain.run_mvvm(binary, env=guest_env)
    assert mvvm.status == qemu.status, (
        f"exit status: qemu {qemu.status}, mvvm {mvvm.status}; mvvm stderr {mvvm.stderr!r}")
    assert mvvm.stdout == qemu.stdout, "the output written before the fault must be kept"
    assert_death_report(mvvm.stderr, mvvm.status)


@pytest.mark.parametrize("tier", ["0", "1"])
def test_an_offset_past_the_top_faults_in_either_tier(tier, build_program, guest_env):
    """The bounds check looks at the base register alone; the guard pages past the guest
    memory catch its offset, in the interpreter and in translated code alike."""
    binary = build_program(fault_source("past_the_top"), "O2")
    mvvm = toolchain.run_mvvm(binary, options=["--tier", tier], env=guest_env)
    assert mvvm.status == 128 + SIGSEGV, mvvm
    assert_death_report(mvvm.stderr, mvvm.status)


def _not_elf(tmp_path: Path, build_program) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("This is a text file, not a program.\n")
    return path


def _empty(tmp_path: Path, build_program) -> Path:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    return path


def _truncated(tmp_path: Path, build_program) -> Path:
    whole = build_program(PROGRAMS / "hello.S", "O2").read_bytes()
    path = tmp_path / "truncated"
    path.write_bytes(whole[:100])  # the ELF header and part of the first program header
    return path


def _rv32(tmp_path: Path, build_program) -> Path:
    return toolchain.build(FAULTS / "rv32.S",
                           ("-march=rv32imac", "-mabi=ilp32", "-nostdlib", "-static"))


def _host_elf(tmp_path: Path, build_program) -> Path:
    true = shutil.which("true") or "/bin/true"
    return Path(os.path.realpath(true))  # an ELF for the host's machine (x86-64, say)


LOADER = b"/lib/ld-linux-riscv64-lp64d.so.1\0"


def _with_interpreter(tmp_path: Path, name: str, interpreter: bytes) -> Path:
    """A dynamically linked program whose PT_INTERP string is replaced (same length)."""
    whole = toolchain.build(PROGRAMS / "float.c", ("-O2",)).read_bytes()
    assert whole.count(LOADER) == 1 and len(interpreter) == len(LOADER)
    path = tmp_path / name
    path.write_bytes(whole.replace(LOADER, interpreter))
    return path


def _nul_in_interpreter(tmp_path: Path, build_program) -> Path:
    return _with_interpreter(tmp_path, "nul-in-interp", b"/lib/ld-linux\0riscv64-lp64d.so.1\0")


def _unterminated_interpreter(tmp_path: Path, build_program) -> Path:
    return _with_interpreter(tmp_path, "unterminated-interp", LOADER[:-1] + b"x")


def _missing(tmp_path: Path, build_program) -> Path:
    return tmp_path / "no-such-program"


def _directory(tmp_path: Path, build_program) -> Path:
    path = tmp_path / "a-directory"
    path.mkdir()
    return path


BAD_FILES = {
    "not_elf": _not_elf,
    "empty": _empty,
    "truncated": _truncated,
    "rv32": _rv32,
    "host_elf": _host_elf,
    "missing": _missing,
    "nul_in_interpreter": _nul_in_interpreter,
    "unterminated_interpreter": _unterminated_interpreter,
    "directory": _directory,
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_unloadable_file(case, tmp_path, build_program, guest_env):
    path = BAD_FILES[case](tmp_path, build_program)
    if path.exists() and path.is_file() and path.parent == tmp_path:
        path.chmod(0o755)  # refused for its contents, not for a missing x bit
    qemu = toolchain.run_qemu(path, env=guest_env)
    assert qemu.status != 0, f"qemu ran {case} without complaint: {qemu}"
    mvvm = toolchain.run_mvvm(path, env=guest_env)
    assert mvvm.status == 1, f"MVVM ended with {mvvm.status}, not 1: {mvvm}"
    assert mvvm.stdout == b""
    assert_one_line(mvvm.stderr)


def test_program_headers_outside_every_segment(tmp_path, build_program, guest_env,
                                               assert_same_as_qemu):
    """Linux loads a file whose program headers lie outside every PT_LOAD (AT_PHDR is then
    the load bias, 0 here): the headers moved to the end of the file, e_phoff with them."""
    whole = bytearray(build_program(PROGRAMS / "startup.S", "O2").read_bytes())
    phoff, = struct.unpack_from("<Q", whole, 32)
    phnum, = struct.unpack_from("<H", whole, 56)
    headers = whole[phoff:phoff + 56 * phnum]
    struct.pack_into("<Q", whole, 32, len(whole))
    path = tmp_path / "phdrs-at-the-end"
    path.write_bytes(whole + headers)
    path.chmod(0o755)
    assert ElfImage.parse(bytes(whole + headers)).phdr_vaddr() == 0
    qemu = toolchain.run_qemu(path, ["a", "b"], env=guest_env)
    assert qemu.status == 3                             # argc: it ran
    # qemu 7.2 says load address + e_phoff, an address in the image that holds no headers;
    # Linux (since 5.18, "Fix AT_PHDR for unusual ELF files") says 0: MVVM does as Linux.
    inside = b"AT_PHDR inside the image: "
    linux = replace(qemu, stdout=qemu.stdout.replace(inside + b"1", inside + b"0"))
    assert_same_as_qemu(linux, toolchain.run_mvvm(path, ["a", "b"], env=guest_env))


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "a-fifo"
    os.mkfifo(path)
    return path


def _link_to_dev_zero(tmp_path: Path) -> Path:
    path = tmp_path / "zeros"
    path.symlink_to("/dev/zero")
    return path


def _dev_zero_interpreter(tmp_path: Path) -> Path:
    name = b"/dev/zero\0"
    filler = b"x" * (len(LOADER) - len(name) - 1)
    return _with_interpreter(tmp_path, "zero-interp", name + filler + b"\0")


ENDLESS = {"dev_zero": lambda tmp_path: Path("/dev/zero"), "fifo": _fifo,
           "link_to_dev_zero": _link_to_dev_zero, "dev_zero_interpreter": _dev_zero_interpreter}


@pytest.mark.parametrize("case", list(ENDLESS))
def test_input_that_never_ends(case, tmp_path, cross_tools, guest_env):
    """Not a regular file, as the program or its PT_INTERP: refused (EACCES, as execve does)
    at once, in one line, where reading it would never end (qemu hangs on the FIFO)."""
    mvvm = toolchain.run_mvvm(ENDLESS[case](tmp_path), env=guest_env, timeout=30)
    assert (mvvm.status, mvvm.stdout) == (1, b"")
    assert_one_line(mvvm.stderr)
    assert b"Permission denied" in mvvm.stderr


def test_loaded_from_the_file_as_from_its_bytes(build_program):
    """The loader reads a program's segments from its file into guest memory (only the
    headers are read first, `opened_image`); the memory is what copying the whole file's
    bytes gives, the zero-filled ends of segments included."""
    path = str(build_program(PROGRAMS / "float.c", "O2"))
    memories = []
    for whole in (True, False):
        image = Image()
        if whole:
            elf = read_image(path)
            map_image(elf, image.memory, image.space, load_bias(elf), path)
        else:
            with opened_image(path) as elf:
                map_image(elf, image.memory, image.space, load_bias(elf), path)
        bias = load_bias(elf)
        memories.append([image.memory.read(s.vaddr + bias, s.memsz) for s in elf.segments])
    assert memories[0] == memories[1] and len(memories[0]) >= 2


def test_a_file_cut_short_while_loading_is_an_elf_error(build_program, monkeypatch):
    """Its headers promised more than the file then held (another process truncated it):
    a clear error, not a program with zeros for code."""
    path = str(build_program(PROGRAMS / "float.c", "O2"))
    image = Image()
    monkeypatch.setattr(image.memory, "read_file", lambda addr, size, fd, offset: size - 1)
    with opened_image(path) as elf, pytest.raises(ElfError, match="cut short"):
        map_image(elf, image.memory, image.space, load_bias(elf), path)
