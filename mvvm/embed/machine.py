"""mvvm.Machine: a riscv64 program inside a Python program, whose functions the host calls.

The guest is a Linux process of MVVM's own (mvvm.linux) with a strict default sandbox:
its files are an empty directory unless `root` names one, it has no sockets unless
`network`, and it cannot fork, execve or start host programs. Its stdout and stderr are
the host's Python objects.

A call sets the argument registers as the riscv64 psABI has them, points ra at a page
that is never executable (RETURN_PAGE), and runs the guest until it jumps there: the
dispatcher cannot fetch at that pc and leaves to Python, which the VM's run loop
recognises as the call's return (`VM.return_address`). Nothing in the guest's code
changes for that, so a call costs one crossing into wasm and back.
"""

from __future__ import annotations

import codecs
import ctypes
import errno
import inspect
import io
import os
import shutil
import struct
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypeVar

from mvvm.elf.dynamic import closure
from mvvm.elf.loader import ElfError, ElfImage
from mvvm.elf.symbols import Symbols
from mvvm.errors import BudgetSpent, GuestExit, GuestSignal, SyscallError
from mvvm.linux.kernel import Kernel
from mvvm.linux.paths import ConfinedPaths
from mvvm.linux.process import Process, find_sysroot
from mvvm.runtime import layout
from mvvm.runtime.address_space import PROT_EXEC
from mvvm.runtime.address_space import Mapping as Pages
from mvvm.runtime.image import Image
from mvvm.runtime.precise import Fault
from mvvm.runtime.vm import VM

from . import fastcall
from .errors import BudgetExceeded, Exited, GuestFault, MachineError, Timeout
from .memory import MachineMemory

MVVM_ECALL = 0x4D560000             # a7 of a host call: MVVM_ECALL + id (mvvm.h)
IDS = 0x10000
PAUSE = 0
NAMED_IDS = 256
ARGUMENT_REGISTERS = 8
RA, SP, GP, TP, S0, A0, A6 = 1, 2, 3, 4, 8, 10, 16
MASK64 = (1 << 64) - 1
NAN_BOX = 0xFFFFFFFF_00000000
RED_ZONE = 256                      # bytes left below the guest's sp before a call's frame
BACKTRACE_DEPTH = 32

Stream = TextIO | BinaryIO | Callable[[bytes], object] | None
HostFunction = TypeVar("HostFunction", bound=Callable[..., Any])
Restype = Any                       # int, float, None, or a ctypes simple type


def host_id(name: str) -> int:
    """The id a host function registered by name has: mvvm.h's mvvm_id(name)."""
    value = 2166136261
    for byte in name.encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return NAMED_IDS + value % (IDS - NAMED_IDS)


RUN = object()                      # _execute's restype for Machine.run


class _Paused(Exception):  # noqa: N818 - a control transfer, not an error
    """The guest called mvvm_pause() in `run`."""


@dataclass
class _Registers:
    x: list[int]
    f: list[int]
    fcsr: int
    pc: int


@dataclass(frozen=True)
class _Setup:
    """What a Machine was made from, for its forks."""

    program: bytes
    name: str
    argv: list[str]
    env: list[str]
    root: str | None
    network: bool
    stdout: Callable[[bytes], object]
    stderr: Callable[[bytes], object]
    max_memory: int | None
    sysroot: str | None


@dataclass(frozen=True)
class Snapshot:
    """A machine's registers, mappings and memory, to `restore` later. Open files, signal
    handlers and the host functions are not part of it."""

    registers: _Registers
    main: _Registers
    space: tuple[list[Pages], int, int]
    memory: tuple[tuple[int, bytearray], ...]
    exit_status: int | None


class GuestFunction:
    """A guest function resolved once, to call many times: `Machine.function`."""

    def __init__(self, machine: Machine, address: int, restype: Restype,
                 argtypes: tuple[type, ...] | None) -> None:
        self.machine = machine
        self.address = address
        self.restype = restype
        self.argtypes = argtypes
        self._fast = machine._fast_call_for(address) if restype is int and argtypes is None \
            else None

    def __call__(self, *args: Any, max_instructions: int | None = None,
                 timeout: float | None = None) -> Any:
        machine = self.machine
        if self._fast is not None and max_instructions is None and timeout is None:
            result = machine._fast_call(self._fast, args)
            if result is not NotImplemented:
                return result
        machine._enter(self.address, args, self.argtypes)
        return machine._finish(self.restype, max_instructions, timeout)

    def __repr__(self) -> str:
        return f"<guest function at {self.address:#x}>"


class Machine:
    """A sandboxed riscv64 program whose functions Python calls (see the module's docstring).

    program is the path or the bytes of a riscv64 ELF program; argv are its arguments
    after its name, env its environment (a mapping or "NAME=value" strings; empty by
    default). root: the host directory the guest sees as /; network: sockets other than
    AF_UNIX; stdout and stderr: Python file objects (text or binary) or callables that
    take bytes (default: the host's sys.stdout and sys.stderr at each write); max_memory:
    bytes the guest may have mapped, its stack and program included. A dynamically linked
    program without a root gets a private tree holding copies of its loader and libraries
    from sysroot (default: as `mvvm run -L` finds it); with a root, they must be there.

    A Machine is used from one Python thread at a time; many Machines may run in parallel
    threads, since the GIL is released while guest code runs.
    """

    def __init__(self, program: str | os.PathLike[str] | bytes, *, argv: Iterable[str] = (),
                 env: Mapping[str, str] | Iterable[str] | None = None,
                 root: str | os.PathLike[str] | None = None, network: bool = False,
                 stdout: Stream = None, stderr: Stream = None,
                 max_memory: int | None = None, sysroot: str | None = None) -> None:
        data = program if isinstance(program, bytes) else Path(program).read_bytes()
        name = "program" if isinstance(program, bytes) else os.path.basename(program)
        self._start(_Setup(data, name, [name, *argv], _environment(env),
                           None if root is None else os.fspath(root), network,
                           _sink(stdout, "stdout"), _sink(stderr, "stderr"), max_memory,
                           sysroot))

    def fork(self) -> Machine:
        """A new machine in this one's state, with its host functions, that shares its
        compiled code (instantiated again, never compiled again); the two then go their
        own ways."""
        child = object.__new__(Machine)
        child._start(self._setup, code_of=self.vm.image)
        child._host = dict(self._host)
        child.restore(self.snapshot())
        return child

    def _start(self, setup: _Setup, code_of: Image | None = None) -> None:
        """Load the program in a new sandbox; code_of: an image to share compiled code
        with (see fork)."""
        self._setup = setup
        self._scratch = tempfile.mkdtemp(prefix="mvvm-machine-")
        weakref.finalize(self, shutil.rmtree, self._scratch, True)
        host_path = os.path.join(self._scratch, "program")
        Path(host_path).write_bytes(setup.program)
        root = setup.root
        if root is None:
            root = os.path.join(self._scratch, "root")
            os.mkdir(root, 0o755)
            _libraries_into(root, setup.program, setup.sysroot)
        paths = ConfinedPaths({b"/": os.fsencode(os.path.abspath(root))}, host_cwd=False)
        self.kernel = Kernel(None, None, exe=host_path, paths=paths, network=setup.network,
                             embedded=True)
        process = Process(self.kernel, None)
        image = Image(code_of=code_of) if code_of is not None else None
        loader = ElfImage.parse(setup.program).interpreter
        try:
            self.vm = process.load(host_path, setup.argv, setup.env, execfn=setup.name,
                                   image=image)
        except (SyscallError, ElfError):
            if loader is None:
                raise
            raise ElfError(f"{setup.name}: a dynamic program needs its dynamic loader "
                           f"({loader}) and libraries under root") from None
        process.switch(self.vm, host_path)
        self.vm.syscall_handler = self._syscall
        self.vm.space.limit = setup.max_memory
        for fd, sink in enumerate((None, setup.stdout, setup.stderr)):
            self.kernel.files.set_stdio(fd, sink)
        self.vm.return_address = self.vm.space.map(0, 0x1000, 0, name="[mvvm-return]")
        self._symbols = Symbols.read(setup.program, process.bias)
        self.symbols: dict[str, int] = self._symbols.addresses
        self.memory = MachineMemory(self.vm.memory, self.vm.space, self)
        self.exit_status: int | None = None
        self._x = self.vm.x
        self._call_registers = (ctypes.c_uint64 * 3)()    # sp, gp, tp: see _set_main
        self._fast_calls: dict[int, Any] = {}       # address -> its FastCall (fastcall.c)
        self._set_main(self._registers())
        self._host: dict[int, tuple[Callable[..., Any], int]] = {}
        self._running = False
        self._budgeted = False
        self._suspended: Callable[[], Any] | None = None
        self._timer_lock = threading.Lock()
        self._deadline_token = 0

    # -- running the program -----------------------------------------------------------

    def run(self, *, max_instructions: int | None = None,
            timeout: float | None = None) -> int | None:
        """Run the program from its start, or from its last mvvm_pause(), until it exits
        (its status) or pauses again (None). Either way its functions can then be called."""
        if self.exit_status is not None:
            raise MachineError(f"the program has exited (status {self.exit_status})")
        self._suspended = None
        self._load(self._main)
        return self._continue_run(max_instructions, timeout)

    def _continue_run(self, max_instructions: int | None, timeout: float | None) -> int | None:
        try:
            self._execute(RUN, max_instructions, timeout)
        except _Paused:
            registers = self._registers()
            registers.pc += 4                   # run() again goes on after the ecall
            self._set_main(registers)
            return None
        except GuestExit as done:
            self._set_main(self._registers())
            self.exit_status = done.status
            return done.status
        finally:
            self.vm.save_code()
        raise MachineError("the program returned from its entry point")

    # -- calling functions ---------------------------------------------------------------

    def function(self, fn: str | int, *, restype: Restype = int,
                 argtypes: Iterable[type] | None = None) -> GuestFunction:
        """A guest function by symbol name or address, resolved once: the fast way to call
        it often. restype: int (a0, signed), float (fa0 as a double), None, or a ctypes
        simple type (ctypes.c_float: fa0 as a single; c_uint32: a0's low 32 bits...).
        argtypes: ctypes.c_float where a parameter is a single-precision float."""
        address = fn if isinstance(fn, int) else self._address(fn)
        return GuestFunction(self, address, restype,
                             tuple(argtypes) if argtypes is not None else None)

    def call(self, fn: str | int, *args: Any, restype: Restype = int,
             max_instructions: int | None = None, timeout: float | None = None) -> Any:
        """Call a guest function (by name or address) with the psABI: ints, bools and floats
        in registers, on the stack past eight; bytes and str copied to the guest's stack
        (str NUL-terminated) and passed as pointers. See `function` for restype."""
        return self.function(fn, restype=restype)(*args, max_instructions=max_instructions,
                                                  timeout=timeout)

    def resume(self) -> Any:
        """Go on with the run or call a BudgetExceeded or Timeout stopped."""
        suspended, self._suspended = self._suspended, None
        if suspended is None:
            raise MachineError("no run or call was stopped")
        return suspended()

    def _fast_call_for(self, address: int) -> Any:
        """The C fast path's callable for calls of address (mvvm/embed/fastcall.c), made
        once per address; None without the extension."""
        fast = self._fast_calls.get(address)
        module = fastcall.extension() if fast is None else None
        if module is not None:
            vm = self.vm
            fast = self._fast_calls[address] = module.FastCall(
                *vm.fast_call_state(), ctypes.addressof(self._call_registers), address,
                vm.return_address, layout.REASON_MISS)
        return fast

    def _fast_call(self, fast: Callable[..., int | None], args: tuple[Any, ...]) -> Any:
        """A call by the fast path where nothing needs Python's (no budget, and see
        VM.fast_call_ready): its result; NotImplemented for arguments it does not take (the
        caller takes the Python path). A call that leaves for Python on the way is finished
        as `_finish` finishes one."""
        if self._running or self._budgeted or not self.vm.fast_call_ready():
            return NotImplemented
        self._suspended = None
        self._running = True
        try:
            result = fast(*args)
        finally:
            self._running = False
        if result is None:
            return self._finish(int, None, None, self.vm.after_fast_call)
        return result

    def _address(self, name: str) -> int:
        try:
            return self.symbols[name]
        except KeyError:
            raise MachineError(f"the program has no symbol {name!r}") from None

    def _enter(self, address: int, args: tuple[Any, ...],
               argtypes: tuple[type, ...] | None) -> None:
        """Set up the call's registers and stack frame."""
        if self._running:
            raise MachineError("calls into the guest do not nest")
        self._suspended = None
        x = self._x
        sp, gp, tp = self._call_registers
        try:                        # the common case: a few ints (a float or bytes raises)
            if argtypes is not None or len(args) > ARGUMENT_REGISTERS:
                raise TypeError
            x[A0:A0 + len(args)] = [arg & MASK64 for arg in args]
        except TypeError:
            sp = self._marshal(args, argtypes, sp)
        x[SP], x[GP], x[TP], x[RA] = sp, gp, tp, self.vm.return_address
        self.vm.pc = address

    def _marshal(self, args: tuple[Any, ...], argtypes: tuple[type, ...] | None,
                 sp: int) -> int:
        """Arguments of every kind into registers and the stack; the call's sp."""
        x, f = self.vm.x, self.vm.f
        ints: list[int] = []
        floats: list[int] = []
        for i, arg in enumerate(args):
            single = argtypes is not None and i < len(argtypes) and argtypes[i] is ctypes.c_float
            if isinstance(arg, int):
                ints.append(arg & MASK64)
            elif isinstance(arg, float):
                raw = (NAN_BOX | _bits("f", arg)) if single else _bits("d", arg)
                (floats if len(floats) < ARGUMENT_REGISTERS else ints).append(raw)
            elif isinstance(arg, (bytes, bytearray, str)):
                data = arg.encode() + b"\0" if isinstance(arg, str) else bytes(arg)
                sp = (sp - len(data)) & ~15
                self.memory.write(sp, data)
                ints.append(sp)
            else:
                raise TypeError(f"cannot pass {type(arg).__name__} to a guest function")
        stacked = ints[ARGUMENT_REGISTERS:]
        sp = (sp - 8 * len(stacked)) & ~15
        if stacked:
            self.memory.write(sp, struct.pack(f"<{len(stacked)}Q", *stacked))
        for i, value in enumerate(ints[:ARGUMENT_REGISTERS]):
            x[A0 + i] = value
        for i, value in enumerate(floats):
            f[A0 + i] = value
        return sp

    def _finish(self, restype: Restype, max_instructions: int | None,
                timeout: float | None, go: Callable[[], None] | None = None) -> Any:
        """Run the call to its return (go: how, VM.call by default); its result as restype
        says."""
        try:
            self._execute(restype, max_instructions, timeout, go)
        except _Paused:
            raise MachineError("mvvm_pause() inside a call") from None
        except GuestExit as done:
            self.exit_status = done.status
            raise Exited(done.status) from None
        return _result(self.vm, restype)

    def _execute(self, restype: Restype, max_instructions: int | None,
                 timeout: float | None, go: Callable[[], None] | None = None) -> None:
        """Run the guest until it returns, pauses or ends; a fault or a signal that kills
        it raises GuestFault; a limit it reaches leaves `resume` to go on with the run
        (restype RUN) or call."""
        if max_instructions is not None or self._budgeted:
            self._budget(max_instructions)
        token = self._arm(timeout) if timeout is not None else 0
        self._running = True
        try:
            (go or self.vm.call)()
        except (BudgetSpent, Timeout) as stopped:
            self.vm.interrupt_reason = None
            self._suspended = partial(self._continue_run if restype is RUN else
                                      partial(self._finish, restype),
                                      max_instructions, timeout)
            if isinstance(stopped, BudgetSpent):
                raise BudgetExceeded(f"the guest retired {max_instructions} instructions") \
                    from None
            raise
        except Fault as fault:
            raise self._fault(fault.signo, fault.addr, str(fault)) from None
        except GuestSignal as killed:
            raise self._fault(killed.signo, None, str(killed)) from None
        finally:
            self._running = False
            if token:
                self._disarm(token)

    def _budget(self, max_instructions: int | None) -> None:
        """Set the run's or call's instruction budget; the first one puts the machine's
        compiled code in counting mode for good (a few percent slower)."""
        if max_instructions is not None:
            if max_instructions < 0:
                raise ValueError("max_instructions must not be negative")
            self.vm.image.require_counting()
        self._budgeted = max_instructions is not None
        self.vm.set_budget(max_instructions)

    def _arm(self, timeout: float) -> int:
        """Interrupt the guest after timeout seconds (Timeout), unless disarmed first."""
        with self._timer_lock:
            self._deadline_token += 1
            token = self._deadline_token
        timer = threading.Timer(timeout, self._time_up, (token, timeout))
        timer.daemon = True
        timer.start()
        return token

    def _time_up(self, token: int, timeout: float) -> None:
        with self._timer_lock:
            if token == self._deadline_token:
                self.vm.interrupt(Timeout(f"the guest ran longer than {timeout:g} s"))

    def _disarm(self, token: int) -> None:
        with self._timer_lock:
            if token == self._deadline_token:
                self._deadline_token += 1
            self.vm.interrupt_reason = None

    # -- host functions ------------------------------------------------------------------

    def host_function(self, key: int | str) -> Callable[[HostFunction], HostFunction]:
        """Register a host function the guest calls with mvvm_hostN(key, ...) (a number,
        1-255) or mvvm_hostN(mvvm_id("name"), ...). It gets this machine and the guest's
        arguments (signed 64-bit ints, as many as it takes, up to 7); its int result (None:
        0) goes back in a0. What it raises propagates out of the call or run."""
        if isinstance(key, str):
            ident = host_id(key)
        elif 0 < key < NAMED_IDS:
            ident = key
        else:
            raise ValueError(f"host function numbers are 1-{NAMED_IDS - 1}")

        def register(fn: HostFunction) -> HostFunction:
            known = self._host.get(ident)
            if known is not None and known[0] is not fn:
                raise ValueError(f"host function {key!r} has the id of another one")
            self._host[ident] = (fn, _arity(fn))
            return fn

        return register

    def _syscall(self, nr: int, args: tuple[int, ...]) -> int:
        ident = nr - MVVM_ECALL
        if not 0 <= ident < IDS:
            return self.kernel.syscall(nr, args)
        if ident == PAUSE:
            raise _Paused
        entry = self._host.get(ident)
        if entry is None:
            return -errno.ENOSYS
        fn, arity = entry
        values = [value - (1 << 64) if value >> 63 else value
                  for value in (*args, self.vm.x[A6])[:arity]]
        return int(fn(self, *values) or 0)

    # -- memory --------------------------------------------------------------------------

    def alloc(self, size: int) -> int:
        """size bytes from the guest's malloc (MemoryError if it has none left)."""
        pointer = self.call("malloc", size)
        if not pointer:
            raise MemoryError(f"the guest's malloc({size}) failed")
        return pointer

    def free(self, pointer: int) -> None:
        self.call("free", pointer, restype=None)

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The machine's state now, to `restore` later (say, after each untrusted call)."""
        space = self.vm.space
        memory = tuple((m.start, self.vm.memory.copy(m.start, m.end - m.start))
                       for m in space.mappings())
        return Snapshot(self._registers(), self._main, space.save(), memory, self.exit_status)

    def restore(self, snapshot: Snapshot) -> None:
        """Put the machine back as it was at the snapshot; code that changed since is
        translated again."""
        vm = self.vm
        code_before = self._code()
        vm.space.restore(snapshot.space)
        for start, data in snapshot.memory:
            vm.memory.write(start, data)
        self._load(snapshot.registers)
        self._set_main(snapshot.main)
        self.exit_status = snapshot.exit_status
        self._suspended = None
        if self._code() != code_before:
            vm.flush_code()

    def _code(self) -> list[tuple[int, bytes]]:
        return [(m.start, self.vm.memory.read(m.start, m.end - m.start))
                for m in self.vm.space.mappings() if m.prot & PROT_EXEC]

    # -- state ---------------------------------------------------------------------------

    def _registers(self) -> _Registers:
        vm = self.vm
        return _Registers(list(vm.x), list(vm.f), vm.fcsr, vm.pc)

    def _set_main(self, registers: _Registers) -> None:
        """The program's own state, where run() goes on; calls take their stack (below
        it), global and thread pointers from it."""
        self._main = registers
        self._call_registers[:] = [(registers.x[SP] - RED_ZONE) & ~15, registers.x[GP],
                                   registers.x[TP]]

    def _load(self, registers: _Registers) -> None:
        vm = self.vm
        vm.x[:] = registers.x
        vm.f[:] = registers.f
        vm.fcsr, vm.pc = registers.fcsr, registers.pc

    def _fault(self, signo: int, address: int | None, message: str) -> GuestFault:
        pc = self.vm.pc
        return GuestFault(signo, pc, address, message, self._backtrace(pc))

    def _backtrace(self, pc: int) -> list[str]:
        """The pc, then the return addresses of the frame-pointer chain (s0 points just past
        each frame's saved ra and s0) while it stays in the stack the call (or run) used
        and leads to code. Without frame pointers, s0 is just a register: the chain then
        usually ends at once."""
        frames = [pc]
        fp, top = self.vm.x[S0], self._call_registers[0]
        space = self.vm.space
        while len(frames) < BACKTRACE_DEPTH and fp % 8 == 0 and 16 <= fp <= top:
            try:
                previous, ra = struct.unpack("<QQ", self.memory.read(fp - 16, 16))
            except MachineError:
                break
            if ra == self.vm.return_address or not space.prot_at(ra) & PROT_EXEC:
                break
            frames.append(ra)
            if previous <= fp:
                break
            fp = previous
        return [f"{address:#x} {self._symbols.describe(address)}" for address in frames]


def _libraries_into(root: str, program: bytes, sysroot: str | None) -> None:
    """Copies of a dynamic program's loader and the libraries it needs, from sysroot, into
    the guest's private tree (copies: the guest may write its tree, never the sysroot)."""
    loader = ElfImage.parse(program).interpreter
    chosen = find_sysroot(sysroot)
    if loader is None or chosen is None:
        return
    places = [Path(chosen, "lib"), Path(chosen, "usr", "lib")]
    wanted = {loader: Path(chosen, loader.lstrip("/"))}
    wanted |= {f"/lib/{name}": path for name, path in closure(program, places).items()}
    for guest, host in wanted.items():
        if host.is_file():
            target = Path(root, guest.lstrip("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(host, target)
            target.chmod(0o755)


def _environment(env: Mapping[str, str] | Iterable[str] | None) -> list[str]:
    if env is None:
        return []
    if isinstance(env, Mapping):
        return [f"{name}={value}" for name, value in env.items()]
    return list(env)


def _sink(stream: Stream, name: str) -> Callable[[bytes], object]:
    """What the guest's writes to stdout or stderr go to."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    if stream is None:
        return lambda data: getattr(sys, name).write(decoder.decode(data))
    if isinstance(stream, io.TextIOBase) or (hasattr(stream, "encoding") and
                                             hasattr(stream, "write")):
        text = stream
        return lambda data: text.write(decoder.decode(data))
    if hasattr(stream, "write"):
        return stream.write
    return stream


def _arity(fn: Callable[..., Any]) -> int:
    """How many guest arguments a host function takes (after the machine)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())[1:]
    except (TypeError, ValueError):
        return 7
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return 7
    return min(7, sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                      for p in parameters))


def _bits(kind: str, value: float) -> int:
    return int.from_bytes(struct.pack(f"<{kind}", value), "little")


def _result(vm: VM, restype: Restype) -> Any:
    if restype is int:
        value = vm.x[A0]
        return value - (1 << 64) if value >> 63 else value
    if restype is None:
        return None
    if restype is float or restype is ctypes.c_double:
        return struct.unpack("<d", vm.f[A0].to_bytes(8, "little"))[0]
    if restype is ctypes.c_float:
        return struct.unpack("<f", (vm.f[A0] & 0xFFFFFFFF).to_bytes(4, "little"))[0]
    if restype is bool or restype is ctypes.c_bool:
        return bool(vm.x[A0] & 0xFF)
    return restype(vm.x[A0]).value
