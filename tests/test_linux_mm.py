"""The guest address space: placement, fixed mappings, protection, brk, code_changed."""

import errno
import os

import pytest

from mvvm.errors import GuestFault, SyscallError
from mvvm.runtime.address_space import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace, Mapping

BASE = 0x10000
SIZE = 16 << 20
MMAP_TOP = BASE + SIZE - (1 << 20)
RW = PROT_READ | PROT_WRITE
RX = PROT_READ | PROT_EXEC


class FakeMemory:
    """GuestMemory over a bytearray: [BASE, BASE + SIZE) is backed."""

    def __init__(self) -> None:
        self.base, self.limit = BASE, BASE + SIZE
        self.data = bytearray(SIZE)

    def _offset(self, addr: int, size: int) -> int:
        if addr < self.base or addr + size > self.limit:
            raise GuestFault(addr)
        return addr - self.base

    def read(self, addr: int, size: int) -> bytes:
        offset = self._offset(addr, size)
        return bytes(self.data[offset:offset + size])

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        offset = self._offset(addr, len(data))
        self.data[offset:offset + len(data)] = data

    def read_file(self, addr: int, size: int, fd: int, offset: int) -> int:
        data = os.pread(fd, size, offset)
        self.write(addr, data)
        return len(data)

    def fill(self, addr: int, size: int, value: int = 0) -> None:
        offset = self._offset(addr, size)
        self.data[offset:offset + size] = bytes([value]) * size


@pytest.fixture
def space() -> AddressSpace:
    return AddressSpace(FakeMemory(), mmap_top=MMAP_TOP)


def changes(space: AddressSpace) -> list[tuple[int, int]]:
    """Record code_changed calls."""
    seen: list[tuple[int, int]] = []
    space.code_changed = lambda addr, length: seen.append((addr, length))
    return seen


def errno_of(excinfo: pytest.ExceptionInfo[OSError]) -> int:
    return excinfo.value.errno


def test_placement_is_top_down_and_page_rounded(space):
    a = space.map(0, 5000, RW)
    b = space.map(0, PAGE, RW)
    assert a == MMAP_TOP - 2 * PAGE
    assert b == a - PAGE
    assert space.prot_at(a + 5000) == RW
    assert space.prot_at(a + 2 * PAGE) == 0


def test_hint_used_when_free_else_ignored(space):
    hint = BASE + 0x100000
    assert space.map(hint, PAGE, RW) == hint
    assert space.map(hint, PAGE, RW) == MMAP_TOP - PAGE


def test_placement_fills_gaps_and_runs_out(space):
    a = space.map(0, PAGE, RW)
    space.map(0, PAGE, RW)
    space.unmap(a, PAGE)
    assert space.map(0, PAGE, RW) == a
    with pytest.raises(OSError) as e:
        space.map(0, SIZE, RW)
    assert errno_of(e) == errno.ENOMEM


def test_map_zero_fills(space):
    addr = BASE + 0x200000
    space.mem.fill(addr, 2 * PAGE, 0xAA)
    space.map(addr, 2 * PAGE, RW, fixed=True)
    assert space.mem.read(addr, 2 * PAGE) == bytes(2 * PAGE)


def test_fixed_replaces_and_reports_lost_code(space):
    addr = BASE + 0x200000
    space.map(addr, 4 * PAGE, RX, name="code")
    seen = changes(space)
    space.map(addr + PAGE, PAGE, RW, fixed=True)
    assert seen == [(addr + PAGE, PAGE)]
    assert space.mappings() == [
        Mapping(addr, addr + PAGE, RX, "code"),
        Mapping(addr + PAGE, addr + 2 * PAGE, RW, ""),
        Mapping(addr + 2 * PAGE, addr + 4 * PAGE, RX, "code"),
    ]


def test_fixed_noreplace_and_bad_fixed_addresses(space):
    addr = BASE + 0x200000
    space.map(addr, PAGE, RW)
    with pytest.raises(OSError) as e:
        space.map(addr, PAGE, RW, fixed=True, replace=False)
    assert errno_of(e) == errno.EEXIST
    assert space.map(addr + PAGE, PAGE, RW, fixed=True, replace=False) == addr + PAGE
    with pytest.raises(OSError) as e:
        space.map(addr + 1, PAGE, RW, fixed=True)
    assert errno_of(e) == errno.EINVAL
    with pytest.raises(OSError) as e:
        space.map(BASE + SIZE, PAGE, RW, fixed=True)
    assert errno_of(e) == errno.ENOMEM


def test_adjacent_equal_mappings_merge(space):
    addr = BASE + 0x200000
    space.map(addr, PAGE, RW, fixed=True)
    space.map(addr + PAGE, PAGE, RW, fixed=True)
    space.protect(addr, 2 * PAGE, PROT_READ)
    space.protect(addr, PAGE, RW)
    space.protect(addr, PAGE, PROT_READ)
    assert space.mappings() == [Mapping(addr, addr + 2 * PAGE, PROT_READ, "")]


def test_unmap_splits_and_ignores_holes(space):
    addr = BASE + 0x200000
    space.map(addr, 3 * PAGE, RX)
    seen = changes(space)
    space.unmap(addr + PAGE, 10 * PAGE)
    assert seen == [(addr + PAGE, 2 * PAGE)]
    assert space.prot_at(addr) == RX
    assert space.prot_at(addr + PAGE) == 0
    with pytest.raises(OSError) as e:
        space.unmap(addr + 1, PAGE)
    assert errno_of(e) == errno.EINVAL


def test_protect_reports_code_that_changes(space):
    addr = BASE + 0x200000
    space.map(addr, 4 * PAGE, RW)
    seen = changes(space)
    space.protect(addr, 4 * PAGE, RX)          # data becomes code: nothing to drop
    space.protect(addr, PAGE, PROT_READ)       # loses exec
    space.protect(addr + PAGE, PAGE, RW | PROT_EXEC)   # becomes writable
    space.protect(addr + 2 * PAGE, PAGE, RX)   # unchanged
    assert seen == [(addr, PAGE), (addr + PAGE, PAGE)]
    assert [m.prot for m in space.mappings()] == [PROT_READ, RW | PROT_EXEC, RX]


def test_protect_needs_a_fully_mapped_range(space):
    addr = BASE + 0x200000
    space.map(addr, PAGE, RW)
    with pytest.raises(OSError) as e:
        space.protect(addr, 2 * PAGE, PROT_READ)
    assert errno_of(e) == errno.ENOMEM
    assert space.prot_at(addr) == RW


def test_check(space):
    addr = BASE + 0x200000
    space.map(addr, PAGE, RW)
    space.map(addr + PAGE, PAGE, PROT_READ)
    space.check(addr, 2 * PAGE, PROT_READ)
    space.check(addr + 3 * PAGE, 0, PROT_WRITE)
    with pytest.raises(GuestFault) as e:
        space.check(addr + 10, 2 * PAGE, PROT_WRITE)
    assert e.value.addr == addr + PAGE
    with pytest.raises(GuestFault) as e:
        space.check(addr + PAGE, 2 * PAGE, PROT_READ)
    assert e.value.addr == addr + 2 * PAGE
    with pytest.raises(GuestFault):
        space.check(0, 1, PROT_READ)


def test_brk(space):
    start = BASE + 0x100123
    top = BASE + 0x101000
    space.set_brk(start)
    assert space.brk(0) == top
    assert space.brk(top - 1) == top            # below the start: refused
    space.mem.fill(top, 3 * PAGE, 0x55)
    assert space.brk(top + 2 * PAGE + 8) == top + 2 * PAGE + 8
    assert space.mem.read(top, 3 * PAGE) == bytes(3 * PAGE)
    assert space.mappings() == [Mapping(top, top + 3 * PAGE, RW, "[heap]")]
    assert space.brk(top + 10) == top + 10
    assert space.prot_at(top + PAGE) == 0
    assert space.brk(0) == top + 10


def test_brk_refuses_to_grow_into_a_mapping(space):
    top = BASE + 0x100000
    space.set_brk(top)
    space.map(top + 2 * PAGE, PAGE, RW, fixed=True)
    assert space.brk(top + 3 * PAGE) == top
    assert space.brk(top + 2 * PAGE) == top + 2 * PAGE


def test_remap_grows_in_place_moves_and_shrinks():
    space = AddressSpace(FakeMemory(), mmap_top=MMAP_TOP)
    a = space.map(0, 2 * PAGE, RW, name="a")
    space.mem.write(a, b"keep")
    assert space.remap(a, 2 * PAGE, 4 * PAGE, may_move=False) == a      # room above: in place
    space.map(a + 4 * PAGE, PAGE, RW, fixed=True, name="wall")
    with pytest.raises(SyscallError) as blocked:
        space.remap(a, 4 * PAGE, 8 * PAGE, may_move=False)
    assert blocked.value.errno == errno.ENOMEM
    moved = space.remap(a, 4 * PAGE, 8 * PAGE, may_move=True)
    assert space.mem.read(moved, 4) == b"keep" and space.prot_at(a + 4 * PAGE) == RW
    assert space.remap(moved, 8 * PAGE, PAGE, may_move=False) == moved
    assert space.prot_at(moved + PAGE) == 0
    with pytest.raises(SyscallError) as unmapped:
        space.remap(a, PAGE, 2 * PAGE, may_move=True)
    assert unmapped.value.errno == errno.EFAULT
