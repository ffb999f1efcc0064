"""F, D, Zfhmin and Zfh: every instruction against qemu-riscv64 (softfloat, exact), and the
exact Python implementation behind MVVM's slow path (mvvm.runtime.fp_soft) on its own.

The guest programs print hashes of their results per (instruction, rounding mode); when
MVVM differs, the test reruns both with -v and shows the first results that differ.
"""

from __future__ import annotations

import json
import math
import random
import struct
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402
import toolchain  # noqa: E402
from toolchain import PROGRAMS, ROOT  # noqa: E402

from mvvm.isa import TABLE  # noqa: E402
from mvvm.isa.encoder import asm  # noqa: E402
from mvvm.runtime import fp_soft  # noqa: E402
from mvvm.runtime.fp_soft import DOUBLE, DZ, HALF, NV, NX, OF, SINGLE, UF  # noqa: E402
from mvvm.translator import fp_emit, translate  # noqa: E402
from mvvm.translator.semantics import SEMANTICS  # noqa: E402
from mvvm.translator.translate import emit_region  # noqa: E402
from mvvm.wasm import encoder as w  # noqa: E402

RNE, RTZ, RDN, RUP, RMM = range(5)


def _first_differences(qemu: bytes, mvvm: bytes, limit: int = 12) -> str:
    want, got = qemu.decode().splitlines(), mvvm.decode().splitlines()
    lines = [f"qemu: {a}\nmvvm: {b}" for a, b in zip(want, got, strict=False) if a != b]
    if len(want) != len(got):
        lines.append(f"qemu printed {len(want)} lines, mvvm {len(got)}")
    return "\n".join(lines[:limit])


@pytest.mark.parametrize("section", ["corners", "random", "corners-nx", "random-nx"])
def test_every_instruction_matches_qemu(section, build_program, guest_env):
    """Each F/D instruction in every static rounding mode and under every frm, over corner
    operands (all pairs; triples for FMA) or shaped random ones: result bits and fflags;
    the -nx sections start each instruction with NX already set, as nearly every real
    program runs, where MVVM's fast paths skip the exactness tests."""
    binary = build_program(PROGRAMS / "fp" / "ops.c", "O2")
    qemu = toolchain.run_qemu(binary, [section], env=guest_env)
    assert qemu.status == 0
    mvvm = toolchain.run_mvvm(binary, [section], env=guest_env)
    if mvvm == qemu:
        return
    detail = _first_differences(toolchain.run_qemu(binary, [section, "-v"], env=guest_env).stdout,
                                toolchain.run_mvvm(binary, [section, "-v"], env=guest_env).stdout)
    pytest.fail(f"MVVM differs from qemu (status {mvvm.status}, stderr {mvvm.stderr[-500:]!r})"
                f"\n{detail}", pytrace=False)


HALF_FLAGS = ("-O2", "-static", "-march=rv64gc_zfh")


@pytest.mark.parametrize("tier", ["0", "1"])
@pytest.mark.parametrize("section", ["corners", "random", "corners-nx", "random-nx"])
def test_every_half_instruction_matches_qemu(section, tier, cross_tools, guest_env):
    """Zfhmin and Zfh as ops.c does F and D: every instruction in every static mode and
    under every frm, over corner and random halves (boxed and not), singles, doubles and
    integers, result bits and fflags; in the interpreter and in compiled code."""
    binary = toolchain.build(PROGRAMS / "fp" / "half.c", HALF_FLAGS)
    qemu = toolchain.run_qemu(binary, [section], env=guest_env)
    assert qemu.status == 0
    options = ["--tier", tier]
    mvvm = toolchain.run_mvvm(binary, [section], options=options, env=guest_env)
    if mvvm == qemu:
        return
    detail = _first_differences(
        toolchain.run_qemu(binary, [section, "-v"], env=guest_env).stdout,
        toolchain.run_mvvm(binary, [section, "-v"], options=options, env=guest_env).stdout)
    pytest.fail(f"MVVM differs from qemu (status {mvvm.status}, stderr {mvvm.stderr[-500:]!r})"
                f"\n{detail}", pytrace=False)


@pytest.mark.parametrize("flavour", ["O0", "O2"])
def test_libm_and_formatting_match_qemu(flavour, build_program, guest_env, assert_same_as_qemu):
    """Elementary functions, printf/strtod round trips, fesetround and fetestexcept."""
    binary = build_program(PROGRAMS / "fp" / "libm.c", flavour)
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0
    assert_same_as_qemu(qemu, toolchain.run_mvvm(binary, env=guest_env))


@pytest.mark.parametrize("tier", ["1", "tiered"])
def test_the_assumed_fp_state_ends_where_fcsr_changes(tier, build_program, guest_env,
                                                      assert_same_as_qemu):
    """Loops that set frm and clear fflags themselves, or call a function that does, as
    compiled code that assumes RNE with NX set while fcsr says so."""
    binary = build_program(PROGRAMS / "fp" / "steady.c", "O2")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0
    assert_same_as_qemu(qemu, toolchain.run_mvvm(binary, options=["--tier", tier],
                                                 env=guest_env))


def _counted_run(source: str, tier: str, build_program, guest_env, assert_same_as_qemu,
                 tmp_path: Path) -> dict:
    """Run fp/source under qemu and MVVM (--tier tier, a fresh code cache), check that they
    agree, and return MVVM's counters (--stats)."""
    binary = build_program(PROGRAMS / "fp" / source, "O2")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0
    stats = tmp_path / "stats.json"
    mvvm = toolchain.run_mvvm(binary, options=["--tier", tier, "--stats", str(stats)],
                              env={**guest_env, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert_same_as_qemu(qemu, mvvm)
    return json.loads(stats.read_text())


@pytest.mark.parametrize("tier", ["1", "tiered"])
def test_special_results_with_their_flags_set_stay_on_the_fast_path(
        tier, build_program, guest_env, assert_same_as_qemu, tmp_path):
    """Overflows, underflows, NaNs and divisions by zero of sums, products, quotients,
    roots and fused multiply-adds at every pass of a loop: once each raised its flags, the
    host computes none of them (before, each one went to the host: 320,000 of them took
    minutes under --tier 1), and every result and the flags are qemu's."""
    stats = _counted_run("sticky.c", tier, build_program, guest_env, assert_same_as_qemu,
                         tmp_path)
    assert stats["fp_slow_calls"] < 100


@pytest.mark.parametrize("tier", ["1", "tiered"])
def test_rare_fused_results_go_to_tier0_without_leaving_wasm(
        tier, build_program, guest_env, assert_same_as_qemu, tmp_path):
    """Exact zeros, exact subnormals and tiny inexact results of fused multiply-adds at
    every pass of loops in the steady FP state: tier 1 leaves each to tier 0, in wasm
    (dispatcher._retire_slow_paths; through Python, 5 us each, and under --tier 1 tier 0
    had no page bitmap to fetch with, so the first such leave hung), where the exact ones
    are not the host's (each exact subnormal was, 100,000 host calls), and every result
    and the flags are qemu's."""
    stats = _counted_run("cancel.c", tier, build_program, guest_env, assert_same_as_qemu,
                         tmp_path)
    assert stats["dispatcher_exits"] < 100 and stats["fp_slow_calls"] < 100


@pytest.mark.parametrize("tier", ["0", "1"])
def test_loops_under_a_directed_rounding_mode_match_qemu(tier, build_program, guest_env,
                                                         assert_same_as_qemu):
    """Loops that run whole under each directed rounding mode, where every inexact result
    takes the slow path: tier 1 leaves each to tier 0 (SlowPath.leaves), which rounds as
    frm says; every result's bits and the flags are qemu's."""
    binary = build_program(PROGRAMS / "fp" / "directed.c", "O2")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0
    assert_same_as_qemu(qemu, toolchain.run_mvvm(binary, options=["--tier", tier],
                                                 env=guest_env))


def _fetcher(words: list[int]) -> Callable[[int], int | None]:
    """The words as code at 0x10000."""
    def fetch(pc: int) -> int | None:
        index = (pc - 0x10000) // 4
        return words[index] if 0 <= index < len(words) else None
    return fetch


def test_no_slow_path_behind_a_test_calls_the_host_from_a_region(monkeypatch):
    """A loop of sums, products and quotients in the dynamic rounding mode: where slow
    paths may leave (slow_exits, as tiered and --tier 1 runs translate), none calls the
    host from the region's code, in the loop's steady copy or in its other one, whatever
    frm may be (a call anywhere in the region sent mandelbrot's loop values through the
    stack: 20%), and the tests that lead to them are hinted unlikely. Without slow_exits
    (the counting mode), each calls the host."""
    calls: list[int] = []
    host_call = fp_emit.SlowPath._host_call

    def spy(frame: fp_emit.SlowPath) -> None:
        calls.append(frame.index)
        host_call(frame)

    monkeypatch.setattr(fp_emit.SlowPath, "_host_call", spy)
    words = [asm("fadd.d", rd=1, rs1=1, rs2=2, rm=7), asm("fmul.d", rd=3, rs1=1, rs2=2, rm=7),
             asm("fdiv.d", rd=4, rs1=3, rs2=2, rm=7), asm("addi", rd=5, rs1=5, imm=-1),
             asm("bne", rs1=5, rs2=0, imm=-16), asm("jalr", rd=0, rs1=1, imm=0)]

    code = emit_region(0x10000, _fetcher(words), slow_exits=True).code
    assert calls == []
    # the tests that take the slow paths or their special cases are hinted unlikely
    assert code.hints and all(code[at] in (w.BR_IF, w.IF) and not likely
                              for at, likely in code.hints)
    emit_region(0x10000, _fetcher(words))
    assert len(calls) >= 3


def test_only_a_loop_that_rounds_has_a_steady_copy(monkeypatch):
    """A region entered at an integer loop that an FP loop follows: the FP loop is the one
    emitted twice (its steady copy and the one for any state), not the integer loop, whose
    wasm loop holds the FP loop too (Ramsey's structure puts the code a loop dominates in
    it) but whose back edge, the only way over to the steady copy, never runs once the FP
    work has begun. spectralnorm's main ran all its FP work in the copy for any state."""
    versioned: list[int] = []
    original = translate._Structurer._versioned

    def spy(structurer: translate._Structurer, start: int, merges: list[int]) -> None:
        versioned.append(start)
        original(structurer, start, merges)

    monkeypatch.setattr(translate._Structurer, "_versioned", spy)
    words = [asm("addi", rd=5, rs1=5, imm=-1), asm("bne", rs1=5, rs2=0, imm=-4),
             asm("fadd.d", rd=1, rs1=1, rs2=2, rm=7), asm("addi", rd=6, rs1=6, imm=-1),
             asm("bne", rs1=6, rs2=0, imm=-8), asm("jalr", rd=0, rs1=1, imm=0)]

    emit_region(0x10000, _fetcher(words))
    assert versioned == [0x10008]


def test_zero_products_stay_in_the_steady_copy(build_program, guest_env,
                                               assert_same_as_qemu, tmp_path):
    """Fused multiply-adds whose product is an exact zero (the addend a zero or a
    subnormal) at every pass of a loop in the steady FP state: tier 1 keeps them on the
    fast path of the loop's steady copy (they went to tier 0 one by one: 1.8 million
    tier-0 instructions for 100,000 passes of the zero ones), and every result and the
    flags are qemu's."""
    stats = _counted_run("zero_product.c", "1", build_program, guest_env,
                         assert_same_as_qemu, tmp_path)
    assert stats["tier0_instructions"] < 1000


ILLEGAL_CASES = [(case, frm) for case in range(13) for frm in ("0", "5", "7")]


@pytest.mark.parametrize(("case", "frm"), ILLEGAL_CASES,
                         ids=[f"case{c}-frm{f}" for c, f in ILLEGAL_CASES])
def test_reserved_rounding_modes_are_illegal(case, frm, build_program, guest_env):
    """Dynamic rounding with frm 5..7, and static modes 5 and 6, are SIGILL exactly where
    qemu says so (including the exact conversions fcvt.d.w and fcvt.d.s). MVVM also says
    why on stderr, where qemu says nothing."""
    binary = build_program(PROGRAMS / "fp" / "illegal.c", "O2")
    args = [str(case), frm]
    qemu = toolchain.run_qemu(binary, args, env=guest_env)
    mvvm = toolchain.run_mvvm(binary, args, env=guest_env)
    assert (mvvm.stdout, mvvm.status) == (qemu.stdout, qemu.status)


def test_mandelbrot_example(cross_tools, guest_env, assert_same_as_qemu):
    program = ROOT / "examples" / "mandelbrot"
    assert_same_as_qemu(toolchain.run_qemu(program, ["90"], env=guest_env),
                        toolchain.run_mvvm(program, ["90"], env=guest_env))


FP_EXTENSIONS = ("F", "D", "Zfhmin", "Zfh", "Zfa")


def test_every_fp_instruction_has_a_semantic():
    """F, D and Zfh rows of the table, loads and stores included."""
    names = {s.name for s in TABLE if s.ext in FP_EXTENSIONS}
    assert sorted(names - set(SEMANTICS)) == []


def test_slow_path_covers_every_rounded_instruction():
    """Every instruction with a rounding-mode field can bail out to the host."""
    rounded = {s.name for s in TABLE if s.ext in FP_EXTENSIONS and "rm" in s.operands}
    assert rounded <= set(fp_soft.SLOW_OPS)


# -- the exact implementation on its own ----------------------------------------------


def _double(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _single(x: float) -> int:
    """x rounded to single (RNE), as bits; overflow to infinity."""
    try:
        return struct.unpack("<I", struct.pack("<f", x))[0]
    except OverflowError:
        return 0x7F800000 | (0x80000000 if x < 0 else 0)


def _half(x: float) -> int:
    """x rounded to half (RNE: struct's "e" format), as bits; overflow to infinity."""
    try:
        return struct.unpack("<H", struct.pack("<e", x))[0]
    except OverflowError:
        return 0x7C00 | (0x8000 if x < 0 else 0)


def _value(fmt: fp_soft.Format, bits: int) -> float:
    if fmt is DOUBLE:
        return struct.unpack("<d", struct.pack("<Q", bits))[0]
    if fmt is HALF:
        return struct.unpack("<e", struct.pack("<H", bits))[0]
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def _random_bits(rng: random.Random, fmt: fp_soft.Format) -> int:
    """Mostly numbers of nearby magnitudes, some anything at all."""
    if rng.random() < 0.3:
        return rng.getrandbits(fmt.width)
    spread = min(30, fmt.bias - 1)
    exp = fmt.bias + rng.randint(-spread, spread)
    return rng.getrandbits(1) << (fmt.width - 1) | exp << fmt.frac | rng.getrandbits(fmt.frac)


HOST_OPS = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
            "mul": lambda x, y: x * y, "div": lambda x, y: x / y if y else math.nan}


@pytest.mark.parametrize("fmt", [HALF, SINGLE, DOUBLE], ids=["half", "single", "double"])
@pytest.mark.parametrize("op", sorted(HOST_OPS))
def test_soft_rne_matches_the_host(fmt, op):
    """In RNE, against the host's doubles (singles and halves: the double result rounded
    once more, which is correct rounding since 53 >= 2 * 24 + 2)."""
    rng = random.Random(f"{op}{fmt.width}")
    for _ in range(3000):
        a, b = _random_bits(rng, fmt), _random_bits(rng, fmt)
        got, _ = getattr(fp_soft, op)(fmt, a, b, RNE)
        x, y = _value(fmt, a), _value(fmt, b)
        if op == "div" and y == 0 or math.isnan(x) or math.isnan(y):
            continue
        exact = HOST_OPS[op](x, y)
        want = {DOUBLE: _double, SINGLE: _single, HALF: _half}[fmt](exact)
        if math.isnan(exact):
            want = fmt.canonical_nan
        assert got == want, (op, hex(a), hex(b))


D_MIN_NORMAL, D_ONE, D_MAX = 0x0010000000000000, 0x3FF0000000000000, 0x7FEFFFFFFFFFFFFF
D_INF, D_QNAN, D_SNAN = 0x7FF0000000000000, 0x7FF8000000000000, 0x7FF4000000000000
NEG = 1 << 63


@pytest.mark.parametrize(("call", "expected"), [
    # tininess after rounding: 2^-1022 (1 - 2^-104) rounds (unbounded) to 2^-1022: not tiny;
    # 2^-1022 - 2^-1075 is exact unbounded, so tiny, and rounds to 2^-1022 inexactly
    (lambda: fp_soft.mul(DOUBLE, D_MIN_NORMAL + 1, 0x3FEFFFFFFFFFFFFE, RNE), (D_MIN_NORMAL, NX)),
    (lambda: fp_soft.mul(DOUBLE, 0x3FEFFFFFFFFFFFFF, D_MIN_NORMAL, RNE),
     (D_MIN_NORMAL, UF | NX)),
    (lambda: fp_soft.mul(DOUBLE, D_MIN_NORMAL, 0x3FE0000000000000, RNE), (0x8 << 48, 0)),
    (lambda: fp_soft.mul(DOUBLE, 1, 0x3FE0000000000000, RNE), (0, UF | NX)),
    (lambda: fp_soft.mul(DOUBLE, 1, 0x3FE0000000000000, RUP), (1, UF | NX)),
    # overflow by rounding mode and sign
    (lambda: fp_soft.add(DOUBLE, D_MAX, D_MAX, RNE), (D_INF, OF | NX)),
    (lambda: fp_soft.add(DOUBLE, D_MAX, D_MAX, RTZ), (D_MAX, OF | NX)),
    (lambda: fp_soft.add(DOUBLE, D_MAX | NEG, D_MAX | NEG, RUP), (D_MAX | NEG, OF | NX)),
    (lambda: fp_soft.add(DOUBLE, D_MAX | NEG, D_MAX | NEG, RDN), (D_INF | NEG, OF | NX)),
    # exact zeros: x - x is -0 only rounding down
    (lambda: fp_soft.sub(DOUBLE, D_ONE, D_ONE, RNE), (0, 0)),
    (lambda: fp_soft.sub(DOUBLE, D_ONE, D_ONE, RDN), (NEG, 0)),
    # invalid operations and division by zero
    (lambda: fp_soft.add(DOUBLE, D_INF, D_INF | NEG, RNE), (D_QNAN, NV)),
    (lambda: fp_soft.div(DOUBLE, D_ONE, 0, RNE), (D_INF, DZ)),
    (lambda: fp_soft.div(DOUBLE, 0, 0, RNE), (D_QNAN, NV)),
    (lambda: fp_soft.sqrt(DOUBLE, D_ONE | NEG, RNE), (D_QNAN, NV)),
    (lambda: fp_soft.sqrt(DOUBLE, NEG, RNE), (NEG, 0)),
    (lambda: fp_soft.fma(DOUBLE, D_INF, 0, D_QNAN, RNE), (D_QNAN, NV)),
    (lambda: fp_soft.add(DOUBLE, D_SNAN, D_ONE, RNE), (D_QNAN, NV)),
    (lambda: fp_soft.add(DOUBLE, D_QNAN | 5, D_ONE, RNE), (D_QNAN, 0)),
    # min/max: NaN operands, signed zeros
    (lambda: fp_soft.minmax(DOUBLE, D_SNAN, D_ONE, False), (D_ONE, NV)),
    (lambda: fp_soft.minmax(DOUBLE, D_QNAN | 1, D_SNAN, True), (D_QNAN, NV)),
    (lambda: fp_soft.minmax(DOUBLE, 0, NEG, False), (NEG, 0)),
    (lambda: fp_soft.minmax(DOUBLE, NEG, 0, True), (0, 0)),
    # comparisons: feq quiet, flt/fle signalling
    (lambda: fp_soft.compare(DOUBLE, D_QNAN, D_ONE, "eq"), (0, 0)),
    (lambda: fp_soft.compare(DOUBLE, D_SNAN, D_ONE, "eq"), (0, NV)),
    (lambda: fp_soft.compare(DOUBLE, D_QNAN, D_ONE, "le"), (0, NV)),
    (lambda: fp_soft.compare(DOUBLE, NEG, 0, "lt"), (0, 0)),
    # conversions: saturation, NaN to the largest integer, W results sign-extended
    (lambda: fp_soft.to_int(DOUBLE, D_QNAN, RNE, fp_soft.INT_TYPES["w"]), (0x7FFFFFFF, NV)),
    (lambda: fp_soft.to_int(DOUBLE, D_QNAN, RNE, fp_soft.INT_TYPES["wu"]), ((1 << 64) - 1, NV)),
    (lambda: fp_soft.to_int(DOUBLE, D_INF | NEG, RNE, fp_soft.INT_TYPES["l"]), (1 << 63, NV)),
    (lambda: fp_soft.to_int(DOUBLE, 0xBFE0000000000000, RNE, fp_soft.INT_TYPES["lu"]), (0, NX)),
    (lambda: fp_soft.to_int(DOUBLE, D_ONE | NEG, RNE, fp_soft.INT_TYPES["lu"]), (0, NV)),
    (lambda: fp_soft.to_int(DOUBLE, 0x41EFFFFFFFE00000, RTZ, fp_soft.INT_TYPES["wu"]),
     ((1 << 64) - 1, 0)),
    (lambda: fp_soft.to_int(DOUBLE, 0x4004000000000000, RMM, fp_soft.INT_TYPES["w"]), (3, NX)),
    (lambda: fp_soft.to_int(DOUBLE, 0x4004000000000000, RNE, fp_soft.INT_TYPES["w"]), (2, NX)),
    (lambda: fp_soft.from_int(SINGLE, (1 << 24) + 1, RUP, fp_soft.INT_TYPES["l"]),
     (0x4B800001, NX)),
    (lambda: fp_soft.convert(SINGLE, DOUBLE, 0x7FA00000, RNE), (D_QNAN, NV)),
    # half precision: tininess after rounding, (2^11 - 1) * 2^-25 rounds up to 2^-14 but
    # is tiny; 65520, the midpoint above the largest half (65504), overflows only when it
    # rounds up; NaNs narrow to the canonical NaN
    (lambda: fp_soft.mul(HALF, 0x0400, 0x3BFF, RNE), (0x0400, UF | NX)),
    (lambda: fp_soft.mul(HALF, 0x0400, 0x3BFF, RTZ), (0x03FF, UF | NX)),
    (lambda: fp_soft.convert(SINGLE, HALF, 0x477FF000, RNE), (0x7C00, OF | NX)),
    (lambda: fp_soft.convert(SINGLE, HALF, 0x477FF000, RTZ), (0x7BFF, NX)),
    (lambda: fp_soft.convert(SINGLE, HALF, 0x477FEFFF, RNE), (0x7BFF, NX)),
    (lambda: fp_soft.convert(DOUBLE, HALF, D_SNAN | NEG, RNE), (0x7E00, NV)),
    (lambda: fp_soft.convert(HALF, DOUBLE, 0x0001, RNE), (0x3E70000000000000, 0)),
    (lambda: fp_soft.from_int(HALF, 2049, RNE, fp_soft.INT_TYPES["w"]), (0x6800, NX)),
    (lambda: fp_soft.to_int(HALF, 0xFC00, RNE, fp_soft.INT_TYPES["w"]),
     ((1 << 64) - (1 << 31), NV)),
])
def test_soft_special_cases(call, expected):
    assert call() == expected


H_ONE, S_ONE, D_2_5 = 0x3C00, 0x3F800000, 0x4004000000000000


@pytest.mark.parametrize(("call", "expected"), [
    # fli: the spec's table (Zfa, "Immediate-operand floating-point loads")
    (lambda: [fp_soft.fli(HALF, k) for k in (0, 1, 2, 3, 29, 30, 31)],
     [0xBC00, 0x0400, 0x0100, 0x0200, 0x7C00, 0x7C00, 0x7E00]),
    (lambda: [fp_soft.fli(SINGLE, k) for k in (1, 9, 11, 21, 28, 29)],
     [0x00800000, 0x3EA00000, 0x3EE00000, 0x40200000, 0x47000000, 0x47800000]),
    (lambda: [fp_soft.fli(DOUBLE, k) for k in (1, 2, 16, 31)],
     [D_MIN_NORMAL, 0x3EF0000000000000, D_ONE, D_QNAN]),
    # fminm/fmaxm: any NaN gives the canonical NaN, NV only for a signaling one
    (lambda: fp_soft.minmax_nan(DOUBLE, D_QNAN | 5, D_ONE, False), (D_QNAN, 0)),
    (lambda: fp_soft.minmax_nan(SINGLE, S_ONE, 0x7FA00000, True), (0x7FC00000, NV)),
    (lambda: fp_soft.minmax_nan(HALF, 0x8000, 0x0000, False), (0x8000, 0)),
    (lambda: fp_soft.minmax_nan(HALF, 0x8000, 0x0000, True), (0x0000, 0)),
    # fleq/fltq: quiet
    (lambda: fp_soft.compare_quiet(DOUBLE, D_QNAN, D_ONE, "le"), (0, 0)),
    (lambda: fp_soft.compare_quiet(DOUBLE, D_SNAN, D_ONE, "lt"), (0, NV)),
    (lambda: fp_soft.compare_quiet(HALF, 0x8000, 0x0000, "le"), (1, 0)),
    (lambda: fp_soft.compare_quiet(HALF, 0x8000, 0x0000, "lt"), (0, 0)),
    # fround/froundnx: the sign stays (-0.25 -> -0), ties by mode, NX only for froundnx
    (lambda: fp_soft.round_integral(DOUBLE, 0xBFD0000000000000, RUP, True), (NEG, NX)),
    (lambda: fp_soft.round_integral(DOUBLE, D_2_5, RNE, False), (0x4000000000000000, 0)),
    (lambda: fp_soft.round_integral(DOUBLE, D_2_5, RMM, True), (0x4008000000000000, NX)),
    (lambda: fp_soft.round_integral(SINGLE, 0xC0200000, RDN, True), (0xC0400000, NX)),
    (lambda: fp_soft.round_integral(HALF, 0x3E00, RTZ, True), (H_ONE, NX)),
    (lambda: fp_soft.round_integral(HALF, 0x7C01, RNE, False), (0x7E00, NV)),
    (lambda: fp_soft.round_integral(HALF, 0x6401, RNE, True), (0x6401, 0)),     # 1025: integral
    # fcvtmod.w.d: 2^32 + 5 -> 5 (NV, not NX); -2^31 - 0.5 -> -2^31 (NX); inf -> 0 (NV)
    (lambda: fp_soft.convert_modular(0x41F0000000500000), (5, NV)),
    (lambda: fp_soft.convert_modular(0xC1E0000000100000), ((1 << 64) - (1 << 31), NX)),
    (lambda: fp_soft.convert_modular(0x41E0000000000000), ((1 << 64) - (1 << 31), NV)),
    (lambda: fp_soft.convert_modular(D_INF), (0, NV)),
    (lambda: fp_soft.convert_modular(1), (0, NX)),
    (lambda: fp_soft.convert_modular(0x4004000000000000), (2, NX)),
])
def test_soft_zfa(call, expected):
    """Zfa's operations, checked by hand against the spec's text."""
    assert call() == expected


@pytest.mark.parametrize("tier", ["0", "1"])
def test_zfa_matches_the_spec_model_in_both_tiers(tier, monkeypatch):
    """Every Zfa row over the directed corner cases (all 32 fli constants, every rounding
    mode, NaN-boxing), against tests/difftest/models.py, in the interpreter and compiled.
    qemu 7.2 has no Zfa, so the reference is that model, written from the spec."""
    from difftest import directed, models
    from difftest.machine import CODE, MvvmCpu

    monkeypatch.setattr(toolchain, "TIER", tier)
    cpu = MvvmCpu()
    rows = [s for s in TABLE if s.ext == "Zfa"]
    assert len(rows) == 3 * 7 + 1                   # 7 per precision, and fcvtmod.w.d
    failures = []
    for spec in rows:
        for case in directed.cases(spec):
            cpu.load(case.group.code, CODE)
            for state in case.group.states:
                want, got = models.outcome(case, state), cpu.run(state)
                if want.differences(got):
                    failures.append(f"{spec.name} {state}: {want.differences(got)}")
    assert failures[:5] == []


def _tiny_products(rng: random.Random) -> list[tuple[float, float, float]]:
    """FMA operands whose product is too small for the emulation's error term (a factor
    subnormal, or the exponents' sum below 1140): exact subnormal sums, exact
    cancellations, and inexact results beside them; factors of few significant bits, so
    that many sums are exact."""
    def few_bits(low: int, high: int) -> float:
        return rng.choice((-1, 1)) * rng.randrange(1, 256) * 2.0 ** rng.randrange(low, high)

    cases = [(2.0 ** -1060, float(k), 2.0 ** -1060) for k in range(2, 9)]
    cases += [(3 * 2.0 ** -540, 5 * 2.0 ** -520, -k * 2.0 ** -1060) for k in (15, 14, 16)]
    cases += [(2.0 ** -600, 2.0 ** -600, 1.0), (2.0 ** -1074, 2.0 ** 1000, 2.0 ** -80),
              (2.0 ** -1074, -3.0, 2.0 ** -1072), (5e-324, 2.0 ** 1023, math.inf),
              (2.0 ** -700, 2.0 ** -400, math.nan), (2.0 ** -700, 2.0 ** -500, 1e308)]
    for _ in range(400):
        a, b = few_bits(-600, -480), few_bits(-600, -480)
        cases.append((a, b, rng.choice((-a * b, few_bits(-1080, -1020),
                                        a * b + few_bits(-1082, -1060)))))
        cases.append((few_bits(-1082, -1060), few_bits(-20, 60), few_bits(-1082, -1000)))
    return cases


@pytest.mark.parametrize("tier", ["0", "1"])
def test_fused_tiny_products_match_the_soft_model(tier, monkeypatch):
    """fmadd.d and fnmadd.d over tiny products (`_tiny_products`), with fflags clear and
    with NX set, in the interpreter and compiled: result bits and flags are the soft-float
    model's (fp_soft.fma, itself checked against qemu by the programs above), and no
    finite exact result is the host's: the emulation scales them (`_fma_double_scaled`)."""
    from difftest.machine import CODE, MvvmCpu, State

    from mvvm.isa.encoder import asm

    monkeypatch.setattr(toolchain, "TIER", tier)
    cpu = MvvmCpu()
    failures = []
    for name, sign in (("fmadd.d", 0), ("fnmadd.d", 1 << 63)):
        cpu.load(asm(name, rd=3, rs1=0, rs2=1, rs3=2, rm=RNE).to_bytes(4, "little"), CODE)
        for operands in _tiny_products(random.Random(1)):
            a, b, c = (struct.unpack("<Q", struct.pack("<d", x))[0] for x in operands)
            want, flags = fp_soft.fma(DOUBLE, a ^ sign, b, c ^ sign, RNE)
            for fcsr in (0, NX):
                calls = cpu.vm.stats.fp_slow_calls
                got = cpu.run(State(f=(a, b, c) + (0,) * 29, fcsr=fcsr))
                if (got.f[3], got.fcsr) != (want, fcsr | flags):
                    failures.append(f"{name} {operands}: {got.f[3]:#x} {got.fcsr:#x}, "
                                    f"want {want:#x} {fcsr | flags:#x}")
                elif not flags and want & D_INF != D_INF and cpu.vm.stats.fp_slow_calls > calls:
                    failures.append(f"{name} {operands}: exact, but computed by the host")
    assert failures[:5] == []


def test_soft_classify_every_class():
    values = [D_INF | NEG, D_ONE | NEG, 1 | NEG, NEG, 0, 1, D_ONE, D_INF, D_SNAN, D_QNAN]
    assert [fp_soft.classify(DOUBLE, v) for v in values] == [1 << k for k in range(10)]
