"""`mvvm run -g PORT`: a GDB remote-protocol stub, as qemu-user's -g gives one.

The guest waits before its first instruction for gdb to connect (`target remote :PORT`),
then runs only as gdb says. It runs in tier 0, where the register file is exact after
every instruction: a single step is a run with an instruction budget of one
(VM.set_budget), and a breakpoint is the `ebreak` gdb writes into guest memory (this stub
offers no Z0/Z1 packets, so gdb inserts and removes them itself), whose SIGTRAP stops the
run. A write watchpoint (Z2, gdb's `watch`) makes `continue` a run of single steps that
stops after the instruction that changed a watched byte, as a hardware watchpoint would;
read and access watchpoints (Z3, Z4) are refused, which gdb reports. Registers are
x0-x31, pc, f0-f31 and the FP CSRs, described to gdb by the standard riscv64 features.
Each guest thread is a gdb thread (`GdbStub` says how they stop together).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import threading
from collections.abc import Callable

from mvvm.errors import BudgetSpent, GuestExit, GuestSignal, ThreadExit
from mvvm.linux.kernel import Kernel
from mvvm.linux.process import Killed, Process
from mvvm.runtime.precise import Fault

PC = 32
REGISTERS = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1",
             *(f"a{i}" for i in range(8)), *(f"s{i}" for i in range(2, 12)),
             *(f"t{i}" for i in range(3, 7)), "pc"]
POINTERS = {"ra": "code_ptr", "pc": "code_ptr", "sp": "data_ptr", "gp": "data_ptr",
            "tp": "data_ptr", "fp": "data_ptr"}
FP_REGISTERS = [*(f"ft{i}" for i in range(8)), "fs0", "fs1", *(f"fa{i}" for i in range(8)),
                *(f"fs{i}" for i in range(2, 12)), *(f"ft{i}" for i in range(8, 12))]
F0, FFLAGS, FRM, FCSR = 33, 66, 67, 68          # gdb's numbers (65 is left out, as there)
TARGET_XML = (
    '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">'
    '\n<architecture>riscv:rv64</architecture>\n<feature name="org.gnu.gdb.riscv.cpu">\n'
    + "".join(f'<reg name="{name}" bitsize="64" type="{POINTERS.get(name, "int")}" '
              f'regnum="{n}"/>\n' for n, name in enumerate(REGISTERS))
    + '</feature>\n<feature name="org.gnu.gdb.riscv.fpu">\n<union id="riscv_double">'
    '<field name="float" type="ieee_single"/><field name="double" type="ieee_double"/>'
    '</union>\n'
    + "".join(f'<reg name="{name}" bitsize="64" type="riscv_double" regnum="{F0 + n}"/>\n'
              for n, name in enumerate(FP_REGISTERS))
    + "".join(f'<reg name="{name}" bitsize="32" type="int" regnum="{n}"/>\n'
              for n, name in ((FFLAGS, "fflags"), (FRM, "frm"), (FCSR, "fcsr")))
    + "</feature>\n</target>\n")


class _Paused(Exception):  # noqa: N818 - a control transfer, not an error
    """gdb has the guest stopped: a running thread waits at its next safe point."""


STOPPED, CONTINUE, STEP, DETACHED = range(4)    # what the guest's threads may do


class GdbStub:
    """One gdb connection driving one guest process, all-stop: gdb sees every guest thread
    (qfThreadInfo; Hg picks the one whose registers it reads), and when one stops (a
    breakpoint, a step, a watchpoint, Ctrl-C) the others stop at their next safe point;
    one blocked in a syscall stays there until it returns, then stops. Each guest thread
    runs on its own host thread as always (the main one on the main thread), under
    `supervise`; the packets are read on a host thread of the stub's own, so that a
    breakpoint in one thread reaches gdb while the main thread waits in pthread_join."""

    def __init__(self, process: Process, port: int) -> None:
        self.process = process
        self.listener = socket.create_server(("127.0.0.1", port))
        self.connection: socket.socket | None = None
        self.buffer = b""
        self.acks = True
        self.watches: dict[int, int] = {}       # write watchpoints: address -> length
        self.pid = os.getpid()                  # a forked child runs free of gdb
        self.turn = threading.Condition()       # guards what follows, and wakes threads
        self.state = STOPPED
        self.stepping = 0                       # the tid a STEP is for
        self.watching: Callable[[], str | None] | None = None   # a STEP repeated until it says
        self.stops: list[tuple[int, str]] = []  # stop replies not yet given to gdb, by tid
        self.waiting: set[int] = set()          # tids waiting for their turn
        self.selected = process.kernel.tid      # Hg: the thread whose registers gdb reads
        self.resumed = process.kernel.tid       # Hc: the thread a step is for
        self.last = f"T05thread:{process.kernel.tid:x};"
        self._wake_read, self._wake_write = os.pipe()
        self._sending = threading.Lock()
        self.finished = False                   # the guest's end is told

    @property
    def vm(self):  # noqa: ANN201 - the selected thread's cpu (execve replaces it)
        threads = self.process.kernel.threads
        return threads.get(self.selected, self.process.kernel).cpu

    def serve(self) -> None:
        """Wait for gdb, then run the guest as it says until the guest ends (raising its
        GuestExit or GuestSignal, as a run would) or gdb detaches (the guest then runs on).
        The guest stands before its first instruction until gdb continues or steps."""
        self.connection, _ = self.listener.accept()
        self.listener.close()
        self.process.debugger = self.supervise
        threading.Thread(target=self._answer, daemon=True).start()
        self.supervise(self.process.kernel, self.process.run)

    def _answer(self) -> None:
        """The stub's host thread: gdb's packets, until it detaches or kills the guest."""
        handlers: dict[str, Callable[[str], str | None]] = {
            "?": lambda _: self.last, "g": self._read_registers, "G": self._write_registers,
            "p": self._read_register, "P": self._write_register, "m": self._read_memory,
            "M": self._write_memory, "q": self._query, "Q": self._set, "H": self._thread,
            "T": self._alive, "v": lambda _: "", "c": self._continue, "s": self._step,
            "C": self._continue, "Z": lambda data: self._watchpoint(data, True),
            "z": lambda data: self._watchpoint(data, False),
        }
        try:
            while True:
                packet = self._receive()
                if packet in ("D", "k"):
                    self._send("OK")
                    self._end(packet == "k")
                    return
                handler = handlers.get(packet[:1])
                reply = handler(packet[1:]) if handler else ""
                if reply is not None:           # None: the handler answered itself
                    self._send(reply)
        except GuestSignal:                     # gdb went away: so does the guest
            if not self.finished:
                self._end(True)

    def _end(self, kill: bool) -> None:
        """Detach (the threads run on, free of gdb) or kill the guest."""
        if kill:
            self.process.interrupt(GuestSignal(signal.SIGKILL, "killed by gdb"))
        else:
            with contextlib.suppress(OSError):
                self.connection.close()
        with self.turn:
            self.state = DETACHED
            self.turn.notify_all()

    # -- the guest's threads ---------------------------------------------------------

    def supervise(self, k: Kernel, run: Callable[[], None]) -> None:
        """Run one guest thread (k's cpu, by run) under gdb: it waits for its turn, and
        what stops it (a breakpoint's SIGTRAP, a spent step) is told to gdb, after which it
        waits again. The guest's end is told to gdb by the main thread, then raised."""
        main = k is self.process.kernel
        while True:
            try:
                k.cpu.set_budget(1 if self._wait_turn(k) else None)
                run()
                return
            except _Paused:
                continue
            except BudgetSpent:
                if not self._watched(k):
                    self._stopped(k, "T05")
            except Fault as fault:
                if fault.signo != signal.SIGTRAP or self._free():
                    self._final(main, f"X{fault.signo:02x}")
                    raise
                self._stopped(k, "T05")
            except GuestExit as done:
                if not isinstance(done, ThreadExit):
                    self._final(main, f"W{done.status & 0xFF:02x}")
                raise
            except GuestSignal as killed:
                self._final(main, f"X{killed.signo:02x}")
                raise
            finally:
                k.cpu.set_budget(None)

    def _free(self) -> bool:
        """Whether gdb has let go: detached, or this is a forked child it never saw."""
        return self.state == DETACHED or os.getpid() != self.pid

    def _may_run(self, tid: int) -> bool:
        return self.state == CONTINUE or self.state == STEP and tid == self.stepping

    def _wait_turn(self, k: Kernel) -> bool:
        """Block until thread k may run; whether for one step. The process's end, handed
        over meanwhile, is raised here (by the main thread; the others just end)."""
        with self.turn:
            self.waiting.add(k.tid)
            self.turn.notify_all()
            try:
                while self.process.ended is None and not (self._free() or
                                                          self._may_run(k.tid)):
                    self.turn.wait()
            finally:
                self.waiting.discard(k.tid)
            if self.process.ended is not None:
                raise self.process.ended if k is self.process.kernel else Killed()
            if isinstance(k.cpu.interrupt_reason, _Paused):
                k.cpu.interrupt_reason = None   # a pause meant for a stop now over
            return not self._free() and self.state == STEP

    def _watched(self, k: Kernel) -> bool:
        """After a step taken for a watchpoint: whether it has more to take (nothing
        watched changed yet); if something did, gdb hears of it."""
        with self.turn:
            if self.watching is None:
                return False
            reply = self.watching()
            if reply is None:
                return True
            self.watching = None
        self._stopped(k, reply, whole=True)
        return True

    def _stopped(self, k: Kernel, reply: str, *, whole: bool = False) -> None:
        """Thread k stopped with this reply (its signal part, or the whole): gdb hears of
        it (the first of several at once first, the next at its next resume), and the other
        threads stop at their next safe point."""
        with self.turn:
            if self._free():
                return
            self.stops.append((k.tid, reply if whole else f"{reply}thread:{k.tid:x};"))
            self.state = STOPPED
            self._pause_all()
        os.write(self._wake_write, b"!")

    def _final(self, main: bool, reply: str) -> None:
        """The main thread tells gdb how the guest ended (the others hand it their end)."""
        if main and not self._free():
            self.finished = True
            self._send(reply)

    def _pause_all(self) -> None:
        for thread in list(self.process.kernel.threads.values()):
            if thread.tid not in self.waiting:
                thread.cpu.interrupt(_Paused())

    # -- running ---------------------------------------------------------------------

    def _continue(self, _: str) -> str:
        if self.watches:
            return self._resume(STEP, self._watchpoint_hit())
        return self._resume(CONTINUE)

    def _step(self, _: str) -> str:
        return self._resume(STEP)

    def _resume(self, state: int, watching: Callable[[], str | None] | None = None) -> str:
        """Let the threads run (or the Hc thread take a step), and wait for a stop; a stop
        not yet told is told at once. Ctrl-C in gdb (a 0x03 byte) stops them with SIGINT."""
        with self.turn:
            if not self.stops:
                self.state, self.watching = state, watching
                self.stepping = self.resumed
                self.turn.notify_all()
        while True:
            ready, _, _ = select.select([self.connection, self._wake_read], [], [])
            if self._wake_read in ready:
                os.read(self._wake_read, 64)
            with self.turn:
                if self.stops:
                    tid, self.last = self.stops.pop(0)
                    self.selected = self.resumed = tid
                    return self.last
            if self.connection in ready:
                data = self.connection.recv(1)
                if not data:
                    raise GuestSignal(signal.SIGKILL, "gdb went away")
                if data == b"\x03":
                    return self._interrupt()
                self.buffer += data

    def _interrupt(self) -> str:
        """Ctrl-C: every thread stops; the selected one is given a moment to reach its
        safe point (one blocked in a syscall is stopped where it is)."""
        with self.turn:
            self.state = STOPPED
            self._pause_all()
            self.turn.wait_for(lambda: self.selected in self.waiting, timeout=0.5)
        self.last = f"T02thread:{self.selected:x};"
        return self.last

    def _thread(self, data: str) -> str:
        """Hg/Hc: the thread for register packets / for steps (0 or -1: keep the one)."""
        tid = int(data[1:], 16) if data[1:] not in ("0", "-1", "") else 0
        if tid and tid not in self.process.kernel.threads:
            return "E01"
        if tid and data[:1] == "g":
            self.selected = tid
        elif tid and data[:1] == "c":
            self.resumed = tid
        return "OK"

    def _alive(self, data: str) -> str:
        return "OK" if int(data, 16) in self.process.kernel.threads else "E01"

    def _watchpoint(self, data: str, insert: bool) -> str:
        """Z2/z2 (write watchpoints) set or clear one; other kinds are not supported, which
        gdb reports (Z0/Z1 breakpoints it then writes itself, as ebreak)."""
        kind, address, length = data.split(",")[:3]
        if kind != "2":
            return ""
        if insert:
            self.watches[int(address, 16)] = int(length, 16)
        else:
            self.watches.pop(int(address, 16), None)
        return "OK"

    def _watchpoint_hit(self) -> Callable[[], str | None]:
        """After each step: the stop reply if a watched range changed, else None."""
        before = {address: self._guest_bytes(address, length)
                  for address, length in self.watches.items()}

        def changed() -> str | None:
            for address, length in self.watches.items():
                if self._guest_bytes(address, length) != before[address]:
                    return f"T05thread:{self.resumed:x};watch:{address:x};"
            return None

        return changed

    # -- registers and memory --------------------------------------------------------

    def _registers(self) -> list[int]:
        return [*self.vm.x, self.vm.pc]

    def _read_registers(self, _: str) -> str:
        return "".join(_hex64(value) for value in self._registers())

    def _write_registers(self, data: str) -> str:
        values = [int.from_bytes(bytes.fromhex(data[16 * i:16 * i + 16]), "little")
                  for i in range(len(data) // 16)]
        for n, value in enumerate(values[:PC + 1]):
            self._set_register(n, value)
        return "OK"

    def _read_register(self, data: str) -> str:
        n, vm = int(data, 16), self.vm
        if n <= PC:
            return _hex64(self._registers()[n])
        if F0 <= n < F0 + 32:
            return _hex64(vm.f[n - F0])
        fields = {FFLAGS: vm.fcsr & 0x1F, FRM: vm.fcsr >> 5 & 7, FCSR: vm.fcsr}
        return fields[n].to_bytes(4, "little").hex() if n in fields else "E01"

    def _write_register(self, data: str) -> str:
        number, _, value = data.partition("=")
        n, vm = int(number, 16), self.vm
        raw = int.from_bytes(bytes.fromhex(value), "little")
        if n <= PC:
            self._set_register(n, raw)
        elif F0 <= n < F0 + 32:
            vm.f[n - F0] = raw
        elif n == FFLAGS:
            vm.fcsr = vm.fcsr & ~0x1F | raw & 0x1F
        elif n == FRM:
            vm.fcsr = vm.fcsr & 0x1F | (raw & 7) << 5
        elif n == FCSR:
            vm.fcsr = raw
        else:
            return "E01"
        return "OK"

    def _set_register(self, n: int, value: int) -> None:
        if n == PC:
            self.vm.pc = value
        elif n:
            self.vm.x[n] = value

    def _guest_bytes(self, address: int, length: int) -> bytes | None:
        """The guest's bytes there, or None where it has no readable mapping."""
        try:
            self.vm.space.check(address, length, 0)
            return self.vm.memory.read(address, length)
        except Exception:  # noqa: BLE001 - any bad address
            return None

    def _read_memory(self, data: str) -> str:
        address, length = (int(field, 16) for field in data.split(","))
        content = self._guest_bytes(address, length)
        return "E14" if content is None else content.hex()

    def _write_memory(self, data: str) -> str:
        where, _, payload = data.partition(":")
        address, length = (int(field, 16) for field in where.split(","))
        content = bytes.fromhex(payload)
        try:
            self.vm.space.check(address, length, 0)
            self.vm.memory.write(address, content[:length])
        except Exception:  # noqa: BLE001
            return "E14"
        return "OK"

    # -- queries -----------------------------------------------------------------------

    def _query(self, data: str) -> str:
        if data.startswith("Supported"):
            return "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+"
        if data.startswith("Xfer:features:read:target.xml:"):
            offset, length = (int(f, 16) for f in data.rsplit(":", 1)[1].split(","))
            chunk = TARGET_XML[offset:offset + length]
            return ("m" if offset + length < len(TARGET_XML) else "l") + chunk
        if data == "Attached":
            return "1"
        if data == "C":
            return f"QC{self.selected:x}"
        if data == "fThreadInfo":
            return "m" + ",".join(f"{tid:x}" for tid in list(self.process.kernel.threads))
        if data == "sThreadInfo":
            return "l"
        return ""

    def _set(self, data: str) -> str | None:
        if data == "StartNoAckMode":
            self._send("OK")                # acknowledged in the old mode, then none
            self.acks = False
            return None
        return ""

    # -- packets -----------------------------------------------------------------------

    def _receive(self) -> str:
        """The next packet's payload, acknowledged."""
        while True:
            start = self.buffer.find(b"$")
            end = self.buffer.find(b"#", start)
            if start >= 0 and end >= 0 and len(self.buffer) >= end + 3:
                payload = self.buffer[start + 1:end]
                self.buffer = self.buffer[end + 3:]
                if self.acks:
                    self.connection.sendall(b"+")
                return payload.decode("latin-1")
            data = self.connection.recv(4096)
            if not data:
                raise GuestSignal(signal.SIGKILL, "gdb went away")
            self.buffer += data

    def _send(self, payload: str) -> None:
        """Send a packet (from the stub's thread, or the main one at the guest's end); if
        gdb has gone, the next receive finds out."""
        body = payload.encode("latin-1")
        checksum = sum(body) & 0xFF
        with self._sending, contextlib.suppress(OSError):
            self.connection.sendall(b"$" + body + b"#" + f"{checksum:02x}".encode())


def _hex64(value: int) -> str:
    return (value & (1 << 64) - 1).to_bytes(8, "little").hex()
