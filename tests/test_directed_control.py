"""Targeted cases for the rows the generic directed test leaves out (control transfers, ecall,
ebreak, fences, the counter CSRs) and for every compressed form, compared with Unicorn where
it has an opinion. Branch, jump and compressed cases are still generated from the tables
(TABLE's Flow.BRANCH rows, rvc.FORMS), so new rows get cases without edits here.
"""

from __future__ import annotations

import random
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from difftest import directed, sequences  # noqa: E402
from difftest import values as v  # noqa: E402
from difftest.machine import CODE, Fault, MvvmCpu, State, UnicornCpu  # noqa: E402
from difftest.report import failure  # noqa: E402

from mvvm.isa import TABLE, Flow, InsnSpec, decode, rvc  # noqa: E402
from mvvm.isa.encoder import asm, encode  # noqa: E402
from mvvm.translator.semantics import SEMANTICS  # noqa: E402

A0, A1, A2, T0, T1 = 10, 11, 12, 5, 6
BRANCHES = [s for s in TABLE if s.flow is Flow.BRANCH]
LINKS = (0, 1, T0, 31)
COUNTERS = {"cycle": 0xC00, "time": 0xC01, "instret": 0xC02}
NOT_GENERIC = {s.name for s in TABLE if not directed.is_generic(s)}
FORM_SAMPLES, FORM_STATES = 24, 4


def code(*words: int) -> bytes:
    return b"".join(word.to_bytes(4, "little") for word in words)


@pytest.fixture(scope="module")
def mvvm_cpu() -> MvvmCpu:
    return MvvmCpu()


@pytest.fixture(scope="module")
def unicorn_cpu() -> UnicornCpu:
    return UnicornCpu()


def assert_like_unicorn(snippet: bytes, states: list[State], mvvm: MvvmCpu,
                        unicorn: UnicornCpu, force: bool = False) -> None:
    """Every state gives the same final state on both (snippets at CODE)."""
    failures = []
    for state in states:
        unicorn.load(snippet, CODE)
        mvvm.load(snippet, CODE, force=force)
        want, got = unicorn.run(state), mvvm.run(state)
        if want.differences(got):
            failures.append(failure(snippet, CODE, state, want, got, "unicorn"))
    assert not failures, f"{len(failures)} of {len(states)} differ:\n" + "\n".join(failures[:5])


def _operand_states(regs: tuple[int, ...]) -> list[State]:
    """All pairs of integer corners in a1/a2 (or one register when regs alias)."""
    if len(set(regs)) == 1:
        return [State().with_x(**{f"x{regs[0]}": a}) for a in v.INTS]
    return [State().with_x(**{f"x{regs[0]}": a, f"x{regs[1]}": b})
            for a in v.INTS for b in v.INTS]


def test_every_implemented_row_has_directed_cases() -> None:
    """The generic directed test and this file together cover every row MVVM implements
    (jumps and traps have no semantics entry: the translator's structurer emits them)."""
    missing = [s.name for s in TABLE if (s.name in SEMANTICS or s.flow is not Flow.NEXT)
               and not directed.is_generic(s) and s.name not in TARGETED_TESTS]
    assert not missing


@pytest.mark.parametrize("spec", BRANCHES, ids=lambda s: s.name)
@pytest.mark.parametrize("regs", [(A1, A2), (A1, A1)], ids=["a1,a2", "a1,a1"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_branch(spec: InsnSpec, regs: tuple[int, int], direction: str, mvvm_cpu: MvvmCpu,
                unicorn_cpu: UnicornCpu) -> None:
    """a0 counts whether the branch was taken; backward branches form a loop shape:

        forward:  b rs1, rs2, end;  addi a0, a0, 1;  end:
        backward: j L;  T: addi a0, a0, 1;  j end;  L: b rs1, rs2, T;  end:
    """
    rs1, rs2 = regs
    if direction == "forward":
        snippet = code(asm(spec.name, rs1=rs1, rs2=rs2, imm=8), asm("addi", rd=A0, rs1=A0, imm=1))
    else:
        snippet = code(asm("jal", imm=12), asm("addi", rd=A0, rs1=A0, imm=1),
                       asm("jal", imm=8), asm(spec.name, rs1=rs1, rs2=rs2, imm=-8))
    assert_like_unicorn(snippet, _operand_states(regs), mvvm_cpu, unicorn_cpu)


@pytest.mark.parametrize("rd", LINKS)
def test_jal(rd: int, mvvm_cpu: MvvmCpu, unicorn_cpu: UnicornCpu) -> None:
    """Forward over an instruction, and backward (j L; T: j end; L: jal rd, T; end:)."""
    forward = code(asm("jal", rd=rd, imm=8), asm("addi", rd=A0, rs1=A0, imm=1))
    backward = code(asm("jal", imm=8), asm("jal", imm=8), asm("jal", rd=rd, imm=-4))
    for snippet in (forward, backward):
        assert_like_unicorn(snippet, [State()], mvvm_cpu, unicorn_cpu)


@pytest.mark.parametrize("rd", LINKS)
@pytest.mark.parametrize(("bias", "imm"), [(0, 12), (0, 13), (100, -88), (101, -88)])
def test_jalr(rd: int, bias: int, imm: int, mvvm_cpu: MvvmCpu,
              unicorn_cpu: UnicornCpu) -> None:
    """auipc t0, 0; addi t0, t0, bias; jalr rd, imm(t0) lands on the end (bit 0 dropped),
    skipping one instruction; rd = t0 checks the link is written after the target is read."""
    snippet = code(asm("auipc", rd=T0), asm("addi", rd=T0, rs1=T0, imm=bias),
                   asm("jalr", rd=rd, rs1=T0, imm=imm + 4), asm("addi", rd=A0, rs1=A0, imm=1))
    assert_like_unicorn(snippet, [State()], mvvm_cpu, unicorn_cpu)


@pytest.mark.parametrize("imm", [0, 0x0FF, 0x033, 0x8FF])
def test_fence(imm: int, mvvm_cpu: MvvmCpu, unicorn_cpu: UnicornCpu) -> None:
    """Every pred/succ (and fence.tso's fm) is a no-op for one hart."""
    snippet = code(asm("sd", rs2=A1, rs1=8, imm=0), asm("fence", imm=imm),
                   asm("ld", rd=A0, rs1=8, imm=0))
    state = State().with_x(x8=sequences.BASES[8], x11=0x1234_5678_9ABC_DEF0)
    assert_like_unicorn(snippet, [state], mvvm_cpu, unicorn_cpu)


def test_fence_i_makes_stores_to_code_visible(mvvm_cpu: MvvmCpu,
                                              unicorn_cpu: UnicornCpu) -> None:
    """sw t1, 0(t0); fence.i; addi a0, a0, 1; [addi a0, a0, 2 rewritten to addi a0, a0, 5]."""
    patch = asm("addi", rd=A0, rs1=A0, imm=5)
    snippet = code(asm("sw", rs2=T1, rs1=T0, imm=0), asm("fence.i"),
                   asm("addi", rd=A0, rs1=A0, imm=1), asm("addi", rd=A0, rs1=A0, imm=2))
    state = State().with_x(x5=CODE + 12, x6=patch)
    assert_like_unicorn(snippet, [state, state], mvvm_cpu, unicorn_cpu, force=True)
    assert mvvm_cpu.run(state).x[A0] == 6


def test_ecall_passes_registers_and_returns_a0() -> None:
    """The handler sees a7 and a0-a5 as set, a0 takes its result, the rest is kept."""
    seen = []
    cpu = MvvmCpu(lambda nr, args: seen.append((nr, args)) or 0x1234)
    cpu.load(code(asm("ecall"), asm("addi", rd=A1, rs1=A0, imm=1)))
    state = State().with_x(**{f"x{r}": 100 + r for r in range(1, 32) if r not in (3, 4)})
    final = cpu.run(state)
    assert seen == [(117, tuple(100 + r for r in range(10, 16)))]
    assert final.x[A0] == 0x1234 and final.x[A1] == 0x1235
    assert [x for r, x in enumerate(final.x) if r not in (A0, A1)] == \
        [x for r, x in enumerate(state.x) if r not in (A0, A1)]


@pytest.mark.parametrize("word", [asm("ebreak"), 0x9002], ids=["ebreak", "c.ebreak"])
def test_ebreak_is_sigtrap(word: int, mvvm_cpu: MvvmCpu) -> None:
    mvvm_cpu.load(word.to_bytes(4 if word & 3 == 3 else 2, "little"))
    outcome = mvvm_cpu.run(State())
    assert isinstance(outcome, Fault) and outcome.what.startswith(f"signal {signal.SIGTRAP}")


@pytest.mark.parametrize("name", COUNTERS)
def test_counter_csrs_read_and_do_not_go_backwards(name: str, mvvm_cpu: MvvmCpu) -> None:
    csr = COUNTERS[name]
    mvvm_cpu.load(code(asm("csrrs", rd=A0, csr=csr), asm("csrrs", rd=A1, csr=csr)))
    final = mvvm_cpu.run(State())
    assert isinstance(final, State) and 0 < final.x[A0] <= final.x[A1]


@pytest.mark.parametrize("word", [
    asm("csrrs", rd=A0, csr=0x300),          # mstatus: not a user CSR
    asm("csrrw", rd=A0, csr=0xC00, rs1=A1),  # cycle is read-only
    asm("csrrsi", rd=A0, csr=0xC01, imm=1),  # time too
    0x0000,                                  # the all-zero compressed word
    0xFFFFFFFF,
], ids=["mstatus", "write-cycle", "set-time", "c-zero", "ones"])
def test_illegal_is_sigill(word: int, mvvm_cpu: MvvmCpu) -> None:
    mvvm_cpu.load(word.to_bytes(4, "little"))
    outcome = mvvm_cpu.run(State())
    assert isinstance(outcome, Fault) and outcome.what.startswith(f"signal {signal.SIGILL}")


# -- compressed forms ----------------------------------------------------------------------

STRAIGHT_FORMS = [f for f in rvc.FORMS if f.base not in NOT_GENERIC]


def _form_words(form: rvc.CForm) -> list[int]:
    """A deterministic sample of the form's valid encodings that obey the sequence rules
    (memory through sp/s0 inside the scratch, no gp/tp)."""
    words = [w for w in range(form.match, 1 << 16) if w & form.mask == form.match
             and (i := decode(w)) is not None and i.name == form.base
             and sequences.acceptable(i, sequences.READABLE)]
    return random.Random(form.name).sample(words, min(FORM_SAMPLES, len(words)))


@pytest.mark.parametrize("form", STRAIGHT_FORMS, ids=lambda f: f.name)
def test_compressed_form(form: rvc.CForm, mvvm_cpu: MvvmCpu, unicorn_cpu: UnicornCpu) -> None:
    if form.base not in SEMANTICS:
        pytest.skip(f"{form.base} has no semantics yet")
    words = _form_words(form)
    assert words, f"no usable encoding of {form.name}"
    rng = random.Random(form.name)
    states = [sequences.random_state(rng) for _ in range(FORM_STATES)]
    for word in words:
        if form.ext == "C":
            assert_like_unicorn(word.to_bytes(2, "little"), states, mvvm_cpu, unicorn_cpu)
        else:
            assert_like_expansion(word, states, mvvm_cpu)


def assert_like_expansion(word: int, states: list[State], mvvm: MvvmCpu) -> None:
    """A Zcb or Zcmop word (which Unicorn lacks) does what the 32-bit encoding of its
    expansion does (test_isa_decode checks each expansion against the spec)."""
    instr = decode(word)
    wide = encode(instr.spec, instr).to_bytes(4, "little")
    for state in states:
        mvvm.load(wide, CODE)
        want = mvvm.run(state)
        mvvm.load(word.to_bytes(2, "little"), CODE)
        got = mvvm.run(state)
        assert not want.differences(got), failure(word.to_bytes(2, "little"), CODE, state,
                                                  want, got, "its expansion")


@pytest.mark.parametrize("name", ["beq", "bne", "jal"], ids=["c.beqz", "c.bnez", "c.j"])
def test_compressed_jump(name: str, mvvm_cpu: MvvmCpu, unicorn_cpu: UnicornCpu) -> None:
    """c.beqz/c.bnez/c.j over one c.addi: every rs1' with zero and non-zero values."""
    for word, instr in sequences.compressed_inventory():
        if instr.name == name and instr.imm == 4 and instr.rd == 0:
            snippet = word.to_bytes(2, "little") + (0x0505).to_bytes(2, "little")  # addi a0,1
            states = [State().with_x(**{f"x{instr.rs1}": value}) for value in (0, 1, 1 << 63)]
            assert_like_unicorn(snippet, states, mvvm_cpu, unicorn_cpu)


@pytest.mark.parametrize("link", [False, True], ids=["c.jr", "c.jalr"])
def test_compressed_indirect(link: bool, mvvm_cpu: MvvmCpu, unicorn_cpu: UnicornCpu) -> None:
    """auipc t0, 0; addi t0, t0, 12; c.jr/c.jalr t0; c.addi a0, 1; end."""
    jump = (0x9002 if link else 0x8002) | T0 << 7
    snippet = (code(asm("auipc", rd=T0), asm("addi", rd=T0, rs1=T0, imm=12))
               + jump.to_bytes(2, "little") + (0x0505).to_bytes(2, "little"))
    assert_like_unicorn(snippet, [State()], mvvm_cpu, unicorn_cpu)


# Which test covers each row that the generic directed test leaves out.
TARGETED_TESTS = {**{s.name: test_branch for s in BRANCHES}, "jal": test_jal,
                  "jalr": test_jalr, "ecall": test_ecall_passes_registers_and_returns_a0,
                  "ebreak": test_ebreak_is_sigtrap, "fence": test_fence,
                  "fence.i": test_fence_i_makes_stores_to_code_visible}
