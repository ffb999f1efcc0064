"""The architectural state the tests compare, and two in-process CPUs that run code from it.

A test case is a snippet of code (bytes) placed at some address plus an initial `State`;
running it gives the final `State`, or a `Fault` when the CPU stops on anything but the
snippet's end. MVVM's VM is driven directly (no ELF, no kernel): the snippet is followed by
an ecall whose handler stops the run. Unicorn runs the same bytes until the end address.

Memory for loads and stores is one scratch buffer at a fixed address (`SCRATCH`), the same in
every CPU and in the qemu programs, so addresses computed from it agree bit for bit.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import toolchain
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, UC_PROT_ALL, Uc, UcError
from unicorn import riscv_const as rv

from mvvm.errors import GuestExit, GuestSignal
from mvvm.isa.encoder import asm
from mvvm.runtime import layout
from mvvm.runtime.address_space import PROT_EXEC, PROT_READ, PROT_WRITE, Rights
from mvvm.runtime.image import COMPILE
from mvvm.runtime.vm import VM

MASK64 = (1 << 64) - 1
PAGE = 0x1000
CODE = 0x100000                  # where in-process snippets go unless a program placed them
SCRATCH = 0x4000000              # the scratch buffer (also the qemu programs' .scratch)
SCRATCH_SIZE = 0x1010            # 4 KiB reachable by any 12-bit offset from the middle, + 16
SCRATCH_MID = SCRATCH + 0x800
HARNESS_REGS = (3, 4)            # gp, tp: the qemu harness's own; snippets never use them
ECALL = asm("ecall").to_bytes(4, "little")
Syscall = Callable[[int, tuple[int, ...]], int]
FS_DIRTY = 3 << 13               # mstatus.FS: Unicorn starts with the FPU off


@dataclass(frozen=True)
class State:
    """Integer and FP registers (raw bits), fcsr, and the scratch buffer's bytes."""

    x: tuple[int, ...] = (0,) * 32
    f: tuple[int, ...] = (0,) * 32
    fcsr: int = 0
    scratch: bytes = field(default=bytes(SCRATCH_SIZE), repr=False)

    def with_x(self, **regs: int) -> State:
        """A copy with some integer registers changed: with_x(x10=5); x0 stays zero."""
        x = list(self.x)
        for name, value in regs.items():
            if name != "x0":
                x[int(name[1:])] = value & MASK64
        return replace(self, x=tuple(x))

    def differences(self, other: Outcome, ignore: tuple[int, ...] = HARNESS_REGS) -> list[str]:
        """Human-readable differences, self being the reference."""
        if self == other:
            return []
        if not isinstance(other, State):
            return [f"want the snippet to finish, got {other}"]
        out = [f"x{r}: want {a:#018x} got {b:#018x}" for r, (a, b)
               in enumerate(zip(self.x, other.x, strict=True)) if a != b and r not in ignore]
        out += [f"f{r}: want {a:#018x} got {b:#018x}" for r, (a, b)
                in enumerate(zip(self.f, other.f, strict=True)) if a != b]
        if self.fcsr != other.fcsr:
            out.append(f"fcsr: want {self.fcsr:#x} got {other.fcsr:#x}")
        out += _memory_differences(self.scratch, other.scratch)
        return out


@dataclass(frozen=True)
class Fault:
    """The run stopped before the snippet's end (a signal, an exception)."""

    what: str

    def differences(self, other: object, ignore: tuple[int, ...] = ()) -> list[str]:
        return [] if other == self else [f"want {self}, got {other}"]


Outcome = State | Fault


def _memory_differences(want: bytes, got: bytes, limit: int = 4) -> list[str]:
    if want == got:
        return []
    diffs = [i for i in range(min(len(want), len(got))) if want[i] != got[i]]
    out = [f"mem[{SCRATCH + i:#x}]: want {want[i]:#04x} got {got[i]:#04x}"
           for i in diffs[:limit]]
    if len(diffs) > limit:
        out.append(f"... {len(diffs) - limit} more bytes differ")
    return out


def same(want: Outcome, got: Outcome) -> bool:
    """Equal, not counting the harness registers (whose values the CPUs need not share)."""
    return not want.differences(got)


class MvvmCpu:
    """One VM, reused: creating one costs ~100 ms, a run of a cached snippet microseconds.

    The ecall that ends a snippet stops the run; `syscall(nr, args)`, if given, handles the
    snippet's own ecalls (the VM's pc tells them apart: it is the ecall's address).
    """

    def __init__(self, syscall: Syscall | None = None) -> None:
        self.vm = VM(tier=toolchain.TIER or COMPILE)
        self.vm.space.enforce_protection(Rights.EXACT)     # as `mvvm run` does
        self.vm.space.map(SCRATCH, _pages(SCRATCH_SIZE), PROT_READ | PROT_WRITE, fixed=True)
        self.vm.syscall_handler = self._ecall
        self.syscall = syscall
        self.vm.cache_dir = None             # snippets change all the time: no disk cache
        base = self.vm.runtime.vm_address()
        self._fcsr = ctypes.c_uint32.from_address(base + layout.VM_FCSR)
        self._reservation = ctypes.c_uint64.from_address(base + layout.VM_RESERVATION)
        self._loaded: tuple[int, bytes] | None = None
        self.translations = 0

    def load(self, code: bytes, at: int = CODE, *, force: bool = False) -> None:
        """Put the snippet (and the ecall that ends it) at `at`; drop stale translations.
        Reloading the same snippet is free unless forced (for code that rewrites itself)."""
        if self._loaded == (at, code) and not force:
            return
        start = at & ~(PAGE - 1)
        self.vm.space.map(start, _pages(at + len(code) + 4 - start),
                          PROT_READ | PROT_WRITE | PROT_EXEC, fixed=True)
        self.vm.memory.write(at, code + ECALL)
        self.vm.flush_code()
        self._loaded = (at, code)
        self.translations += 1

    def run(self, state: State) -> Outcome:
        at = self._loaded[0]
        vm = self.vm
        for r in range(32):
            vm.x[r] = state.x[r]
            vm.f[r] = state.f[r]
        self._fcsr.value = state.fcsr
        self._reservation.value = MASK64
        vm.memory.write(SCRATCH, state.scratch)
        vm.pc = at
        try:
            vm.run()
        except GuestExit:
            pass
        except GuestSignal as signal:
            return Fault(f"signal {signal.signo}: {signal}")
        end = at + len(self._loaded[1])
        if vm.pc != end:
            return Fault(f"stopped at {vm.pc:#x}, not at the end {end:#x}")
        return State(tuple(vm.x), tuple(vm.f), self._fcsr.value,
                     vm.memory.read(SCRATCH, SCRATCH_SIZE))

    def _ecall(self, nr: int, args: tuple[int, ...]) -> int:
        at, code = self._loaded
        if self.vm.pc == at + len(code) or self.syscall is None:
            raise GuestExit(0)
        return self.syscall(nr, args)


def _pages(length: int) -> int:
    return (length + PAGE - 1) & ~(PAGE - 1)


class UnicornCpu:
    """Unicorn 2.1 (QEMU 5.0's RISC-V): RV64GC in machine mode; no Zb*, no NaN-boxing."""

    def __init__(self) -> None:
        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
        self.uc.mem_map(SCRATCH, _pages(SCRATCH_SIZE), UC_PROT_ALL)
        self._mapped: set[int] = set()
        self._loaded: tuple[int, bytes] | None = None
        self._known: State | None = None     # what the registers and scratch hold now

    def load(self, code: bytes, at: int = CODE) -> None:
        for page in range(at & ~(PAGE - 1), at + len(code) + 4, PAGE):
            if page not in self._mapped:
                self.uc.mem_map(page, PAGE, UC_PROT_ALL)
                self._mapped.add(page)
        self.uc.mem_write(at, code + ECALL)
        self.uc.ctl_remove_cache(at, at + len(code) + len(ECALL))   # stale translations
        self._loaded = (at, code)

    def run(self, state: State) -> Outcome:
        at, code = self._loaded
        end = at + len(code)
        self._set(state)
        self._known = None                   # unknown until the snapshot
        try:
            self.uc.emu_start(at, end, count=100_000)
        except UcError as error:
            return Fault(f"unicorn: {error}")
        pc = self.uc.reg_read(rv.UC_RISCV_REG_PC)
        if pc != end:
            return Fault(f"stopped at {pc:#x}, not at the end {end:#x}")
        return self._snapshot()

    def _set(self, state: State) -> None:
        """Write what differs from what Unicorn holds: register writes cost microseconds
        each through its Python binding, and directed cases change one or two."""
        known, uc = self._known, self.uc
        uc.reg_write(rv.UC_RISCV_REG_MSTATUS, FS_DIRTY)
        new = _flat(state)
        old = _flat(known) if known is not None else [None] * len(new)
        uc.reg_write_batch([(reg, value) for reg, value, was in zip(STATE_REGS, new, old,
                                                                   strict=True) if value != was])
        if known is None or known.scratch != state.scratch:
            uc.mem_write(SCRATCH, state.scratch)
        self._known = state

    def _snapshot(self) -> State:
        values = self.uc.reg_read_batch(STATE_REGS)
        self._known = State((0, *values[:31]), tuple(values[31:63]), values[63],
                            bytes(self.uc.mem_read(SCRATCH, SCRATCH_SIZE)))
        return self._known


def _flat(state: State) -> list[int]:
    """A state's registers in STATE_REGS order."""
    return [*state.x[1:], *state.f, state.fcsr]


STATE_REGS = [*(rv.UC_RISCV_REG_X0 + r for r in range(1, 32)),
              *(rv.UC_RISCV_REG_F0 + r for r in range(32)), rv.UC_RISCV_REG_FCSR]
