"""`mvvm run -g PORT`: a GDB remote-protocol stub, as qemu-user's -g gives one.

The guest waits before its first instruction for gdb to connect (`target remote :PORT`),
then runs only as gdb says. It runs in tier 0, where the register file is exact after
every instruction: a single step is a run with an instruction budget of one
(VM.set_budget), and a breakpoint is the `ebreak` gdb writes into guest memory (this stub
offers no Z0/Z1 packets, so gdb inserts and removes them itself), whose SIGTRAP stops the
run. A write watchpoint (Z2, gdb's `watch`) makes `continue` a run of single steps that
stops after the instruction that changed a watched byte, as a hardware watchpoint would;
read and access watchpoints (Z3, Z4) are refused, which gdb reports. Registers are
x0-x31 and pc, described to gdb by the standard riscv64 feature.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import threading
from collections.abc import Callable

from mvvm.errors import BudgetSpent, GuestExit, GuestSignal
from mvvm.linux.process import Process
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


class _Interrupted(Exception):  # noqa: N818 - a control transfer, not an error
    """gdb asked to stop the running guest."""


class _Watch:
    """While the guest runs, a thread reads what gdb sends: a 0x03 byte (Ctrl-C) calls
    on_break; anything else is kept for the packet reader."""

    def __init__(self, connection: socket.socket, on_break: Callable[[], None]) -> None:
        self.connection = connection
        self.on_break = on_break
        self.kept = b""
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self.connection, self._wake_read], [], [])
            if self._wake_read in ready:
                return
            data = self.connection.recv(1)
            if not data:
                return
            if data == b"\x03":
                self.on_break()
            else:
                self.kept += data

    def stop(self) -> bytes:
        """End the thread; what it read that was no Ctrl-C."""
        os.write(self._wake_write, b"!")
        self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)
        return self.kept


class GdbStub:
    """One gdb connection driving one guest process."""

    def __init__(self, process: Process, port: int) -> None:
        self.process = process
        self.listener = socket.create_server(("127.0.0.1", port))
        self.connection: socket.socket | None = None
        self.buffer = b""
        self.acks = True
        self.watches: dict[int, int] = {}       # write watchpoints: address -> length

    @property
    def vm(self):  # noqa: ANN201 - the process's current cpu (execve replaces it)
        return self.process.vm

    def serve(self) -> None:
        """Wait for gdb, then answer its packets until the guest ends (raising its GuestExit
        or GuestSignal, as a run would) or gdb detaches (the guest then runs on)."""
        self.connection, _ = self.listener.accept()
        self.listener.close()
        handlers: dict[str, Callable[[str], str | None]] = {
            "?": lambda _: "S05", "g": self._read_registers, "G": self._write_registers,
            "p": self._read_register, "P": self._write_register, "m": self._read_memory,
            "M": self._write_memory, "q": self._query, "Q": self._set, "H": lambda _: "OK",
            "T": lambda _: "OK", "v": lambda _: "", "c": self._continue, "s": self._step,
            "C": self._continue, "Z": lambda data: self._watchpoint(data, True),
            "z": lambda data: self._watchpoint(data, False),
        }
        while True:
            packet = self._receive()
            if packet in ("D", "k"):
                self._send("OK")
                if packet == "k":
                    raise GuestSignal(signal.SIGKILL, "killed by gdb")
                self.connection.close()
                self.process.run()
                return
            handler = handlers.get(packet[:1])
            reply = handler(packet[1:]) if handler else ""
            if reply is not None:           # None: the handler answered itself
                self._send(reply)

    # -- running ---------------------------------------------------------------------

    def _continue(self, _: str) -> str:
        return self._run(None, self._watchpoint_hit() if self.watches else None)

    def _step(self, _: str) -> str:
        return self._run(1)

    def _run(self, budget: int | None, stop: Callable[[], str | None] | None = None) -> str:
        """Run the guest (one instruction, or on) until it stops; the stop reply. With
        `stop`, one instruction at a time until it gives a reply. The guest's end is told
        to gdb, then raised. Ctrl-C in gdb (a 0x03 byte) stops it with SIGINT."""
        vm = self.vm
        watch = _Watch(self.connection, lambda: vm.interrupt(_Interrupted()))
        try:
            while True:
                vm = self.vm                    # execve replaces it
                vm.set_budget(1 if stop else budget)
                try:
                    self.process.run()
                    return "S05"
                except BudgetSpent:
                    reply = stop() if stop else "S05"
                    if reply is not None:
                        return reply
        except _Interrupted:
            vm.interrupt_reason = None
            return "S02"
        except Fault as fault:
            if fault.signo == signal.SIGTRAP:
                return "S05"
            self._send(f"X{fault.signo:02x}")
            raise
        except GuestExit as done:
            self._send(f"W{done.status:02x}")
            raise
        except GuestSignal as killed:
            self._send(f"X{killed.signo:02x}")
            raise
        finally:
            vm.set_budget(None)
            self.buffer += watch.stop()

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
        """After each instruction: the stop reply if a watched range changed, else None."""
        before = {address: self._guest_bytes(address, length)
                  for address, length in self.watches.items()}

        def changed() -> str | None:
            for address, length in self.watches.items():
                if self._guest_bytes(address, length) != before[address]:
                    return f"T05watch:{address:x};"
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
            return "QC1"
        if data == "fThreadInfo":
            return "m1"
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
        """Send a packet; if gdb has gone, the next receive finds out."""
        body = payload.encode("latin-1")
        checksum = sum(body) & 0xFF
        with contextlib.suppress(OSError):
            self.connection.sendall(b"$" + body + b"#" + f"{checksum:02x}".encode())


def _hex64(value: int) -> str:
    return (value & (1 << 64) - 1).to_bytes(8, "little").hex()
