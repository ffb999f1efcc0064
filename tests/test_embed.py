"""mvvm.Machine: a riscv64 program embedded in Python, its functions called from the host.

The guest (programs/embed/guest.c) is built with the project's mvvm.h. Where a result
has an outside reference it is compared with it: the program's output with qemu's, and
the instructions a call retires (which budgets count) with Unicorn's count.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import toolchain
from toolchain import PROGRAMS, SYSROOT, run_qemu

import mvvm
from bench.embed import unicorn_call, unicorn_with
from mvvm.elf.loader import ElfError
from mvvm.embed import HEADER, INCLUDE_DIR

GUEST = PROGRAMS / "embed" / "guest.c"


def _build_guest(*flags: str) -> Path:
    """The guest, rebuilt when mvvm.h changes too."""
    header = hashlib.sha256(HEADER.read_bytes()).hexdigest()[:12]
    return toolchain.build(GUEST, ("-O2", *flags, "-I", INCLUDE_DIR,
                                   f"-DMVVM_HEADER_VERSION=0x{header}"))


@pytest.fixture(scope="module")
def guest(cross_tools) -> Path:
    return _build_guest("-static")


@pytest.fixture
def machine(guest: Path) -> mvvm.Machine:
    """A machine that ran the guest's main to its exit (status 3)."""
    m = mvvm.Machine(guest, argv=["x"], stdout=io.StringIO(), stderr=io.StringIO())
    assert m.run() == 3
    return m


# -- running the program -----------------------------------------------------------------

def test_run_gives_the_exit_status_and_output_qemu_gives(guest: Path) -> None:
    out = io.StringIO()
    m = mvvm.Machine(guest, argv=["first"], stdout=out)
    status = m.run()
    reference = run_qemu(guest, ["first"])
    assert (status, out.getvalue().encode()) == (reference.status, reference.stdout)


def test_program_as_bytes(guest: Path) -> None:
    out = io.BytesIO()
    m = mvvm.Machine(guest.read_bytes(), argv=["y"], stdout=out)
    assert m.run() == 3
    assert out.getvalue() == b"main: 2 args, first y\n"


def test_pause_serves_calls_and_run_goes_on_after_it(guest: Path) -> None:
    out = io.StringIO()
    m = mvvm.Machine(guest, argv=["x", "pause"], stdout=out)
    assert m.run() is None                      # main called mvvm_pause()
    assert m.call("bump") == 101                # main had set counter = 100
    assert m.run() == 3
    assert out.getvalue().endswith("resumed\n")
    assert m.call("bump") == 1102               # memory and heap stay after exit
    with pytest.raises(mvvm.MachineError, match="exited"):
        m.run()


def test_not_a_riscv_program_is_refused(tmp_path: Path) -> None:
    with pytest.raises(mvvm.ElfError):
        mvvm.Machine(b"#!/bin/sh\necho hi\n")
    assert mvvm.ElfError is ElfError


def test_a_dynamic_program_gets_its_libraries(cross_tools, tmp_path: Path) -> None:
    """Without a root, copies of its loader and libraries from the sysroot in a private
    tree; with a root, they must be there. A position-independent program's symbols are
    where it was loaded."""
    dynamic = _build_guest()
    out = io.StringIO()
    m = mvvm.Machine(dynamic, argv=["dyn"], stdout=out)
    qemu = run_qemu(dynamic, ["dyn"], env={"QEMU_LD_PREFIX": SYSROOT})
    assert m.run() == qemu.status == 3 and out.getvalue().encode() == qemu.stdout
    assert m.call("add", 2, 3) == 5 and m.call("length", "four") == 4
    with pytest.raises(mvvm.ElfError, match="dynamic loader"):
        mvvm.Machine(dynamic, root=tmp_path)


# -- calls ----------------------------------------------------------------------------

def test_integer_arguments_and_results(machine: mvvm.Machine) -> None:
    assert machine.call("add", 2, 3) == 5
    assert machine.call("add", -7, 2) == -5
    assert machine.call("add", True, 1) == 2
    assert machine.call("add", 2**63 - 1, 1) == -2**63         # a0 is a signed long
    assert machine.call("small", restype=ctypes.c_ubyte) == 200
    assert machine.call("add", 1, 2, restype=None) is None


def test_arguments_past_the_registers_go_on_the_stack(machine: mvvm.Machine) -> None:
    args = list(range(1, 11))
    assert machine.call("sum10", *args) == sum(k * a for k, a in enumerate(args, 1))


def test_float_arguments_and_results(machine: mvvm.Machine) -> None:
    assert machine.call("scale", 1.5, 4.0, restype=float) == 6.0
    assert machine.call("mixed", 3, 0.5, 4, 0.25, restype=float) == 2.5
    halve = machine.function("halve", restype=ctypes.c_float, argtypes=[ctypes.c_float])
    assert halve(5.0) == 2.5


def test_bytes_and_str_are_copied_in_as_pointers(machine: mvvm.Machine) -> None:
    assert machine.call("length", "héllo") == len("héllo".encode())
    data = bytes(range(200))
    expected = 0
    for byte in data:
        expected = (expected * 31 + byte) & (2**64 - 1)
    assert machine.call("checksum", data, len(data)) & (2**64 - 1) == expected


def test_a_function_by_address_and_the_symbol_table(machine: mvvm.Machine) -> None:
    add = machine.function(machine.symbols["add"])
    assert add(40, 2) == 42
    assert {"main", "add", "counter", "malloc"} <= machine.symbols.keys()
    with pytest.raises(mvvm.MachineError, match="no symbol"):
        machine.call("no_such_function")


def test_unsupported_argument_type(machine: mvvm.Machine) -> None:
    with pytest.raises(TypeError):
        machine.call("add", [1], 2)


def test_guest_exit_inside_a_call(machine: mvvm.Machine) -> None:
    with pytest.raises(mvvm.Exited) as exited:
        machine.call("bye", 5)
    assert exited.value.status == 5
    assert machine.call("add", 1, 1) == 2


# -- host functions ---------------------------------------------------------------------

def test_host_functions_by_number_and_by_name(machine: mvvm.Machine) -> None:
    @machine.host_function(7)
    def combine(m: mvvm.Machine, a: int, b: int) -> int:
        assert m is machine
        return a * 10 + b

    @machine.host_function("twice")
    def twice(m: mvvm.Machine, a: int) -> int:
        return 2 * a

    @machine.host_function("seven")
    def seven(m: mvvm.Machine, *args: int) -> int:
        return sum(a * 10**k for k, a in enumerate(args))

    assert machine.call("call_numbered", 4, -2) == 38
    assert machine.call("call_named", 21) == 42
    assert machine.call("call_seven") == 7654321
    assert machine.call("call_back_sum", 5) == 0 + 10 + 20 + 30 + 40


def test_a_host_function_reads_guest_memory(machine: mvvm.Machine) -> None:
    heard = []

    @machine.host_function("shout")
    def shout(m: mvvm.Machine, text: int) -> int:
        heard.append(m.memory.read_str(text))
        return len(heard[-1])

    assert machine.call("shout", "hello, host") == 11
    assert heard == ["hello, host"]


def test_an_unknown_host_function_is_enosys(machine: mvvm.Machine) -> None:
    assert machine.call("call_unknown") == -errno.ENOSYS


def test_an_exception_in_a_host_function_propagates(machine: mvvm.Machine) -> None:
    @machine.host_function(7)
    def fail(m: mvvm.Machine, a: int, b: int) -> int:
        raise LookupError("no such thing")

    with pytest.raises(LookupError, match="no such thing"):
        machine.call("call_numbered", 1, 2)
    assert machine.call("add", 2, 2) == 4


def test_host_function_ids(machine: mvvm.Machine) -> None:
    with pytest.raises(ValueError):
        machine.host_function(0)
    with pytest.raises(ValueError):
        machine.host_function(256)
    assert mvvm.embed.host_id("twice") >= 256


def test_calls_do_not_nest(machine: mvvm.Machine) -> None:
    @machine.host_function(7)
    def reenter(m: mvvm.Machine, a: int, b: int) -> int:
        return m.call("add", a, b)

    with pytest.raises(mvvm.MachineError, match="nest"):
        machine.call("call_numbered", 1, 2)


# -- faults and limits ------------------------------------------------------------------

def test_a_null_dereference_is_a_guest_fault(machine: mvvm.Machine) -> None:
    with pytest.raises(mvvm.GuestFault) as fault:
        machine.call("crash", 0)
    assert fault.value.signal == signal.SIGSEGV
    assert fault.value.address == 0
    crash = machine.symbols["crash"]
    assert crash <= fault.value.pc < crash + 16
    assert fault.value.backtrace[0].endswith("crash")
    assert machine.call("add", 1, 2) == 3


def test_abort_is_a_guest_fault(machine: mvvm.Machine) -> None:
    with pytest.raises(mvvm.GuestFault) as fault:
        machine.call("die")
    assert fault.value.signal == signal.SIGABRT
    assert machine.call("add", 1, 2) == 3


@pytest.mark.parametrize("address", [0, 8, 2**64 - 4096, 0xFFFF_FFF0])
def test_stores_outside_guest_memory_fault(machine: mvvm.Machine, address: int) -> None:
    with pytest.raises(mvvm.GuestFault) as fault:
        machine.call("store_to", address)
    assert fault.value.signal == signal.SIGSEGV
    assert machine.call("add", 1, 2) == 3


def test_a_timeout_stops_a_guest_that_never_returns(machine: mvvm.Machine) -> None:
    with pytest.raises(mvvm.Timeout):
        machine.call("spin", timeout=0.2)
    with pytest.raises(mvvm.Timeout):
        machine.resume()                        # it goes on spinning
    assert machine.call("add", 1, 2, timeout=5) == 3
    with pytest.raises(mvvm.MachineError, match="no run or call"):
        machine.resume()


def _retired(machine: mvvm.Machine, fn: str, *args: int) -> int:
    """The fewest instructions the call completes in: bisect over max_instructions."""
    low, high = 0, 1 << 30
    while low < high:
        middle = (low + high) // 2
        try:
            machine.call(fn, *args, max_instructions=middle)
            high = middle
        except mvvm.BudgetExceeded:
            low = middle + 1
    return low


def _unicorn_retired(program: Path, fn: str, *args: int) -> int:
    """The instructions Unicorn retires for the same call of a leaf function."""
    from unicorn import UC_HOOK_CODE

    uc, symbols = unicorn_with(program)
    count = [0]
    uc.hook_add(UC_HOOK_CODE, lambda *_: count.__setitem__(0, count[0] + 1))
    unicorn_call(uc, symbols[fn], *args)
    return count[0]


def test_budgets_count_exactly_the_instructions_a_call_retires(guest: Path,
                                                               machine: mvvm.Machine) -> None:
    """In tier 0 (first calls) and in compiled code (after many), as Unicorn counts them."""
    cold = {n: _retired(machine, "work", n) for n in (0, 7, 300)}
    for _ in range(400):
        machine.call("work", 300)
    hot = {n: _retired(machine, "work", n) for n in (0, 7, 300)}
    reference = {n: _unicorn_retired(guest, "work", n) for n in (0, 7, 300)}
    assert cold == hot == reference
    assert _retired(machine, "add", 1, 2) == _unicorn_retired(guest, "add", 1, 2) == 2


def test_budgets_count_the_iterations_of_fast_forwarded_loops(machine: mvvm.Machine) -> None:
    """strlen's word loop, which compiled code otherwise skips 64 bytes at a time
    (mvvm.translator.idioms), retires as many instructions hot as in tier 0."""
    text = "budget " * 300
    cold = _retired(machine, "length", text)
    strlen, deadline = machine.symbols["strlen"], time.monotonic() + 60
    while machine.vm.image.translations.get(strlen) is None:   # the background compiler's
        assert time.monotonic() < deadline, "strlen was never compiled"
        assert machine.call("length", text) == len(text)
    assert _retired(machine, "length", text) == cold


def test_a_call_out_of_budget_resumes_to_its_result(machine: mvvm.Machine) -> None:
    expected = machine.call("work", 20000)
    with pytest.raises(mvvm.BudgetExceeded):
        machine.call("work", 20000, max_instructions=1000)
    stops = 1
    while True:
        try:
            result = machine.resume()
            break
        except mvvm.BudgetExceeded:
            stops += 1
    assert (result, stops) == (expected, (4 * 20000 + 9) // 1000)
    assert machine.call("work", 20000) == expected          # no budget: none applies


# -- the sandbox --------------------------------------------------------------------------

def test_unknown_syscalls_fork_and_execve_are_refused(machine: mvvm.Machine) -> None:
    assert machine.call("escape_syscall") == -errno.ENOSYS
    assert machine.call("try_fork") == -errno.ENOSYS
    assert machine.call("try_exec") == -errno.ENOSYS


def test_the_host_process_is_out_of_reach(machine: mvvm.Machine) -> None:
    """Its priority, session and umask are the host program's, not the guest's."""
    nice, mask = os.getpriority(os.PRIO_PROCESS, 0), os.umask(0o022)
    assert machine.call("try_renice") == -errno.EPERM
    assert machine.call("try_setsid") == -errno.EPERM
    assert machine.call("try_umask", 0o777) == 0o022
    assert machine.call("try_umask", 0o027) == 0o777
    assert (os.getpriority(os.PRIO_PROCESS, 0), os.umask(mask)) == (nice, 0o022)


def test_no_host_files_without_a_root(machine: mvvm.Machine) -> None:
    assert machine.call("try_open", "/etc/passwd") == -errno.ENOENT
    assert machine.call("try_open", "../../../../etc/passwd") == -errno.ENOENT


def test_a_root_is_the_guests_whole_tree(guest: Path, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("Z")
    m = mvvm.Machine(guest, root=tmp_path, stdout=io.StringIO())
    m.run()
    assert m.call("try_open", "/data.txt") == ord("Z")
    assert m.call("try_open", "/../data.txt") == ord("Z")
    assert m.call("try_open", "/etc/passwd") == -errno.ENOENT


def test_max_memory_bounds_the_guests_mappings(guest: Path) -> None:
    m = mvvm.Machine(guest, argv=["x"], max_memory=32 << 20, stdout=io.StringIO())
    assert m.run() == 3
    with pytest.raises(MemoryError):
        m.alloc(64 << 20)
    pointer = m.alloc(1 << 20)
    m.free(pointer)


# -- streams, memory, snapshots, threads --------------------------------------------------

def test_stdout_and_stderr_go_to_python_objects(guest: Path) -> None:
    seen: list[bytes] = []
    err = io.StringIO()
    m = mvvm.Machine(guest, argv=["x"], stdout=seen.append, stderr=err)
    m.run()
    m.call("say", "to stdout")
    m.call("complain", "to stderr")
    assert b"".join(seen) == b"main: 2 args, first x\nto stdout\n"
    assert err.getvalue() == "to stderr\n"


def test_memory_reads_writes_and_views(machine: mvvm.Machine) -> None:
    message = machine.symbols["message"]
    assert machine.memory.read_str(message) == "hello from the guest"
    machine.memory.write(message, b"HELLO")
    assert machine.memory.read(message, 7) == b"HELLO f"
    view = machine.memory.view(message, 64)
    view[0:3] = b"abc"
    assert machine.call("length", message) == 20
    assert machine.memory.read(message, 3) == b"abc"
    with pytest.raises(mvvm.AddressError):
        machine.memory.read(8, 4)


def test_int_calls_take_the_c_fast_path(machine: mvvm.Machine, monkeypatch) -> None:
    """A call with int arguments and an int result is made in C (mvvm/embed/fastcall.c),
    built with the host's compiler, which the test machine has: Python's way of entering
    the call is not taken. What the fast path does not take (a float, a budget) is; and a
    fast call that leaves for Python on the way (a host function) is finished there."""
    from mvvm.embed import fastcall
    assert fastcall.extension() is not None, "no C compiler or no Python headers"
    add, calls = machine.function("add"), []
    real_enter = mvvm.Machine._enter
    monkeypatch.setattr(mvvm.Machine, "_enter",
                        lambda m, *a: calls.append(a) or real_enter(m, *a))
    assert add(2, -5) == -3 and add(1 << 63, 1 << 63) == 0 and calls == []

    @machine.host_function(7)
    def add_host(m: mvvm.Machine, a: int, b: int) -> int:
        return a + b

    assert machine.function("call_numbered")(20, 22) == 42 and calls == []
    assert machine.function("mixed", restype=float)(2, 1.5, 3, 0.5) == 4.5
    assert add(2, 3, max_instructions=1000) == 5
    assert len(calls) == 2


def test_a_view_outlives_what_the_guest_unmaps(machine: mvvm.Machine) -> None:
    """A Machine does not give host pages the guest's rights (mvvm run does): a view the
    host kept of memory the guest has unmapped since reads stale bytes, and never faults
    in the host process."""
    pointer = machine.alloc(1 << 20)            # this much, glibc's malloc maps
    view = machine.memory.view(pointer, 4096)
    machine.free(pointer)                       # and unmaps again
    with pytest.raises(mvvm.AddressError):
        machine.memory.read(pointer, 1)
    assert len(bytes(view)) == 4096


def test_alloc_and_free_use_the_guests_malloc(machine: mvvm.Machine) -> None:
    pointer = machine.alloc(100)
    machine.memory.write(pointer, b"twelve chars\0")
    assert machine.call("length", pointer) == 12
    machine.free(pointer)


def test_restore_undoes_calls_and_memory_writes(machine: mvvm.Machine) -> None:
    snapshot = machine.snapshot()
    first = machine.call("bump")
    machine.call("bump")
    machine.memory.write(machine.symbols["message"], b"changed")
    machine.restore(snapshot)
    assert machine.call("bump") == first
    assert machine.memory.read_str(machine.symbols["message"]) == "hello from the guest"


def test_restore_after_a_fault(machine: mvvm.Machine) -> None:
    snapshot = machine.snapshot()
    with pytest.raises(mvvm.GuestFault):
        machine.call("crash", 0)
    machine.restore(snapshot)
    assert machine.call("add", 2, 2) == 4


def test_machines_run_in_parallel_threads(guest: Path) -> None:
    machines = [mvvm.Machine(guest, argv=["x"], stdout=io.StringIO()) for _ in range(3)]
    for m in machines:
        m.run()
    expected = machines[0].call("work", 200000)
    results: list[int] = []

    def worker(m: mvvm.Machine) -> None:
        for _ in range(5):
            results.append(m.call("work", 200000))

    threads = [threading.Thread(target=worker, args=(m,)) for m in machines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 15


# -- the examples ----------------------------------------------------------------------

EXAMPLES = toolchain.ROOT / "examples"


@pytest.mark.parametrize("name, flags, expected", [
    ("game", ("-I", INCLUDE_DIR), "script: 8 entities ready\nscript: event bonus = 10\n"
     "600 frames, 160 sprites drawn, last at (7, 36, 12), score 163, then 173 after the "
     "bonus\n"),
    ("plugin", (), "shout: returned 'HELLO, SANDBOX'\n"
     "hang: stopped after 1,000,000 instructions\n"
     "scribble: SIGSEGV: segmentation fault at pc 0x{pc:x}, at 0x{pc:x} scribble+0x4\n"
     "snoop: returned 0\nvandalise: returned 0\nshout: returned 'STILL HERE'\n"),
])
def test_examples_built_here_and_shipped(cross_tools, name: str, flags: tuple[str, ...],
                                         expected: str) -> None:
    """Each example's script with its guest built from source, and with the prebuilt one
    the README runs; the guests' output comes from their printf, through the machine."""
    for program in (toolchain.build(EXAMPLES / f"{name}.c", ("-O2", "-static", *flags)),
                    EXAMPLES / name):
        pc = mvvm.Machine(program).symbols.get("scribble", 0) + 4
        result = toolchain.run([sys.executable, str(EXAMPLES / f"{name}.py"), str(program)])
        assert (result.stdout.decode(), result.status) == (expected.format(pc=pc), 0)


def test_fork_copies_the_state_and_shares_compiled_code(machine: mvvm.Machine) -> None:
    @machine.host_function(7)
    def combine(m: mvvm.Machine, a: int, b: int) -> int:
        return a * 10 + b

    translations = machine.vm.image.translations
    for _ in range(2000):                   # until the background compiler has the loop
        machine.call("work", 1000)
        if translations.order:
            break
    assert translations.order
    counter = machine.call("bump")
    compiled_before = list(translations.order)
    child = machine.fork()
    shared = child.vm.image.translations      # the parent may compile more after the fork
    assert set(compiled_before) <= set(shared.order)
    assert all(shared.get(entry) is translations.get(entry) for entry in shared.order)
    assert child.vm.image.engine is machine.vm.image.engine
    assert child.call("bump") == machine.call("bump") == counter + 1
    assert child.call("call_numbered", 4, 2) == 42
    child.call("bump")
    assert (child.call("bump"), machine.call("bump")) == (counter + 3, counter + 2)
    assert child.call("work", 1000) == machine.call("work", 1000)
