"""The persistent code cache: compiled regions kept on disk between runs.

Compiling a region costs ~1.5 ms in Cranelift and translating it ~0.75 ms
in Python; deserializing it costs ~0.1 ms. So a second run of a program
loads its regions instead of rebuilding them.

Layout: `$XDG_CACHE_HOME/mvvm/<version>/<image>.cache`. <version> hashes the
translator's sources, the wasmtime version and the engine's settings, so a
changed translator never sees old code. <image> hashes the program file; one
file per program holds all its regions, read once at start-up.

Nothing in the file is trusted: each entry carries the guest code bytes'
hash (checked against guest memory, which must also still be executable,
before the region is installed) and the module's hash (checked before
wasmtime deserializes it, since deserialization trusts its input). A
mismatch skips the entry and the region is translated afresh. Writers merge
with what is on disk and replace the file by an atomic rename, so two MVVM
processes sharing the cache cannot corrupt it; the whole cache is bounded
by deleting the least recently used files.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import wasmtime as wt

from mvvm.translator.translate import TrapMap

MAGIC = b"MVVMCC01"
LIMIT_BYTES = 256 << 20
SOURCES = ("translator", "isa", "wasm", "runtime")

CodeReader = Callable[[list[tuple[int, int]]], bytes | None]   # None: not all executable


@dataclass
class Entry:
    ranges: list[tuple[int, int]]
    code_hash: bytes
    module: bytes                 # serialized by wasmtime
    traps: TrapMap


def default_directory() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else None)
    return Path(base, "mvvm") if base else None


def version_key(engine_settings: str) -> str:
    """Changes whenever the code that produces or runs translations changes: our sources,
    wasmtime's library (its size and time stand for its version, and cost no import) and
    the engine's settings. wasmtime also refuses artifacts of another version itself."""
    library = next(Path(wt.__file__).parent.glob("*/*wasmtime*"))
    info = library.stat()
    digest = hashlib.sha256(f"{info.st_size} {info.st_mtime_ns} {engine_settings}".encode())
    package = Path(__file__).resolve().parent.parent
    for folder in SOURCES:
        for source in sorted((package / folder).rglob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:20]


class DiskCache:
    def __init__(self, directory: Path, engine: wt.Engine, image: bytes) -> None:
        self.engine = engine
        self.path = directory / f"{hashlib.sha256(image).hexdigest()[:32]}.cache"
        self.entries = _read(self.path)
        self.added: dict[int, Entry] = {}

    def lookup(self, pc: int, current_code: CodeReader
               ) -> tuple[wt.Module, TrapMap, list[tuple[int, int]]] | None:
        """The cached region at pc, if the guest code it was made from is still there."""
        entry = self.entries.get(pc)
        if entry is None:
            return None
        code = current_code(entry.ranges)
        if code is None or hashlib.sha256(code).digest() != entry.code_hash:
            return None
        try:
            return wt.Module.deserialize(self.engine, entry.module), entry.traps, entry.ranges
        except wt.WasmtimeError:
            del self.entries[pc]          # made by an incompatible engine: rebuild it
            return None

    def add(self, pc: int, ranges: list[tuple[int, int]], code: bytes, module: wt.Module,
            traps: TrapMap) -> None:
        self.added[pc] = Entry(ranges, hashlib.sha256(code).digest(), module.serialize(), traps)

    def save(self) -> None:
        """Merge the new regions into the file on disk, atomically; then bound the cache."""
        if not self.added:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            merged = {**_read(self.path), **self.added}
            with tempfile.NamedTemporaryFile(dir=self.path.parent, delete=False) as out:
                out.write(_encode(merged))
            os.replace(out.name, self.path)
            self.added = {}
            _evict(self.path.parent.parent, LIMIT_BYTES)
        except OSError:
            pass                  # a cache that cannot be written is just a slower run


def _encode(entries: dict[int, Entry]) -> bytes:
    parts = [MAGIC, struct.pack("<I", len(entries))]
    for pc, e in entries.items():
        body = struct.pack("<QI", pc, len(e.ranges)) + b"".join(
            struct.pack("<QQ", a, b) for a, b in e.ranges)
        body += e.code_hash + struct.pack("<I", len(e.traps.offsets))
        body += struct.pack(f"<{len(e.traps.offsets)}I", *e.traps.offsets)
        body += struct.pack(f"<{len(e.traps.pcs)}Q", *e.traps.pcs)
        body += struct.pack("<I", len(e.module)) + e.module
        parts += [struct.pack("<I", len(body)), hashlib.sha256(body).digest(), body]
    return b"".join(parts)


def _read(path: Path) -> dict[int, Entry]:
    """Every intact entry of a cache file; damaged entries and foreign files are dropped."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if not data.startswith(MAGIC):
        return {}
    entries: dict[int, Entry] = {}
    at = len(MAGIC) + 4
    while at + 36 <= len(data):
        (size,) = struct.unpack_from("<I", data, at)
        digest, body = data[at + 4:at + 36], data[at + 36:at + 36 + size]
        at += 36 + size
        if len(body) != size or hashlib.sha256(body).digest() != digest:
            break
        pc, entry = _decode(body)
        entries[pc] = entry
    return entries


def _decode(body: bytes) -> tuple[int, Entry]:
    pc, nranges = struct.unpack_from("<QI", body, 0)
    at = 12
    ranges = [struct.unpack_from("<QQ", body, at + 16 * i) for i in range(nranges)]
    at += 16 * nranges
    code_hash = body[at:at + 32]
    (ntraps,) = struct.unpack_from("<I", body, at + 32)
    at += 36
    offsets = struct.unpack_from(f"<{ntraps}I", body, at)
    pcs = struct.unpack_from(f"<{ntraps}Q", body, at + 4 * ntraps)
    at += 12 * ntraps
    (msize,) = struct.unpack_from("<I", body, at)
    module = body[at + 4:at + 4 + msize]
    return pc, Entry(ranges, code_hash, module, TrapMap(offsets, pcs))


def _evict(root: Path, limit: int) -> None:
    """Delete the least recently used cache files until the whole cache fits the limit."""
    files = sorted(root.glob("*/*.cache"), key=lambda f: f.stat().st_atime)
    total = sum(f.stat().st_size for f in files)
    for f in files:
        if total <= limit:
            break
        total -= f.stat().st_size
        f.unlink(missing_ok=True)
