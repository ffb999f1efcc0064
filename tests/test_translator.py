"""Unit tests of the translator's parts that whole programs exercise only indirectly."""

from __future__ import annotations

import pytest

from mvvm.isa import decode
from mvvm.translator.region import Block, Region
from mvvm.translator.structure import analyse
from mvvm.wasm.encoder import sleb, uleb

NOP = decode(0x00000013)          # addi x0, x0, 0


@pytest.mark.parametrize(("value", "encoded"), [
    (0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (624485, b"\xe5\x8e\x26"),
])
def test_unsigned_leb128(value, encoded):
    assert uleb(value) == encoded


@pytest.mark.parametrize(("value", "encoded"), [
    (0, b"\x00"), (-1, b"\x7f"), (63, b"\x3f"), (64, b"\xc0\x00"), (-64, b"\x40"),
    (-65, b"\xbf\x7f"), (-123456, b"\xc0\xbb\x78"),
])
def test_signed_leb128(value, encoded):
    assert sleb(value) == encoded


def region(edges: dict[int, list[int]]) -> Region:
    """A region of one-instruction blocks at the given starts with these successors."""
    return Region(min(edges), {start: Block(start, [(start, NOP)], start + 4, succs)
                               for start, succs in edges.items()})


def test_natural_loop_has_a_header_and_no_exits():
    shape = analyse(region({0: [4], 4: [8, 12], 8: [4], 12: []}))
    assert shape.loop_headers == {4}
    assert shape.edges[8] == [4]


def test_irreducible_edge_becomes_an_exit():
    """0 enters the cycle 4 <-> 8 at both nodes: neither dominates the other, so the
    retreating edge of the cycle is cut (the dispatcher takes it) and what is left is
    reducible, with 8 a merge node reached from 0 and from 4."""
    shape = analyse(region({0: [4, 8], 4: [8], 8: [4]}))
    kept = {(u, v) for u, vs in shape.edges.items() for v in vs}
    assert kept == {(0, 4), (0, 8), (4, 8)}
    assert shape.loop_headers == set()
    assert shape.merge_nodes == {8}


def test_merge_children_come_highest_reverse_postorder_first():
    shape = analyse(region({0: [4, 8], 4: [12], 8: [12, 16], 12: [16], 16: []}))
    assert shape.merge_children(0) == [16, 12]
