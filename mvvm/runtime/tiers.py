"""Tier 1 in the background: hot regions translated and compiled off the guest's path.

Tier 0 (mvvm.interpreter) counts jump targets; at the hot threshold a guest
thread asks for the region there and goes on interpreting. This thread
translates the regions asked for, the hottest first, each along the branch sides
the profile saw run (for a program that makes syscalls, in a process of its own:
mvvm.runtime.translator_process), and packs what BATCH_SECONDS of translating
yields into one module (few, large modules: wasmtime and the host limit
instances and memory mappings, not functions); Cranelift compiles it without the
GIL, on the second core. The regions then join the image's translations, and
every guest thread is woken to install them at its next return to Python. A
branch side a region left out that later runs often has the region translated
again (`reprofile`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Container, Iterable
from typing import TYPE_CHECKING

import wasmtime as wt

from mvvm.errors import GuestFault
from mvvm.runtime.layout import COUNTER_ASKED
from mvvm.runtime.profile import ProfileData, Tables, translator_profile
from mvvm.runtime.translations import Compiled, Translations
from mvvm.translator.modules import RegionBody, export_name, pack

if TYPE_CHECKING:
    from mvvm.runtime.image import Image
    from mvvm.translator.region import Profile
    from mvvm.translator.translate import RegionCode

ProfileSource = Callable[[], Tables]    # what tier 0 saw, read when a region is translated
Request = tuple[int, ProfileSource, bool]  # an entry, its profile, and whether asked again

MAX_BATCH = 256                      # regions per module, so that a batch compiles soon
GATHER_SECONDS = 0.01                # how long a first request waits for others to join it
BATCH_SECONDS = 0.03                 # translating that makes a batch: keeps the latency low
SWITCH_SECONDS = 0.0002              # the GIL's switch interval while the compiler runs
# A guest that has made this many syscalls has tier 1 translate in its own process (see
# `translate`): real programs make 80 to thousands (ld.so alone makes dozens), the
# bench's compute-bound programs 15-19.
PROCESS_SYSCALLS = 64


class BackgroundCompiler:
    """One per image: a queue of hot entries and the thread that compiles them."""

    def __init__(self, image: Image) -> None:
        # Held weakly, and by the thread only during a round: an image that is no longer
        # used goes, with its guest memory's 256 GiB of host address space, and the
        # thread ends (a test run, an embedding's machines, make many images).
        self._image = weakref.ref(image)
        self._stopped = False
        weakref.finalize(image, self._stop)
        self._pending: dict[int, tuple[ProfileSource, bool]] = {}  # pc -> (profile, again)
        self._asked: set[int] = set()
        self._asked_again: set[int] = set()     # after a flush dropped their translation
        self._pruned_by: dict[int, set[int]] = {}     # branch side -> regions without it
        self._mending: dict[int, set[int]] = {}       # entry -> sides it is asked again for
        self._wakeup = threading.Condition()
        self._seen: dict[int, int] = {}         # pending entry -> its counter, last looked
        self._thread: threading.Thread | None = None
        # Held while translating or compiling: fork() waits for it, so that the child
        # inherits no half-made module and no lock this thread held (mvvm.runtime.image).
        self.busy = threading.Lock()

    def request(self, pc: int, profile: ProfileSource, *, again: bool = False) -> None:
        """Ask for the region at pc, translated along what profile() says ran (again:
        even if it was asked for before, to replace it). profile() is called on this
        thread, which may read the saved profile: not on the guest's."""
        with self._wakeup:
            if pc in self._asked and not again:
                return
            self._asked.add(pc)
            self._pending[pc] = (profile, again)
            self._wakeup.notify()
            if self._thread is None:
                # The guest thread needs the GIL only briefly (a syscall, a hot entry), but
                # then at once: let it take the GIL from the translating thread soon.
                sys.setswitchinterval(SWITCH_SECONDS)
                self._thread = threading.Thread(target=self._loop, name="mvvm-tier1",
                                                daemon=True)
                self._thread.start()

    def reprofile(self, pc: int, profile: ProfileSource) -> None:
        """The regions that left out the branch side at pc, which now runs often, are
        translated again with the profile as it is then (once per region and side)."""
        with self._wakeup:
            entries = self._pruned_by.pop(pc, set())
            for entry in entries:
                self._mending.setdefault(entry, set()).add(pc)
        for entry in entries:
            self.request(entry, profile, again=True)

    def left_out(self, entry: int, sides: Iterable[int]) -> None:
        """The region at entry, compiled now or loaded from the disk cache, leaves for
        sides (Region.pruned): leaving there often has it translated again."""
        with self._wakeup:
            for side in sides:
                self._pruned_by.setdefault(side, set()).add(entry)

    def undelivered(self, translations: Translations) -> list[int]:
        """The entries asked for that have no translation (yet, or it was dropped)."""
        with self._wakeup:
            asked = list(self._asked)
        return [pc for pc in asked if translations.get(pc) is None]

    def forget(self) -> None:
        """The translations were flushed: entries may be asked for again."""
        with self._wakeup:
            self._asked = set(self._pending)
            self._pruned_by = {}

    def _stop(self) -> None:
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify()

    def _loop(self) -> None:
        held = False
        while True:
            with self._wakeup:
                while not self._pending and not self._stopped:
                    self._wakeup.wait()
            time.sleep(GATHER_SECONDS)      # fewer, larger modules: instances are limited
            image = self._image()
            if image is None:
                return
            wait = 0.0 if held else image.tier1_start() - time.monotonic()
            held = True
            if wait > 0:                    # Image.tier1_hold
                del image
                time.sleep(wait)
                continue
            try:
                self._round(image)
            except Exception:               # noqa: BLE001 - tier 0 goes on running it all
                image.stats.tier1_errors += 1
            del image                       # not held while waiting

    def _round(self, image: Image) -> None:
        """Translate what was asked for, the code asked for the first time first, hottest
        first (`_hottest`), then what was asked again in the order asked, and compile it
        in batches of what BATCH_SECONDS of translating makes: the first hot code runs
        compiled soon, and a burst of requests still makes few modules. Code translated
        again already runs compiled, where first-time code runs in tier 0, 5-10 times
        slower: lexer's switch, given new cases, had its function's 14 regions translated
        again at full budget (70-120 ms each), and the regions for the new cases queued
        behind them while tier 0 ran them (80-265 million instructions against 15-50
        million; in a third to a half of cold runs)."""
        generation = image.translations.generation
        codes: list[RegionBody] = []
        asked: list[Request] = []
        started = time.perf_counter()
        while True:
            pc = self._hottest()
            if pc is None:
                break
            with self._wakeup:
                profile, again = self._pending.pop(pc)
            self._seen.pop(pc, None)
            if image.translations.generation != generation:
                # Flushed (code unmapped or rewritten): what this round translated before
                # is stale, what it translates now is the new generation's. A round kept
                # its first generation, and a dynamically linked program, whose loader
                # maps libraries over code while the first regions are translated, had
                # every later batch dropped as stale: cmake -P ran 166 million
                # instructions in tier 0 and kept nothing in the disk cache.
                self._ask_again(asked)
                codes, asked, generation = [], [], image.translations.generation
                started = time.perf_counter()
            with self.busy:
                code = self._emit(image, pc, profile, again)
            if code is not None:
                codes.append(code)
                asked.append((pc, profile, again))
            if codes and (len(codes) == MAX_BATCH
                          or time.perf_counter() - started > BATCH_SECONDS):
                with self.busy:
                    self._publish(image, codes, asked, generation, started)
                codes, asked, started = [], [], time.perf_counter()
        if codes:
            with self.busy:
                self._publish(image, codes, asked, generation, started)

    def _hottest(self) -> int | None:
        """The entry asked for the first time that tier 0 entered most since this thread
        last looked (its counter counts on from COUNTER_ASKED while it waits), else the
        first asked again; None if none is pending. A cold run asks for far more than tier
        1 can translate in time (cmake -P: 1,200 entries, 130 translated), and in the
        order asked it translated start-up code that had stopped running while the code
        running then waited: cmake -P from an empty cache ran 148 million instructions in
        tier 0 and took 1.72 s, hottest first 110 million and 1.4 s.
        The profile sources are called without the queue's lock: one may read the disk
        cache under the translations' lock, which a guest thread holds while it tells
        this compiler about the regions it loads (`left_out`): the two threads waited
        for each other for good (ruff check, its second run)."""
        with self._wakeup:
            first = next(iter(self._pending), None)
            fresh = [(pc, source) for pc, (source, again) in self._pending.items()
                     if not again]
        seen, hottest, most = self._seen, None, -1
        tables: dict[ProfileSource, ProfileData] = {}
        for pc, source in fresh:
            live = tables.get(source) or tables.setdefault(source, source()[0])
            count = live.count(pc)
            recent = (count - seen.get(pc, COUNTER_ASKED)) % (1 << 32)
            seen[pc] = count
            if recent > most:
                hottest, most = pc, recent
        return first if hottest is None else hottest

    def _ask_again(self, asked: list[Request]) -> None:
        """Regions translated from code that a flush then dropped, though the code itself
        may be the same (ld.so maps a library's data over its code, which flushes all):
        translate them again, once each (a guest that kept rewriting its code would keep
        this thread translating). Dropped and not asked again, a region that got hot while
        ld.so mapped libraries ran in tier 0 for the rest of the run, every run."""
        with self._wakeup:
            for pc, profile, again in asked:
                if pc not in self._asked_again:
                    self._asked_again.add(pc)
                    self._asked.add(pc)
                    self._pending.setdefault(pc, (profile, again))

    def _publish(self, image: Image, codes: list[RegionBody], asked: list[Request],
                 generation: int, started: float) -> None:
        """Compile the regions into one module and add them to the translations; wake
        every guest thread to install them."""
        name = f"batch_{os.urandom(8).hex()}"     # unique, also beside the disk cache's
        compile_batch(image, name, codes, generation)
        if generation != image.translations.generation:
            self._ask_again(asked)
        for code in codes:
            self.left_out(code.entry, code.pruned)
        image.stats.background_seconds += time.perf_counter() - started
        image.stats.batches += 1
        for cpu in list(image.cpus):
            cpu.wake()

    def _emit(self, image: Image, pc: int, profile: ProfileSource,
              again: bool) -> RegionBody | None:
        """The region at pc. Unlike regions compiled at first sight, it copies the code of
        regions that start inside it (a loop that got hot before its function): hot code
        stays in one function, without dispatcher round trips. Translated again (its pruned
        sides ran often), it gets the full budget even inside another region: a small
        region there leaves within its budget for another hot pc inside, and a state
        machine's code became a web of small regions chained to each other, translated
        again and again as their profiles changed (lexer: 400 regions, 1.3 s; with the
        full budget for all of them 75 and 0.95 s, but coremark from an empty cache then
        translated 34,000 instructions instead of 12,000 and ran 45% longer)."""
        if not image.executable(pc):
            return None
        try:
            code = translate(image, pc, profile(), full=again)
        except GuestFault:          # the code went away meanwhile: tier 0 goes on with it
            return None
        with self._wakeup:
            mending = self._mending.pop(pc, set()) if again else set()
        # A side the region still leaves out, though translated again for it, is one it
        # cannot have (its budget is spent; its indirect jump has more targets than a
        # region follows): not asked for again, here or in later runs. cmake -P translated
        # the same 2,000 instructions again in every run, for its entry's own jump.
        code.pruned.difference_update(mending)
        return code


# The translator is imported when the first region is, not before: a run that never
# compiles (tier 0 alone, a short program, a warm cache) does not pay for loading it;
# nor for the translator process's modules (subprocess, selectors, pickle: 4 ms).


def translate(image: Image, pc: int, profile: Tables, *, full: bool) -> RegionBody:
    """Tier 1's region at pc for the image, along profile: in this process, or by the
    translator's once the guest has made PROCESS_SYSCALLS syscalls, or from the first
    region of a program that has run before (profile holds a saved one), unless that
    process is lost or the image logs what it translates (`-d in_asm`).
    Translating here holds the GIL, and each syscall of the guest waits for it; so does
    importing the translator (40 ms), in longer stretches: cmake -P from an empty cache
    ran 2.1 s, 1.4 s with the translator's process, and 1.6 s with tier 1 off; and
    translating here while the process started (its first 70 ms) still cost cmake
    --version 0.17 s against 0.14 s, ruff check 0.36 s against 0.30 s. But a program
    that only computes (the bench's: 11-12 syscalls at its first region) ran 2-15%
    longer from an empty cache with the process (its code compiled 70 ms later). A
    program that has run before has its hot code in the disk cache: what is left is not
    worth the translator's import here."""
    from mvvm.runtime.translator_process import PROCESS, TranslatorLost
    ran_before = profile[1] is not None
    if image.in_asm is None and not PROCESS.lost and (
            ran_before or image.stats.syscalls >= PROCESS_SYSCALLS):
        started = time.perf_counter()
        readers = {"page": image.code_page, "fetch": image.fetch,
                   "read_only": image.read_only}
        try:
            body = PROCESS.emit(pc, _inner(image, pc, full), _options(image), profile,
                                readers)
        except TranslatorLost:
            image.stats.tier1_errors += 1
        else:
            _count(image, body.instructions, started)
            return body
    return emit(image, pc, profile=translator_profile(*profile), full=full).body()


def emit(image: Image, pc: int, *, profile: Profile | None = None,
         others: Container[int] = (), full: bool = False) -> RegionCode:
    """Translate the region at pc (mvvm.translator.translate.emit_region) in this process,
    for the image: a small budget where another region already holds the code, unless
    full; counted in the stats."""
    from mvvm.translator.region import budget
    from mvvm.translator.translate import emit_region

    started = time.perf_counter()
    code = emit_region(pc, image.code_reader(), budget(_inner(image, pc, full)), others=others,
                       profile=profile, read_only=image.read_only, **_options(image))
    _count(image, code.region.instructions(), started)
    if image.in_asm is not None:
        image.log_in_asm(code.region)
    return code


def _options(image: Image) -> dict[str, bool]:
    """emit_region's options for the image's translations."""
    return {"precise": image.precise, "counting": image.counting,
            "slow_exits": not image.counting}


def _inner(image: Image, pc: int, full: bool) -> bool:
    """Whether the region at pc gets the small budget (mvvm.translator.region.budget):
    another region holds the code there already, and full was not asked for."""
    return pc in image.translations.covered and not full


def _count(image: Image, instructions: int, started: float) -> None:
    stats = image.stats
    stats.regions += 1
    stats.instructions += instructions
    stats.translate_seconds += time.perf_counter() - started


def compile_batch(image: Image, name: str, codes: list[RegionBody],
                  generation: int) -> list[Compiled]:
    """Pack the regions into one module named name, compile it, and add the regions to
    the translations and to the disk cache, each unless they moved past generation."""
    started = time.perf_counter()
    wasm, traps = pack(name, codes)
    module = wt.Module(image.engine, wasm)
    image.stats.compile_seconds += time.perf_counter() - started
    compiled = [Compiled(module, export_name(index), name, traps, code.ranges)
                for index, code in enumerate(codes)]
    with image.translations.lock:
        for code, region in zip(codes, compiled, strict=True):
            image.translations.add(code.entry, region, generation)
    image.keep_batch(name, codes, module, traps, generation)
    return compiled
