"""Syscall implementations, one module per concern, merged into one table by number."""

from ..table import build_table
from . import clocks, events, files, futex, memory, names, net, process, signals, tasks

MODULES = (clocks, events, files, futex, memory, names, net, process, signals, tasks)
TABLE = build_table(m.syscalls for m in MODULES)
