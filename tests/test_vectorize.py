"""Tier 1's element-wise loops in SIMD lanes (mvvm/translator/vectorize.py): which loops
qualify, and that a program full of them, overlapping at every distance, gives qemu's
output with every region compiled."""

from __future__ import annotations

import pytest
import wasmtime as wt
from toolchain import PROGRAMS, run_mvvm, run_qemu, tier1_sigsegv_pc

from mvvm import isa
from mvvm.elf.loader import read_image
from mvvm.isa import decode
from mvvm.isa.encoder import asm
from mvvm.runtime.engine import make_engine
from mvvm.translator import vectorize
from mvvm.translator.modules import pack
from mvvm.translator.translate import emit_region
from mvvm.wasi.discover import Program

LANES = PROGRAMS / "lanes.c"
IN_LANES = {"axpy32": 4, "words32": 4, "pull32": 4, "mix64": 8, "shift64": 8, "fill64": 8,
            "daxpy": 8, "ratio": 8, "rows": 8, "dot16": 4, "dotu16": 4, "bytes8": 4,
            "sum64": 8}
SCALAR = ("smear32", "prefix32")


def test_element_wise_loops_run_in_lanes(build_program, guest_env):
    """lanes.c's loops: each of IN_LANES at its width (rows through a pointer derived
    from another, the sums over narrow elements in word lanes); smear32 reads, through the
    same pointer, what the iteration two before stored, which lanes would not see, and
    prefix32 stores its running sum."""
    binary = build_program(LANES, "O2")
    program = Program(read_image(str(binary)))
    symbols = program.symbols.addresses
    codes = {name: emit_region(symbols[name], program.fetch) for name in (*IN_LANES, *SCALAR)}
    for name, width in IN_LANES.items():
        assert codes[name].idioms == (f"lanes of {width} bytes",), name
    for name in SCALAR:
        assert codes[name].idioms == (), name
    assert emit_region(symbols["axpy32"], program.fetch, counting=True).idioms == ()
    wasm, _ = pack("lanes", list(codes.values()))
    wt.Module.validate(make_engine(), wasm)
    qemu = run_qemu(binary, env=guest_env)
    assert qemu.status == 0
    assert run_mvvm(binary, options=["--tier", "1"], env=guest_env).stdout == qemu.stdout


@pytest.mark.parametrize(("case", "function", "load"), [("hole", "axpy32", "lw"),
                                                      ("hole16", "dot16", "lh")])
def test_a_loop_into_an_unmapped_page_faults_at_the_scalar_load(build_program, guest_env,
                                                                case, function, load):
    """`lanes hole`: axpy32 runs into a PROT_NONE page (`hole16`: dot16, its halfwords
    widened into word lanes). The groups stay within the pages the last iteration
    touched, so the fault is the scalar loop's own, at its load of the first element in
    the hole (a group running into it would fault at the back edge)."""
    binary = build_program(LANES, "O2")
    program = Program(read_image(str(binary)))
    pc = tier1_sigsegv_pc(binary, [case], guest_env)
    start = program.symbols.addresses[function]
    assert decode(program.fetch(pc)).name == load and start <= pc < start + 32


def _loop(*body: tuple[str, dict[str, int]], step: int = 4) -> list[isa.Instr]:
    """A one-block loop: the body, a1 and a2 moved by step, `bne a1, a3` back."""
    words = [asm(name, **fields) for name, fields in body]
    words += [asm("addi", rd=11, rs1=11, imm=step), asm("addi", rd=12, rs1=12, imm=step),
              asm("bne", rs1=11, rs2=13, imm=-4 * (len(words) + 2))]
    return [decode(word) for word in words]


@pytest.mark.parametrize(("shift", "runs"), [(3, True), (31, True), (32, False), (40, False)])
def test_a_word_lane_shifts_by_less_than_32(shift, runs):
    """i32x4.shl takes its count modulo 32; a stored word of x << 32 and more is 0."""
    loop = vectorize.analyse(_loop(("lw", {"rd": 5, "rs1": 11}),
                                   ("slli", {"rd": 5, "rs1": 5, "imm": shift}),
                                   ("sw", {"rs1": 12, "rs2": 5})))
    assert (loop is not None) == runs


def test_a_value_carried_round_the_loop_keeps_it_scalar():
    """t0 is read before it is written: a sum over the iterations, not a lane each."""
    body = (("lw", {"rd": 5, "rs1": 11}), ("add", {"rd": 6, "rs1": 6, "rs2": 5}),
            ("sw", {"rs1": 12, "rs2": 6}))
    assert vectorize.analyse(_loop(*body)) is None
    independent = (("lw", {"rd": 5, "rs1": 11}), ("add", {"rd": 6, "rs1": 5, "rs2": 7}),
                   ("sw", {"rs1": 12, "rs2": 6}))
    assert vectorize.analyse(_loop(*independent)) is not None


@pytest.mark.parametrize(("load", "add", "then", "step", "runs"), [
    ("lw", "addw", None, 4, True), ("lh", "addw", None, 2, True), ("lbu", "addw", None, 1, True),
    ("ld", "add", None, 8, True), ("ld", "addw", None, 8, True),
    ("lw", "add", None, 4, False),          # a word lane has no upper half to carry into
    ("lh", "addw", None, 4, False),         # strided: every other halfword
    ("lw", "addw", ("sw", 6), 4, False),    # the sum is read (stored) each iteration
    ("lw", "addw", ("sw", 5), 4, True),
    ("lh", "addw", ("sh", 5), 2, False),    # a narrow element stored
    ("lh", "addw", ("sw", 5), 2, False)])   # ... or a widened one: not whole vectors
def test_a_sum_of_contiguous_elements_runs_in_lanes(load, add, then, step, runs):
    """`add[w] t1, t1, t0`: t1 is carried round the loop, but only by its own add, so
    each lane may keep a partial sum; a narrow element widens into a word lane, in a loop
    that stores nothing."""
    body = [(load, {"rd": 5, "rs1": 11}), (add, {"rd": 6, "rs1": 6, "rs2": 5})]
    if then:
        body.append((then[0], {"rs1": 12, "rs2": then[1]}))
    loop = vectorize.analyse(_loop(*body, step=step))
    assert (loop is not None) == runs
    if runs:
        assert loop.sums == [vectorize.Sum(6, 5, add == "addw")]


@pytest.mark.parametrize(("order", "rm", "runs"), [
    ("load add store", 7, True), ("load add store", 0, True), ("load add store", 1, False),
    ("load store add", 7, False)])
def test_doubles_round_to_nearest_and_are_stored_after_their_arithmetic(order, rm, runs):
    """A group whose results are not all normal must find its stores undone; a static
    rounding mode other than RNE is never the lanes' (the dynamic one is tested)."""
    parts = {"load": ("fld", {"rd": 1, "rs1": 11}),
             "add": ("fadd.d", {"rd": 2, "rs1": 1, "rs2": 1, "rm": rm}),
             "store": ("fsd", {"rs1": 12, "rs2": 1})}
    loop = vectorize.analyse(_loop(*(parts[part] for part in order.split()), step=8))
    assert (loop is not None) == runs


def test_lane_operations_are_table_rows():
    names = {spec.name for spec in isa.TABLE}
    for ops in (*vectorize.LANE_OPS.values(), vectorize.FP_LANE_OPS):
        assert set(ops) <= names
    assert set(vectorize.LOADS) | set(vectorize.STORES) | set(vectorize.NARROW) <= names
    assert set().union(*vectorize.SUMS.values()) <= names
