"""qemu -strace style trace lines: `PID name(arg,arg) = result`.

A line is written whole after the call returns (and flushed), so guest output
on the same terminal never splits it.
"""

from __future__ import annotations

import errno
import os
from typing import TextIO

MAX_ERRNO = 4095


class Tracer:
    def __init__(self, stream: TextIO, pid: int) -> None:
        self.stream = stream
        self.pid = pid

    def returned(self, name: str, args: list[str], result: int, hex_result: bool) -> None:
        self._line(f"{name}({','.join(args)}) = {format_result(result, hex_result)}")

    def exiting(self, name: str, args: list[str]) -> None:
        """A call that does not return (exit, a fatal signal): no result, as qemu prints it."""
        self._line(f"{name}({','.join(args)})")

    def unknown(self, nr: int) -> None:
        self._line(f"Unknown syscall {nr} = {format_result(-errno.ENOSYS, False)}")

    def _line(self, text: str) -> None:
        self.stream.write(f"{self.pid} {text}\n")
        self.stream.flush()


def format_result(result: int, hex_result: bool) -> str:
    if -MAX_ERRNO <= result < 0:
        return f"-1 errno={-result} ({os.strerror(-result)})"
    return hex(result) if hex_result else str(result)
