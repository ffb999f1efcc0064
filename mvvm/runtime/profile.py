"""Tier 0's profile, and the profile earlier runs of the program left in the disk cache.

Tier 1 translates a region along what the profile says ran: the branch sides tier 0 saw
taken, the targets its indirect jumps went to. A run whose regions come from the disk
cache runs little in tier 0, so its own profile knows little of them; when such a run
has a region translated again (a side the cached region left out now runs often: the
program got other input), the profile the region was first translated from is what keeps
the new copy whole. So a run that compiled something saves its profile merged with the
saved one (`merged`), and the translator reads the two together (`translator_profile`).
From its own profile alone, a state machine's copy left out cases the cached one held,
left for them in turn, and was translated again and again (lexer, its small regions
mended in warm runs: 26-67 regions translated a run after five runs, against 0-9).
"""

from __future__ import annotations

import ctypes
import zlib
from array import array
from typing import TYPE_CHECKING

from mvvm.runtime import layout

if TYPE_CHECKING:
    from mvvm.translator.region import Profile

COUNTER_BYTES = 4 * layout.COUNTERS
SOURCE_BYTES = 8 * layout.JUMP_SOURCES
TARGET_BYTES = 8 * layout.JUMP_TARGETS * layout.JUMP_SOURCES
SIZE = COUNTER_BYTES + SOURCE_BYTES + TARGET_BYTES


class ProfileData:
    """A profile's tables: tier 0's in the VM memory, or a saved copy. Counters are by a
    hash of the pc; each indirect jump's bucket holds its pc and up to JUMP_TARGETS
    targets (layout)."""

    def __init__(self, counters: memoryview, sources: memoryview, targets: memoryview,
                 owner: object = None) -> None:
        self.counters = counters
        self.sources = sources
        self.targets = targets
        self._owner = owner

    @classmethod
    def at(cls, address: int, owner: object) -> ProfileData:
        """The live tables in a VM memory whose profile starts at address; owner keeps the
        memory mapped while the tables are read (the background compiler may translate
        for a thread that has ended)."""
        buffer = memoryview((ctypes.c_uint8 * SIZE).from_address(address)).cast("B")
        return cls._views(buffer, owner)

    @classmethod
    def decode(cls, data: bytes | None) -> ProfileData | None:
        """A saved profile (what `merged` made), or None if data is not one."""
        if data is None:
            return None
        try:
            raw = zlib.decompress(data)
        except zlib.error:
            return None
        return cls._views(memoryview(raw)) if len(raw) == SIZE else None

    @classmethod
    def over(cls, buffer: memoryview) -> ProfileData:
        """Tables in SIZE bytes of buffer: those copy_into wrote there."""
        return cls._views(buffer.cast("B")[:SIZE])

    def copy_into(self, buffer: memoryview) -> None:
        """Copy the tables, as they are now, into SIZE bytes of buffer (for tier 1's
        translator process, which reads them there)."""
        start = 0
        for table in (self.counters, self.sources, self.targets):
            raw = table.cast("B")
            buffer[start:start + len(raw)] = raw
            start += len(raw)

    @classmethod
    def _views(cls, buffer: memoryview, owner: object = None) -> ProfileData:
        sources_end = COUNTER_BYTES + SOURCE_BYTES
        return cls(buffer[:COUNTER_BYTES].cast("I"), buffer[COUNTER_BYTES:sources_end].cast("Q"),
                   buffer[sources_end:].cast("Q"), owner)

    def count(self, pc: int) -> int:
        return self.counters[layout.counter(pc)]

    def set_count(self, pc: int, value: int) -> None:
        self.counters[layout.counter(pc)] = value

    def jump_targets(self, pc: int) -> list[int]:
        """The targets the indirect jump at pc took, as far as its bucket kept them."""
        bucket = (pc >> 1) & (layout.JUMP_SOURCES - 1)
        if self.sources[bucket] != pc:
            return []
        start = bucket * layout.JUMP_TARGETS
        return [t for t in self.targets[start:start + layout.JUMP_TARGETS] if t]


Tables = tuple[ProfileData, ProfileData | None]     # tier 0's, and the saved ones


def translator_profile(live: ProfileData, saved: ProfileData | None) -> Profile:
    """What tier 1 translates along: a block ran if either profile saw it; a jump's targets
    are both profiles' (by their counters, which wrap: a guess), the most entered first,
    ties in the order the live bucket, then the saved one, holds them."""
    from mvvm.translator.region import Profile
    tables = (live,) if saved is None else (live, saved)

    def ran(pc: int) -> bool:
        return any(table.count(pc) for table in tables)

    def jumps(pc: int) -> list[int]:
        targets = dict.fromkeys(t for table in tables for t in table.jump_targets(pc))
        return sorted(targets, key=lambda t: -max(table.count(t) for table in tables))

    return Profile(ran, jumps)


def merged(live: ProfileData, saved: ProfileData | None) -> bytes:
    """The live profile with the saved one folded in, compressed for the disk cache: each
    counter is the bitwise or of the two (nonzero where either ran); a bucket the live
    profile left empty takes the saved one's jump, and a jump both hold keeps the targets
    of both, the live ones first, as many as the bucket holds."""
    counters = bytes(live.counters.cast("B"))
    sources = list(live.sources)
    targets = list(live.targets)
    if saved is not None:
        width = layout.JUMP_TARGETS
        counters = (int.from_bytes(counters, "little")
                    | int.from_bytes(saved.counters.cast("B"), "little")
                    ).to_bytes(COUNTER_BYTES, "little")
        for bucket, source in enumerate(saved.sources):
            if not source or sources[bucket] not in (0, source):
                continue
            start = bucket * width
            kept = [t for t in targets[start:start + width] if t]
            kept += [t for t in saved.targets[start:start + width] if t and t not in kept]
            sources[bucket] = source
            targets[start:start + width] = (kept + [0] * width)[:width]
    raw = counters + array("Q", sources).tobytes() + array("Q", targets).tobytes()
    return zlib.compress(raw, 1)
