"""The A extension and fences as wasm atomics: what they compile to, the cases the random and
directed tests reach only by chance (min/max at the sign and width boundaries, SC after a
reservation of another address), trap mapping, and atomicity with two threads really running
the same translated code in parallel on the shared guest memory.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import wasmtime as wt

sys.path.insert(0, str(Path(__file__).parent))
from difftest.machine import CODE, SCRATCH, MvvmCpu, State  # noqa: E402

from mvvm.isa import TABLE  # noqa: E402
from mvvm.isa.encoder import asm  # noqa: E402
from mvvm.runtime import layout  # noqa: E402
from mvvm.runtime.engine import Runtime, make_engine  # noqa: E402
from mvvm.runtime.image import Image  # noqa: E402
from mvvm.translator.modules import TrapMap, export_name, pack, region_name  # noqa: E402
from mvvm.translator.translate import emit_region  # noqa: E402
from mvvm.wasm import encoder as w  # noqa: E402

RA, T0, T1, A0, A1, A2, A3, A4 = 1, 5, 6, 10, 11, 12, 13, 14
MASK64 = (1 << 64) - 1
RET = asm("jalr", rd=0, rs1=RA, imm=0)
WORD = SCRATCH + 8                       # the AMOs' target; the word after it must not change
PATTERN = bytes(range(0x40, 0x80)) * 2   # the scratch's first bytes, to see stray writes


def words(*instrs: int) -> bytes:
    return b"".join(word.to_bytes(4, "little") for word in instrs)


@dataclass(frozen=True)
class Translation:
    """A region alone in a module: its bytes and trap map."""

    wasm: bytes
    traps: TrapMap


def translated(*instrs: int, precise: bool = False) -> Translation:
    """The region of these instructions at CODE (end them with RET)."""
    program = {CODE + 4 * k: word for k, word in enumerate(instrs)}
    return Translation(*pack(region_name(CODE), [emit_region(CODE, program.get,
                                                             precise=precise)]))


# -- encoding --------------------------------------------------------------------------------

@pytest.mark.parametrize(("opcode", "memory", "encoded"), [
    (w.I32_ATOMIC_RMW_ADD, 0, b"\xfe\x1e\x02\x00"),
    (w.I64_ATOMIC_RMW_CMPXCHG, 0, b"\xfe\x49\x03\x00"),
    (w.I32_ATOMIC_LOAD16_U, 0, b"\xfe\x13\x01\x00"),
    (w.I64_ATOMIC_LOAD, 1, b"\xfe\x11\x43\x01\x00"),
])
def test_atomic_memarg_has_the_natural_alignment(opcode: int, memory: int, encoded: bytes):
    assert bytes(w.Code().atomic(opcode, memory)) == encoded


def test_atomic_fence_encoding():
    assert bytes(w.Code().atomic_fence()) == b"\xfe\x03\x00"


def _atomic(opcode: int) -> bytes:
    return bytes([w.PREFIX_FE, opcode, w.ATOMIC_ALIGN[opcode], 0])


@pytest.mark.parametrize(("instr", "expected"), [
    (asm("amoswap.w", rd=A0, rs1=A1, rs2=A2), _atomic(w.I32_ATOMIC_RMW_XCHG)),
    (asm("amoadd.d", rd=A0, rs1=A1, rs2=A2), _atomic(w.I64_ATOMIC_RMW_ADD)),
    (asm("amoand.w", rd=A0, rs1=A1, rs2=A2), _atomic(w.I32_ATOMIC_RMW_AND)),
    (asm("amoor.d", rd=A0, rs1=A1, rs2=A2), _atomic(w.I64_ATOMIC_RMW_OR)),
    (asm("amoxor.w", rd=A0, rs1=A1, rs2=A2), _atomic(w.I32_ATOMIC_RMW_XOR)),
    (asm("amomin.w", rd=A0, rs1=A1, rs2=A2), _atomic(w.I32_ATOMIC_RMW_CMPXCHG)),
    (asm("amomaxu.d", rd=A0, rs1=A1, rs2=A2), _atomic(w.I64_ATOMIC_RMW_CMPXCHG)),
    (asm("lr.w", rd=A0, rs1=A1), _atomic(w.I32_ATOMIC_LOAD)),
    (asm("sc.d", rd=A0, rs1=A1, rs2=A2), _atomic(w.I64_ATOMIC_RMW_CMPXCHG)),
    (asm("fence", imm=0x0FF), b"\xfe\x03\x00"),
    (asm("fence", imm=0x833), b"\xfe\x03\x00"),        # fence.tso
], ids=lambda v: f"{v:#010x}" if isinstance(v, int) else None)
def test_compiles_to_a_wasm_atomic(instr: int, expected: bytes):
    """The region holds the atomic and wasmtime accepts it (the alignment is checked)."""
    wasm = translated(instr, RET).wasm
    assert expected in wasm
    wt.Module(make_engine(), wasm)


# -- exact semantics on one thread -----------------------------------------------------------

@pytest.fixture(scope="module")
def mvvm_cpu() -> MvvmCpu:
    return MvvmCpu()


def _signed(value: int, bits: int) -> int:
    return value - (value >> (bits - 1) << bits)


def _minmax(op: str, bits: int, old: int, rs2: int) -> int:
    """The spec's amo<op>: what is stored, from the low `bits` of memory and of rs2."""
    mask = (1 << bits) - 1
    a, b = old & mask, rs2 & mask
    key: Callable[[int], int] = (lambda v: v) if op.endswith("u") else (
        lambda v: _signed(v, bits))
    return (min if op.startswith("min") else max)(a, b, key=key)


MINMAX_VALUES = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x12345678_80000000,
                 0xFFFFFFFF_00000001, 1 << 63, (1 << 63) - 1, MASK64)
MINMAX_ROWS = [s.name for s in TABLE if s.ext == "A" and s.name[3:6] in ("min", "max")]


@pytest.mark.parametrize("name", MINMAX_ROWS)
def test_amo_min_max_sign_and_width(name: str, mvvm_cpu: MvvmCpu):
    """rd gets the old value (a word sign-extended), memory the signed or unsigned min/max
    of the low 32 (.w) or 64 bits; the word's neighbours keep their bytes."""
    bits = 32 if name.endswith(".w") else 64
    mvvm_cpu.load(words(asm(name, rd=A0, rs1=A1, rs2=A2)))
    failures = []
    for old in MINMAX_VALUES:
        for rs2 in MINMAX_VALUES:
            scratch = bytearray(PATTERN) + bytes(len(State().scratch) - len(PATTERN))
            scratch[8:16] = old.to_bytes(8, "little")
            state = State(scratch=bytes(scratch)).with_x(x11=WORD, x12=rs2)
            stored = _minmax(name[3:-2], bits, old, rs2)
            scratch[8:8 + bits // 8] = stored.to_bytes(bits // 8, "little")
            want = State(scratch=bytes(scratch)).with_x(
                x10=_signed(old & ((1 << bits) - 1), bits), x11=WORD, x12=rs2)
            differences = want.differences(mvvm_cpu.run(state))
            if differences:
                failures.append(f"old {old:#x} rs2 {rs2:#x}: {differences}")
    assert not failures, "\n".join(failures[:5])


def _run(cpu: MvvmCpu, code: bytes, memory: int = 0x1111_2222_8000_0001, **regs: int) -> State:
    """Run code with the doubleword at WORD set to memory; returns the final state."""
    scratch = bytearray(State().scratch)
    scratch[8:16] = memory.to_bytes(8, "little")
    cpu.load(code)
    result = cpu.run(State(scratch=bytes(scratch)).with_x(**regs))
    assert isinstance(result, State), result
    return result


def _doubleword(state: State, at: int = WORD) -> int:
    return int.from_bytes(state.scratch[at - SCRATCH:at - SCRATCH + 8], "little")


def test_sc_fails_after_a_reservation_of_another_address(mvvm_cpu: MvvmCpu):
    code = words(asm("lr.d", rd=A0, rs1=A1), asm("sc.d", rd=A2, rs1=A4, rs2=A3))
    final = _run(mvvm_cpu, code, x11=WORD - 8, x13=0x5555, x14=WORD)
    assert final.x[A2] == 1
    assert _doubleword(final) == 0x1111_2222_8000_0001


def test_sc_succeeds_after_lr_of_the_same_address(mvvm_cpu: MvvmCpu):
    code = words(asm("lr.d", rd=A0, rs1=A1), asm("sc.d", rd=A2, rs1=A1, rs2=A3))
    final = _run(mvvm_cpu, code, x11=WORD, x13=0x5555)
    assert (final.x[A0], final.x[A2]) == (0x1111_2222_8000_0001, 0)
    assert _doubleword(final) == 0x5555


def test_lr_sc_word_compares_the_word(mvvm_cpu: MvvmCpu):
    """lr.w sign-extends a negative word into rd; sc.w then succeeds, writing 32 bits."""
    code = words(asm("lr.w", rd=A0, rs1=A1), asm("sc.w", rd=A2, rs1=A1, rs2=A3))
    final = _run(mvvm_cpu, code, x11=WORD, x13=0xAAAA_BBBB_0000_7777)
    assert (final.x[A0], final.x[A2]) == (0xFFFF_FFFF_8000_0001, 0)
    assert _doubleword(final) == 0x1111_2222_0000_7777


def test_sc_clears_the_reservation(mvvm_cpu: MvvmCpu):
    """A second sc after a successful one fails and stores nothing; so does an sc with no lr."""
    code = words(asm("lr.d", rd=A0, rs1=A1), asm("sc.d", rd=A2, rs1=A1, rs2=A3),
                 asm("sc.d", rd=A4, rs1=A1, rs2=A0))
    final = _run(mvvm_cpu, code, x11=WORD, x13=0x5555)
    assert (final.x[A2], final.x[A4]) == (0, 1)
    assert _doubleword(final) == 0x5555
    final = _run(mvvm_cpu, words(asm("sc.d", rd=A2, rs1=A1, rs2=A3)), x11=WORD, x13=0x5555)
    assert final.x[A2] == 1
    assert _doubleword(final) == 0x1111_2222_8000_0001


# -- regions run directly, one store per host thread ----------------------------------------

COUNTER = SCRATCH + 0x100


class Guest:
    """One guest thread: its own store, VM memory and instance of a translated region,
    on the guest memory of the process (image)."""

    def __init__(self, image: Image, translation: Translation, **regs: int) -> None:
        self.runtime = rt = Runtime(image.engine, image.region)
        i32, i64 = wt.ValType.i32(), wt.ValType.i64()
        host = [rt.host_function([], [i32], lambda values: None),
                rt.host_function([], [i64], lambda values: None),
                rt.host_function([i32, i64, i64, i64], [i64], lambda values: None),
                rt.host_function([i64], [i32], lambda values: None),
                rt.host_function([i64], [i32], lambda values: None)]
        instance = wt.Instance(rt.store, wt.Module(image.engine, translation.wasm),
                               [*host, rt.guest_memory, rt.vm_memory, rt.table])
        self.region = instance.exports(rt.store)[export_name(0)]
        for name, value in regs.items():
            self.x(int(name[1:])).value = value

    def x(self, reg: int) -> ctypes.c_uint64:
        """Register reg in the VM state."""
        return ctypes.c_uint64.from_address(self.runtime.vm_address() + layout.VM_X + 8 * reg)

    def run(self) -> int:
        """Run the region once: the pc it leaves for."""
        assert isinstance(self.region, wt.Func)
        return self.region(self.runtime.store, 0)


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    """A process image, with a store that holds its guest memory for the whole module (as
    the VM's first thread does), not just while some test's guests live."""
    image = Image()
    holder = Runtime(image.engine, image.region)
    yield image
    del holder


def _cell(image: Image, guest_address: int) -> ctypes.c_uint64:
    return ctypes.c_uint64.from_address(image.region.base + guest_address)


ROUNDS = 4_000_000
READY = COUNTER + 0x40                   # a flag per thread, for the rendezvous
# Loops that add 1 to the word at a1, a0 times, then return (to ra).
INCREMENTS = {
    "amoadd.d": (asm("amoadd.d", rd=0, rs1=A1, rs2=A2), asm("addi", rd=A0, rs1=A0, imm=-1),
                 asm("bne", rs1=A0, rs2=0, imm=-8), RET),
    "amoadd.w": (asm("amoadd.w", rd=0, rs1=A1, rs2=A2), asm("addi", rd=A0, rs1=A0, imm=-1),
                 asm("bne", rs1=A0, rs2=0, imm=-8), RET),
    "lr.d/sc.d": (asm("lr.d", rd=T0, rs1=A1), asm("add", rd=T0, rs1=T0, rs2=A2),
                  asm("sc.d", rd=T1, rs1=A1, rs2=T0), asm("bne", rs1=T1, rs2=0, imm=-12),
                  asm("addi", rd=A0, rs1=A0, imm=-1), asm("bne", rs1=A0, rs2=0, imm=-20), RET),
    "lr.w/sc.w": (asm("lr.w", rd=T0, rs1=A1), asm("add", rd=T0, rs1=T0, rs2=A2),
                  asm("sc.w", rd=T1, rs1=A1, rs2=T0), asm("bne", rs1=T1, rs2=0, imm=-12),
                  asm("addi", rd=A0, rs1=A0, imm=-1), asm("bne", rs1=A0, rs2=0, imm=-20), RET),
    "amomaxu.d": (asm("ld", rd=T0, rs1=A1, imm=0), asm("add", rd=T0, rs1=T0, rs2=A2),
                  asm("amomaxu.d", rd=T1, rs1=A1, rs2=T0), asm("bgeu", rs1=T1, rs2=T0, imm=-12),
                  asm("addi", rd=A0, rs1=A0, imm=-1), asm("bne", rs1=A0, rs2=0, imm=-20), RET),
}
# Before the loop, a rendezvous: set my flag (at a3), wait for the other's (at a4).
RENDEZVOUS = (asm("sd", rs2=A2, rs1=A3, imm=0), asm("ld", rd=T0, rs1=A4, imm=0),
              asm("beq", rs1=T0, rs2=0, imm=-4))


@pytest.mark.parametrize("loop", INCREMENTS)
def test_two_threads_lose_no_update(loop: str, image: Image):
    """Two host threads run the loop at once on one counter: with load-operate-store
    instead of atomics, their updates overwrite each other and the sum falls short. (The
    amomaxu loop counts only the rounds where its max raised the counter by one; a max
    that is not atomic can lower it, and rounds count twice.)"""
    translation = translated(*RENDEZVOUS, *INCREMENTS[loop])
    for address in (COUNTER, READY, READY + 8):
        _cell(image, address).value = 0
    guests = [Guest(image, translation, x1=0x1234, x10=ROUNDS, x11=COUNTER, x12=1,
                    x13=READY + 8 * k, x14=READY + 8 * (1 - k)) for k in range(2)]
    exits: list[int | Exception] = [0] * len(guests)

    def run(k: int) -> None:
        try:
            exits[k] = guests[k].run()
        except Exception as error:
            exits[k] = error

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(guests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert exits == [0x1234] * len(guests)
    assert _cell(image, COUNTER).value == 2 * ROUNDS


@pytest.mark.parametrize("precise", [False, True])
def test_misaligned_amo_traps_at_its_pc(precise: bool, image: Image):
    """A misaligned AMO traps (HEAP_MISALIGNED, which the VM turns into SIGBUS), the trap
    map gives its pc, and in precise mode the registers written before it are in the VM."""
    translation = translated(asm("addi", rd=A3, rs1=0, imm=7),
                             asm("amoadd.w", rd=A0, rs1=A1, rs2=A2), RET, precise=precise)
    guest = Guest(image, translation, x1=0x1234, x11=COUNTER + 2)
    with pytest.raises(wt.Trap) as trap:
        guest.run()
    assert trap.value.trap_code == wt.TrapCode.HEAP_MISALIGNED
    assert translation.traps.pc_at(trap.value.frames[0].module_offset) == CODE + 4
    assert guest.x(A3).value == (7 if precise else 0)
