"""The two tiers: tier 0 alone, the tiered default compiling hot code in the background,
the disk cache of batches, and the profile shaping what tier 1 translates.

(Every program test also runs under `pytest --tier 0`, which scripts/test does for a layer
of them; these tests pin down what each mode does, through `mvvm run --stats`.)
"""

from __future__ import annotations

import gc
import json
import random
import shutil
import threading
import weakref
from pathlib import Path
from types import SimpleNamespace

import pytest
import toolchain
import wasmtime as wt
from toolchain import PROGRAMS, run_mvvm, run_qemu

from mvvm.elf.loader import read_image
from mvvm.isa import decode
from mvvm.isa.encoder import asm
from mvvm.runtime import layout
from mvvm.runtime.engine import make_engine
from mvvm.runtime.profile import SIZE as profile_size
from mvvm.runtime.profile import ProfileData
from mvvm.runtime.translations import Coverage, Translations
from mvvm.runtime.vm import VM
from mvvm.translator import switches
from mvvm.translator.modules import pack
from mvvm.translator.region import Block, Profile, is_call
from mvvm.translator.structure import analyse
from mvvm.translator.translate import emit_region
from mvvm.wasi.discover import Program

COMPUTE = PROGRAMS / "compute.c"
COPIED = PROGRAMS / "calls" / "copied.c"


def _run(binary: Path, tmp_path: Path, env: dict[str, str], *options: str
         ) -> tuple[object, dict]:
    stats = tmp_path / "stats.json"
    outcome = run_mvvm(binary, options=[*options, "--stats", str(stats)],
                       env={**env, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    return outcome, json.loads(stats.read_text())


@pytest.fixture
def compute(build_program) -> Path:
    return build_program(COMPUTE, "O2")


def test_tier0_alone_translates_nothing(compute, tmp_path, guest_env):
    outcome, stats = _run(compute, tmp_path, guest_env, "--tier", "0")
    assert outcome == run_qemu(compute, env=guest_env)
    assert stats["regions"] == 0 and stats["cached_regions"] == 0
    assert stats["tier0_instructions"] > 1_000_000_000


def test_tiered_compiles_hot_code_in_batches(compute, tmp_path, guest_env):
    outcome, stats = _run(compute, tmp_path, guest_env, "--tier", "tiered")
    assert outcome == run_qemu(compute, env=guest_env)
    assert 0 < stats["batches"] < stats["regions"]           # several regions to a module
    assert stats["background_seconds"] > 0 and stats["tier1_errors"] == 0
    # Hot loops leave tier 0 early: it runs a small part of the 10**9 it runs alone.
    assert 0 < stats["tier0_instructions"] < 100_000_000


def test_tiered_second_run_loads_batches(compute, tmp_path, guest_env):
    first, stats1 = _run(compute, tmp_path, guest_env, "--tier", "tiered")
    second, stats2 = _run(compute, tmp_path, guest_env, "--tier", "tiered")
    assert first == second == run_qemu(compute, env=guest_env)
    assert stats1["regions"] > 0
    assert stats2["cached_regions"] > 0
    assert stats2["regions"] < stats1["regions"]


# -- the profile shapes the region ----------------------------------------------------------

CODE = 0x10000


def _fetcher(words: list[int]):
    def fetch(pc: int) -> int | None:
        index = (pc - CODE) // 4
        return words[index] if 0 <= index < len(words) and pc % 4 == 0 else None
    return fetch


def test_a_branch_side_that_never_ran_is_an_exit():
    """beq a0, zero, +12 over two addis; with a profile that saw only the taken side, the
    fall-through (the addis) is not translated: the region leaves for it."""
    words = [asm("beq", rs1=10, rs2=0, imm=12), asm("addi", rd=11, rs1=11, imm=1),
             asm("addi", rd=11, rs1=11, imm=2), asm("addi", rd=12, rs1=12, imm=3),
             asm("jalr", rd=0, rs1=1, imm=0)]
    whole = emit_region(CODE, _fetcher(words))
    assert set(whole.region.blocks) == {CODE, CODE + 4, CODE + 12}
    taken_only = emit_region(CODE, _fetcher(words),
                             profile=Profile(lambda pc: pc == CODE + 12, lambda pc: ()))
    assert set(taken_only.region.blocks) == {CODE, CODE + 12}
    assert taken_only.region.blocks[CODE].succs == [CODE + 12, CODE + 4]    # an exit
    assert taken_only.region.pruned == {CODE + 4}     # counted there, to translate it again


def test_an_indirect_jump_keeps_its_profiled_targets():
    """jalr x0, 0(a5) with two targets tier 0 saw: both are blocks of the region, the most
    taken first, and a block the profile never saw is not; a return keeps none."""
    words = [asm("jalr", rd=0, rs1=15, imm=0),
             asm("addi", rd=10, rs1=10, imm=1), asm("jalr", rd=0, rs1=1, imm=0),
             asm("addi", rd=10, rs1=10, imm=2), asm("jalr", rd=0, rs1=1, imm=0),
             asm("addi", rd=10, rs1=10, imm=3), asm("jalr", rd=0, rs1=1, imm=0)]
    seen = {CODE: [CODE + 12, CODE + 4], CODE + 8: [CODE + 20]}
    code = emit_region(CODE, _fetcher(words),
                       profile=Profile(lambda pc: True, lambda pc: seen.get(pc, [])))
    assert set(code.region.blocks) == {CODE, CODE + 4, CODE + 12}
    assert code.region.blocks[CODE].succs == [CODE + 12, CODE + 4]
    assert code.region.blocks[CODE + 4].succs == []             # ret: back to the caller
    assert code.region.pruned == {CODE}       # other targets leave: counted, noted


def test_jump_table_targets_of_a_later_phase_still_run(build_program, tmp_path, guest_env):
    """A hot switch whose cases change halfway: tier 1 compiles the loop with the first
    phase's targets inside; the second phase's leave the region by the jump's other way."""
    binary = build_program(PROGRAMS / "phases.c", "O2")
    outcome, stats = _run(binary, tmp_path, guest_env, "--tier", "tiered")
    assert outcome == run_qemu(binary, env=guest_env)
    assert stats["regions"] > 0 and stats["tier1_errors"] == 0


def test_a_jump_table_s_odd_entries_lead_to_their_even_targets(build_program, tmp_path,
                                                               guest_env):
    """oddjump.S: a hot jump table whose entries are its cases' addresses plus one. Tier 1
    compiles the loop with all four cases behind a br_table indexed by the jalr's sum,
    whose odd entries must go where jalr's clearing of bit 0 does; the status is qemu's."""
    binary = build_program(PROGRAMS / "oddjump.S", "O2")
    outcome, stats = _run(binary, tmp_path, guest_env, "--tier", "tiered")
    assert outcome == run_qemu(binary, env=guest_env)
    assert outcome.status == (10_000_004 // 4 * (1 + 3 + 7 + 13)) & 255
    # most of the 85 million instructions ran compiled (tier 0's share grows under load)
    assert stats["regions"] > 0 and stats["tier0_instructions"] < 40_000_000


def test_a_recursive_call_is_a_jump_to_the_entry():
    """jal ra to the region's own entry: a jump back to it that sets ra, and the region's
    return may go to the instruction after it (else it leaves), so the recursion is a
    loop inside the function; the module validates."""
    words = [asm("beq", rs1=10, rs2=0, imm=28), asm("addi", rd=2, rs1=2, imm=-16),
             asm("sd", rs1=2, rs2=1, imm=0), asm("addi", rd=10, rs1=10, imm=-1),
             asm("jal", rd=1, imm=-16), asm("ld", rd=1, rs1=2, imm=0),
             asm("addi", rd=2, rs1=2, imm=16), asm("jalr", rd=0, rs1=1, imm=0)]
    code = emit_region(CODE, _fetcher(words))
    assert code.region.linked_jumps == {CODE + 16}
    assert code.region.blocks[CODE + 4].succs == [CODE]
    assert code.region.blocks[CODE + 28].succs == [CODE + 20]
    assert CODE + 20 in code.region.blocks and not code.region.pruned
    wasm, _ = pack("recursive", [code])
    wt.Module.validate(make_engine(), wasm)


def test_a_recursion_without_a_return_does_not_follow_its_return_point():
    """Until the region has a return, nothing can come back after a call of its entry: the
    code there is not part of it."""
    words = [asm("addi", rd=10, rs1=10, imm=-1), asm("jal", rd=1, imm=-4),
             asm("addi", rd=10, rs1=10, imm=1), asm("ebreak")]
    code = emit_region(CODE, _fetcher(words))
    assert set(code.region.blocks) == {CODE}
    assert code.region.blocks[CODE].succs == [CODE]


def test_a_call_of_a_small_leaf_is_a_jump_into_its_copy():
    """jal ra to a function without calls of its own (a strlen): its code is copied into
    the region, the call is a jump that sets ra, and the leaf's return goes back after the
    call (else it leaves); the caller's own return does not (no edge into a loop around
    the call); the module validates."""
    words = [asm("jal", rd=1, imm=16), asm("addi", rd=10, rs1=10, imm=1),
             asm("bne", rs1=10, rs2=11, imm=-8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("addi", rd=12, rs1=12, imm=2), asm("jalr", rd=0, rs1=1, imm=0)]
    code = emit_region(CODE, _fetcher(words))
    assert code.region.linked_jumps == {CODE}
    assert code.region.blocks[CODE].succs == [CODE + 16]
    assert code.region.blocks[CODE + 16].succs == [CODE + 4]
    assert code.region.blocks[CODE + 12].succs == []
    assert not analyse(code.region).dispatch
    wasm, _ = pack("leaf", [code])
    wt.Module.validate(make_engine(), wasm)


def test_a_call_through_a_pointer_to_small_leaves_jumps_into_their_copies():
    """jalr ra through a register whose profiled targets are all small leaves (a sort's
    comparators): each is copied in, the call compares the target with them in turn (and
    leaves for any other, as a jump table does), and each leaf's return goes back after
    the call; the module validates."""
    words = [asm("jalr", rd=1, rs1=15, imm=0), asm("addi", rd=10, rs1=10, imm=1),
             asm("jalr", rd=0, rs1=1, imm=0),
             asm("addi", rd=12, rs1=12, imm=2), asm("jalr", rd=0, rs1=1, imm=0),
             asm("addi", rd=12, rs1=12, imm=3), asm("jalr", rd=0, rs1=1, imm=0)]
    seen = {CODE: [CODE + 12, CODE + 20]}
    code = emit_region(CODE, _fetcher(words),
                       profile=Profile(lambda pc: True, lambda pc: seen.get(pc, [])))
    assert code.region.linked_jumps == {CODE}
    assert code.region.blocks[CODE].succs == [CODE + 12, CODE + 20]
    assert code.region.blocks[CODE + 12].succs == [CODE + 4]
    assert code.region.blocks[CODE + 20].succs == [CODE + 4]
    assert code.region.blocks[CODE + 4].succs == []
    assert code.region.pruned == {CODE}
    wasm, _ = pack("pointer", [code])
    wt.Module.validate(make_engine(), wasm)


def test_a_small_function_that_calls_a_leaf_is_copied_with_the_leaf():
    """jal ra to a small function whose call is of a leaf (memcpy and its word loop): both
    are copied in, each call a jump; each return goes back after the calls of its own
    function, and the entry's, with no call of the entry, leaves."""
    words = [asm("jal", rd=1, imm=8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("jal", rd=1, imm=8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("jalr", rd=0, rs1=1, imm=0)]
    code = emit_region(CODE, _fetcher(words))
    assert code.region.linked_jumps == {CODE, CODE + 8}
    succs = {pc: block.succs for pc, block in code.region.blocks.items()}
    assert succs == {CODE: [CODE + 8], CODE + 8: [CODE + 16], CODE + 16: [CODE + 12],
                     CODE + 12: [CODE + 4], CODE + 4: []}
    wasm, _ = pack("copied", [code])
    wt.Module.validate(make_engine(), wasm)


def test_a_whole_program_module_copies_only_leaves():
    """With direct calls (`mvvm wasm`'s module) the small function that calls stays a
    wasm call, and a region of its own copies its leaf."""
    words = [asm("jal", rd=1, imm=8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("jal", rd=1, imm=8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("jalr", rd=0, rs1=1, imm=0)]
    caller = emit_region(CODE, _fetcher(words), direct_calls=True)
    assert not caller.region.linked_jumps and set(caller.region.blocks) == {CODE, CODE + 4}
    callee = emit_region(CODE + 8, _fetcher(words), direct_calls=True)
    assert callee.region.linked_jumps == {CODE + 8}


def test_a_copied_function_s_call_of_another_that_calls_stays_a_call():
    """One level only: the copied function's call of a function with a call of its own
    stays a wasm call, and the region holds neither that function nor its leaf."""
    words = [asm("jal", rd=1, imm=8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("jal", rd=1, imm=8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("jal", rd=1, imm=8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("jalr", rd=0, rs1=1, imm=0)]
    code = emit_region(CODE, _fetcher(words))
    assert code.region.linked_jumps == {CODE}
    assert set(code.region.blocks) == {CODE, CODE + 4, CODE + 8, CODE + 12}
    assert code.region.blocks[CODE + 8].succs == [CODE + 12]


def test_a_call_of_a_function_with_another_way_out_stays_a_call():
    """A callee that may leave other than by a return (an indirect jump, which a region
    scanning it without a profile cannot follow) is not copied: the call stays a call."""
    words = [asm("jal", rd=1, imm=8), asm("jalr", rd=0, rs1=1, imm=0),
             asm("jalr", rd=0, rs1=15, imm=0)]
    code = emit_region(CODE, _fetcher(words))
    assert not code.region.linked_jumps
    assert set(code.region.blocks) == {CODE, CODE + 4}


def test_no_return_point_is_followed_for_a_copy_that_never_returns():
    """A copied function with no return of its own (it calls a leaf for ever, as one that
    ends in a call of longjmp goes on into code that is not its own): the code after the
    call of it is not part of the region, since no edge could reach it there."""
    words = [asm("jal", rd=1, imm=8), asm("ebreak"),
             asm("jal", rd=1, imm=8), asm("jal", rd=0, imm=-4),
             asm("jalr", rd=0, rs1=1, imm=0)]
    code = emit_region(CODE, _fetcher(words))
    assert code.region.linked_jumps == {CODE, CODE + 8}
    assert set(code.region.blocks) == {CODE, CODE + 8, CODE + 12, CODE + 16}
    assert code.region.blocks[CODE + 16].succs == [CODE + 12]


def test_copied_c_s_loop_holds_the_small_functions_it_calls(build_program):
    """copied.c's main: the region from its entry holds pair, escape and their calls of
    mix (each call a jump), but not spread or leave, which call: the copies' calls of them
    stay calls. even's region copies odd, and odd's call of even jumps back to the entry."""
    binary = build_program(COPIED, "O2")
    program = Program(read_image(str(binary)))
    at = program.symbols.addresses
    code = emit_region(at["main"], program.fetch)
    held = set(code.region.blocks)
    assert {at["pair"], at["escape"], at["mix"]} <= held
    assert at["spread"] not in held and at["leave"] not in held
    calls = {pc: program.fetch(pc) for block in code.region.blocks.values()
             for pc, instr in block.instrs if instr is not None and is_call(instr)}
    targets = {pc: pc + decode(word).imm for pc, word in calls.items()}
    kept = {pc for pc, target in targets.items() if target in (at["spread"], at["leave"])}
    assert len(kept) == 2 and kept.isdisjoint(code.region.linked_jumps)
    assert {pc for pc, target in targets.items()
            if target in (at["pair"], at["escape"], at["mix"])} <= code.region.linked_jumps
    mutual = emit_region(at["even"], program.fetch)      # even and odd call each other
    assert at["odd"] in mutual.region.blocks and len(mutual.region.linked_jumps) == 2


@pytest.mark.parametrize("tier", ["1", "tiered"])
def test_copied_functions_return_to_their_callers(tier, build_program, guest_env,
                                                  assert_same_as_qemu):
    """The copies' returns go back to each of two call sites, the call of spread from a
    copy comes back into it, the call of leave from a copy comes back by longjmp where
    qemu's does, and even and odd recurse through a copy: the output and status (the
    program's own check of its sum) are qemu's."""
    binary = build_program(COPIED, "O2")
    qemu = run_qemu(binary, env=guest_env)
    assert qemu.status == 0
    assert_same_as_qemu(qemu, run_mvvm(binary, options=["--tier", tier], env=guest_env))


def test_many_close_targets_make_a_jump_table():
    """Five profiled targets of jalr x0, 0(a5), 8 bytes apart: the region holds them all
    behind a br_table (BR_TABLE_TARGETS, BR_TABLE_SPAN), and the module validates."""
    words = [asm("jalr", rd=0, rs1=15, imm=0)]
    for k in range(5):
        words += [asm("addi", rd=10, rs1=10, imm=k + 1), asm("jalr", rd=0, rs1=1, imm=0)]
    targets = [CODE + 4 + 8 * k for k in range(5)]
    code = emit_region(CODE, _fetcher(words),
                       profile=Profile(lambda pc: True, lambda pc: targets if pc == CODE else []))
    assert set(code.region.blocks) == {CODE, *targets}
    wasm, _ = pack("table", [code])
    wt.Module.validate(make_engine(), wasm)


def _switch(table_entries: list[int] | None = None) -> tuple[list[int], list[int], int]:
    """A loop dispatching through a table of offsets, as gcc compiles a switch: lla s2
    before it; slli/add/lw/add/jr a5 at CODE + 8; four cases that each add to s0 and jump
    back; the table after them. The words, the cases' pcs and the table's address."""
    table = CODE + 64           # after the 16 words of code
    cases = [CODE + 28 + 8 * k for k in range(4)]
    words = [asm("auipc", rd=18, imm=0), asm("addi", rd=18, rs1=18, imm=table - CODE),
             asm("slli", rd=15, rs1=5, imm=2), asm("add", rd=15, rs1=15, rs2=18),
             asm("lw", rd=15, rs1=15, imm=0), asm("add", rd=15, rs1=15, rs2=18),
             asm("jalr", rd=0, rs1=15, imm=0)]
    for k, case in enumerate(cases):
        words += [asm("addi", rd=8, rs1=8, imm=k + 1), asm("jal", rd=0, imm=CODE + 8 - case - 4)]
    words += [asm("ebreak")]
    assert CODE + 4 * len(words) == table
    entries = table_entries if table_entries is not None else [c - table for c in cases]
    return words + [e & 0xFFFFFFFF for e in entries], cases, table


def test_a_switch_s_table_is_read_when_it_holds_the_profiled_targets():
    """The region of the switch's loop reads the table its lla points at (its bytes join
    the code the region depends on) when the table holds every target the profile saw;
    not when a target is missing from it, nor without read_only memory to read it from."""
    words, cases, table = _switch()
    profile = Profile(lambda pc: True, lambda pc: cases if pc == CODE + 24 else [])
    code = emit_region(CODE + 8, _fetcher(words), profile=profile,
                       read_only=_fetcher(words))
    assert code.tables == ((table, table + 16),)
    assert (table, table + 16) in code.code_ranges()
    wasm, _ = pack("switch", [code])
    wt.Module.validate(make_engine(), wasm)
    assert not emit_region(CODE + 8, _fetcher(words), profile=profile).tables
    other, _, _ = _switch([cases[0] - table] * 4)
    assert not emit_region(CODE + 8, _fetcher(other), profile=profile,
                           read_only=_fetcher(other)).tables


@pytest.mark.parametrize(("index_from", "narrow"), [
    (asm("lwu", rd=5, rs1=6, imm=0), True), (asm("lbu", rd=5, rs1=6, imm=0), True),
    (asm("andi", rd=5, rs1=6, imm=255), True), (asm("andi", rd=5, rs1=6, imm=-4), False),
    (asm("lw", rd=5, rs1=6, imm=0), False), (asm("add", rd=5, rs1=6, rs2=7), False),
    (asm("lwu", rd=6, rs1=6, imm=0), False)])
def test_a_table_index_below_2_32_is_left_to_the_br_table_s_range_check(index_from, narrow):
    """The switch's index t0 made by the instruction before the pattern in its block: a
    zero-extending load or a mask keeps it below 2**32, so the br_table's own range check
    (on its low 32 bits) is exact; anything else may alias (2**32 + 1 is not 1)."""
    words, _, table = _switch()
    fetch = _fetcher(words)
    pattern = [(pc, decode(fetch(pc))) for pc in range(CODE + 8, CODE + 28, 4)]
    block = Block(CODE + 4, [(CODE + 4, decode(index_from)), *pattern], CODE + 28)
    assert [t.narrow for t in switches.candidates(block, fetch)] == [narrow]
    assert switches.candidates(block, fetch)[0].address == table


def test_a_switch_whose_table_was_read_runs_as_qemu_runs_it(build_program, tmp_path,
                                                            guest_env):
    """switchtable.S: the hot loop over the table tier 1 read, over another table through
    the same jump, and over the first again after it was rewritten; twice, the second
    time from the disk cache. Then, with an argument, an index beyond 32 bits, whose
    entry the guest's lw faults on (SIGSEGV), as under qemu."""
    binary = build_program(PROGRAMS / "switchtable.S", "O2")
    expected = run_qemu(binary, env=guest_env)
    assert expected.status == 250_001 * (35 + 35 + 35 + 50) & 255
    for cached in (False, True):
        outcome, stats = _run(binary, tmp_path, guest_env, "--tier", "tiered")
        assert outcome == expected
        assert (stats["cached_regions"] > 0) == cached and stats["tier1_errors"] == 0
    assert run_qemu(binary, ["wild"], env=guest_env).status == 139
    for _ in range(2):          # the cache then holds the region that reads the table
        wild = run_mvvm(binary, ["wild"], options=["--tier", "tiered"],
                        env={**guest_env, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        assert wild.status == 139


def test_a_region_that_read_a_table_is_not_reused_for_another_table(tmp_path, guest_env):
    """The same program file rebuilt with one table entry changed: the disk cache's key
    (which samples the first and last pages) finds the first build's batch, whose region
    read the old table, and must not run it: the table's bytes are part of the code it
    checks."""
    source, flags = PROGRAMS / "switchtable.S", ("-static", "-nostdlib", "-Wl,--build-id=none")
    program = tmp_path / "switchtable"
    for build in (toolchain.build(source, flags),
                  toolchain.build(source, (*flags, "-DOTHER_TABLE"))):
        shutil.copyfile(build, program)
        program.chmod(0o755)
        outcome, _ = _run(program, tmp_path, guest_env, "--tier", "tiered")
        assert outcome == run_qemu(build, env=guest_env)


def test_an_image_no_longer_used_goes_with_its_compiler_thread():
    """The background compiler holds its image only during a round: a dropped VM's image
    is collected (its guest memory reserves 256 GiB of host address space: a few hundred
    kept alive exhaust it), and the compiler's thread ends."""
    vm = VM()
    tables = _tables()
    vm.image.compiler.request(0x10000, lambda: tables)
    thread = vm.image.compiler._thread
    image = weakref.ref(vm.image)
    del vm
    gc.collect()
    assert image() is None
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_code_asked_for_the_first_time_is_translated_before_code_asked_again(monkeypatch):
    """The background compiler's round takes first-time requests (code running in tier 0)
    before requests to translate a region again (code running compiled), each in the
    order asked."""
    from mvvm.runtime.tiers import BackgroundCompiler

    class Image:                        # what a round reads of one
        translations = Translations()

    image = Image()
    compiler = BackgroundCompiler(image)            # its thread starts with a request
    emitted: list[int] = []
    monkeypatch.setattr(compiler, "_emit", lambda image, pc, profile, again: emitted.append(pc))
    monkeypatch.setattr(compiler, "_publish", lambda *args: None)
    tables = _tables(0x100, 0x200, 0x300, 0x400)
    for pc, again in ((0x100, True), (0x200, False), (0x300, True), (0x400, False)):
        compiler._pending[pc] = (lambda: tables, again)
    compiler._round(image)
    assert emitted == [0x200, 0x400, 0x100, 0x300]


def test_the_first_time_code_tier_0_enters_most_is_translated_first(monkeypatch):
    """Of the entries asked for the first time, a round takes the one tier 0 entered most
    since the round last looked (its counter counts on from COUNTER_ASKED): a cold run
    asks for far more than tier 1 translates in time, and what runs now comes first, not
    what ran most before and has stopped."""
    from mvvm.runtime.tiers import BackgroundCompiler

    class Image:                        # what a round reads of one
        translations = Translations()

    compiler = BackgroundCompiler(Image())
    tables = _tables(0x100, 0x200, 0x300, 0x400)
    entered = [{0x100: 80, 0x200: 90},              # before the round
               {0x400: 30},                         # while 0x200 is translated
               {0x300: 10}]                         # while 0x400 is
    emitted: list[int] = []

    def run_on(image=None, pc=None, profile=None, again=None):
        emitted.extend([pc] if pc else [])
        for other, count in (entered.pop(0) if entered else {}).items():
            tables[0].set_count(other, tables[0].count(other) + count)

    for pc in (0x100, 0x200, 0x300, 0x400):
        compiler._pending[pc] = (lambda: tables, False)
    run_on()
    monkeypatch.setattr(compiler, "_emit", run_on)
    monkeypatch.setattr(compiler, "_publish", lambda *args: None)
    compiler._round(Image())
    assert emitted == [0x200, 0x400, 0x300, 0x100]


def test_a_round_reads_profiles_without_the_queue_lock(monkeypatch):
    """A profile source may wait for the translations' lock (VM.profile reads the disk
    cache's saved profile under it), which a guest thread holds while it tells the
    compiler about the regions it loads (`left_out`, which takes the queue's lock): a
    round that called the source with the queue's lock held waited for that thread, and
    it for the round, for good (ruff check's second run hung)."""
    from mvvm.runtime.tiers import BackgroundCompiler

    class Image:                        # what a round reads of one
        translations = Translations()

    compiler = BackgroundCompiler(Image())
    monkeypatch.setattr(compiler, "_emit", lambda image, pc, profile, again: None)
    translations_lock, asked = threading.Lock(), threading.Event()
    tables = _tables(0x100)

    def source():
        asked.set()
        with translations_lock:
            return tables

    compiler._pending[0x100] = (source, False)
    with translations_lock:             # a guest thread loading cached regions
        round_ = threading.Thread(target=compiler._round, args=(Image(),), daemon=True)
        round_.start()
        assert asked.wait(5)
        told = threading.Thread(target=compiler.left_out, args=(0x200, [0x208]), daemon=True)
        told.start()
        told.join(timeout=5)
        assert not told.is_alive(), "the round held the queue's lock while it waited"
    round_.join(timeout=5)
    assert not round_.is_alive() and not compiler._pending


def _tables(*asked: int) -> tuple[ProfileData, None]:
    """A profile as tier 0's starts, with the entries asked for as the host marks them."""
    live = ProfileData.over(memoryview(bytearray(profile_size)))
    for pc in asked:
        live.set_count(pc, layout.COUNTER_ASKED)
    return live, None


def test_regions_translated_after_a_flush_belong_to_the_new_generation(monkeypatch):
    """A flush during a round (a loader mapping a library over code) makes what the round
    translated before it stale: the regions it translates afterwards are published with
    the new generation, so that they are installed and kept, and the stale one is asked
    for again (dropped, it ran in tier 0 for the rest of the run)."""
    from mvvm.runtime.tiers import BackgroundCompiler

    class Image:                        # what a round reads of one
        translations = Translations()

    image = Image()
    compiler = BackgroundCompiler(image)

    def emit(image, pc, profile, again):
        if pc == 0x100 and image.translations.generation == 0:
            image.translations.flush()  # while 0x100 is translated
        return pc

    published: list[tuple[list[int], int]] = []
    monkeypatch.setattr(compiler, "_emit", emit)
    monkeypatch.setattr(compiler, "_publish", lambda image, codes, asked, generation, started:
                        published.append((codes, generation)))
    tables = _tables(0x100, 0x200, 0x300)
    for pc in (0x100, 0x200, 0x300):
        compiler._pending[pc] = (lambda: tables, False)
    compiler._round(image)
    assert published == [([0x200, 0x300, 0x100], 1)]


def test_a_batch_a_flush_made_stale_while_it_compiled_is_asked_for_again(monkeypatch):
    """Regions whose batch was compiled across a flush are dropped, and asked for once
    more; a region whose code is flushed each time it is translated is not asked for a
    third time (a guest that keeps rewriting its code)."""
    from mvvm.runtime import tiers

    class Image:                        # what a round and a publish read of one
        translations = Translations()
        stats = SimpleNamespace(background_seconds=0.0, batches=0)
        cpus: list = []

    image = Image()
    compiler = tiers.BackgroundCompiler(image)
    compiled: list[tuple[list[int], int]] = []

    def compile_batch(image, name, codes, generation):
        compiled.append(([code.entry for code in codes], generation))
        image.translations.flush()      # while the batch compiles: it is stale

    monkeypatch.setattr(tiers, "compile_batch", compile_batch)
    monkeypatch.setattr(compiler, "_emit", lambda image, pc, profile, again:
                        SimpleNamespace(entry=pc, pruned=set()))
    tables = _tables(0x100)
    compiler._pending[0x100] = (lambda: tables, False)
    while compiler._pending:            # as the thread's loop does, round after round
        compiler._round(image)
    assert compiled == [([0x100], 0), ([0x100], 1)]


def test_a_side_a_region_still_leaves_out_when_translated_again_is_given_up(monkeypatch):
    """A region translated again for a side it left out, that leaves it out again (its
    budget spent, or an indirect jump with more targets than a region follows), is not
    translated again for it: not in this run, and not in later ones, which load it with
    the sides it leaves out (cmake -P translated the same region again every run)."""
    from mvvm.runtime.tiers import BackgroundCompiler

    class Image:                        # what a round reads of one
        translations = Translations()

        def executable(self, pc):
            return True

    compiler = BackgroundCompiler(Image())
    translated: list[tuple[int, bool]] = []

    def translate(image, pc, profile, *, full):
        translated.append((pc, full))
        return SimpleNamespace(entry=pc, pruned={0x150, 0x160})

    monkeypatch.setattr("mvvm.runtime.tiers.translate", translate)
    monkeypatch.setattr(compiler, "_publish", lambda image, codes, asked, generation, started:
                        [compiler.left_out(code.entry, code.pruned) for code in codes])
    tables = _tables()
    compiler.left_out(0x100, {0x150, 0x160})           # as loaded from the disk cache
    compiler.reprofile(0x150, lambda: tables)
    compiler._round(Image())
    assert translated == [(0x100, True)]
    assert compiler._pruned_by == {0x160: {0x100}}
    compiler.reprofile(0x150, lambda: tables)
    assert not compiler._pending


def test_a_thread_installs_only_the_regions_it_gets_hot(build_program):
    """The process's first cpu installs every region the translations hold; another
    thread's (spawn) only those it asks for (at their hot jumps) and new copies of what it
    has: ruff check's threads installed every region each, 3,000 installs for 565."""
    import mvvm

    vm = mvvm.Machine(build_program(PROGRAMS / "compute.c", "O2")).vm
    thread = vm.spawn()
    with vm.image.translations.lock:
        vm.image.compiled(vm.pc)
    vm._catch_up()
    thread._catch_up()
    assert vm.pc in vm.cache.compiled and vm.pc not in thread.cache.compiled
    thread._install(vm.pc)                  # as its _on_hot does
    assert thread.cache.compiled[vm.pc] is vm.cache.compiled[vm.pc]


def test_a_translation_reads_each_page_of_code_once(build_program, monkeypatch):
    """Tier 1's fetch (Image.code_reader) copies a page of code at its first instruction
    and gives what the image's fetch gives everywhere: at the end of the last executable
    page (16 bits), and for an instruction that goes on into the next page (which it
    leaves to the image's fetch)."""
    import mvvm

    page = 0x1000
    image = mvvm.Machine(build_program(PROGRAMS / "compute.c", "O2")).vm.image
    reads: list[int] = []
    read = image.memory.read
    monkeypatch.setattr(image.memory, "read",
                        lambda addr, size: reads.append(size) or read(addr, size))
    fetch = image.code_reader()
    for first, end in image.executable_pages():
        for pc in range(first * page - 2, end * page + 2, 2):
            expected = image.fetch(pc)
            reads.clear()
            assert fetch(pc) == expected, hex(pc)
            if expected is None or pc % page not in (0, page - 2):
                assert reads == [], hex(pc)
            elif pc % page == 0:
                assert reads == [page]
            else:
                assert reads == [2 if pc == end * page - 2 else 4]


@pytest.mark.parametrize("seed", range(20))
def test_coverage_holds_the_pcs_of_its_ranges(seed):
    """The code regions hold, kept as merged ranges, answers as the set of their pcs."""
    rnd, coverage, pcs = random.Random(seed), Coverage(), set()
    for _ in range(40):
        start = rnd.randrange(0, 400, 2)
        end = start + rnd.randrange(2, 60, 2)
        coverage.add(start, end)
        pcs.update(range(start, end, 2))
        assert [pc for pc in range(-2, 500, 2) if pc in coverage] == sorted(pcs)
    copy = coverage.copy()
    coverage.add(600, 610)
    assert 600 in coverage and 600 not in copy
