"""The persistent code cache: compiled batches of regions kept on disk between runs.

Compiling a region costs ~1.5 ms in Cranelift and translating it ~0.75 ms
in Python; deserializing it costs ~0.1 ms. So a second run of a program
loads its regions instead of rebuilding them. An entry is a batch: one
module and the regions in it, as tier 1 compiled them together. A batch is
read, checked and deserialized only when the run first needs one of its
regions, so a warm start costs what the run executes, not what the program
ever ran.

Layout: `$XDG_CACHE_HOME/mvvm/<version>/<image>.cache`. <version> hashes the
translator's sources, the wasmtime version and the engine's settings, so a
changed translator never sees old code. <image> hashes the program file; one
file per program holds all its batches, whose heads (the regions each holds) are
read at start-up. Beside it, `<image>.profile` keeps the profile the regions were
translated from (mvvm.runtime.profile), so that a later run can translate one
again, mended with what it left out: the later batch's copy is the one installed,
and a batch whose every region has a later copy is dropped when the file is
rewritten. `<image>.wanted` keeps the entries a run ended without (asked for at
once by the next run), and `<image>.precise` says that the program switched to
precise mode (its next runs start in it).

Nothing in the file is trusted: each region carries the guest code bytes'
hash (checked against guest memory, which must also still be executable,
before the region is installed) and each entry is sealed under the user's
key (mvvm.runtime.cachefiles; checked before wasmtime deserializes it, since
deserialization trusts its input). A mismatch skips the region, and it is
translated afresh. Writers append their batches under a lock on the file, and
rewrite it (damaged, or half of it old batches) by renaming a new file over it,
under the same lock, so two MVVM processes sharing the cache cannot corrupt it;
the whole cache is bounded by deleting the least recently used files.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import stat
import struct
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from functools import cache, cached_property
from pathlib import Path
from typing import NamedTuple

import wasmtime as wt
from wasmtime import _ffi as ffi

from mvvm.runtime.cachefiles import CacheRoot, hasher, open_regular, write_atomically
from mvvm.runtime.translations import Compiled
from mvvm.translator.modules import TrapMap, export_name

MAGIC = b"MVVMCC05"
LIMIT_BYTES = 256 << 20
PROFILE_SUFFIX = ".profile"
WANTED_SUFFIX = ".wanted"
PRECISE_SUFFIX = ".precise"
HOLD_SUFFIX = ".hold"
MAX_WANTED = 64                    # undelivered entries a run asks for at their first jumps
SOURCES = ("translator", "interpreter", "isa", "wasm", "runtime")

CodeReader = Callable[[list[tuple[int, int]]], bytes | None]   # None: not all executable


class Member(NamedTuple):
    """One region of a batch; its function is the module's export_name(position)."""

    pc: int
    ranges: list[tuple[int, int]]
    code_hash: bytes
    pruned: tuple[int, ...] = ()      # the region's Region.pruned: where it may be mended


class Batch(NamedTuple):
    name: str                     # the module's name, which trap frames carry
    members: list[Member]
    module: bytes | memoryview    # serialized by wasmtime
    traps: TrapMap


def default_directory() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else None)
    return Path(base, "mvvm") if base else None


@cache
def version_key(engine_settings: str) -> str:
    """Changes whenever the code that produces or runs translations changes: our sources,
    wasmtime's library (its size and time stand for its version, and cost no import) and
    the engine's settings. wasmtime also refuses artifacts of another version itself."""
    return hasher(f"{_code_digest()} {engine_settings}".encode()).hexdigest()[:20]


@cache
def _code_digest() -> str:
    """Our sources' and wasmtime's library's: read once a run, though a run asks for the
    keys of two settings (the core module's and the regions'). By os.walk and open rather
    than pathlib's rglob and read_bytes, which took twice as long (3 ms of a warm start)."""
    info = os.stat(ffi.filename)        # the library the bindings loaded
    sources = hasher(f"{info.st_size} {info.st_mtime_ns}".encode())
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    for source in sorted(_sources(package)):
        with open(source, "rb") as file:
            sources.update(file.read())
    return sources.hexdigest()


def _sources(package: str) -> Iterator[str]:
    for folder in SOURCES:
        for directory, _, names in os.walk(os.path.join(package, folder)):
            yield from (os.path.join(directory, name) for name in names if name.endswith(".py"))


def cache_path(directory: Path, image: bytes) -> Path:
    """The file of the program whose executable mappings image describes."""
    return directory / f"{hasher(image).hexdigest()[:32]}.cache"


class Entry(NamedTuple):
    """A batch in the file, trusted only once its seal is checked: where its frame is and
    which regions it says it holds."""

    at: int                       # the frame's offset in the file
    size: int                     # its body's size
    pcs: tuple[int, ...]


class DiskCache:
    """One program's cache file. Opening it reads only the head of each entry (the
    regions it holds), a batch's seal is checked when the run first needs one of its
    regions, and a run's new batches are appended: a file of many megabytes (cmake's, 14
    MB) was read, its seals checked and decoded whole at each start (45 ms) and written
    anew at each save (140 ms), though a run uses some batches and adds a few."""

    def __init__(self, path: Path, engine: wt.Engine, root: CacheRoot) -> None:
        self.engine = engine
        self.root = root
        self.path = path
        self._fd = open_regular(self.path)
        weakref.finalize(self, _close, self._fd)
        self.entries = _scan(self._fd)[0] if self._fd is not None else {}
        self._damaged = False       # a batch here failed its check: rewrite the file
        # A region translated again (mended) is saved in a later batch than the one it
        # replaces: the later batch holds the entry, and the earlier one's copy is never
        # installed, though the rest of that batch may be.
        self.index = _newest({name: e.pcs for name, e in self.entries.items()})
        self.added: dict[str, Batch] = {}
        self._batches: dict[str, Batch] = {}           # read and checked, by name
        self._modules: dict[str, wt.Module] = {}       # deserialized

    def lookup(self, pc: int, current_code: CodeReader) -> list[tuple[Member, Compiled]]:
        """The regions of the cached batch that holds pc, those whose guest code is there;
        each region is handed out once. The others stay for a later lookup: a batch
        may hold a library's regions beside the loader's, and handed out while the loader
        maps the library, it lost them for the run."""
        name = self.index.pop(pc, None)     # found or not, pc is not looked up again
        if name is None:
            return []
        batch = self._load(name)
        if batch is None:
            return []
        valid = [(k, m) for k, m in enumerate(batch.members)
                 if (m.pc == pc or self.index.get(m.pc) == name)
                 and (code := current_code(m.ranges)) is not None
                 and hasher(code).digest() == m.code_hash]
        for _, m in valid:
            self.index.pop(m.pc, None)
        if not valid:
            return []
        module = self._modules.get(name)
        if module is None:
            try:
                module = self._modules[name] = _deserialize(self.engine, batch.module)
            except wt.WasmtimeError:
                self._drop(name)      # made by an incompatible engine: rebuild
                return []
        return [(m, Compiled(module, export_name(k), batch.name, batch.traps, m.ranges))
                for k, m in valid]

    def rewind(self) -> None:
        """The translations were flushed: hand every batch out again, its regions checked
        against the guest's code again. A flush drops translations of code that is still
        there (ld.so maps a library's data over its code), and a batch handed out before
        it was lost for the run."""
        self.index = _newest({name: e.pcs for name, e in self.entries.items()})

    def add(self, name: str, members: list[Member], module: wt.Module,
            traps: TrapMap) -> None:
        self.added[name] = Batch(name, members, module.serialize(), traps)

    @property
    def goes_precise(self) -> bool:
        """An earlier run of the program switched to precise mode (its fault handlers)."""
        return self.root.read(self.path.with_suffix(PRECISE_SUFFIX)) is not None

    def mark_precise(self) -> None:
        self.root.write(self.path.with_suffix(PRECISE_SUFFIX), b"")

    def saved_profile(self) -> bytes | None:
        """The profile the last run that compiled something left (mvvm.runtime.profile)."""
        return self.root.read(self.path.with_suffix(PROFILE_SUFFIX))

    @cached_property
    def _asked_early(self) -> tuple[frozenset[int], frozenset[int]]:
        """The entries the next run asks tier 1 for at their first jumps, and those asked
        for so once already, in vain (hopeless: not asked for early again)."""
        data = self.root.read(self.path.with_suffix(WANTED_SUFFIX)) or b""
        words = struct.unpack(f"<{len(data) // 8}Q", data[:len(data) // 8 * 8])
        count = words[0] if words else 0
        return frozenset(words[1:1 + count]), frozenset(words[1 + count:])

    @cached_property
    def hold(self) -> float:
        """Seconds the last run lasted if it asked tier 1 for regions and ended before it
        had any (else 0): tier 1 waits that long into the next run (Image.save_code)."""
        data = self.root.read(self.path.with_suffix(HOLD_SUFFIX)) or b""
        return struct.unpack("<d", data)[0] if len(data) == 8 else 0.0

    @property
    def wanted(self) -> frozenset[int]:
        """The entries earlier runs asked tier 1 for and ended before it had them."""
        return self._asked_early[0]

    def save(self, profile: Callable[[], bytes] | None = None,
             undelivered: Collection[int] = (), hold: float = 0.0) -> None:
        """Append the new batches to the file (rewritten instead when damaged, or when its
        batches without a newest region make up half of it), and keep profile() (if
        given) with them, which of the entries tier 1 was asked for and did not deliver
        the next run asks for at once (`_wanted`), and how long tier 1 waits in the next
        run (`hold`); then bound the cache."""
        if hold != self.hold:
            self.root.write(self.path.with_suffix(HOLD_SUFFIX), struct.pack("<d", hold))
        wanted, hopeless = _wanted(set(undelivered), *self._asked_early)
        if (wanted, hopeless) != self._asked_early:
            self.root.write(self.path.with_suffix(WANTED_SUFFIX), struct.pack(
                f"<{1 + len(wanted) + len(hopeless)}Q", len(wanted), *wanted, *hopeless))
        if not self.added and not self._damaged:
            return
        frames = b"".join(_frame(batch, self.root) for batch in self.added.values())
        with suppress(OSError):     # a cache that cannot be written is only a slower start
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with _locked(self.path) as fd:
                if fd is None or not _append(fd, frames, self.added, self._damaged):
                    write_atomically(self.path, MAGIC + _live_frames(fd, self.root, self.added)
                                     + frames)
        if profile is not None:
            self.root.write(self.path.with_suffix(PROFILE_SUFFIX), profile())
        self.added, self._damaged = {}, False
        with suppress(OSError):     # a cache that cannot be bounded is only a larger one
            _evict(self.path.parent.parent, LIMIT_BYTES)

    def _load(self, name: str) -> Batch | None:
        """The batch, if its seal holds (read once: `rewind` hands it out again)."""
        if name in self._batches:
            return self._batches[name]
        entry = self.entries.get(name)
        if entry is None:           # dropped: its other regions' entries still name it
            return None
        frame = bytearray(FRAME.size + entry.size)
        try:
            if self._fd is None or os.preadv(self._fd, [frame], entry.at) != len(frame):
                frame = bytearray()
        except OSError:
            frame = bytearray()
        batch = _opened(frame, self.root)
        if batch is None or batch.name != name:
            self._drop(name)
            return None
        self._batches[name] = batch
        return batch

    def _drop(self, name: str) -> None:
        """The batch is unusable: the file is rewritten without it at the end of the run."""
        del self.entries[name]
        self._damaged = True


FRAME = struct.Struct("<I32s")      # an entry: its body's size and its seal, then the body
HEAD = struct.Struct("<HI")         # a body's name size and region count, then the name
PEEK = 4096                         # read at once for an entry's head: a frame and ~500 pcs


def _scan(fd: int) -> tuple[dict[str, Entry], bool]:
    """The entries of the file as they claim to be (unchecked), and whether the file
    holds something else after them (a damaged or foreign file, or an entry another run
    is appending right now)."""
    size = os.fstat(fd).st_size
    if os.pread(fd, len(MAGIC), 0) != MAGIC:
        return {}, size > 0
    entries: dict[str, Entry] = {}
    at = len(MAGIC)
    while at + FRAME.size + HEAD.size <= size:
        peek = os.pread(fd, PEEK, at)
        try:
            body_size = FRAME.unpack_from(peek)[0]
            name_size, count = HEAD.unpack_from(peek, FRAME.size)
            head = FRAME.size + HEAD.size + name_size + 8 * count
            if at + FRAME.size + body_size > size or head > FRAME.size + body_size:
                break
            if head > len(peek):
                peek = os.pread(fd, head, at)
            pcs = struct.unpack_from(f"<{count}Q", peek, head - 8 * count)
        except struct.error:        # the file shrank meanwhile: someone else's doing
            break
        name = peek[FRAME.size + HEAD.size:][:name_size].decode(errors="replace")
        entries[name] = Entry(at, body_size, pcs)
        at += FRAME.size + body_size
    return entries, at != size


def _append(fd: int, frames: bytes, added: dict[str, Batch], damaged: bool) -> bool:
    """Append frames to the locked file, unless it should be rewritten instead: damaged
    (here or in the file as it is now), or half of it batches without a newest region.
    Whether it appended."""
    size = os.fstat(fd).st_size
    entries, tail = _scan(fd)
    live = set(_newest({**{name: e.pcs for name, e in entries.items()},
                        **{name: [m.pc for m in b.members] for name, b in added.items()}}
                       ).values())
    dead = sum(FRAME.size + e.size for name, e in entries.items() if name not in live)
    if damaged or tail or 2 * dead > size:
        return False
    data = frames if size else MAGIC + frames
    while data:
        data = data[os.write(fd, data):]
    return True


def _live_frames(fd: int | None, root: CacheRoot, added: dict[str, Batch]) -> bytes:
    """The frames of the file's batches that are intact and hold a newest region (with
    added's batches after them)."""
    if fd is None:
        return b""
    entries, _ = _scan(fd)
    frames = {name: os.pread(fd, FRAME.size + e.size, e.at) for name, e in entries.items()}
    kept = {name: frame for name, frame in frames.items()
            if (batch := _opened(frame, root)) is not None and batch.name == name}
    live = set(_newest({**{name: entries[name].pcs for name in kept},
                        **{name: [m.pc for m in b.members] for name, b in added.items()}}
                       ).values())
    return b"".join(frame for name, frame in kept.items() if name in live)


@contextmanager
def _locked(path: Path) -> Iterator[int | None]:
    """The cache file, opened to append (made if missing) and locked against other
    writers; None if something other than a regular file is there. A writer rewrites the
    file by renaming a new one over it, under the lock: one that waited for the lock
    opens the file again if path no longer names the one it holds."""
    for _ in range(3):
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                yield None
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.stat(path, follow_symlinks=False).st_ino == info.st_ino:
                yield fd
                return
        finally:
            os.close(fd)
    raise OSError(f"{path} kept being replaced")


def _close(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def _wanted(undelivered: set[int], wanted: frozenset[int], hopeless: frozenset[int]
            ) -> tuple[frozenset[int], frozenset[int]]:
    """What the next run asks tier 1 for at their first jumps: the entries this run asked
    for late and ended without. Asked for late, a region may never be ready before the
    program ends, every run (cmake -P: one of 2,000 instructions, which takes 0.2 s to
    translate and compile; asked for at once, it is ready and kept, and the steady state
    went from 0.47 s to 0.38 s). Not those asked for at once already and still not
    ready (run once, at the end: exit handlers): they would start tier 1 early for
    nothing. And only a few (MAX_WANTED): a run that left hundreds, as a first run does,
    is far from its steady state, and asking for them all at once had the next runs
    translate more (code other regions cover, asked for as entries of its own: cmake -P's
    second to fourth runs took 1.87, 1.47 and 1.12 s against 1.65, 1.21 and 1.03 s)."""
    hopeless = hopeless | (undelivered & wanted)
    undelivered -= hopeless
    return frozenset(undelivered if len(undelivered) <= MAX_WANTED else ()), hopeless


def _newest(batches: dict[str, Iterable[int]]) -> dict[int, str]:
    """Each entry's batch: the last one (in the file's order) holding a region there."""
    return {pc: name for name, pcs in batches.items() for pc in pcs}


def _frame(b: Batch, root: CacheRoot) -> bytes:
    """The batch as the file keeps it: its body's size, seal and body. The body starts with
    the name and the regions' entries, which opening the file reads of each batch."""
    name = b.name.encode()
    body = struct.pack(f"<HI{len(b.members)}Q", len(name), len(b.members),
                       *(m.pc for m in b.members))
    body = body[:HEAD.size] + name + body[HEAD.size:]
    for m in b.members:
        body += struct.pack("<I", len(m.ranges)) + b"".join(
            struct.pack("<QQ", lo, hi) for lo, hi in m.ranges) + m.code_hash
        body += struct.pack(f"<I{len(m.pruned)}Q", len(m.pruned), *m.pruned)
    body += struct.pack("<I", len(b.traps.offsets))
    body += struct.pack(f"<{len(b.traps.offsets)}I", *b.traps.offsets)
    body += struct.pack(f"<{len(b.traps.pcs)}Q", *b.traps.pcs)
    body += struct.pack("<I", len(b.module)) + b.module
    return FRAME.pack(len(body), root.seal(body)) + body


def _opened(frame: bytes | bytearray, root: CacheRoot) -> Batch | None:
    """The batch in a frame, if the frame is whole and its seal holds."""
    if len(frame) < FRAME.size:
        return None
    size, seal = FRAME.unpack_from(frame)
    body = memoryview(frame)[FRAME.size:]
    if len(body) != size or not root.sealed(seal, body):
        return None
    return _decode(body)


def _decode(body: memoryview) -> Batch:
    """The batch in a body, its traps and module views of it rather than copies: a
    warm cmake -P decodes 12 MB of modules and 130,000 trap entries (copied and made
    ints, 20 ms)."""
    name_size, count = HEAD.unpack_from(body, 0)
    at = HEAD.size + name_size
    name = bytes(body[HEAD.size:at]).decode()
    pcs = struct.unpack_from(f"<{count}Q", body, at)
    at += 8 * count
    members = []
    for pc in pcs:
        (nranges,) = struct.unpack_from("<I", body, at)
        at += 4
        ranges = [struct.unpack_from("<QQ", body, at + 16 * i) for i in range(nranges)]
        at += 16 * nranges
        code_hash = bytes(body[at:at + 32])
        (npruned,) = struct.unpack_from("<I", body, at + 32)
        pruned = struct.unpack_from(f"<{npruned}Q", body, at + 36)
        members.append(Member(pc, ranges, code_hash, pruned))
        at += 36 + 8 * npruned
    (ntraps,) = struct.unpack_from("<I", body, at)
    at += 4
    # The file is little-endian, as are the hosts wasmtime runs on.
    offsets = body[at:at + 4 * ntraps].cast("I")
    pcs = body[at + 4 * ntraps:at + 12 * ntraps].cast("Q")
    at += 12 * ntraps
    (msize,) = struct.unpack_from("<I", body, at)
    return Batch(name, members, body[at + 4:at + 4 + msize], TrapMap(offsets, pcs))


def _deserialize(engine: wt.Engine, module: memoryview) -> wt.Module:
    """Module.deserialize, from the cache's buffer in place (wasmtime's copies it first)."""
    out = ctypes.POINTER(ffi.wasmtime_module_t)()
    error = ffi.wasmtime_module_deserialize(
        engine.ptr(), (ctypes.c_uint8 * len(module)).from_buffer(module), len(module),
        ctypes.byref(out))
    if error:
        raise wt.WasmtimeError._from_ptr(error)
    return wt.Module._from_ptr(out)


def _evict(root: Path, limit: int) -> None:
    """Delete the least recently used cache files until the whole cache fits the limit."""
    files = sorted(root.glob("*/*.cache"), key=lambda f: f.stat().st_atime)
    total = sum(f.stat().st_size for f in files)
    for f in files:
        if total <= limit:
            break
        total -= f.stat().st_size
        f.unlink(missing_ok=True)
        for suffix in (PROFILE_SUFFIX, WANTED_SUFFIX, PRECISE_SUFFIX, HOLD_SUFFIX):
            f.with_suffix(suffix).unlink(missing_ok=True)
