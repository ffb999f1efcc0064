"""The virtual CPU: architectural state, the run loop, and what happens at each return to Python.

`run` calls the wasm dispatcher until the guest ends. Python sees the guest
only at a translation miss, a syscall that stops (exit), an illegal
instruction, ebreak, fence.i, or a trap; the register file in the VM memory
is exact at each of those points (traps excepted: only the pc is exact, unless
the VM translates in precise mode, mvvm.runtime.precise).

Signals reach the guest through two hooks the Linux layer sets: `safe_point`, run
whenever someone asked for the guest's attention (`wake`) and the state is exact,
and `fault_handler`, which gets each synchronous fault.
"""

from __future__ import annotations

import ctypes
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import wasmtime as wt

from mvvm.errors import GuestFault
from mvvm.isa import decode, disasm
from mvvm.linux.errors import Restart
from mvvm.linux.mm import PROT_EXEC, AddressSpace
from mvvm.runtime import fp_host, layout
from mvvm.runtime.diskcache import DiskCache, default_directory, version_key
from mvvm.runtime.dispatcher import CodeCache
from mvvm.runtime.engine import Runtime, WasmTrap
from mvvm.runtime.memory import GuestMemory
from mvvm.runtime.precise import (
    ILL_ILLOPC,
    SEGV_ACCERR,
    SEGV_MAPERR,
    TRAP_BRKPT,
    Fault,
    fault_address,
)
from mvvm.translator.region import INNER_INSTRUCTIONS, MAX_INSTRUCTIONS
from mvvm.translator.translate import Translation, translate

MASK64 = (1 << 64) - 1
PAGE = 0x1000
Syscall = Callable[[int, tuple[int, ...]], int]


@dataclass
class Stats:
    """What the VM spent its time on; `mvvm run --stats` and the benchmarks report it."""

    regions: int = 0                  # regions translated and compiled
    cached_regions: int = 0           # regions loaded from the disk cache
    instructions: int = 0             # guest instructions translated
    translate_seconds: float = 0.0    # Python: decoding, region forming, wasm emitting
    compile_seconds: float = 0.0      # wasmtime: compiling and instantiating regions
    fp_slow_calls: int = 0            # FP operations the host computed (fp_host)
    started: float = field(default_factory=time.perf_counter)

    def report(self) -> dict[str, float]:
        total = time.perf_counter() - self.started
        return {"regions": self.regions, "cached_regions": self.cached_regions,
                "instructions": self.instructions, "fp_slow_calls": self.fp_slow_calls,
                "translate_seconds": round(self.translate_seconds, 6),
                "compile_seconds": round(self.compile_seconds, 6),
                "execute_seconds": round(total - self.translate_seconds
                                         - self.compile_seconds, 6),
                "total_seconds": round(total, 6)}


class VM:
    def __init__(self, *, in_asm: TextIO | None = None) -> None:
        self.runtime = Runtime()
        self.memory = GuestMemory(self.runtime.address_of(self.runtime.guest_memory))
        vm_base = self.runtime.address_of(self.runtime.vm_memory)
        self.x = (ctypes.c_uint64 * 32).from_address(vm_base + layout.VM_X)
        self.f = (ctypes.c_uint64 * 32).from_address(vm_base + layout.VM_F)
        self._pc = ctypes.c_uint64.from_address(vm_base + layout.VM_PC)
        self._reason = ctypes.c_uint32.from_address(vm_base + layout.VM_REASON)
        ctypes.c_uint64.from_address(vm_base + layout.VM_RESERVATION).value = MASK64
        self.space = AddressSpace(self.memory, mmap_top=layout.MMAP_TOP)
        self.space.code_changed = self._on_code_changed
        self.syscall_handler: Syscall | None = None
        self.in_asm = in_asm
        self.stats = Stats()
        self.cache_dir: Path | None = None if in_asm else default_directory()
        self._disk: DiskCache | None = None
        self._pending: BaseException | None = None
        self.fp_slow_path = fp_host.FpSlowPath(vm_base + layout.VM_FCSR, self.stats)
        host = [self.runtime.host_function([], [wt.ValType.i32()], self._on_syscall),
                self.runtime.host_function([], [wt.ValType.i64()], self._on_clock),
                self.runtime.host_function(list(fp_host.PARAMS), list(fp_host.RESULTS),
                                           self.fp_slow_path)]
        translate_now = self.runtime.host_function([wt.ValType.i64()], [wt.ValType.i32()],
                                                   self._on_translate)
        self.cache = CodeCache(self.runtime, host, translate_now)
        self._interrupt = ctypes.c_uint32.from_address(vm_base + layout.VM_INTERRUPT)
        self._fcsr = ctypes.c_uint32.from_address(vm_base + layout.VM_FCSR)
        self.interrupt_reason: BaseException | None = None
        self._code_changed = False          # translations are stale: drop them after the ecall
        self.precise = False                # translating in precise mode
        self.safe_point: Callable[[], None] | None = None
        self.fault_handler: Callable[[Fault], None] | None = None

    @property
    def pc(self) -> int:
        return self._pc.value

    @pc.setter
    def pc(self, value: int) -> None:
        self._pc.value = value

    @property
    def fcsr(self) -> int:
        """The fcsr CSR: fflags in bits 0-4, frm in bits 5-7."""
        return self._fcsr.value

    @fcsr.setter
    def fcsr(self, value: int) -> None:
        self._fcsr.value = value & 0xFF

    # -- running -------------------------------------------------------------------------

    def run(self) -> None:
        """Run until the guest exits (GuestExit) or is killed (GuestSignal); then keep the
        new translations in the disk cache."""
        try:
            self._run()
        finally:
            self.save_code()

    def _run(self) -> None:
        runtime, run = self.runtime, self.cache.run
        while True:
            try:
                result = runtime.call_i64(run)
            except WasmTrap as trap:
                self._fault(self._fault_for(trap), exact=self.precise)
                continue
            pc = result & ~1
            self.pc = pc
            reason = self._reason.value
            if reason == layout.REASON_MISS:
                self._miss(pc)
            elif reason == layout.REASON_SYSCALL:
                pending, self._pending = self._pending, None
                if pending is not None and not _resumes(pending):
                    raise pending       # else: the syscall changed the state; go on from it
            elif reason == layout.REASON_FENCE_I:
                self.cache.flush()
            elif reason == layout.REASON_EBREAK:
                self._fault(Fault(signal.SIGTRAP, TRAP_BRKPT, pc,
                                  f"breakpoint (ebreak) at pc {pc:#x}"))
            elif reason != layout.REASON_INTERRUPT:
                self._fault(Fault(signal.SIGILL, ILL_ILLOPC, pc, self._illegal_message(pc)))
            if self._interrupt.value:
                self._interrupted()

    def _miss(self, pc: int) -> None:
        try:
            self._translate(pc)
        except Fault as fault:
            self._fault(fault)

    def _interrupted(self) -> None:
        """Someone asked for the guest's attention and the state is exact: a time limit
        ends the guest; anything else is for the safe-point hook (signals due)."""
        self._interrupt.value = 0
        if self.interrupt_reason is not None:
            raise self.interrupt_reason
        if self.safe_point is not None:
            self.safe_point()

    def _fault(self, fault: Fault, *, exact: bool = True) -> None:
        """A synchronous fault at self.pc goes to the fault handler (which ends the guest
        or sets up its signal handler) if the registers are exact; else it ends the guest."""
        if not exact or self.fault_handler is None:
            raise fault
        self.fault_handler(fault)

    def _translate(self, pc: int) -> int:
        """Translate (or load from the disk cache) and install the region at pc; its slot."""
        if not self._executable(pc):
            code = SEGV_ACCERR if self.space.prot_at(pc) else SEGV_MAPERR
            raise Fault(signal.SIGSEGV, code, pc, f"jump to non-executable address {pc:#x}")
        started = time.perf_counter()
        disk = self._disk_cache()
        cached = disk.lookup(pc, self._current_code) if disk is not None else None
        if cached is not None:
            slot = self.cache.install(pc, *cached)
            self.stats.cached_regions += 1
            self.stats.compile_seconds += time.perf_counter() - started
            return slot
        budget = INNER_INSTRUCTIONS if pc in self.cache.covered else MAX_INSTRUCTIONS
        translation = translate(pc, self._fetch, budget, precise=self.precise,
                                others=self.cache.starts)
        translated = time.perf_counter()
        if self.in_asm is not None:
            self._log_in_asm(translation)
        module = wt.Module(self.runtime.engine, translation.wasm)
        ranges = translation.code_ranges()
        slot = self.cache.install(pc, module, translation.traps, ranges)
        if disk is not None:
            disk.add(pc, ranges, self._current_code(ranges) or b"", module, translation.traps)
        stats = self.stats
        stats.regions += 1
        stats.instructions += translation.region.instructions()
        stats.translate_seconds += translated - started
        stats.compile_seconds += time.perf_counter() - translated
        return slot

    def _disk_cache(self) -> DiskCache | None:
        """Opened at the first miss, keyed by what is executable then (the program and its
        loader), so that the same program finds its regions again."""
        if self._disk is None and self.cache_dir is not None:
            image = b"".join(self._current_code([(m.start, m.end)]) or b""
                             for m in self.space.mappings() if m.prot & PROT_EXEC)
            directory = self.cache_dir / version_key(f"{self.runtime.settings} "
                                                     f"precise={self.precise}")
            self._disk = DiskCache(directory, self.runtime.engine, image)
        return self._disk

    def _current_code(self, ranges: list[tuple[int, int]]) -> bytes | None:
        """The guest bytes in ranges, or None unless all of them are executable."""
        parts = []
        for start, end in ranges:
            if not all(self._executable(page) for page in range(start & ~(PAGE - 1), end, PAGE)):
                return None
            parts.append(self.memory.read(start, end - start))
        return b"".join(parts)

    def save_code(self) -> None:
        """Keep this run's new translations for the next run (no-op without a disk cache)."""
        if self._disk is not None:
            self._disk.save()

    def _executable(self, pc: int) -> bool:
        return bool(self.space.prot_at(pc) & PROT_EXEC)

    def _fetch(self, pc: int) -> int | None:
        """32 bits at pc for the decoder, or None outside executable memory. A compressed
        instruction at the end of the last executable page is fetched as 16 bits."""
        if not self._executable(pc):
            return None
        size = 4 if ((pc + 2) & (PAGE - 1)) or self._executable(pc + 2) else 2
        return int.from_bytes(self.memory.read(pc, size), "little")

    def interrupt(self, reason: BaseException) -> None:
        """Make the running guest leave translated code soon (see `wake`) and `run` raise
        reason. Safe to call from another thread."""
        self.interrupt_reason = reason
        self.wake()

    def wake(self) -> None:
        """Ask for the safe point soon: when the running syscall returns, else at the
        guest's next loop iteration or region change. Safe to call from another thread
        (and from a signal handler): it only sets a word in the VM memory."""
        self._interrupt.value = 1

    def require_precise(self) -> None:
        """Translate in precise mode from now on (mvvm.runtime.precise), for the guest's
        fault handlers. Called from a syscall: the imprecise translations are dropped
        when it returns, and the disk cache is one of precise translations."""
        if not self.precise:
            self.save_code()
            self._disk = None
            self.precise = True
            self._code_changed = True

    # -- host functions called from translated code -----------------------------------

    def _on_syscall(self, values: ctypes.Array) -> None:
        """Run the syscall in a7 with a0-a5. Stop (return 1) when it raised, or when it
        changed code: regions that are live on the wasm stack may hold stale code, so all
        of them must unwind before anything runs again."""
        x = self.x
        try:
            x[10] = self.syscall_handler(x[17], (x[10], x[11], x[12], x[13], x[14], x[15])) \
                & MASK64
            values[0].i32 = 0
            if self._code_changed or self._interrupt.value:
                self._leave_after_ecall(values)
        except BaseException as stop:       # noqa: BLE001 - nothing may unwind through wasm
            self._pending = stop
            self._stop(values)

    def _leave_after_ecall(self, values: ctypes.Array) -> None:
        """Stop at the instruction after the ecall: when translations are stale, since
        regions on the wasm stack may hold them, or when the guest's attention is wanted,
        so that a signal the syscall made due is delivered before the next instruction."""
        if self._code_changed:
            self._code_changed = False
            self.cache.flush()
        self.pc += 4
        self._stop(values)

    def _stop(self, values: ctypes.Array) -> None:
        self._reason.value = layout.REASON_SYSCALL
        values[0].i32 = 1

    def _on_code_changed(self, addr: int, length: int) -> None:
        self._code_changed = True

    def _on_translate(self, values: ctypes.Array) -> None:
        """A region needs the one at this pc (a call, or the dispatcher): translate it now,
        inside the call, so the caller goes on. Slot 0 tells it to leave instead; the run
        loop then translates the pc again and raises whatever went wrong."""
        try:
            values[0].i32 = self._translate(values[0].i64 & MASK64)
        except BaseException:               # noqa: BLE001 - nothing may unwind through wasm
            values[0].i32 = 0

    def _on_clock(self, values: ctypes.Array) -> None:
        values[0].i64 = time.monotonic_ns() // 100      # a 10 MHz timebase, as on QEMU's virt

    # -- faults --------------------------------------------------------------------------

    def _trapping_pc(self, trap: WasmTrap) -> int:
        for module, offset in trap.frames:
            traps = self.cache.traps_of_module(module)
            if traps is not None:
                return traps.pc_at(offset)
        return self.pc

    def _fault_for(self, trap: WasmTrap) -> Fault:
        """The fault a trap stands for; the pc is set to the faulting instruction. si_addr
        of an access needs exact registers, so it is 0 outside precise mode."""
        pc = self._trapping_pc(trap)
        self.pc = pc
        if trap.code == wt.TrapCode.MEMORY_OUT_OF_BOUNDS:
            instr = decode(self._fetch(pc) or 0)
            addr = fault_address(instr, self.x) if self.precise and instr else 0
            return Fault(signal.SIGSEGV, SEGV_MAPERR, addr, f"segmentation fault at pc {pc:#x}")
        if trap.code == wt.TrapCode.UNREACHABLE:      # FP: dynamic rounding with frm > 4
            return Fault(signal.SIGILL, ILL_ILLOPC, pc, self._illegal_message(pc))
        return Fault(signal.SIGILL, ILL_ILLOPC, pc, f"wasm trap {trap.code} at pc {pc:#x}")

    def _illegal_message(self, pc: int) -> str:
        try:
            raw = self._fetch(pc)
        except GuestFault:
            raw = None
        if raw is None:
            return f"illegal instruction at pc {pc:#x}"
        size = 4 if raw & 3 == 3 else 2
        return f"illegal instruction at pc {pc:#x}: {raw & ((1 << 8 * size) - 1):0{2 * size}x}"

    def _log_in_asm(self, translation: Translation) -> None:
        """One paragraph per guest block, in qemu's `-d in_asm` layout."""
        out = self.in_asm
        for start in sorted(translation.region.blocks):
            print("----------------\nIN:", file=out)
            for pc, instr in translation.region.blocks[start].instrs:
                if instr is None:
                    print(f"0x{pc:016x}:  {'':18}illegal", file=out)
                    continue
                mnemonic, _, operands = disasm(instr, pc).partition("\t")
                raw = f"{instr.raw:0{2 * instr.length}x}"
                print(f"0x{pc:016x}:  {raw:<18}{mnemonic:<24}{operands}".rstrip(), file=out)
            print(file=out)
        out.flush()


def _resumes(stopped: BaseException) -> bool:
    """Whether a syscall's stop only means "go on from the VM state" (rt_sigreturn, a
    forked child on its own stack), not the end of this image."""
    return isinstance(stopped, Restart) and stopped.image is None
