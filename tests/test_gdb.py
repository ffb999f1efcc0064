"""`mvvm run -g PORT`: gdb-multiarch, in batch mode, drives a guest through MVVM's gdb stub:
it breaks at a function, reads an argument and a local, steps by line and by
instruction, reads registers, and continues to the exit."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest
import toolchain
from toolchain import PROGRAMS

GDB = "gdb-multiarch"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gdb_breaks_reads_steps_and_continues(cross_tools, guest_env):
    if shutil.which(GDB) is None:
        pytest.fail(f"{GDB} is not installed: scripts/setup installs it", pytrace=False)
    program = toolchain.build(PROGRAMS / "gdb" / "target.c", ("-O0", "-g", "-static"))
    port = _free_port()
    guest = subprocess.Popen([sys.executable, "-m", "mvvm", "run", "-g", str(port),
                              str(program)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=guest_env)
    commands = ["set tcp connect-timeout 60", f"target remote :{port}", "break add_one",
                "continue", "print v", "next", "print local", "stepi", "info registers pc",
                "print $sp == $x2", "continue"]
    gdb = subprocess.run([GDB, "-nx", "-batch", *(a for c in commands for a in ("-ex", c)),
                          str(program)], capture_output=True, text=True, timeout=120)
    out, err = guest.communicate(timeout=60)
    assert "Breakpoint 1, add_one (v=41)" in gdb.stdout, gdb.stdout + gdb.stderr
    assert "$1 = 41" in gdb.stdout and "$2 = 42" in gdb.stdout and "$3 = 1" in gdb.stdout
    assert "<add_one+" in gdb.stdout                            # pc after the stepi
    assert "exited normally" in gdb.stdout
    assert (guest.returncode, out) == (0, b"result 42\n")
