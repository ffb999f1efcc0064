"""Loads, stores, the cache-block operations (Zicbom, Zicboz) and the A extension.

Plain loads and stores may be misaligned, as Linux allows them on riscv64. An
access outside the backed guest space traps in wasmtime and becomes SIGSEGV.

The A extension uses wasm's atomics (threads proposal), since the guest memory
is shared by guest threads that really run in parallel. Those trap on an
address that is not naturally aligned (HEAP_MISALIGNED), which is what RISC-V
permits for AMOs and LR/SC without Zam, and what Linux reports as SIGBUS. A
wasm atomic is sequentially consistent, at least as strong as any aq/rl.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.isa import TABLE, Instr
from mvvm.isa.table import CACHE_BLOCK
from mvvm.runtime import layout
from mvvm.translator.emitter import Emitter, FieldValue
from mvvm.translator.fp_emit import HALF_BOX, NAN_BOX
from mvvm.translator.modules import GUEST_MEMORY, VM_MEMORY
from mvvm.translator.semantics import semantic
from mvvm.wasm import encoder as w

LOADS = {
    "lb": w.I64_LOAD8_S, "lh": w.I64_LOAD16_S, "lw": w.I64_LOAD32_S, "ld": w.I64_LOAD,
    "lbu": w.I64_LOAD8_U, "lhu": w.I64_LOAD16_U, "lwu": w.I64_LOAD32_U,
}
STORES = {"sb": w.I64_STORE8, "sh": w.I64_STORE16, "sw": w.I64_STORE32, "sd": w.I64_STORE}


@semantic(*LOADS)
def load(e: Emitter, i: Instr, pc: FieldValue) -> None:
    offset = e.address(i.rs1, i.imm)
    e.code.mem(LOADS[i.name], GUEST_MEMORY, offset)
    e.set_x(i.rd)


@semantic(*STORES)
def store(e: Emitter, i: Instr, pc: FieldValue) -> None:
    offset = e.address(i.rs1, i.imm)
    e.x(i.rs2)
    e.code.mem(STORES[i.name], GUEST_MEMORY, offset)


@semantic("cbo.clean", "cbo.flush")
def cache_block_management(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Guest memory is coherent wasm memory: nothing to write back. What remains is the
    fault an access to the block would raise, from a load of its first byte."""
    _block_address(e, i)
    e.code.mem(w.I32_LOAD8_U, GUEST_MEMORY).op(w.DROP)


@semantic("cbo.zero")
def cache_block_zero(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Zero the 64-byte block that holds x[rs1], eight doubleword stores."""
    address = e.temp(e.address_type)
    _block_address(e, i)
    e.code.set(address)
    for k in range(CACHE_BLOCK // 8):
        e.code.get(address).i64_const(0).mem(w.I64_STORE, GUEST_MEMORY, 8 * k)
    e.release((e.address_type, address))


def _block_address(e: Emitter, i: Instr) -> None:
    """The wasm address of the cache block holding x[rs1]."""
    e.x(i.rs1)
    e.code.i64_const(-CACHE_BLOCK).op(w.I64_AND)
    e.guest_index()


# FP loads: the load, and the NaN box a narrower value gets (its upper bits all ones). A
# double moves as an f64 (bits unchanged), straight between memory and its register.
FP_LOADS = {"fld": (w.F64_LOAD, 0), "flw": (w.I64_LOAD32_U, NAN_BOX),
            "flh": (w.I64_LOAD16_U, HALF_BOX)}
# FP stores: the register's low bits, boxed or not.
FP_STORES = {"fsd": w.F64_STORE, "fsw": w.I64_STORE32, "fsh": w.I64_STORE16}


@semantic(*FP_LOADS)
def load_fp(e: Emitter, i: Instr, pc: FieldValue) -> None:
    load, box = FP_LOADS[i.name]
    offset = e.address(i.rs1, i.imm)
    e.code.mem(load, GUEST_MEMORY, offset)
    if box:
        e.code.i64_const(box).op(w.I64_OR)
        e.set_f(i.rd)
    else:
        e.set_f_value(i.rd)


@semantic(*FP_STORES)
def store_fp(e: Emitter, i: Instr, pc: FieldValue) -> None:
    offset = e.address(i.rs1, i.imm)
    if i.name == "fsd":
        e.f_value(i.rs2)
    else:
        e.f(i.rs2)
    e.code.mem(FP_STORES[i.name], GUEST_MEMORY, offset)


# -- A ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Width:
    """The wasm atomics of one access width. Word (.w) forms work on i32 values: the
    register operand is wrapped, the loaded value sign-extended into rd."""

    valtype: int
    load: int
    cmpxchg: int
    rmw: dict[str, int]          # swap/add/and/or/xor -> its atomic read-modify-write
    stores_rs2: dict[str, int]   # min/max[u] -> comparison (rs2, old), true: rs2 is stored
    eq: int
    ne: int
    narrow: tuple[int, ...]      # i64 register -> operand
    widen: tuple[int, ...]       # loaded value -> i64 register


WIDTHS = {
    "w": _Width(w.I32, w.I32_ATOMIC_LOAD, w.I32_ATOMIC_RMW_CMPXCHG,
                {"swap": w.I32_ATOMIC_RMW_XCHG, "add": w.I32_ATOMIC_RMW_ADD,
                 "and": w.I32_ATOMIC_RMW_AND, "or": w.I32_ATOMIC_RMW_OR,
                 "xor": w.I32_ATOMIC_RMW_XOR},
                {"min": w.I32_LT_S, "max": w.I32_GT_S, "minu": w.I32_LT_U, "maxu": w.I32_GT_U},
                w.I32_EQ, w.I32_NE, (w.I32_WRAP_I64,), (w.I64_EXTEND_I32_S,)),
    "d": _Width(w.I64, w.I64_ATOMIC_LOAD, w.I64_ATOMIC_RMW_CMPXCHG,
                {"swap": w.I64_ATOMIC_RMW_XCHG, "add": w.I64_ATOMIC_RMW_ADD,
                 "and": w.I64_ATOMIC_RMW_AND, "or": w.I64_ATOMIC_RMW_OR,
                 "xor": w.I64_ATOMIC_RMW_XOR},
                {"min": w.I64_LT_S, "max": w.I64_GT_S, "minu": w.I64_LT_U, "maxu": w.I64_GT_U},
                w.I64_EQ, w.I64_NE, (), ()),
}
# The table's AMO rows (amo<op>.<width>); an op without wasm here fails at import.
AMO_NAMES = [spec.name for spec in TABLE if spec.ext == "A" and spec.name.startswith("amo")]


def _width(i: Instr) -> _Width:
    return WIDTHS[i.name.rsplit(".", 1)[1]]


@semantic(*AMO_NAMES)
def amo(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """rd = the old value of the word at x[rs1], which becomes old <op> x[rs2], atomically."""
    width, op = _width(i), i.name[3:].split(".")[0]
    if op in width.rmw:
        e.address(i.rs1, 0)
        e.x(i.rs2)
        e.code.op(*width.narrow).atomic(width.rmw[op]).op(*width.widen)
        e.set_x(i.rd)
    else:
        _amo_compare_exchange(e, i, width, width.stores_rs2[op])


def _amo_compare_exchange(e: Emitter, i: Instr, width: _Width, stores_rs2: int) -> None:
    """min/max have no wasm rmw: load, choose, and cmpxchg the choice in; if another
    thread changed the word in between, cmpxchg finds a value other than the one loaded,
    stores nothing, and the loop tries again with the new value."""
    addr, value, old = e.temp(e.address_type), e.temp(width.valtype), e.temp(width.valtype)
    e.x(i.rs2)
    e.code.op(*width.narrow).set(value)
    e.address(i.rs1, 0)
    c = e.code.set(addr).block(w.LOOP)
    c.get(addr).get(addr).atomic(width.load).tee(old)
    c.get(value).get(old).get(value).get(old).op(stores_rs2, w.SELECT)
    c.atomic(width.cmpxchg).get(old).op(width.ne).br(w.BR_IF, 0).op(w.END)
    c.get(old).op(*width.widen)
    e.set_x(i.rd)
    e.release((e.address_type, addr), (width.valtype, value), (width.valtype, old))


@semantic("lr.w", "lr.d")
def load_reserved(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Load atomically; reserve the address, and keep the value for SC to compare (.w: the
    sign-extended word, as rd gets it). The load comes first: a faulting LR reserves
    nothing."""
    width, value = _width(i), e.temp()
    e.address(i.rs1, 0)
    e.code.atomic(width.load).op(*width.widen).set(value)
    e.code.i32_const(0)
    e.x(i.rs1)
    e.code.mem(w.I64_STORE, VM_MEMORY, layout.VM_RESERVATION)
    e.vm_store_local(layout.VM_RESERVED_VALUE, value)
    e.code.get(value)
    e.set_x(i.rd)
    e.release((w.I64, value))


@semantic("sc.w", "sc.d")
def store_conditional(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """QEMU's SC: value-based, not a true reservation. When x[rs1] is the reserved
    address, cmpxchg(address, value LR loaded, x[rs2]) stores iff memory still holds
    that value, and the SC succeeds (rd = 0) iff it did; otherwise rd = 1 and no access.
    Stores by other threads that put the same value back between LR and SC (ABA) go
    unnoticed, as on QEMU: real code uses LR/SC as a CAS (glibc, GCC's atomics), where
    that is harmless. Either way the reservation is gone afterwards."""
    width = _width(i)
    expected = e.temp(width.valtype)
    e.vm_load(layout.VM_RESERVATION)
    e.x(i.rs1)
    e.code.op(w.I64_EQ).block(w.IF, w.I32)
    e.address(i.rs1, 0)
    e.vm_load(layout.VM_RESERVED_VALUE)
    e.code.op(*width.narrow).tee(expected)
    e.x(i.rs2)
    e.code.op(*width.narrow).atomic(width.cmpxchg).get(expected).op(width.eq)
    e.code.op(w.ELSE).i32_const(0).op(w.END)
    e.code.i32_const(0).i64_const(-1).mem(w.I64_STORE, VM_MEMORY, layout.VM_RESERVATION)
    e.code.op(w.I32_EQZ, w.I64_EXTEND_I32_U)
    e.set_x(i.rd)
    e.release((width.valtype, expected))
