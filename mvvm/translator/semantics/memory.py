"""Loads, stores and the A extension.

Misaligned accesses are allowed, as Linux allows them on riscv64. An access
outside the backed guest space traps in wasmtime and becomes SIGSEGV.

LR/SC keep a reservation (the reserved address, or all ones) in the VM
state; an SC succeeds only on the address an LR reserved, and always clears
it. AMOs are load-operate-store; with one guest thread they are atomic.
"""

from __future__ import annotations

from mvvm.isa import Instr
from mvvm.runtime import layout
from mvvm.translator.emitter import GUEST_MEMORY, Emitter
from mvvm.translator.semantics import semantic
from mvvm.wasm import encoder as w

LOADS = {
    "lb": w.I64_LOAD8_S, "lh": w.I64_LOAD16_S, "lw": w.I64_LOAD32_S, "ld": w.I64_LOAD,
    "lbu": w.I64_LOAD8_U, "lhu": w.I64_LOAD16_U, "lwu": w.I64_LOAD32_U,
}
STORES = {"sb": w.I64_STORE8, "sh": w.I64_STORE16, "sw": w.I64_STORE32, "sd": w.I64_STORE}
NAN_BOX = -(1 << 32)         # upper 32 bits all ones


@semantic(*LOADS)
def load(e: Emitter, i: Instr, pc: int) -> None:
    e.address(i.rs1, i.imm)
    e.code.mem(LOADS[i.name], GUEST_MEMORY)
    e.set_x(i.rd)


@semantic(*STORES)
def store(e: Emitter, i: Instr, pc: int) -> None:
    e.address(i.rs1, i.imm)
    e.x(i.rs2)
    e.code.mem(STORES[i.name], GUEST_MEMORY)


@semantic("fld", "flw")
def load_fp(e: Emitter, i: Instr, pc: int) -> None:
    e.address(i.rs1, i.imm)
    if i.name == "fld":
        e.code.mem(w.I64_LOAD, GUEST_MEMORY)
    else:
        e.code.mem(w.I64_LOAD32_U, GUEST_MEMORY).i64_const(NAN_BOX).op(w.I64_OR)
    e.set_f(i.rd)


@semantic("fsd", "fsw")
def store_fp(e: Emitter, i: Instr, pc: int) -> None:
    e.address(i.rs1, i.imm)
    e.f(i.rs2)
    e.code.mem(w.I64_STORE if i.name == "fsd" else w.I64_STORE32, GUEST_MEMORY)


# -- A ------------------------------------------------------------------------------------

AMO_OPS = {"add": w.I64_ADD, "and": w.I64_AND, "or": w.I64_OR, "xor": w.I64_XOR}
AMO_MINMAX = {"min": w.I64_LT_S, "max": w.I64_GT_S, "minu": w.I64_LT_U, "maxu": w.I64_GT_U}
AMO_NAMES = [f"amo{op}.{size}" for op in ("swap", *AMO_OPS, *AMO_MINMAX) for size in "wd"]


def _width(i: Instr) -> tuple[int, int]:
    """(load opcode with sign extension, store opcode) for the .w or .d form."""
    if i.name.endswith(".w"):
        return w.I64_LOAD32_S, w.I64_STORE32
    return w.I64_LOAD, w.I64_STORE


def _extend_word(e: Emitter, i: Instr) -> None:
    """Word AMOs compare and compute on the sign-extended 32-bit values."""
    if i.name.endswith(".w"):
        e.code.op(w.I32_WRAP_I64, w.I64_EXTEND_I32_S)


@semantic(*AMO_NAMES)
def amo(e: Emitter, i: Instr, pc: int) -> None:
    load_op, store_op = _width(i)
    op = i.name[3:-2]
    addr, old, new = e.temp(w.I32), e.temp(), e.temp()
    e.address(i.rs1, 0)
    e.code.tee(addr).mem(load_op, GUEST_MEMORY).set(old)
    e.x(i.rs2)
    _extend_word(e, i)
    if op in AMO_OPS:
        e.code.get(old).op(AMO_OPS[op])
    elif op in AMO_MINMAX:
        e.code.set(new).get(new).get(old).get(new).get(old).op(AMO_MINMAX[op], w.SELECT)
    e.code.set(new).get(addr).get(new).mem(store_op, GUEST_MEMORY)
    e.code.get(old)
    e.set_x(i.rd)
    e.release((w.I32, addr), (w.I64, old), (w.I64, new))


@semantic("lr.w", "lr.d")
def load_reserved(e: Emitter, i: Instr, pc: int) -> None:
    load_op, _ = _width(i)
    e.code.i32_const(0)
    e.x(i.rs1)
    e.code.mem(w.I64_STORE, 1, layout.VM_RESERVATION)
    e.address(i.rs1, 0)
    e.code.mem(load_op, GUEST_MEMORY)
    e.set_x(i.rd)


@semantic("sc.w", "sc.d")
def store_conditional(e: Emitter, i: Instr, pc: int) -> None:
    """rd = 0 and store when rs1 is the reserved address, else rd = 1; either way the
    reservation is gone."""
    _, store_op = _width(i)
    ok = e.temp(w.I32)
    e.vm_load(layout.VM_RESERVATION)
    e.x(i.rs1)
    e.code.op(w.I64_EQ).tee(ok).block(w.IF)
    e.address(i.rs1, 0)
    e.x(i.rs2)
    e.code.mem(store_op, GUEST_MEMORY).op(w.END)
    e.code.i32_const(0).i64_const(-1).mem(w.I64_STORE, 1, layout.VM_RESERVATION)
    e.code.get(ok).op(w.I32_EQZ, w.I64_EXTEND_I32_U)
    e.set_x(i.rd)
    e.release((w.I32, ok))
