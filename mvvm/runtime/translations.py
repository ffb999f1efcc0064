"""The translations of one guest image, shared by all its threads.

A region is translated and compiled once; every thread that runs it instantiates the
compiled module in its own store (mvvm.runtime.dispatcher.CodeCache). When guest code
changes, `flush` forgets every translation and moves to a new generation; each thread
drops its instances when it sees the generation change, at its next return to Python.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from typing import NamedTuple

import wasmtime as wt

from mvvm.translator.modules import TrapMap


class Compiled(NamedTuple):
    """A region ready to instantiate: its module (which may hold other regions too), the
    export of its function, the module's name and trap map, and the guest code it holds."""

    module: wt.Module
    export: str
    name: str
    traps: TrapMap
    ranges: list[tuple[int, int]]


class Coverage:
    """The guest code some region holds, as sorted disjoint ranges: whether a pc is inside
    one (a region entered there gets a small budget). A set of every 2-byte pc they hold
    took a warm cmake -P 7 ms of its start to fill, for its 776 cached regions."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        """Take in [start, end), merged with the ranges it overlaps or touches."""
        first = bisect_left(self._ends, start)
        last = bisect_right(self._starts, end)
        if first < last:
            start, end = min(start, self._starts[first]), max(end, self._ends[last - 1])
        self._starts[first:last], self._ends[first:last] = [start], [end]

    def __contains__(self, pc: int) -> bool:
        index = bisect_right(self._starts, pc) - 1
        return index >= 0 and pc < self._ends[index]

    def copy(self) -> Coverage:
        other = Coverage()
        other._starts, other._ends = list(self._starts), list(self._ends)
        return other


class Translations:
    """Compiled regions by entry pc. Hold `lock` to look up and add: threads that miss the
    same pc at once must not translate it twice."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.generation = 0
        self.covered = Coverage()
        self.starts: set[int] = set()           # guest pcs where a region starts
        self.order: list[int] = []              # entries in the order they were added
        self._regions: dict[int, Compiled] = {}
        self._traps: dict[str, TrapMap] = {}    # by module name, for trap frames

    def copy(self) -> Translations:
        """Another image's translations, starting from these (the same guest code: a
        fork of an embedded machine): compiled modules are shared, never compiled again.
        Under the lock: the background compiler may be adding a region meanwhile."""
        other = Translations()
        with self.lock:
            other.covered, other.starts = self.covered.copy(), set(self.starts)
            other.order, other._regions = list(self.order), dict(self._regions)
            other._traps = dict(self._traps)
        return other

    def get(self, entry: int) -> Compiled | None:
        return self._regions.get(entry)

    def add(self, entry: int, compiled: Compiled, generation: int) -> None:
        """Keep a region translated in generation (not if the code changed meanwhile)."""
        if generation != self.generation:
            return
        self._regions[entry] = compiled
        self.order.append(entry)
        self._traps[compiled.name] = compiled.traps
        self.starts.add(entry)
        for start, end in compiled.ranges:
            self.covered.add(start, end)

    def traps_of_module(self, name: str | None) -> TrapMap | None:
        return self._traps.get(name or "")

    def flush(self) -> None:
        """Forget every translation (guest code changed, or precise mode began). Without
        the lock: the address space calls this holding its own, which a translating
        thread may be waiting for (fetching) while it holds this one."""
        self._regions, self._traps, self.order = {}, {}, []
        self.covered, self.starts = Coverage(), set()
        self.generation += 1
