"""Guest memory as the host sees it: zeroing a range, by memset at its ragged edges and by
giving whole pages back to the kernel in between (mvvm.runtime.memories.zero); the host
rights of its pages, kept as runs."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from mvvm.runtime import layout
from mvvm.runtime.memories import RESERVATION, Region
from mvvm.runtime.memory import NONE, READ, WRITE, GuestMemory, PageRights

BASE = layout.GUEST_BASE + 0x100000


@pytest.fixture
def memory() -> Iterator[GuestMemory]:
    region = Region(64 << 20, 64 << 20, RESERVATION)
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


def test_page_rights_runs_match_a_page_by_page_model():
    """Random protect calls: the runs answer each question as a byte per page would, and
    stay as few as the rights allow (no two neighbours equal)."""
    rng = random.Random(7)
    for _ in range(200):
        pages = rng.randint(1, 40)
        rights, model = PageRights(pages, WRITE), bytearray([WRITE]) * pages
        for _ in range(30):
            first = rng.randrange(pages)
            end = rng.randint(first + 1, pages)
            value = rng.choice((NONE, READ, WRITE))
            rights.set(first, end, value)
            model[first:end] = bytes([value]) * (end - first)
            first = rng.randrange(pages)
            end = rng.randint(first + 1, pages)
            assert rights.lowest(first, end) == min(model[first:end])
            assert rights.highest(first, end) == max(model[first:end])
            runs = list(rights.runs(first, end))
            assert [v for start, stop, v in runs for _ in range(start, stop)] == \
                list(model[first:end])
            assert all(a[2] != b[2] for a, b in zip(runs, runs[1:], strict=False))


def test_read_file_fills_the_range_and_stops_at_the_end(memory, tmp_path):
    """What the loader reads a program's segments with: straight from the file into guest
    memory; at the file's end it says how much there was, and writes nothing more."""
    data = bytes(range(256)) * 40
    path = tmp_path / "data"
    path.write_bytes(data)
    memory.write(BASE, b"\xee" * 0x4000)
    with path.open("rb") as file:
        assert memory.read_file(BASE + 3, 5000, file.fileno(), 100) == 5000
        assert memory.read(BASE + 3, 5000) == data[100:5100]
        assert memory.read_file(BASE + 0x2000, 0x1000, file.fileno(), len(data) - 10) == 10
    assert memory.read(BASE + 0x2000, 12) == data[-10:] + b"\xee\xee"
