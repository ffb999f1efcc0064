"""Syscall implementations, one module per concern, merged into one table by number."""

from ..table import build_table
from . import clocks, files, memory, process, signals

TABLE = build_table(m.syscalls for m in (clocks, files, memory, process, signals))
