"""What the threads of one guest process share: the engine, the guest memory and its
address space, the core module, the translations, the disk cache, the background
compiler and the statistics.

Each thread runs on its own cpu (mvvm.runtime.vm.VM) with its own store; a region one
thread translates, the others find here and only instantiate.

How code runs is the image's tier mode: TIERED (the default: tier 0 interprets, hot
regions are compiled in the background), "0" (tier 0 only) or COMPILE (every region
is translated and compiled when first reached, on the guest's thread).
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import wasmtime as wt

from mvvm.runtime import layout
from mvvm.runtime.address_space import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace
from mvvm.runtime.cachefiles import CacheRoot, hasher
from mvvm.runtime.diskcache import DiskCache, Member, cache_path, default_directory, version_key
from mvvm.runtime.dispatcher import core_module
from mvvm.runtime.engine import make_engine, settings_text
from mvvm.runtime.memories import GUEST_SIZE, RESERVATION, Region
from mvvm.runtime.memory import GuestMemory
from mvvm.runtime.profile import ProfileData, merged
from mvvm.runtime.tiers import BackgroundCompiler, compile_batch, emit
from mvvm.runtime.translations import Compiled, Translations
from mvvm.translator.modules import TrapMap, region_name

if TYPE_CHECKING:
    from mvvm.runtime.vm import VM
    from mvvm.translator.modules import RegionBody
    from mvvm.translator.region import Region as GuestRegion

PAGE = 0x1000
SHORT_RUN = 0.25        # seconds: a run tier 1 cannot help (tier1_hold)
TIERED, COMPILE = "tiered", "1"      # tier modes (`mvvm run --tier`), besides "0"
RVC_ENTRIES = 0x10000     # tier 0's table of compressed expansions, one u32 each


class Stats:
    """What the VM spent its time on; `mvvm run --stats` and the benchmarks report it."""

    def __init__(self) -> None:
        self.regions = 0                # regions translated and compiled
        self.batches = 0                # modules the background compiler made of them
        self.cached_regions = 0         # regions loaded from the disk cache
        self.instructions = 0           # guest instructions translated
        self.tier0_instructions = 0     # guest instructions the interpreter ran
        self.translate_seconds = 0.0    # Python: decoding, region forming, wasm emitting
        self.compile_seconds = 0.0      # wasmtime: compiling and instantiating regions
        self.background_seconds = 0.0   # of which on the background thread (tiered)
        self.tier1_errors = 0           # background rounds that failed (their code stays in tier 0)
        self.fp_slow_calls = 0          # FP operations the host computed (fp_host)
        self.dispatcher_exits = 0       # returns from wasm to Python (syscalls, misses, traps)
        self.syscalls = 0               # the guest's, from every thread
        self.started = time.perf_counter()

    def report(self) -> dict[str, float]:
        """The counters; execute_seconds is the guest's own thread's time outside
        translating and compiling (background work runs beside it)."""
        total = time.perf_counter() - self.started
        foreground = self.translate_seconds + self.compile_seconds - self.background_seconds
        return {"regions": self.regions, "batches": self.batches,
                "cached_regions": self.cached_regions,
                "instructions": self.instructions,
                "tier0_instructions": self.tier0_instructions,
                "tier1_errors": self.tier1_errors,
                "fp_slow_calls": self.fp_slow_calls,
                "dispatcher_exits": self.dispatcher_exits,
                "syscalls": self.syscalls,
                "translate_seconds": round(self.translate_seconds, 6),
                "compile_seconds": round(self.compile_seconds, 6),
                "background_seconds": round(self.background_seconds, 6),
                "execute_seconds": round(total - foreground, 6),
                "total_seconds": round(total, 6)}


class Image:
    """One guest process's memory and code, shared by the cpus that run its threads."""

    def __init__(self, *, in_asm: TextIO | None = None, tier: str = TIERED,
                 profiler: str | None = None, code_of: Image | None = None,
                 sandbox: bool = False) -> None:
        """code_of: an image whose engine, core module and translations this one starts
        from, for a copy of its guest (an embedded machine's fork); sandbox: an
        embedding's (mvvm.runtime.engine.cranelift_flags)."""
        self.tier = tier
        self.sandbox = code_of.sandbox if code_of is not None else sandbox
        self.engine = code_of.engine if code_of is not None else make_engine(profiler, sandbox)
        self.settings = settings_text(self.sandbox)
        self.region = Region(GUEST_SIZE, GUEST_SIZE, RESERVATION)
        weakref.finalize(self, self.region.release)
        self.memory = GuestMemory(self.region.base)
        self.space = AddressSpace(self.memory, mmap_top=layout.MMAP_TOP)
        self.space.code_changed = lambda addr, length: self._drop_translations()
        self.memory.code_written = self._drop_translations
        self.translations = code_of.translations.copy() if code_of else Translations()
        self.stats = Stats()
        self.started = time.monotonic()
        self.in_asm = in_asm
        self.cache_dir: Path | None = None if in_asm else default_directory()
        self.precise = code_of.precise if code_of else False    # translating in precise mode
        self.counting = code_of.counting if code_of else False  # tier 1 counts (VM_BUDGET)
        self.cpus: list[VM] = []            # one per running guest thread
        self._disk: DiskCache | None = None
        self._disk_image: bytes | None = None   # the key's sample of the code (_open_disk_cache)
        self._core: wt.Module | None = code_of._core if code_of else None
        self._expansions: ctypes.Array[ctypes.c_uint32] | None = None   # expansions()
        self._expansions_grew = False
        self.compiler = BackgroundCompiler(self) if tier == TIERED else None

    # -- the threads ---------------------------------------------------------------------

    def interrupt(self, reason: BaseException) -> None:
        """Make every thread leave translated code soon and raise reason (VM.interrupt)."""
        for cpu in list(self.cpus):
            cpu.interrupt(reason)

    def _drop_translations(self) -> None:
        """Guest code changed (munmap, mprotect, a new mapping) or precise mode began: every
        translation goes;
        every thread drops its instances at its next return to Python, which it is asked
        for."""
        self.translations.flush()
        if self.compiler is not None:
            self.compiler.forget()
        if self._disk is not None:
            self._disk.rewind()
        for cpu in list(self.cpus):
            cpu.wake()

    @contextmanager
    def forking(self) -> Iterator[None]:
        """Around a fork(): no other thread of this process is inside the translations,
        compiling, mapping or copying guest memory (the child would inherit their locks
        held, by threads it does not have); in the child, a new background compiler, whose
        thread starts on demand."""
        parent = os.getpid()
        compiler = self.compiler
        # In this order: the compiler takes the translations' lock while busy, and the
        # address space's (fetching) while it holds that; the address space changes rights
        # (the memory's guard) while it holds its own.
        with compiler.busy if compiler else nullcontext(), self.translations.lock, \
                self.space.held(), self.memory.quiet():
            yield
        if os.getpid() != parent and compiler is not None:
            self.compiler = BackgroundCompiler(self)

    def require_precise(self) -> None:
        """Translate in precise mode from now on (mvvm.runtime.precise), for the guest's
        fault handlers. The imprecise translations go; so does their disk cache, which
        remembers it: the program's next run translates in precise mode from the start
        (`_disk_cache`)."""
        if not self.precise:
            if self._disk is not None:
                self._disk.mark_precise()
            self.save_code()
            self._become_precise()

    def _become_precise(self) -> None:
        """Without the imprecise translations and their disk cache."""
        self._disk = None
        self.precise = True
        self._drop_translations()

    def require_counting(self) -> None:
        """Translate in counting mode from now on (layout.VM_BUDGET), for an embedding's
        instruction budgets; the translations that do not count go, as for precise mode.
        Only tier 0 finishes a budget exactly: it needs the tiered mode."""
        assert self.tier == TIERED
        if not self.counting:
            self.save_code()
            self._disk = None
            self.counting = True
            self._drop_translations()

    # -- the core module -----------------------------------------------------------------

    def core(self) -> wt.Module:
        """The dispatcher and (unless in COMPILE mode) the interpreter: generated and
        compiled once per MVVM and wasmtime version, then kept in the code cache."""
        if self._core is None:
            self._core = self._cached_core()
        return self._core

    def _cached_core(self) -> wt.Module:
        name = f"core-{self.tier != COMPILE:d}.cwasm"
        data = self._read_version_file(name)
        if data is not None:
            try:
                return wt.Module.deserialize(self.engine, data)
            except wt.WasmtimeError:
                pass
        module = wt.Module(self.engine, core_module(self.tier != COMPILE))
        self._write_version_file(name, module.serialize())
        return module

    def expansions(self) -> ctypes.Array[ctypes.c_uint32]:
        """Tier 0's table of compressed instructions' expansions (layout.VM_RVC; 0 where
        none is known): what earlier runs and this run's threads met, so that neither a
        thread nor a later run asks the host again. Each thread's VM starts from it and
        adds to it (`learn_expansion`): ruff check's worker threads, whose own tables were
        never saved, asked for 3,700 expansions in every warm run (50 ms of the GIL)."""
        if self._expansions is None:
            data = self._read_version_file("rvc.bin")
            table = (ctypes.c_uint32 * RVC_ENTRIES)()
            if data is not None and len(data) == ctypes.sizeof(table):
                ctypes.memmove(table, data, len(data))
            self._expansions = table
        return self._expansions

    def learn_expansion(self, value: int, word: int) -> None:
        """A thread met the compressed value, whose expansion is word."""
        self.expansions()[value] = word
        self._expansions_grew = True

    def keep_expansions(self) -> None:
        """Save the table, if this run's threads added to it, for the next run."""
        if self._expansions_grew:
            self._expansions_grew = False
            self._write_version_file("rvc.bin", bytes(self.expansions()))

    def _version_root(self) -> CacheRoot | None:
        """Where the files of this MVVM and wasmtime version that do not depend on the
        guest are kept: the code cache, or the default one when the run has none
        (--no-cache)."""
        directory = self.cache_dir or default_directory()
        return cache_root(directory) if directory else None

    def _read_version_file(self, name: str) -> bytes | None:
        root = self._version_root()
        return root.read(root.path / version_key(self.settings) / name) if root else None

    def _write_version_file(self, name: str, data: bytes) -> None:
        root = self._version_root()
        if root is not None:
            root.write(root.path / version_key(self.settings) / name, data)

    # -- translating ---------------------------------------------------------------------

    def compiled(self, pc: int) -> Compiled:
        """The region at pc, compiled by another thread, found in the disk cache, or
        translated and compiled now (COMPILE mode). The caller holds the translations'
        lock."""
        found = self.translations.get(pc)
        if found is None and self.load_cached(pc):
            found = self.translations.get(pc)
        if found is not None:
            return found
        generation = self.translations.generation
        code = emit(self, pc, others=self.translations.starts)
        (compiled,) = compile_batch(self, region_name(pc), [code.body()], generation)
        return compiled

    def load_cached(self, pc: int) -> bool:
        """Install the disk cache's batch holding pc into the translations, if it has one
        whose code is still the guest's."""
        started = time.perf_counter()
        with self.translations.lock:
            if self.translations.get(pc) is not None:
                return True     # another thread loaded it while this one waited for the lock
            disk = self._disk_cache()
            if disk is None:
                return False
            generation = self.translations.generation
            found = disk.lookup(pc, self.current_code)
            for member, compiled in found:
                self.translations.add(member.pc, compiled, generation)
                if self.compiler is not None:
                    self.compiler.left_out(member.pc, member.pruned)
        self.stats.cached_regions += len(found)
        self.stats.compile_seconds += time.perf_counter() - started
        return bool(found)

    def cached_entries(self) -> list[int]:
        """The entries of the regions in the disk cache not yet loaded, and those the last
        run asked tier 1 for and ended without (opening the cache: the program and its
        loader are mapped by now, so the key is the same every run)."""
        with self.translations.lock:
            disk = self._disk_cache()
            return [*disk.index, *disk.wanted] if disk is not None else []

    def keep_batch(self, name: str, codes: list[RegionBody], module: wt.Module,
                   traps: TrapMap, generation: int) -> None:
        """Remember a batch translated in generation for the disk cache (saved at the end
        of the run), with the hashes of the guest bytes it depends on. Those are read now,
        and the batch is kept only if no flush came since it was translated, checked after
        the reading: every change to code or to a jump table the translator read comes
        after a flush (an mprotect that makes it writable, a store to watched code), and a
        batch translated from the old bytes but hashed with the new would load in later
        runs, as switchtable's did (its table rewritten between the two: exit 91)."""
        with self.translations.lock:
            disk = self._disk_cache()
        if disk is None:
            return
        members = []
        for code in codes:
            guest = self.current_code(code.ranges)
            if guest is None:
                return                  # the code changed meanwhile: not worth keeping
            members.append(Member(code.entry, code.ranges, hasher(guest).digest(),
                                  tuple(sorted(code.pruned))))
        with self.translations.lock:
            if generation == self.translations.generation:
                disk.add(name, members, module, traps)

    def _disk_cache(self) -> DiskCache | None:
        """Opened when the guest starts, keyed by what is executable then (the program
        and its loader), so that the same program finds its regions again. The key samples
        each executable mapping (name, place, size, first and last page) rather than
        hashing megabytes of code: every region is checked against the guest code
        anyway, so a key shared by two builds only costs cache hits."""
        root = cache_root(self.cache_dir) if self.cache_dir is not None else None
        if self._disk is None and root is not None:
            self._disk = self._open_disk_cache(root)
            if self._disk.goes_precise and not self.precise:
                # What runs before a program installs its fault handler was translated
                # imprecise, every run, and dropped (ruff: its loader's and its start's
                # regions, 40 a run, though the precise cache held them).
                self._become_precise()
                self._disk = self._open_disk_cache(root)
        return self._disk

    def _open_disk_cache(self, root: CacheRoot) -> DiskCache:
        """The sample of the code is taken the first time only: reopened for precise or
        counting mode, later in the run, the cache must keep the key the next run opens
        it by at its start (ruff's first run saved its regions where no run looked: its
        libraries were mapped by the time its fault handler made it precise)."""
        if self._disk_image is None:
            self._disk_image = b"".join(
                f"{m.name} {m.start:x} {m.end:x}".encode()
                + (self.current_code([(m.start, min(m.end, m.start + PAGE))]) or b"")
                + (self.current_code([(max(m.start, m.end - PAGE), m.end)]) or b"")
                for m in self.space.mappings() if m.prot & PROT_EXEC)
        directory = root.path / version_key(f"{self.settings} precise="
                                            f"{self.precise} counting={self.counting}")
        return DiskCache(cache_path(directory, self._disk_image), self.engine, root)

    @functools.cached_property
    def saved_profile(self) -> ProfileData | None:
        """The profile earlier runs left with the disk cache, if any."""
        with self.translations.lock:
            disk = self._disk_cache()
            return ProfileData.decode(disk.saved_profile() if disk is not None else None)

    def save_code(self, profile: ProfileData | None = None) -> None:
        """Keep this run's new translations for the next run (no-op without a disk cache),
        with profile (tier 0's) merged into the saved one, and the entries tier 1 was
        asked for and has not delivered (DiskCache.save)."""
        undelivered = [] if self.compiler is None else self.compiler.undelivered(
            self.translations)
        hold = tier1_hold(self.stats.batches, undelivered, time.monotonic() - self.started)
        with self.translations.lock:
            if self._disk is not None:
                self._disk.save(None if profile is None
                                else lambda: merged(profile, self.saved_profile),
                                undelivered, hold)

    def tier1_start(self) -> float:
        """When (time.monotonic) tier 1 may begin translating: the disk cache's hold after
        the image's start."""
        with self.translations.lock:
            disk = self._disk_cache()
            return self.started + (disk.hold if disk is not None else 0.0)

    # -- guest code ----------------------------------------------------------------------

    def current_code(self, ranges: list[tuple[int, int]]) -> bytes | None:
        """The guest bytes in ranges, or None unless all of them are executable. Read a run
        of whole pages at a time: a region's ranges (its blocks, about five) mostly share
        a page or two, and a warm run checks a thousand regions' code (cmake -P: 40 ms
        reading range by range)."""
        runs = _page_runs(ranges)
        if not all(self.executable(page)
                   for first, end in runs for page in range(first, end, PAGE)):
            return None
        pages = []
        for first, end in runs:
            self._watch(first, end - first)
            pages.append((first, end, self.memory.read(first, end - first)))
        return b"".join(next(data[start - first:end - first]
                             for first, last, data in pages if first <= start <= last)
                        for start, end in ranges)

    def _watch(self, addr: int, size: int) -> None:
        """Code is about to be read for translation: a store to it from now on drops the
        translations (GuestMemory.watch_code) and must then run again, which needs exact
        registers at the fault. The first time, the imprecise translations go: the one
        being made is among them, and threads still running others are asked to leave
        them (a store to the page from one of those before it does is SIGSEGV)."""
        if self.memory.watch_code(addr, size) and not self.precise:
            self.require_precise()

    def executable(self, pc: int) -> bool:
        return bool(self.space.prot_at(pc) & PROT_EXEC)

    def fetch(self, pc: int) -> int | None:
        """32 bits at pc for the decoder, or None outside executable memory. A compressed
        instruction at the end of the last executable page is fetched as 16 bits."""
        if not self.executable(pc):
            return None
        size = 4 if ((pc + 2) & (PAGE - 1)) or self.executable(pc + 2) else 2
        self._watch(pc, size)
        return int.from_bytes(self.memory.read(pc, size), "little")

    def code_reader(self) -> Callable[[int], int | None]:
        """`fetch` for one translation, which reads each page of code once: a region
        decodes hundreds of instructions from a few pages, and each read of guest memory
        (rights, watch, lock) cost 10 us, a seventh of tier 1's time in coremark's first
        run. A page is watched before it is copied, so a store to it after the copy drops
        the translation being made, as it would without the copy (`_watch`)."""
        from mvvm.translator.region import paged_fetch  # translating loaded it

        return paged_fetch(self.code_page, self.fetch)

    def code_page(self, base: int) -> bytes | None:
        """The page of code at base, watched (see code_reader), or None if it is not
        executable."""
        if not self.executable(base):
            return None
        self._watch(base, PAGE)
        return self.memory.read(base, PAGE)

    def read_only(self, addr: int) -> int | None:
        """The 32 bits at addr if they are readable and executable and not writable, else
        None: what the translator reads jump tables from (emit_region's read_only). No
        guest store reaches them, and an mprotect that makes them writable drops the
        translations, as for code there; a writable page would need a watch, which takes
        the whole VM to precise mode (`_watch`)."""
        rights = PROT_READ | PROT_EXEC
        if any(self.space.prot_at(a) & (rights | PROT_WRITE) != rights for a in (addr, addr + 3)):
            return None
        return int.from_bytes(self.memory.read(addr, 4), "little")

    def executable_pages(self) -> list[tuple[int, int]]:
        """The executable guest pages, as (first, end) page numbers, that tier 0 checks its
        fetches against."""
        return [(m.start // PAGE, min(m.end, layout.GUEST_LIMIT) // PAGE)
                for m in self.space.mappings() if m.prot & PROT_EXEC]

    def log_in_asm(self, region: GuestRegion) -> None:
        """One paragraph per guest block, in qemu's `-d in_asm` layout."""
        from mvvm.isa import disasm  # translating loaded it
        out = self.in_asm
        for start in sorted(region.blocks):
            print("----------------\nIN:", file=out)
            for pc, instr in region.blocks[start].instrs:
                if instr is None:
                    print(f"0x{pc:016x}:  {'':18}illegal", file=out)
                    continue
                mnemonic, _, operands = disasm(instr, pc).partition("\t")
                raw = f"{instr.raw:0{2 * instr.length}x}"
                print(f"0x{pc:016x}:  {raw:<18}{mnemonic:<24}{operands}".rstrip(), file=out)
            print(file=out)
        out.flush()


def tier1_hold(published: int, undelivered: list[int], seconds: float) -> float:
    """How long tier 1 waits in the next run: as long as this run lasted (in tenths of a
    second, up), if it was short (SHORT_RUN), asked tier 1 for regions and ended before
    tier 1 published any; else not at all. A short run's tier 1 only costs: it loads the
    translator (36 ms) and translates, holding the GIL the guest's syscalls wait for, and
    the run ends first (ninja --version: 0.14 s tiered, 0.12 s in tier 0 alone; cmake
    --version 0.18 s and 0.14 s with the wait). A longer run that published nothing was
    busy with a large region when it ended (cmake -P's 2,000 instructions): held, the
    runs after it, no longer than it, would compile nothing, and stay held."""
    if published or not undelivered or seconds > SHORT_RUN:
        return 0.0
    return math.ceil(seconds * 10) / 10


def _page_runs(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The runs of consecutive pages that ranges touch, as (start, end) addresses."""
    runs: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        first, last = start & ~(PAGE - 1), (end + PAGE - 1) & ~(PAGE - 1)
        if runs and first <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], last))
        else:
            runs.append((first, last))
    return runs


@functools.cache
def cache_root(directory: Path) -> CacheRoot | None:
    """The cache root at directory, checked once per run (CacheRoot.open)."""
    return CacheRoot.open(directory)
