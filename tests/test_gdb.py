"""`mvvm run -g PORT`: gdb-multiarch, in batch mode, drives a guest through MVVM's gdb stub:
it breaks at a function, reads an argument and a local, steps by line and by
instruction, reads registers, and continues to the exit."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import pytest
import toolchain
from toolchain import PROGRAMS

GDB = "gdb-multiarch"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _debug(guest_env, commands: list[str], source: str = "target.c",
           *flags: str) -> tuple[str, bytes, int]:
    """gdb's output, the guest's stdout and its status, with the commands run in batch
    mode against tests/programs/gdb/<source> under `mvvm run -g`."""
    if shutil.which(GDB) is None:
        pytest.fail(f"{GDB} is not installed: scripts/setup installs it", pytrace=False)
    program = toolchain.build(PROGRAMS / "gdb" / source, ("-O0", "-g", "-static", *flags))
    port = _free_port()
    guest = subprocess.Popen([sys.executable, "-m", "mvvm", "run", "-g", str(port),
                              str(program)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=guest_env)
    commands = ["set tcp connect-timeout 60", f"target remote :{port}", *commands]
    try:
        gdb = subprocess.run([GDB, "-nx", "-batch", *(a for c in commands for a in ("-ex", c)),
                              str(program)], capture_output=True, text=True, timeout=120)
        out, _ = guest.communicate(timeout=60)
    finally:
        guest.kill()                        # never left waiting for a gdb after the test
    return gdb.stdout + gdb.stderr, out, guest.returncode


def test_gdb_breaks_reads_steps_and_continues(cross_tools, guest_env):
    said, out, status = _debug(guest_env, [
        "break add_one", "continue", "print v", "next", "print local", "stepi",
        "info registers pc", "print $sp == $x2", "continue"])
    assert "Breakpoint 1, add_one (v=41)" in said, said
    assert "$1 = 41" in said and "$2 = 42" in said and "$3 = 1" in said
    assert "<add_one+" in said                                  # pc after the stepi
    assert "exited normally" in said
    assert (status, out) == (0, b"result 42\n")


def test_gdb_watches_a_variable(cross_tools, guest_env):
    """`watch` (a Z2 write watchpoint): each continue stops after the store that changed
    the global, with its old and new value; `rwatch` (Z3) is refused."""
    said, out, status = _debug(guest_env, [
        "break count", "continue", "watch counter", "continue", "continue", "print i",
        "rwatch counter", "continue", "delete", "continue"])
    assert "Hardware watchpoint 2: counter" in said, said
    assert "Old value = 0\nNew value = 10" in said and "Old value = 10\nNew value = 20" in said
    assert "$1 = 1" in said                         # stopped in the loop's second round
    assert "Could not insert hardware watchpoint 3" in said
    assert "exited normally" in said and (status, out) == (0, b"result 42\n")


def _packet(payload: str) -> bytes:
    return f"${payload}#{sum(payload.encode()) & 0xFF:02x}".encode()


def test_gdb_sees_each_thread(cross_tools, guest_env):
    """A breakpoint that a second thread reaches while the main thread waits for it in
    pthread_join: gdb is told which thread stopped, steps it, lists both (the main one in
    the join), reads each one's frames, and the main thread stops there later in its
    turn."""
    said, out, status = _debug(guest_env, [
        "break work", "continue", "next", "print doubled", "info threads", "print id",
        "thread 1", "bt",
        "continue", "print id", "info threads", "continue"], "threads.c", "-pthread")
    assert "Thread 2 hit Breakpoint 1, work (id=1)" in said, said
    threads = said.split("Id   Target Id", 2)
    assert "* 2    Thread" in threads[1] and "  1    Thread" in threads[1], said
    assert "$1 = 2" in said                         # a step of thread 2, by line
    assert "$2 = 1" in said
    backtrace = said.split("[Switching to thread 1", 1)[1].split("Thread 1 hit", 1)[0]
    assert "main () at" in backtrace, said              # thread 1's frames reach main
    assert "Thread 1 hit Breakpoint 1, work (id=0)" in said and "$3 = 0" in said
    assert "* 1    Thread" in threads[2] and "  2    Thread" not in threads[2]
    assert "exited normally" in said and (status, out) == (0, b"results 1 3\n")


def test_ctrl_c_from_gdb_stops_a_running_guest(cross_tools, guest_env):
    """What gdb sends on Ctrl-C (a 0x03 byte) while the guest spins: it stops with SIGINT
    (stop reply T02, with the thread), and the stub answers again."""
    program = toolchain.build(PROGRAMS / "limits" / "spin.c", ("-O2", "-static"))
    port = _free_port()
    guest = subprocess.Popen([sys.executable, "-m", "mvvm", "run", "-g", str(port),
                              str(program)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=guest_env)
    try:
        _interrupt_and_kill(port)
        out, err = guest.communicate(timeout=60)
    finally:
        guest.kill()                        # never left spinning after the test
    assert (out, guest.returncode) == (b"spinning\n", 128 + 9), err     # killed by gdb's k


def _interrupt_and_kill(port: int) -> None:
    """Continue, Ctrl-C (the T02 reply), read the pc, kill: as gdb would send them."""
    for _ in range(600):
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=30)
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
    with connection:
        connection.sendall(_packet("c"))
        time.sleep(0.5)
        connection.sendall(b"\x03")
        replies = b""
        while b"$T02thread:" not in replies:
            data = connection.recv(4096)
            assert data, replies
            replies += data
        connection.sendall(_packet("p20"))                  # the pc: the stub goes on
        while replies.count(b"#") < 2:
            replies += connection.recv(4096)
        connection.sendall(_packet("k"))
