"""What a region module shows the runtime: the names of its exports and of itself, and
the map from its code offsets back to guest pcs.

Apart from the translator proper, so that the runtime and the code cache can read
compiled modules without importing the translator (which a run that compiles
nothing never loads).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import NamedTuple


def region_name(entry: int) -> str:
    """The module name of the region at entry: trap frames carry it."""
    return f"region_{entry:x}"


class TrapMap(NamedTuple):
    """Where each guest instruction's code starts in the module, to map a trap to a pc."""

    offsets: Sequence[int]           # ascending module offsets
    pcs: Sequence[int]

    def pc_at(self, module_offset: int) -> int:
        """The guest pc whose code contains this module offset (from a trap frame)."""
        index = bisect.bisect_right(self.offsets, module_offset) - 1
        return self.pcs[max(index, 0)]


def export_name(index: int) -> str:
    """The export of a module's index-th region function."""
    return f"r{index}"
