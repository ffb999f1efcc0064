"""The virtual CPU of one guest thread: architectural state, the run loop, and what
happens at each return to Python. The threads of a process share an Image
(mvvm.runtime.image): memory, address space and translations.

`run` calls the wasm dispatcher until the guest ends. Python sees the guest
only at a jump to code tier 0 cannot fetch (or, compiling everything, a
translation miss), a hot entry, a syscall, an illegal instruction, ebreak,
fence.i, or a trap; the register file in the VM memory is exact at each of
those points (traps in translated code excepted: only the pc is exact, unless
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
from pathlib import Path
from typing import TextIO

import wasmtime as wt

from mvvm.errors import BudgetSpent, GuestFault, Restart
from mvvm.runtime import fp_host, layout
from mvvm.runtime.address_space import AddressSpace
from mvvm.runtime.dispatcher import CORE_NAME, CodeCache
from mvvm.runtime.engine import Runtime, WasmTrap
from mvvm.runtime.image import COMPILE, RVC_ENTRIES, TIERED, Image, Stats
from mvvm.runtime.memory import GuestMemory
from mvvm.runtime.precise import (
    BUS_ADRALN,
    ILL_ILLOPC,
    SEGV_ACCERR,
    SEGV_MAPERR,
    TRAP_BRKPT,
    Fault,
    fault_address,
)
from mvvm.runtime.profile import ProfileData, Tables

MASK64 = (1 << 64) - 1
HOT_THRESHOLD = 100             # tier 0 entries of a pc before tier 1 compiles it
Syscall = Callable[[int, tuple[int, ...]], int]
# Traps of a memory access: the signal, its si_code, and the message.
ACCESS_TRAPS = {
    wt.TrapCode.MEMORY_OUT_OF_BOUNDS: (signal.SIGSEGV, SEGV_MAPERR, "segmentation fault"),
    wt.TrapCode.HEAP_MISALIGNED: (signal.SIGBUS, BUS_ADRALN, "misaligned atomic access"),
}


class VM:
    def __init__(self, *, in_asm: TextIO | None = None, image: Image | None = None,
                 tier: str = TIERED, profiler: str | None = None,
                 sandbox: bool = False) -> None:
        self.image = image or Image(in_asm=in_asm, tier=tier, profiler=profiler,
                                    sandbox=sandbox)
        self.runtime = Runtime(self.image.engine, self.image.region)
        vm_base = self.runtime.vm_address()
        self.x = (ctypes.c_uint64 * 32).from_address(vm_base + layout.VM_X)
        self.f = (ctypes.c_uint64 * 32).from_address(vm_base + layout.VM_F)
        self._pc = ctypes.c_uint64.from_address(vm_base + layout.VM_PC)
        self._reason = ctypes.c_uint32.from_address(vm_base + layout.VM_REASON)
        ctypes.c_uint64.from_address(vm_base + layout.VM_RESERVATION).value = MASK64
        self.syscall_handler: Syscall | None = None
        self._pending: BaseException | None = None
        self.fp_slow_path = fp_host.FpSlowPath(vm_base + layout.VM_FCSR, self.image.stats)
        host = [self.runtime.host_function([], [wt.ValType.i32()], self._on_syscall),
                self.runtime.host_function([], [wt.ValType.i64()], self._on_clock),
                self.runtime.host_function(list(fp_host.PARAMS), list(fp_host.RESULTS),
                                           self.fp_slow_path)]
        pc_to_i32 = ([wt.ValType.i64()], [wt.ValType.i32()])
        host += [self.runtime.host_function(*pc_to_i32, self._on_translate),
                 self.runtime.host_function(*pc_to_i32, self._on_hot),
                 self.runtime.host_function([wt.ValType.i32()], [wt.ValType.i32()],
                                            self._on_expand)]
        self.cache = CodeCache(self.runtime, host, self.image.core())
        self.cache.generation = self.image.translations.generation
        self._profile = ProfileData.at(vm_base + layout.VM_COUNTERS, self.runtime)
        self._tier0 = ctypes.c_uint64.from_address(vm_base + layout.VM_TIER0_INSTRUCTIONS)
        self._budget = ctypes.c_int64.from_address(vm_base + layout.VM_BUDGET)
        self._tier0_only = ctypes.c_uint32.from_address(vm_base + layout.VM_TIER0_ONLY)
        self._budget.value = layout.UNLIMITED
        self._call_depth = ctypes.c_uint32.from_address(vm_base + layout.VM_CALL_DEPTH)
        self._call_depth.value = layout.CALL_DEPTH_LIMIT
        self._rvc = (ctypes.c_uint32 * RVC_ENTRIES).from_address(vm_base + layout.VM_RVC)
        ctypes.memmove(self._rvc, self.image.expansions(), ctypes.sizeof(self._rvc))
        ctypes.c_uint32.from_address(vm_base + layout.VM_HOT_THRESHOLD).value = \
            HOT_THRESHOLD if self.image.tier == TIERED else 0
        self._executable: list[tuple[int, int]] = []     # the pages the bitmap has
        self._refresh_pages()
        self._interrupt = ctypes.c_uint32.from_address(vm_base + layout.VM_INTERRUPT)
        self._fcsr = ctypes.c_uint32.from_address(vm_base + layout.VM_FCSR)
        self.interrupt_reason: BaseException | None = None
        # A pc, never executable, at which `run` returns: where an embedding's call into
        # the guest returns to (mvvm.embed).
        self.return_address: int | None = None
        self._cache_expected = False
        # A thread's cpu installs only the regions it gets hot (spawn): a multithreaded
        # program's every thread installed every region any thread ran, one module
        # instance and table slot each (ruff check: 3,000 installs, 0.35 s of its threads'
        # time, for 565 regions).
        self._installs_all = True
        self._asked_here: set[int] = set()
        self.safe_point: Callable[[], None] | None = None
        self.fault_handler: Callable[[Fault], None] | None = None
        self.image.cpus.append(self)

    def spawn(self) -> VM:
        """A cpu for a new thread of this process (clone): same image, a copy of this
        cpu's registers, at the same pc."""
        cpu = VM(image=self.image)
        cpu._installs_all = False
        cpu.x[:] = self.x[:]
        cpu.f[:] = self.f[:]
        cpu.fcsr, cpu.pc = self.fcsr, self.pc
        return cpu

    def retire(self) -> None:
        """The thread ended: the image no longer interrupts or wakes this cpu."""
        self.image.cpus.remove(self)

    # What the image holds, as the loader and the Linux layer see it from the cpu.

    @property
    def memory(self) -> GuestMemory:
        return self.image.memory

    @property
    def space(self) -> AddressSpace:
        return self.image.space

    @property
    def stats(self) -> Stats:
        return self.image.stats

    @property
    def cache_dir(self) -> Path | None:
        return self.image.cache_dir

    @cache_dir.setter
    def cache_dir(self, value: Path | None) -> None:
        self.image.cache_dir = value

    @property
    def pc(self) -> int:
        return self._pc.value

    @pc.setter
    def pc(self, value: int) -> None:
        self._pc.value = value

    @property
    def call_depth(self) -> int:
        """How deep guest calls nest as wasm calls (layout.VM_CALL_DEPTH): as deep as the
        host thread that runs this cpu has stack for, which whoever starts it knows."""
        return self._call_depth.value

    @call_depth.setter
    def call_depth(self, value: int) -> None:
        self._call_depth.value = value

    @property
    def fcsr(self) -> int:
        """The fcsr CSR: fflags in bits 0-4, frm in bits 5-7."""
        return self._fcsr.value

    @fcsr.setter
    def fcsr(self, value: int) -> None:
        self._fcsr.value = value & 0xFF

    # -- running -------------------------------------------------------------------------

    def run(self, *, keep_code: bool = True) -> None:
        """Run until the guest exits (GuestExit) or is killed (GuestSignal), or reaches
        return_address; then keep the new translations in the disk cache (the main thread
        does, for all)."""
        try:
            self._run()
        finally:
            self.stats.tier0_instructions += self._tier0.value
            self._tier0.value = 0
            if keep_code:
                self.save_code()

    def call(self) -> None:
        """Run from pc until return_address: an embedding's call into the guest. The
        common case, a call that returns without leaving to Python on the way, takes one
        crossing into wasm."""
        if self.cache.generation != self.image.translations.generation or not self._step():
            self.run(keep_code=False)

    def _run(self) -> None:
        self._catch_up()
        self._expect_cached()
        while not self._step():
            pass

    def fast_call_state(self) -> tuple[int, ...]:
        """The addresses mvvm.embed's fast call (C) works on: the raw call of the dispatcher
        (Runtime.raw_call), then x0..x31, pc and the exit reason."""
        return (*self.runtime.raw_call(self.cache.run), ctypes.addressof(self.x),
                ctypes.addressof(self._pc), ctypes.addressof(self._reason))

    def fast_call_ready(self) -> bool:
        """Whether a call may take mvvm.embed's fast path (its C does what `call` does, up
        to the dispatcher's first return): this thread's compiled code is current. (A
        budget is the caller's to rule out.)"""
        return self.cache.generation == self.image.translations.generation

    def after_fast_call(self) -> None:
        """The fast path's dispatcher call ended short of return_address (a trap, an exit to
        Python): go on from there as `call` would."""
        if not self._step(self.runtime.outcome):
            self.run(keep_code=False)

    def _step(self, outcome: Callable[[], int] | None = None) -> bool:
        """Run the dispatcher until it leaves to Python (or take outcome, the result of a
        run made already), and do what it left for; whether it left at return_address."""
        self.stats.dispatcher_exits += 1
        try:
            result = outcome() if outcome else self.runtime.call_i64(self.cache.run)
        except WasmTrap as trap:
            fault, exact = self._fault_for(trap)
            if exact and fault.signo == signal.SIGSEGV and self.memory.written(fault.addr, 8):
                self._catch_up()        # a store to code: the translations went
                self._retire_in_tier0()
            else:
                self._fault(fault, exact=exact)
            return False
        pc = result & ~1
        self._pc.value = pc
        reason = self._reason.value
        if reason == layout.REASON_MISS and pc == self.return_address:
            return True
        self._left_for(reason, pc)
        return False

    def _left_for(self, reason: int, pc: int) -> None:
        """What the dispatcher left to Python for: a miss, a syscall's stop, fence.i,
        ebreak, an illegal instruction or an interrupt (an FP instruction's slow path left
        to tier 0 stays in wasm: dispatcher._retire_slow_paths)."""
        if reason == layout.REASON_MISS:
            self._miss(pc)
        elif reason == layout.REASON_SYSCALL:
            pending, self._pending = self._pending, None
            if pending is not None and not _resumes(pending):
                raise pending       # else: the syscall changed the state; go on from it
        elif reason == layout.REASON_FENCE_I:
            self.flush_code()
        elif reason == layout.REASON_BUDGET:
            raise BudgetSpent
        elif reason == layout.REASON_EBREAK:
            self._fault(Fault(signal.SIGTRAP, TRAP_BRKPT, pc,
                              f"breakpoint (ebreak) at pc {pc:#x}"))
        elif reason != layout.REASON_INTERRUPT:
            self._fault(Fault(signal.SIGILL, ILL_ILLOPC, pc, self._illegal_message(pc)))
        self._catch_up()
        if self._interrupt.value:
            self._interrupted()

    def _miss(self, pc: int) -> None:
        """Tier 0 could not fetch at pc (its page bitmap may be older than a new mapping),
        or, compiling everything, pc has no region yet."""
        try:
            self._check_executable(pc)
            self._refresh_pages()           # tier 0 runs compiled code's slow paths too
            if self.image.tier == COMPILE:
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
        """The table slot of the region at pc, instantiated in this thread's store; the
        image translates it (or finds it) first if no thread has yet."""
        self._check_executable(pc)
        with self.image.translations.lock:
            self.image.compiled(pc)
            self._catch_up()
        return self.cache.slots.get(pc, 0)

    def _expect_cached(self) -> None:
        """Make each entry the disk cache holds hot at its first jump in tier 0, so that
        a warm run loads its batch then rather than after HOT_THRESHOLD interpretations;
        and each entry the last run wanted compiled and ended without, so that tier 1 has
        it early enough this time."""
        if self.image.tier != TIERED or self._cache_expected:
            return
        self._cache_expected = True
        for entry in self.image.cached_entries():
            self._profile.set_count(entry, max(self._profile.count(entry), HOT_THRESHOLD - 1))

    def _check_executable(self, pc: int) -> None:
        if not self.image.executable(pc):
            code = SEGV_ACCERR if self.space.prot_at(pc) else SEGV_MAPERR
            raise Fault(signal.SIGSEGV, code, pc, f"jump to non-executable address {pc:#x}")

    def _catch_up(self) -> bool:
        """Drop this thread's instances if the translations moved on (and reread which
        pages are executable), then install the regions it has not yet; whether the
        translations had moved on."""
        translations = self.image.translations
        generation = translations.generation
        flushed = self.cache.generation != generation
        if flushed:
            self.cache.flush(generation)
            self._refresh_pages()
        order = translations.order
        if self.cache.installed < len(order):
            started = time.perf_counter()
            for entry in order[self.cache.installed:]:
                if self._installs_all or entry in self._asked_here or \
                        entry in self.cache.compiled:
                    self._install(entry)
            self.cache.installed = len(order)
            self.stats.compile_seconds += time.perf_counter() - started
        return flushed

    def _install(self, entry: int) -> None:
        compiled = self.image.translations.get(entry)
        if compiled is not None and self.cache.compiled.get(entry) is not compiled:
            self.cache.install(entry, compiled)
            self._profile.set_count(entry, layout.COUNTER_ASKED)

    def _refresh_pages(self) -> None:
        """Tier 0's bitmap of executable pages, from the address space: the bits of the
        pages that were executable cleared, those of the pages that are set. (Written
        whole, the bitmap of 256 GiB would touch 8 MiB of each thread's memory.)"""
        pages = self.image.executable_pages()
        if pages == self._executable:
            return
        bitmap = self.runtime.vm_address() + layout.VM_EXEC
        for first, end in self._executable:
            ctypes.memset(bitmap + first // 8, 0, -(-end // 8) - first // 8)
        for first, end in pages:
            whole_from, whole_to = -(-first // 8), end // 8
            if whole_to > whole_from:
                ctypes.memset(bitmap + whole_from, 0xFF, whole_to - whole_from)
            for page in (*range(first, min(end, 8 * whole_from)),
                         *range(max(first, 8 * whole_to), end)):
                ctypes.c_uint8.from_address(bitmap + page // 8).value |= 1 << page % 8
        self._executable = pages

    def flush_code(self) -> None:
        """Forget every translation: guest code was rewritten (fence.i, or a test)."""
        self.image.translations.flush()
        self._catch_up()

    def save_code(self) -> None:
        """Keep this run's new translations for the next run (no-op without a disk cache),
        with the profile they were made from, and the compressed instructions' expansions
        tier 0 met."""
        self.image.save_code(self._profile)
        if self.image.tier != COMPILE:
            self.image.keep_expansions()

    def _retire_in_tier0(self) -> None:
        """Run the instruction at pc in tier 0: a store whose page was watched for code
        changes (translating code from its page first would watch the page again, and a
        store to the code around it would fault for ever)."""
        budget, only, pc = self._budget.value, self._tier0_only.value, self.pc
        self._budget.value, self._tier0_only.value = 1, 1
        try:
            while self.pc == pc and self._budget.value == 1:    # an interrupt may come first
                self._step()
        except BudgetSpent:
            pass
        finally:
            self._budget.value = budget - (1 - self._budget.value)   # what it retired
            self._tier0_only.value = only

    def set_budget(self, instructions: int | None) -> None:
        """Let the guest retire at most this many more instructions (None: no limit);
        `run` raises BudgetSpent when they are spent. Compiled code only counts them once
        the image is in counting mode (Image.require_counting)."""
        self._budget.value = layout.UNLIMITED if instructions is None else instructions
        self._tier0_only.value = 0

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

    @property
    def precise(self) -> bool:
        return self.image.precise

    def require_precise(self) -> None:
        """Translate in precise mode from now on (mvvm.runtime.precise), for the guest's
        fault handlers. Called from a syscall: the imprecise translations are dropped
        when it returns, and the disk cache is one of precise translations."""
        self.image.require_precise()

    # -- host functions called from translated code -----------------------------------

    def _on_syscall(self, values: ctypes.Array) -> None:
        """Run the syscall in a7 with a0-a5. Stop (return 1) when it raised, or when it
        changed code: regions that are live on the wasm stack may hold stale code, so all
        of them must unwind before anything runs again."""
        x = self.x
        self.image.stats.syscalls += 1
        try:
            x[10] = self.syscall_handler(x[17], (x[10], x[11], x[12], x[13], x[14], x[15])) \
                & MASK64
            values[0].i32 = 0
            if self._interrupt.value or \
                    self.cache.generation != self.image.translations.generation:
                self._leave_after_ecall(values)
        except BaseException as stop:       # noqa: BLE001 - nothing may unwind through wasm
            self._pending = stop
            self._stop(values)

    def _leave_after_ecall(self, values: ctypes.Array) -> None:
        """Stop at the instruction after the ecall: when translations are stale, since
        regions on the wasm stack may hold them, or when the guest's attention is wanted,
        so that a signal the syscall made due is delivered before the next instruction."""
        self._catch_up()
        self.pc += 4
        self._stop(values)

    def _stop(self, values: ctypes.Array) -> None:
        self._reason.value = layout.REASON_SYSCALL
        values[0].i32 = 1

    def _on_translate(self, values: ctypes.Array) -> None:
        """A region needs the one at this pc (a call, or the dispatcher): translate it now,
        inside the call, so the caller goes on. Slot 0 tells it to leave instead; the run
        loop then translates the pc again and raises whatever went wrong."""
        try:
            values[0].i32 = self._translate(values[0].i64 & MASK64)
        except BaseException:               # noqa: BLE001 - nothing may unwind through wasm
            values[0].i32 = 0

    def profile(self) -> Tables:
        """Tier 0's profile and what earlier runs saw (mvvm.runtime.profile), which tier 1
        translates along; read on the background compiler's thread (the saved one is read
        from the disk cache when first needed: a guest thread need not wait for it)."""
        return self._profile, self.image.saved_profile

    def _on_hot(self, values: ctypes.Array) -> None:
        """Tier 0 found a hot entry, or tier 1 keeps leaving for a branch side its profile
        had left out: load the entry's batch from the disk cache, or ask the background
        compiler for it, and for the regions that left that side out again; install
        whatever is ready (non-zero: something was, so tier 0 goes back to the
        dispatcher)."""
        pc = values[0].i64 & MASK64
        self._profile.set_count(pc, layout.COUNTER_ASKED)
        self._asked_here.add(pc)
        try:
            image = self.image
            if image.translations.get(pc) is None and not image.load_cached(pc):
                image.compiler.request(pc, self.profile)
            image.compiler.reprofile(pc, self.profile)
            before = self.cache.regions
            self._catch_up()
            self._install(pc)           # another thread's, which this one had not
            values[0].i32 = int(self.cache.regions != before)
        except BaseException:               # noqa: BLE001 - nothing may unwind through wasm
            values[0].i32 = 0

    def _on_expand(self, values: ctypes.Array) -> None:
        """Tier 0 met a compressed value for the first time: its expansion, kept for next
        time in the VM memory's table."""
        value = values[0].i32 & 0xFFFF
        word = self.image.expansions()[value]       # another thread may have met it
        if not word:
            from mvvm.interpreter.rvc import expansion  # decodes: a warm run seldom needs it
            word = expansion(value)
            self.image.learn_expansion(value, word)
        self._rvc[value] = word
        values[0].i32 = word - (1 << 32) if word & 0x80000000 else word

    def _on_clock(self, values: ctypes.Array) -> None:
        values[0].i64 = time.monotonic_ns() // 100      # a 10 MHz timebase, as on QEMU's virt

    # -- faults --------------------------------------------------------------------------

    def _trapping_pc(self, trap: WasmTrap) -> tuple[int, bool]:
        """The guest pc of a trap, and whether the registers are exact there: in
        translated code only in precise mode; in tier 0, which keeps VM_PC, always."""
        for module, offset in trap.frames:
            if module == CORE_NAME:
                return self.pc, True
            traps = self.image.translations.traps_of_module(module)
            if traps is not None:
                return traps.pc_at(offset), self.precise
        return self.pc, False

    def _fault_for(self, trap: WasmTrap) -> tuple[Fault, bool]:
        """The fault a trap stands for, and whether the registers are exact; the pc is set
        to the faulting instruction. si_addr of an access needs exact registers, so it is
        0 where they are not."""
        pc, exact = self._trapping_pc(trap)
        self.pc = pc
        if trap.code in ACCESS_TRAPS:
            signo, code, what = ACCESS_TRAPS[trap.code]
            from mvvm.isa import decode  # faults are rare: not loaded before one
            instr = decode(self.image.fetch(pc) or 0)
            addr = fault_address(instr, self.x) if exact and instr else 0
            return Fault(signo, code, addr, f"{what} at pc {pc:#x}"), exact
        if trap.code == wt.TrapCode.UNREACHABLE:      # FP: dynamic rounding with frm > 4
            return Fault(signal.SIGILL, ILL_ILLOPC, pc, self._illegal_message(pc)), exact
        return Fault(signal.SIGILL, ILL_ILLOPC, pc,
                     f"wasm trap {trap.code} at pc {pc:#x}"), exact

    def _illegal_message(self, pc: int) -> str:
        try:
            raw = self.image.fetch(pc)
        except GuestFault:
            raw = None
        if raw is None:
            return f"illegal instruction at pc {pc:#x}"
        size = 4 if raw & 3 == 3 else 2
        return f"illegal instruction at pc {pc:#x}: {raw & ((1 << 8 * size) - 1):0{2 * size}x}"


def _resumes(stopped: BaseException) -> bool:
    """Whether a syscall's stop only means "go on from the VM state" (rt_sigreturn, a
    forked child on its own stack), not the end of this image."""
    return isinstance(stopped, Restart) and stopped.image is None
