"""Tier 1's loop nests in SIMD lanes across the outer loop's iterations
(mvvm/translator/nests.py): which nests qualify, that a program full of them, overlapping
the result at every distance, gives qemu's output with every region compiled, and that a
nest running into an unmapped page faults where the scalar loop does."""

from __future__ import annotations

import pytest
import wasmtime as wt
from toolchain import PROGRAMS, run_mvvm, run_qemu, tier1_sigsegv_pc

from mvvm.elf.loader import read_image
from mvvm.isa import decode
from mvvm.isa.encoder import asm
from mvvm.runtime.engine import make_engine
from mvvm.translator import nests
from mvvm.translator.modules import pack
from mvvm.translator.translate import emit_region
from mvvm.wasi.discover import Program

NESTS = PROGRAMS / "nests.c"
IN_LANES = {"column16_5": 4, "column16_3": 4, "column16_8": 4, "column16_24": 4,
            "bits16": 4, "columnu16": 4, "column64": 8}


def test_matrix_columns_run_in_lanes(build_program, guest_env):
    """nests.c's kernels, each at its width (in the region of the whole function); the
    whole program, every region compiled, prints what qemu prints."""
    binary = build_program(NESTS, "O2")
    program = Program(read_image(str(binary)))
    symbols = program.symbols.addresses
    codes = {name: emit_region(symbols[name], program.fetch, nests_apart=False)
             for name in IN_LANES}
    for name, width in IN_LANES.items():
        assert codes[name].idioms == (f"nest in lanes of {width} bytes",), name
    assert emit_region(symbols["bits16"], program.fetch, counting=True,
                       nests_apart=False).idioms == ()
    wasm, _ = pack("nests", list(codes.values()))
    wt.Module.validate(make_engine(), wasm)
    qemu = run_qemu(binary, env=guest_env)
    assert qemu.status == 0
    assert run_mvvm(binary, options=["--tier", "1"], env=guest_env).stdout == qemu.stdout


@pytest.mark.parametrize(("case", "faulting"), [("hole", "sw"), ("column", "lh")])
def test_a_nest_into_an_unmapped_page_faults_at_the_scalar_access(build_program, guest_env,
                                                                   case, faulting):
    """`nests hole`: the results run into a PROT_NONE page; `nests column`: b's last row
    does. The groups stay within the pages the last outer iteration touched, so the
    fault is the scalar loop's own, at its store (or load) of the first element in the
    hole, with the columns before it stored."""
    binary = build_program(NESTS, "O2")
    program = Program(read_image(str(binary)))
    pc = tier1_sigsegv_pc(binary, [case], guest_env)
    start = program.symbols.addresses["column16_8"]
    assert decode(program.fetch(pc)).name == faulting and start <= pc < start + 60


def _nest(inner: list[tuple[str, dict[str, int]]], store: str = "sw", step: int = 2):
    """A nest as gcc -O2 compiles CoreMark's product: a head (a1: a's row, a3: b's
    column from the outer induction a2, a5 = 0), an inner loop, a tail storing a5
    through the outer induction a0 and moving a2 by step."""
    def block(*instrs):
        return [decode(asm(name, **fields)) for name, fields in instrs]
    head = block(("addi", {"rd": 11, "rs1": 10, "imm": 0}),
                 ("addi", {"rd": 13, "rs1": 12, "imm": 0}), ("addi", {"rd": 15, "imm": 0}))
    inner_loop = block(*inner, ("addi", {"rd": 11, "rs1": 11, "imm": 2}),
                       ("addi", {"rd": 13, "rs1": 13, "imm": 48}),
                       ("bne", {"rs1": 11, "rs2": 7, "imm": -4 * (len(inner) + 2)}))
    tail = block((store, {"rs1": 8, "rs2": 15}), ("addi", {"rd": 8, "rs1": 8, "imm": 4}),
                 ("addi", {"rd": 12, "rs1": 12, "imm": step}),
                 ("bne", {"rs1": 12, "rs2": 9, "imm": -40}))
    return nests.analyse(head, inner_loop, tail)


PRODUCT = [("lh", {"rd": 5, "rs1": 11}), ("lh", {"rd": 6, "rs1": 13}),
           ("mulw", {"rd": 5, "rs1": 5, "rs2": 6}), ("addw", {"rd": 15, "rs1": 15, "rs2": 5})]


@pytest.mark.parametrize(("inner", "store", "step", "runs"), [
    (PRODUCT, "sw", 2, True),
    (PRODUCT, "sw", 4, False),          # b's columns two halfwords apart: not contiguous
    (PRODUCT, "sd", 2, False),          # a result wider than the lanes
    (PRODUCT[:2] + [("sw", {"rs1": 14, "rs2": 5})], "sw", 2, False),   # a store inside
    ([("lh", {"rd": 5, "rs1": 11}), ("addw", {"rd": 16, "rs1": 16, "rs2": 5})], "sw", 2,
     False)])                           # a6 carried from one outer iteration to the next
def test_which_nests_run_in_lanes(inner, store, step, runs):
    """A lane is an outer iteration: a column must be contiguous across the lanes, the
    stores whole vectors in the tail, and no value may pass from one lane to the next."""
    assert (_nest(inner, store, step) is not None) == runs
