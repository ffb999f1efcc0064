"""The few /proc/self entries that must describe the guest, not the VM process.

/proc/self/exe names the guest program and /proc/self/maps lists guest
mappings (glibc reads it to find the main thread's stack); everything else
under /proc is the host's.
"""

from __future__ import annotations

import os
import re

from ..runtime.address_space import PROT_EXEC, PROT_READ, PROT_WRITE, Mapping

_SELF = re.compile(rb"/proc/(self|thread-self|\d+)/([^/]+)")


def self_entry(path: bytes, pid: int) -> bytes | None:
    """The entry name if path is /proc/self/NAME (or /proc/PID/NAME for the guest's pid)."""
    match = _SELF.fullmatch(os.path.normpath(path)) if path.startswith(b"/proc/") else None
    if match is None or match[1] not in (b"self", b"thread-self", str(pid).encode()):
        return None
    return match[2]


def maps_text(mappings: list[Mapping]) -> bytes:
    """The guest's mappings in /proc/self/maps format (private, no offsets or inodes)."""
    lines = []
    for m in mappings:
        rights = "".join(flag if m.prot & bit else "-" for flag, bit in
                         (("r", PROT_READ), ("w", PROT_WRITE), ("x", PROT_EXEC)))
        head = f"{m.start:08x}-{m.end:08x} {rights}p 00000000 00:00 0"
        lines.append(f"{head:<72} {m.name}".rstrip() + "\n")
    return "".join(lines).encode()


def memory_file(name: str, content: bytes) -> int:
    """A host fd for an in-memory file holding content, positioned at its start."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def fd_path(host_fd: int) -> str:
    """The host path behind an fd, for naming file mappings; empty if it has none."""
    try:
        return os.readlink(f"/proc/self/fd/{host_fd}")
    except OSError:
        return ""
