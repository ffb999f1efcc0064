"""The translations of one guest image, shared by all its threads.

A region is translated and compiled once; every thread that runs it instantiates the
compiled module in its own store (mvvm.runtime.dispatcher.CodeCache). When guest code
changes, `flush` forgets every translation and moves to a new generation; each thread
drops its instances when it sees the generation change, at its next return to Python.
"""

from __future__ import annotations

import threading
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


class Translations:
    """Compiled regions by entry pc. Hold `lock` to look up and add: threads that miss the
    same pc at once must not translate it twice."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.generation = 0
        self.covered: set[int] = set()          # guest pcs (2-byte steps) some region holds
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
            other.covered, other.starts = set(self.covered), set(self.starts)
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
            self.covered.update(range(start, end, 2))

    def traps_of_module(self, name: str | None) -> TrapMap | None:
        return self._traps.get(name or "")

    def flush(self) -> None:
        """Forget every translation (guest code changed, or precise mode began). Without
        the lock: the address space calls this holding its own, which a translating
        thread may be waiting for (fetching) while it holds this one."""
        self._regions, self._traps, self.order = {}, {}, []
        self.covered, self.starts = set(), set()
        self.generation += 1
