"""Guest memory as the host sees it: zeroing a range, by memset at its ragged edges and by
giving whole pages back to the kernel in between (mvvm.runtime.memories.zero)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvvm.runtime import layout
from mvvm.runtime.memories import Region
from mvvm.runtime.memory import GuestMemory

BASE = layout.GUEST_BASE + 0x100000


@pytest.fixture
def memory() -> Iterator[GuestMemory]:
    region = Region(64 << 20, 64 << 20)
    yield GuestMemory(region.base)
    region.release()


@pytest.mark.parametrize(("offset", "size"), [
    (0, 0x1000 * 40),           # whole pages
    (123, 0x1000 * 40 + 77),    # ragged at both ends
    (5, 300),                   # too small to give pages back: memset
])
def test_fill_zeroes_exactly_the_range(memory, offset, size):
    span = size + 2 * 0x2000
    pattern = bytes((i * 7 + 1) & 0xFF or 1 for i in range(span))
    memory.write(BASE, pattern)
    memory.fill(BASE + 0x2000 + offset, size)
    after = memory.read(BASE, span)
    start = 0x2000 + offset
    assert after[:start] == pattern[:start]
    assert after[start:start + size] == bytes(size)
    assert after[start + size:] == pattern[start + size:]
    memory.write(BASE + start, b"\x55")                 # the pages are usable again
    assert memory.read(BASE + start, 1) == b"\x55"
