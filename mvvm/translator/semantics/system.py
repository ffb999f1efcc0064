"""ecall, fences, the user-level CSRs (Zicsr, Zifencei, Zicntr), and the instructions that
do nothing observable yet: Zawrs's waits and Zimop's may-be-operations.

ecall calls the Linux layer through a raw host import without leaving the
region: registers are written back first (the kernel may read any of them),
and a0 is reloaded after. fence orders memory for the other guest threads
(wasm's atomic.fence). fence.i leaves to Python, which drops every
translation, since the guest may have rewritten code.
"""

from __future__ import annotations

from mvvm.isa import InsnSpec, Instr
from mvvm.isa.effects import register_bit
from mvvm.runtime import layout
from mvvm.translator.emitter import Emitter, FieldValue
from mvvm.translator.modules import HOST_CLOCK, HOST_SYSCALL
from mvvm.translator.semantics import semantic
from mvvm.wasm import encoder as w

A0 = 10
# CSR number -> (shift, mask) of its field in the VM's fcsr word.
FP_CSRS = {0x001: (0, 0x1F), 0x002: (5, 0x7), 0x003: (0, 0xFF)}
COUNTERS = {0xC00, 0xC01, 0xC02}          # cycle, time, instret: read-only, from the host clock


@semantic("ecall")
def ecall(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.store_pc(pc)
    e.write_back()
    e.host_call(HOST_SYSCALL)
    e.reload(register_bit(A0, False))


@semantic("fence")
def fence(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Every fence (any pred/succ, fence.tso) is wasm's one fence, sequentially consistent:
    at least as strong as the guest asked, and it keeps Cranelift from moving the guest's
    plain loads and stores across it, which other guest threads may observe."""
    e.code.atomic_fence()


@semantic("wrs.nto", "wrs.sto")
def wait_on_reservation(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Stall until the reservation set changes or a timeout: the spec lets an
    implementation go on at once (the guest's loop then checks again)."""


MOPS = [f"mop.r.{n}" for n in range(32)] + [f"mop.rr.{n}" for n in range(8)]


@semantic(*MOPS)
def may_be_operation(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Zimop: until an extension redefines it, a may-be-operation writes 0 to rd."""
    e.code.i64_const(0)
    e.set_x(i.rd)


@semantic("fence.i", ends_block=True)
def fence_i(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.exit_reason(layout.REASON_FENCE_I, pc, i.length)


CSR_OPS = ("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci")


def _csr_writes(i: Instr) -> bool:
    return i.name.startswith("csrrw") or (i.imm if i.name.endswith("i") else i.rs1) != 0


def _known_csr(i: Instr) -> bool:
    """The FP CSRs, and the counters read-only (a write to them is illegal)."""
    return i.csr in FP_CSRS or (i.csr in COUNTERS and not _csr_writes(i))


def _csr_forms(spec: InsnSpec) -> list[dict[str, int]]:
    """Every CSR number MVVM knows, and each counter's read-only form (no rs1, no zimm);
    `_known_csr` keeps the legal ones."""
    source = "imm" if spec.name.endswith("i") else "rs1"
    return [{"csr": n} for n in (*FP_CSRS, *COUNTERS)] + \
        [{"csr": n, source: 0} for n in COUNTERS]


@semantic(*CSR_OPS, accepts=_known_csr, forms=_csr_forms)
def csr(e: Emitter, i: Instr, pc: FieldValue) -> None:
    if i.csr in COUNTERS:
        e.code.call(HOST_CLOCK)
        e.set_x(i.rd)
    else:
        _fp_csr(e, i, i.name.endswith("i"), _csr_writes(i))


def _fp_csr(e: Emitter, i: Instr, immediate: bool, writes: bool) -> None:
    """Read the field, then write it from rs1/zimm per the op (w: set, s: or, c: and-not)."""
    shift, mask = FP_CSRS[i.csr]
    old, fcsr = e.temp(), e.temp(w.I32)
    e.vm_load(layout.VM_FCSR, w.I32_LOAD)
    e.code.tee(fcsr).i32_const(shift).op(w.I32_SHR_U).i32_const(mask).op(w.I32_AND)
    e.code.op(w.I64_EXTEND_I32_U).set(old)
    if writes:
        e.code.i32_const(0).get(fcsr).i32_const(~(mask << shift)).op(w.I32_AND)
        if immediate:
            e.imm(i.imm)
        else:
            e.x(i.rs1)
        op = i.name[3:5]
        if op == "rs":
            e.code.get(old).op(w.I64_OR)
        elif op == "rc":
            e.code.i64_const(-1).op(w.I64_XOR).get(old).op(w.I64_AND)
        e.code.op(w.I32_WRAP_I64).i32_const(mask).op(w.I32_AND).i32_const(shift)
        e.code.op(w.I32_SHL, w.I32_OR).mem(w.I32_STORE, 1, layout.VM_FCSR)
    e.code.get(old)
    e.set_x(i.rd)
    e.release((w.I64, old), (w.I32, fcsr))
