"""Directed tests generated from the instruction table: every straight-line row that has
semantics, over corner operands, compared with an independent CPU.

The reference is Unicorn for what it implements faithfully (RV64IMA, the FP CSRs),
qemu-riscv64 for the rest (Zb*, which Unicorn lacks; F and D, where Unicorn's QEMU 5.0 does
no NaN-boxing), and a model of our own (difftest.models) for what qemu 7.2 lacks (Zicond).
For qemu, each extension's cases become one generated program (see difftest.qemu) and MVVM
runs the same bytes at the same addresses in-process. Rows without semantics yet are
skipped, so the test grows as the semantics land.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from difftest import directed, models, qemu, quirks  # noqa: E402
from difftest.machine import CODE, MvvmCpu, UnicornCpu  # noqa: E402
from difftest.report import failure  # noqa: E402

from mvvm.isa import TABLE, InsnSpec  # noqa: E402
from mvvm.translator.semantics import SEMANTICS  # noqa: E402

ROWS = [spec for spec in TABLE if directed.is_generic(spec)]
SHOWN = 5                                   # mismatches listed per failing row


class QemuReference:
    """qemu's final states for every qemu-checked row, one program per extension (and per
    memory use, since only memory programs carry the scratch buffer), built on first use."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[list[directed.Case], qemu.Result]] = {}

    def __call__(self, spec: InsnSpec) -> tuple[list[directed.Case], qemu.Result]:
        if spec.name not in self._rows:
            self._run(spec.ext, directed.uses_memory(spec))
        return self._rows[spec.name]

    def _run(self, ext: str, memory: bool) -> None:
        specs = [s for s in ROWS if s.ext == ext and directed.uses_memory(s) == memory]
        cases = {s.name: directed.cases(s) for s in specs}
        result = qemu.run([c.group for s in specs for c in cases[s.name]], memory)
        at = 0
        for s in specs:
            n = len(cases[s.name])
            self._rows[s.name] = (cases[s.name], qemu.Result(
                result.addresses[at:at + n], result.outcomes[at:at + n]))
            at += n


@pytest.fixture(scope="module")
def mvvm_cpu() -> MvvmCpu:
    return MvvmCpu()


@pytest.fixture(scope="module")
def unicorn_cpu() -> UnicornCpu:
    return UnicornCpu()


@pytest.fixture(scope="session")
def qemu_reference(cross_tools) -> QemuReference:
    return QemuReference()


def _compare(cases: list[directed.Case], addresses: list[int], reference: str, want_of,
             mvvm: MvvmCpu) -> list[str]:
    """Run every case on MVVM; `want_of(case index, state index, state)` gives the
    reference's final state. Returns the reports of the mismatches."""
    failures = []
    for k, (case, at) in enumerate(zip(cases, addresses, strict=True)):
        mvvm.load(case.group.code, at)
        for n, state in enumerate(case.group.states):
            want, got = want_of(k, n, state), mvvm.run(state)
            if want.differences(got):
                failures.append(failure(case.group.code, at, state, want, got, reference))
    return failures


def _unicorn_want(cases: list[directed.Case], unicorn: UnicornCpu):
    def want(k: int, n: int, state):
        if n == 0:
            unicorn.load(cases[k].group.code, CODE)
        return unicorn.run(state)
    return want


def _qemu_want(cases: list[directed.Case], result: qemu.Result):
    def want(k: int, n: int, state):
        return quirks.correct(cases[k].group.code, state, result.outcomes[k][n])
    return want


@pytest.mark.parametrize("spec", ROWS, ids=lambda s: s.name)
def test_row(spec: InsnSpec, mvvm_cpu: MvvmCpu, unicorn_cpu: UnicornCpu,
             qemu_reference: QemuReference) -> None:
    assert spec.name in SEMANTICS, f"{spec.name} is in the table but not translated"
    reference = directed.reference(spec)
    if reference == "unicorn":
        cases = directed.cases(spec)
        failures = _compare(cases, [CODE] * len(cases), reference,
                            _unicorn_want(cases, unicorn_cpu), mvvm_cpu)
    elif reference == "model":
        cases = directed.cases(spec)
        failures = _compare(cases, [CODE] * len(cases), reference,
                            lambda k, n, state: models.outcome(cases[k], state), mvvm_cpu)
    else:
        cases, result = qemu_reference(spec)
        failures = _compare(cases, list(result.addresses), reference,
                            _qemu_want(cases, result), mvvm_cpu)
    total = sum(len(c.group.states) for c in cases)
    assert not failures, (f"{spec.name}: {len(failures)} of {total} cases differ from "
                          f"{reference}:\n" + "\n".join(failures[:SHOWN]))
