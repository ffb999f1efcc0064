"""Tier 1's translator process (mvvm.runtime.translator_process): the region it sends
back is the one this process would make, a fault reading the guest's code reaches the
caller, a child that is lost leaves tier 1 translating in-process, and a fork's child
does not talk to its parent's."""

from __future__ import annotations

import os
import signal

import pytest
from toolchain import PROGRAMS

import mvvm
from mvvm.errors import GuestFault
from mvvm.runtime import tiers
from mvvm.runtime.profile import translator_profile
from mvvm.runtime.translator_process import PROCESS, TranslatorLost, TranslatorProcess

OPTIONS = {"precise": False, "counting": False, "slow_exits": True}


@pytest.fixture
def vm(build_program):
    """A machine whose program ran to its end: tier 0's profile has seen it all (`entry`:
    where it started)."""
    machine = mvvm.Machine(build_program(PROGRAMS / "compute.c", "O2"))
    entry = machine.vm.pc
    machine.run()
    machine.vm.entry = entry
    return machine.vm


def _readers(image) -> dict:
    return {"page": image.code_page, "fetch": image.fetch, "read_only": image.read_only}


def _in_process(vm, pc: int):
    return tiers.emit(vm.image, pc, profile=translator_profile(*vm.profile())).body()


def test_the_child_translates_as_this_process_does(vm):
    starts = sorted(vm.image.translations.starts)
    assert starts
    for pc in (vm.entry, *starts[:20]):
        there = tiers.translate(vm.image, pc, vm.profile(), full=False)
        here = _in_process(vm, pc)
        assert there == here, hex(pc)
        assert there.code.hints == here.code.hints
    assert not PROCESS.lost and vm.image.stats.tier1_errors == 0


def test_a_fault_reading_guest_code_reaches_the_caller(vm):
    def fault(address: int) -> None:
        raise GuestFault(address + 4)

    process = TranslatorProcess()
    pc = vm.entry
    with pytest.raises(GuestFault) as raised:
        process.emit(pc, 100, OPTIONS, vm.profile(), {**_readers(vm.image), "page": fault})
    assert raised.value.addr == (pc & ~0xFFF) + 4
    assert process.emit(pc, 100, OPTIONS, vm.profile(), _readers(vm.image)) == \
        tiers.emit(vm.image, pc, profile=translator_profile(*vm.profile()), full=False).body()
    process._close(ours=True)


def test_a_lost_child_leaves_tier_1_in_process(vm, monkeypatch):
    process = TranslatorProcess()
    pc = vm.entry
    process.emit(pc, 100, OPTIONS, vm.profile(), _readers(vm.image))
    os.kill(process._child.pid, signal.SIGKILL)
    monkeypatch.setattr(tiers, "PROCESS", process)
    errors = vm.image.stats.tier1_errors
    assert tiers.translate(vm.image, pc, vm.profile(), full=False) == _in_process(vm, pc)
    assert process.lost and vm.image.stats.tier1_errors == errors + 1
    with pytest.raises(TranslatorLost):
        process.emit(pc, 100, OPTIONS, vm.profile(), _readers(vm.image))


def test_the_child_ends_with_its_pipe(vm):
    process = TranslatorProcess()
    process.emit(vm.entry, 100, OPTIONS, vm.profile(), _readers(vm.image))
    child = process._child
    process._close(ours=True)
    assert child.returncode == 0        # it exited by itself, at the end of its input


def test_a_fork_starts_a_translator_of_its_own(vm):
    pc = vm.entry
    expected = tiers.translate(vm.image, pc, vm.profile(), full=False)
    parents = PROCESS._child.pid
    pid = os.fork()
    if pid == 0:                        # the child: exit status 0 if all went as expected
        ok = PROCESS._child is None and PROCESS._fds == (-1, -1)
        ok = ok and tiers.translate(vm.image, pc, vm.profile(), full=False) == expected
        ok = ok and PROCESS._child.pid != parents
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert PROCESS._child.pid == parents
    assert tiers.translate(vm.image, pc, vm.profile(), full=False) == expected
