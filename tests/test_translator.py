"""Unit tests of the translator's parts that whole programs exercise only indirectly."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import wasmtime as wt
from toolchain import PROGRAMS, run_mvvm, run_qemu

from mvvm import isa
from mvvm.elf.loader import read_image
from mvvm.isa import decode
from mvvm.isa.effects import register_bit
from mvvm.isa.encoder import asm
from mvvm.runtime.engine import make_engine
from mvvm.translator import structure, words
from mvvm.translator.dataflow import FEW_REGISTERS, Dataflow, analyse_registers
from mvvm.translator.modules import SLOT_LOOKUP, pack
from mvvm.translator.region import Block, Region, discover
from mvvm.translator.semantics import ENDS_BLOCK, supported
from mvvm.translator.structure import DISPATCH, Shape, analyse
from mvvm.translator.translate import emit_region
from mvvm.wasi.discover import Program
from mvvm.wasm import encoder as w
from mvvm.wasm.encoder import sleb, uleb

NOP = decode(0x00000013)          # addi x0, x0, 0
CODE = 0x10000


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


def _uleb_at(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def test_branch_hints_name_the_branches_they_hint():
    """The branch-hinting section comes before the code section, and each of its entries
    is the offset (from the body's locals) of the `if` or `br_if` hinted, size 1, and the
    hint; the engine accepts the module."""
    m = w.Module()
    body = w.Code().get(0).hint(False).block(w.IF).op(w.END)
    body.block(w.BLOCK).get(0).hint(True).br(w.BR_IF, 0).op(w.END).i32_const(1)
    m.function(m.type((w.I32,), (w.I32,)), [w.I64, w.I64, w.F64], body, export="f")
    wasm = m.encode()
    name = w.encode_name("metadata.code.branch_hint")
    count, at = _uleb_at(wasm, wasm.index(name) + len(name))
    function, at = _uleb_at(wasm, at)
    hints, at = _uleb_at(wasm, at)
    assert (count, function, hints) == (1, 0, 2)
    entries = []
    for _ in range(hints):
        offset, at = _uleb_at(wasm, at)
        size, at = _uleb_at(wasm, at)
        entries.append((offset, size, wasm[at]))
        at += 1
    assert wasm[at] == 10                       # the code section follows
    _, at = _uleb_at(wasm, at + 1)              # its size
    _, at = _uleb_at(wasm, at)                  # one body
    _, locals_at = _uleb_at(wasm, at)           # the body's size: its locals start here
    assert [(wasm[locals_at + offset], size, hint) for offset, size, hint in entries] == [
        (w.IF, 1, 0), (w.BR_IF, 1, 1)]
    wt.Module(make_engine(), wasm)


def region(edges: dict[int, list[int]]) -> Region:
    """A region of one-instruction blocks at the given starts with these successors."""
    return Region(min(edges), {start: Block(start, [(start, NOP)], start + 4, succs)
                               for start, succs in edges.items()})


def test_natural_loop_has_a_header_and_no_exits():
    shape = analyse(region({0: [4], 4: [8, 12], 8: [4], 12: []}))
    assert shape.loop_headers == {4}
    assert shape.edges[8] == [4]


def test_an_irreducible_loop_gets_a_copy_of_its_second_entry():
    """0 enters the cycle 4 <-> 8 at both nodes. 4, first in reverse postorder, stays the
    header; the edge from 0 to 8 goes to a copy of 8 instead, which goes on to 4: the
    cycle has one entry, and nothing leaves the region."""
    found = region({0: [4, 8], 4: [8], 8: [4]})
    shape = analyse(found)
    copy = shape.target(0, 8)
    assert copy < DISPATCH and shape.blocks[copy] is found.blocks[8]
    assert shape.edges[0] == [4, copy] and shape.edges[copy] == [4]
    assert shape.root == 0 and not shape.dispatched
    assert shape.loop_headers == {4}
    assert all(shape.keeps(u, v) for u, block in found.blocks.items() for v in block.succs)


def test_an_irreducible_loop_inside_a_loop_is_split_there():
    """The outer loop 4 -> ... -> 16 -> 4 has one entry; inside it, 4 enters the cycle
    8 <-> 12 at both nodes: that inner cycle is the one split."""
    shape = analyse(region({0: [4], 4: [8, 12], 8: [12], 12: [8, 16], 16: [4, 20], 20: []}))
    copy = shape.target(4, 12)
    assert copy < DISPATCH and shape.edges[4] == [8, copy]
    assert shape.loop_headers == {4, 8} and not shape.dispatched


def test_an_irreducible_edge_goes_by_dispatch_beyond_the_copying_budget(monkeypatch):
    """With no room for copies, the retreating edge 8 -> 4 goes by DISPATCH, which jumps
    to the entry or to 4 by label: the cycle is now DISPATCH's loop, reducible."""
    monkeypatch.setattr(structure, "SPLIT_INSTRUCTIONS", 0)
    found = region({0: [4, 8], 4: [8], 8: [4]})
    shape = analyse(found)
    assert shape.root == DISPATCH and shape.dispatch == [0, 4]
    assert shape.dispatched == {(8, 4): 4}
    assert shape.edges[8] == [DISPATCH] and shape.edges[DISPATCH] == [0, 4]
    assert shape.loop_headers == {DISPATCH}
    assert shape.merge_nodes == {4, 8}
    assert all(shape.keeps(u, v) for u, block in found.blocks.items() for v in block.succs)


def _two_entry_loops(count: int) -> Region:
    """count two-entry loops in a row: a enters the cycle x <-> y at both, y goes on."""
    edges = {}
    for k in range(count):
        a, x, y = 12 * k, 12 * k + 4, 12 * k + 8
        edges |= {a: [x, y], x: [y], y: [x] + ([y + 4] if k + 1 < count else [])}
    return region(edges)


@pytest.mark.parametrize("count", [structure.SPLITS, structure.SPLITS + 1])
def test_a_region_splits_so_many_loops_and_no_more(count):
    """Each split analyses the whole graph again: up to SPLITS loops are split, and a
    region with more goes by DISPATCH alone, copying nothing."""
    shape = analyse(_two_entry_loops(count))
    copies = [node for node in shape.blocks if node < DISPATCH]
    if count <= structure.SPLITS:
        assert len(copies) == count and not shape.dispatched
    else:
        assert not copies and shape.root == DISPATCH and shape.dispatched


@pytest.mark.parametrize("room", [structure.SPLIT_INSTRUCTIONS, 3])
def test_any_graph_comes_out_reducible_with_every_edge_kept(monkeypatch, room):
    """Random graphs of up to 12 blocks, copies allowed or short of room: every edge of
    every node goes to a node of the same guest target (directly, or by DISPATCH's label
    for it), and every retreating edge goes to a node that dominates its source."""
    monkeypatch.setattr(structure, "SPLIT_INSTRUCTIONS", room)
    rng = random.Random(10)
    for _ in range(300):
        starts = [4 * k for k in range(rng.randint(2, 12))]
        shape = analyse(region({s: rng.sample(starts, rng.randint(0, 2)) for s in starts}))
        for node in shape.rpo:
            if node == DISPATCH:
                continue
            for pc in shape.blocks[node].succs:
                to = shape.target(node, pc)
                behind = shape.dispatch[shape.label(node, pc)] if to == DISPATCH else to
                assert to in shape.edges[node] and shape.blocks[behind].start == pc
                assert not shape.is_backward(node, to) or _dominates(shape, to, node)


def _dominates(shape: Shape, a: int, b: int) -> bool:
    return a == b or any(_dominates(shape, child, b) for child in shape.children[a])


def test_merge_children_come_highest_reverse_postorder_first():
    shape = analyse(region({0: [4, 8], 4: [12], 8: [12, 16], 12: [16], 16: []}))
    assert shape.merge_children(0) == [16, 12]


def _fetcher(base: int, words: list[int]) -> Callable[[int], int | None]:
    """A region's fetch from code made of words at base."""

    def fetch(pc: int) -> int | None:
        index = (pc - base) // 4
        return words[index] if 0 <= index < len(words) else None

    return fetch


def _registers_of(base: int, words: list[int]) -> tuple[Region, Dataflow]:
    """The region discovered from base in code made of words, and its register dataflow."""
    found = discover(base, _fetcher(base, words), ENDS_BLOCK, supported)
    return found, analyse_registers(found, analyse(found), ENDS_BLOCK)


def test_a_loop_leaves_alone_the_registers_it_does_not_use():
    """An inner loop over a0 (to a1) inside an outer one over s1 (to s2): in the inner loop
    s1 and s2 are not locals Cranelift must carry. s1, dirty on entering it, is written
    back first; both are reloaded on the edge that leaves it."""
    base = 0x10000
    words = [asm("addi", rd=9, rs1=9, imm=1),               # outer: s1 += 1
             asm("addi", rd=10, rs1=10, imm=1),             # inner: a0 += 1
             asm("bne", rs1=10, rs2=11, imm=-4),            # ... until a0 == a1
             asm("bne", rs1=9, rs2=18, imm=-12),            # until s1 == s2
             asm("jalr", rd=0, rs1=1, imm=0)]
    found, flow = _registers_of(base, words)
    s1, s2 = register_bit(9, False), register_bit(18, False)
    assert analyse(found).loop_headers == {base, base + 4}
    assert flow.before_loop[base + 4] == s1
    assert flow.edge_reload[(base + 4, base + 12)] == s1 | s2
    assert not flow.dirty_in[base + 4] & s1


def test_a_short_counted_loop_in_a_copy_carries_the_registers_it_does_not_use():
    """The same nest, its inner loop named as a copied function's counted loop (memcpy's
    head and tail bytes, a few passes an entry): it touches few registers, so it carries
    the others (no write-back before it, no reload after), where a write-back and reload
    per entry would cost more than its passes. With more than FEW_REGISTERS touched it
    leaves them alone again."""
    base = 0x10000
    words = [asm("addi", rd=9, rs1=9, imm=1),
             asm("addi", rd=10, rs1=10, imm=1),
             asm("bne", rs1=10, rs2=11, imm=-4),
             asm("bne", rs1=9, rs2=18, imm=-12),
             asm("jalr", rd=0, rs1=1, imm=0)]
    found = discover(base, _fetcher(base, words), ENDS_BLOCK, supported)
    flow = analyse_registers(found, analyse(found), ENDS_BLOCK, carried={base + 4})
    assert not flow.before_loop[base + 4] and not flow.edge_reload
    busy = [words[0], *[asm("add", rd=r, rs1=r, rs2=10) for r in range(12, 12 + FEW_REGISTERS)],
            asm("addi", rd=10, rs1=10, imm=1),
            asm("bne", rs1=10, rs2=11, imm=-4 * (FEW_REGISTERS + 1)),
            asm("bne", rs1=9, rs2=18, imm=-4 * (FEW_REGISTERS + 3)), words[-1]]
    found = discover(base, _fetcher(base, busy), ENDS_BLOCK, supported)
    flow = analyse_registers(found, analyse(found), ENDS_BLOCK, carried={base + 4})
    assert flow.before_loop[base + 4] == register_bit(9, False)


# A function whose middle is a loop nest (inner 8 <-> 8 inside outer 4 -> 8 -> 16 -> 4),
# with code before and after it; with call, the outer loop calls a leaf (jal ra).
def _nest(call: bool = False) -> list[int]:
    return [asm("addi", rd=9, rs1=0, imm=0),                        # 0: s1 = 0
            asm("addi", rd=10, rs1=0, imm=0),                       # 4: outer: a0 = 0
            asm("addi", rd=10, rs1=10, imm=1),                      # 8: inner: a0 += 1
            asm("bne", rs1=10, rs2=11, imm=-4),                     # 12: until a0 == a1
            asm("jal", rd=1, imm=16) if call else asm("addi", rd=9, rs1=9, imm=1),  # 16
            asm("bne", rs1=9, rs2=18, imm=-16),                     # 20: until s1 == s2
            asm("addi", rd=10, rs1=9, imm=0),                       # 24: after: a0 = s1
            asm("jalr", rd=0, rs1=1, imm=0),                        # 28: return
            asm("jalr", rd=0, rs1=1, imm=0)]                        # 32: the callee


def test_a_tight_loop_nest_gets_a_region_of_its_own():
    """The function's region leaves for the nest at its header, and drops the code after
    it too (only the nest reached it); a region entered inside the nest (at the inner
    loop's header, where tier 0 finds it hot) holds the nest alone."""
    base = 0x10000
    fetch = _fetcher(base, _nest())
    outside = discover(base, fetch, ENDS_BLOCK, supported)
    assert set(outside.blocks) == {base} and outside.blocks[base].succs == [base + 4]
    inside = discover(base + 8, fetch, ENDS_BLOCK, supported)
    assert set(inside.blocks) == {base + 4, base + 8, base + 16}
    assert inside.blocks[base + 16].succs == [base + 4, base + 24]     # the way out leaves


def test_a_loop_nest_with_a_call_or_a_single_loop_stays_in_its_region():
    """A call inside the nest leaves the region at every pass anyway, and a single loop
    may pass a few times per entry: both stay in the function's region, and so does the
    code after them."""
    base = 0x10000
    with_call = discover(base, _fetcher(base, _nest(call=True)), ENDS_BLOCK, supported)
    assert {base + 4, base + 8, base + 16, base + 24}.issubset(with_call.blocks)
    single = [asm("addi", rd=10, rs1=0, imm=0),                     # 0: a0 = 0
              asm("addi", rd=10, rs1=10, imm=1),                    # 4: loop: a0 += 1
              asm("bne", rs1=10, rs2=11, imm=-4),                   # 8: until a0 == a1
              asm("jalr", rd=0, rs1=1, imm=0)]                      # 12: return
    assert set(discover(base, _fetcher(base, single), ENDS_BLOCK, supported).blocks) \
        == {base, base + 4, base + 12}


def test_the_side_of_a_branch_that_goes_round_its_loop_is_the_else_arm():
    """Cranelift lays an `if`'s else arm out right after its test: the side of a branch
    that goes back round a loop goes there (its condition inverted), so that a pass takes
    one jump, the one back, and not two (out to the latch and back). A forward branch
    keeps its taken side in the then arm."""
    base = 0x10000
    words = [asm("addi", rd=10, rs1=10, imm=1),                     # loop: a0 += 1
             asm("bne", rs1=10, rs2=11, imm=-4),                    # until a0 == a1
             asm("beq", rs1=10, rs2=12, imm=8),                     # a0 == a2: skip
             asm("sd", rs1=2, rs2=10, imm=0),                       # the store
             asm("jalr", rd=0, rs1=1, imm=0)]
    code = emit_region(base, _fetcher(base, words))
    body, marks = bytes(code.code), {pc: at for at, pc in code.marks}

    def before_if(pc: int) -> int:
        """The opcode before the first `if` of the guest instruction at pc."""
        return body[body.index(bytes([w.IF, 0x40]), marks[pc]) - 1]

    assert before_if(base + 4) == w.I32_EQZ
    assert before_if(base + 8) == w.I64_EQ


def test_loops_around_the_entrys_own_loop_go_by_dispatch():
    """Entered at an inner loop's header (4 <-> 8), the region also reaches the outer path
    back to it (8 -> 12 -> 4): that edge goes by DISPATCH, so the outer loop is DISPATCH's
    and the inner one is nested in it, with a header of its own."""
    shape = analyse(region({4: [8], 8: [4, 12], 12: [4, 16], 16: []}))
    assert shape.edges[8] == [4, 12] and shape.edges[12] == [DISPATCH, 16]
    assert shape.loop_headers == {4, DISPATCH}
    assert shape.dispatch == [4]


def test_an_irreducible_loop_runs_compiled_as_qemu_runs_it(build_program, guest_env):
    """irreducible.S's two-entry loop (with a call inside, and an outer loop) under --tier 1:
    the region at _start holds it whole, split (in the precise and counting modes too),
    and the exit status is qemu's."""
    binary = build_program(PROGRAMS / "irreducible.S", "O2")
    program = Program(read_image(str(binary)))
    code = emit_region(program.elf.entry, program.fetch)
    shape = analyse(code.region)
    assert min(shape.blocks) < DISPATCH and not shape.dispatched     # a copy, no DISPATCH
    assert all(shape.keeps(u, v) for u, block in code.region.blocks.items()
               for v in block.succs)
    exact = emit_region(program.elf.entry, program.fetch, precise=True, counting=True)
    wasm, _ = pack("irreducible", [code, exact])    # and in fault handlers' and budgets' modes
    wt.Module.validate(make_engine(), wasm)
    qemu = run_qemu(binary, env=guest_env)
    assert qemu.status == 204
    assert run_mvvm(binary, options=["--tier", "1"], env=guest_env).status == 204


def test_a_sext_w_of_a_word_is_a_copy_and_no_other(build_program, guest_env):
    """sextw.S: of its six `sext.w`s only the two loops' whose source is a word on every
    pass (one of them moved there by c.mv, which is `add rd, x0, rs`) are copies
    (words.sext_copies); a 64-bit sum, a join with a wider value, a call's result and a
    loop that widens its value keep theirs. The status says each case came out right,
    under --tier 1 as under qemu."""
    binary = build_program(PROGRAMS / "sextw.S", "O2")
    program = Program(read_image(str(binary)))
    entry = emit_region(program.elf.entry, program.fetch)     # up to the call of `wide`
    after = emit_region(entry.region.blocks[max(entry.region.blocks)].end, program.fetch)
    sexts: list[int] = []
    copies: set[int] = set()
    for code in (entry, after):
        sexts += sorted(pc for block in code.region.blocks.values()
                        for pc, instr in block.instrs
                        if instr is not None and instr.name == "addiw" and instr.imm == 0)
        copies |= words.sext_copies(code.region, code.shape)
    assert len(sexts) == 6 and copies == {sexts[0], sexts[5]}
    assert {spec.name for spec in isa.TABLE} >= words.WORD_RESULTS | words.WORDS_IN_WORDS_OUT
    assert run_qemu(binary, env=guest_env).status == 63
    assert run_mvvm(binary, options=["--tier", "1"], env=guest_env).status == 63


def test_direct_calls_call_the_module_s_function_or_a_stub():
    """With direct_calls (`mvvm wasm`'s one module), a call of a region the module holds
    is a wasm call of its function; of one it does not hold, a call of a stub that goes
    through the table (the same stub for every call of it); the module validates. (B and
    C leave by jalr through t1, not a return, so no region copies them in.) Without, each
    call finds its callee's table slot by a call of the module's SLOT_LOOKUP."""
    words = [asm("jal", rd=1, imm=32), asm("jal", rd=1, imm=60), asm("jalr", rd=0, rs1=1),
             *[asm("addi", rd=0, rs1=0, imm=0)] * 5,
             asm("jal", rd=1, imm=32), asm("jalr", rd=0, rs1=6),      # B, at CODE + 32
             *[asm("addi", rd=0, rs1=0, imm=0)] * 6,
             asm("jal", rd=1, imm=-32), asm("jalr", rd=0, rs1=6)]     # C, at CODE + 64
    a, b = (emit_region(pc, _fetcher(CODE, words), direct_calls=True)
            for pc in (CODE, CODE + 32))
    assert [pc for _, pc in a.calls] == [CODE + 32, CODE + 64]
    assert [pc for _, pc in b.calls] == [CODE + 64]
    table_calls = emit_region(CODE, _fetcher(CODE, words))
    assert [pc for _, pc in table_calls.calls] == [SLOT_LOOKUP, SLOT_LOOKUP]
    wasm, _ = pack("table", [table_calls])
    wt.Module.validate(make_engine(), wasm)
    wasm, _ = pack("direct", [a, b])
    wt.Module.validate(make_engine(), wasm)
    imported = 5                        # the host functions: regions' indices follow them
    called = [_uleb_at(code.code, offset)[0] for code in (a, b) for offset, _ in code.calls]
    assert called == [imported + 1, imported + 2, imported + 2]
