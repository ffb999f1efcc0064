"""The persistent code cache: compiled batches of regions kept on disk between runs.

Compiling a region costs ~1.5 ms in Cranelift and translating it ~0.75 ms
in Python; deserializing it costs ~0.1 ms. So a second run of a program
loads its regions instead of rebuilding them. An entry is a batch: one
module and the regions in it, as tier 1 compiled them together. A batch is
deserialized only when the run first needs one of its regions, so a warm
start costs what the run executes, not what the program ever ran.

Layout: `$XDG_CACHE_HOME/mvvm/<version>/<image>.cache`. <version> hashes the
translator's sources, the wasmtime version and the engine's settings, so a
changed translator never sees old code. <image> hashes the program file; one
file per program holds all its batches, read once at start-up. Beside it,
`<image>.profile` keeps the profile the regions were translated from
(mvvm.runtime.profile), so that a later run can translate one again, mended
with what it left out: the later batch's copy is the one installed, and a
batch whose every region has a later copy is dropped when the file is saved.

Nothing in the file is trusted: each region carries the guest code bytes'
hash (checked against guest memory, which must also still be executable,
before the region is installed) and each entry is sealed under the user's
key (mvvm.runtime.cachefiles; checked before wasmtime deserializes it, since
deserialization trusts its input). A mismatch skips the region, and it is
translated afresh. Writers merge
with what is on disk and replace the file by an atomic rename, so two MVVM
processes sharing the cache cannot corrupt it; the whole cache is bounded
by deleting the least recently used files.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import NamedTuple

import wasmtime as wt
from wasmtime import _ffi as ffi

from mvvm.runtime.cachefiles import CacheRoot, hasher, read_regular, write_atomically
from mvvm.runtime.translations import Compiled
from mvvm.translator.modules import TrapMap, export_name

MAGIC = b"MVVMCC04"
LIMIT_BYTES = 256 << 20
PROFILE_SUFFIX = ".profile"
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
    module: bytes                 # serialized by wasmtime
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


class DiskCache:
    def __init__(self, directory: Path, engine: wt.Engine, image: bytes,
                 root: CacheRoot) -> None:
        self.engine = engine
        self.root = root
        self.path = directory / f"{hasher(image).hexdigest()[:32]}.cache"
        self.batches = _read(self.path, root)
        # A region translated again (mended) is saved in a later batch than the one it
        # replaces: the later batch holds the entry, and the earlier one's copy is never
        # installed, though the rest of that batch may be.
        self.index = _newest(self.batches)
        self.added: dict[str, Batch] = {}

    def lookup(self, pc: int, current_code: CodeReader) -> list[tuple[Member, Compiled]]:
        """The regions of the cached batch that holds pc, those whose guest code is still
        there; each batch is handed out once."""
        batch = self.batches.get(self.index.get(pc, ""))
        if batch is None:
            return []
        mine = [(k, m) for k, m in enumerate(batch.members)
                if self.index.get(m.pc) == batch.name]
        for _, member in mine:
            del self.index[member.pc]
        valid = [(k, m) for k, m in mine
                 if (code := current_code(m.ranges)) is not None
                 and hasher(code).digest() == m.code_hash]
        if not valid:
            return []
        try:
            module = wt.Module.deserialize(self.engine, batch.module)
        except wt.WasmtimeError:
            del self.batches[batch.name]      # made by an incompatible engine: rebuild
            return []
        return [(m, Compiled(module, export_name(k), batch.name, batch.traps, m.ranges))
                for k, m in valid]

    def add(self, name: str, members: list[Member], module: wt.Module,
            traps: TrapMap) -> None:
        self.added[name] = Batch(name, members, module.serialize(), traps)

    def saved_profile(self) -> bytes | None:
        """The profile the last run that compiled something left (mvvm.runtime.profile)."""
        return self.root.read(self.path.with_suffix(PROFILE_SUFFIX))

    def save(self, profile: Callable[[], bytes] | None = None) -> None:
        """Merge the new regions into the file on disk, atomically, and keep profile() (if
        given) with them; then bound the cache."""
        if not self.added:
            return
        merged = {**_read(self.path, self.root), **self.added}
        live = set(_newest(merged).values())
        write_atomically(self.path, _encode({name: batch for name, batch in merged.items()
                                             if name in live}, self.root))
        if profile is not None:
            self.root.write(self.path.with_suffix(PROFILE_SUFFIX), profile())
        self.added = {}
        with suppress(OSError):     # a cache that cannot be bounded is only a larger one
            _evict(self.path.parent.parent, LIMIT_BYTES)


def _newest(batches: dict[str, Batch]) -> dict[int, str]:
    """Each entry's batch: the last one (in the file's order) holding a region there."""
    return {m.pc: b.name for b in batches.values() for m in b.members}


def _encode(batches: dict[str, Batch], root: CacheRoot) -> bytes:
    parts = [MAGIC, struct.pack("<I", len(batches))]
    for b in batches.values():
        name = b.name.encode()
        body = struct.pack("<HI", len(name), len(b.members)) + name
        for m in b.members:
            body += struct.pack("<QI", m.pc, len(m.ranges)) + b"".join(
                struct.pack("<QQ", lo, hi) for lo, hi in m.ranges) + m.code_hash
            body += struct.pack(f"<I{len(m.pruned)}Q", len(m.pruned), *m.pruned)
        body += struct.pack("<I", len(b.traps.offsets))
        body += struct.pack(f"<{len(b.traps.offsets)}I", *b.traps.offsets)
        body += struct.pack(f"<{len(b.traps.pcs)}Q", *b.traps.pcs)
        body += struct.pack("<I", len(b.module)) + b.module
        parts += [struct.pack("<I", len(body)), root.seal(body), body]
    return b"".join(parts)


def _read(path: Path, root: CacheRoot) -> dict[str, Batch]:
    """Every intact batch of a cache file, sealed under the user's key; damaged entries,
    entries someone else wrote and foreign files are dropped."""
    data = read_regular(path)
    if data is None or not data.startswith(MAGIC):
        return {}
    batches: dict[str, Batch] = {}
    at = len(MAGIC) + 4
    while at + 36 <= len(data):
        (size,) = struct.unpack_from("<I", data, at)
        digest, body = data[at + 4:at + 36], data[at + 36:at + 36 + size]
        at += 36 + size
        if len(body) != size or not root.sealed(digest, body):
            break
        batch = _decode(body)
        batches[batch.name] = batch
    return batches


def _decode(body: bytes) -> Batch:
    name_size, count = struct.unpack_from("<HI", body, 0)
    at = 6 + name_size
    name = body[6:at].decode()
    members = []
    for _ in range(count):
        pc, nranges = struct.unpack_from("<QI", body, at)
        at += 12
        ranges = [struct.unpack_from("<QQ", body, at + 16 * i) for i in range(nranges)]
        at += 16 * nranges
        code_hash = body[at:at + 32]
        (npruned,) = struct.unpack_from("<I", body, at + 32)
        pruned = struct.unpack_from(f"<{npruned}Q", body, at + 36)
        members.append(Member(pc, ranges, code_hash, pruned))
        at += 36 + 8 * npruned
    (ntraps,) = struct.unpack_from("<I", body, at)
    at += 4
    offsets = struct.unpack_from(f"<{ntraps}I", body, at)
    pcs = struct.unpack_from(f"<{ntraps}Q", body, at + 4 * ntraps)
    at += 12 * ntraps
    (msize,) = struct.unpack_from("<I", body, at)
    return Batch(name, members, body[at + 4:at + 4 + msize], TrapMap(offsets, pcs))


def _evict(root: Path, limit: int) -> None:
    """Delete the least recently used cache files until the whole cache fits the limit."""
    files = sorted(root.glob("*/*.cache"), key=lambda f: f.stat().st_atime)
    total = sum(f.stat().st_size for f in files)
    for f in files:
        if total <= limit:
            break
        total -= f.stat().st_size
        f.unlink(missing_ok=True)
        f.with_suffix(PROFILE_SUFFIX).unlink(missing_ok=True)
