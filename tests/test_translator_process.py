"""Tier 1's translator process (mvvm.runtime.translator_process): the region it sends
back is the one this process would make, a program that makes few syscalls goes without
it, a fault reading the guest's code reaches the caller, a child that is lost leaves
tier 1 translating in-process, and a fork's child does not talk to its parent's."""

from __future__ import annotations

import os
import signal

import pytest
from toolchain import PROGRAMS

import mvvm
from mvvm.errors import GuestFault
from mvvm.runtime import tiers, translator_process
from mvvm.runtime.profile import ProfileData, merged, translator_profile
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


def test_the_child_translates_as_this_process_does(vm, monkeypatch):
    starts = sorted(vm.image.translations.starts)
    assert starts
    vm.image.stats.syscalls = tiers.PROCESS_SYSCALLS
    sent: list[int] = []
    emit = PROCESS.emit
    monkeypatch.setattr(PROCESS, "emit", lambda pc, *args: sent.append(pc) or emit(pc, *args))
    for pc in (vm.entry, *starts[:20]):
        there = tiers.translate(vm.image, pc, vm.profile(), full=False)
        here = _in_process(vm, pc)
        assert there == here, hex(pc)
        assert there.code.hints == here.code.hints
    assert sent == [vm.entry, *starts[:20]]
    assert not PROCESS.lost and vm.image.stats.tier1_errors == 0


def test_a_program_that_makes_few_syscalls_is_translated_in_process(vm, monkeypatch):
    """The process costs a core 70 ms to start: a program that only computes (makes
    fewer than PROCESS_SYSCALLS syscalls) goes without it."""
    process = TranslatorProcess()
    monkeypatch.setattr(translator_process, "PROCESS", process)
    vm.image.stats.syscalls = tiers.PROCESS_SYSCALLS - 1
    tiers.translate(vm.image, vm.entry, vm.profile(), full=False)
    assert process._child is None
    vm.image.stats.syscalls += 1
    tiers.translate(vm.image, vm.entry, vm.profile(), full=False)
    assert process._child is not None
    process._close(ours=True)


def test_a_program_that_ran_before_waits_for_the_process(vm, monkeypatch):
    """A program that has run before (the disk cache saved its profile) has its regions
    translated in the process from the first, whatever its syscalls: its hot code is
    cached, and the rest is not worth importing the translator here (40 ms) and holding
    the GIL its threads wait for."""
    process = TranslatorProcess()
    monkeypatch.setattr(translator_process, "PROCESS", process)
    vm.image.stats.syscalls = 0
    live, _ = vm.profile()
    saved = ProfileData.decode(merged(live, None))
    there = tiers.translate(vm.image, vm.entry, (live, saved), full=False)
    assert process._child is not None and process._ready
    assert there == tiers.emit(vm.image, vm.entry, profile=translator_profile(live, saved)).body()
    process._close(ours=True)


def test_a_fault_reading_guest_code_reaches_the_caller(vm):
    def fault(address: int) -> None:
        raise GuestFault(address + 4)

    process = TranslatorProcess()
    pc = vm.entry
    with pytest.raises(GuestFault) as raised:
        process.emit(pc, True, OPTIONS, vm.profile(), {**_readers(vm.image), "page": fault})
    assert raised.value.addr == (pc & ~0xFFF) + 4
    assert process.emit(pc, True, OPTIONS, vm.profile(), _readers(vm.image)) == \
        tiers.emit(vm.image, pc, profile=translator_profile(*vm.profile()), full=False).body()
    process._close(ours=True)


def test_a_lost_child_leaves_tier_1_in_process(vm, monkeypatch):
    process = TranslatorProcess()
    pc = vm.entry
    process.emit(pc, True, OPTIONS, vm.profile(), _readers(vm.image))
    os.kill(process._child.pid, signal.SIGKILL)
    monkeypatch.setattr(translator_process, "PROCESS", process)
    vm.image.stats.syscalls = tiers.PROCESS_SYSCALLS
    errors = vm.image.stats.tier1_errors
    assert tiers.translate(vm.image, pc, vm.profile(), full=False) == _in_process(vm, pc)
    assert process.lost and vm.image.stats.tier1_errors == errors + 1
    with pytest.raises(TranslatorLost):
        process.emit(pc, True, OPTIONS, vm.profile(), _readers(vm.image))


def test_the_child_ends_with_its_pipe(vm):
    process = TranslatorProcess()
    process.emit(vm.entry, True, OPTIONS, vm.profile(), _readers(vm.image))
    child = process._child
    process._close(ours=True)
    assert child.returncode == 0        # it exited by itself, at the end of its input


def test_a_fork_starts_a_translator_of_its_own(vm):
    pc = vm.entry
    vm.image.stats.syscalls = tiers.PROCESS_SYSCALLS
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


def test_a_child_that_cannot_start_leaves_tier_1_in_process(vm, monkeypatch):
    """Out of descriptors (or memory, or processes): tier 1 translates in-process, and
    what was made before the failure is closed."""
    def fail(name: str) -> int:
        raise OSError(24, "Too many open files")

    process = TranslatorProcess()
    monkeypatch.setattr(os, "memfd_create", fail)
    monkeypatch.setattr(translator_process, "PROCESS", process)
    vm.image.stats.syscalls = tiers.PROCESS_SYSCALLS
    open_before, errors = len(os.listdir("/proc/self/fd")), vm.image.stats.tier1_errors
    assert tiers.translate(vm.image, vm.entry, vm.profile(), full=False) == \
        _in_process(vm, vm.entry)
    assert process.lost and vm.image.stats.tier1_errors == errors + 1
    assert len(os.listdir("/proc/self/fd")) == open_before
