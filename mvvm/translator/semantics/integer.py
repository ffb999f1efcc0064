"""RV64I and M integer semantics, and the branch conditions.

Where wasm and RISC-V differ: shifts agree (both mask the amount); W forms
compute in i32 and sign-extend; division never traps on RISC-V (x/0 = -1,
x%0 = x, MIN/-1 = MIN, MIN%-1 = 0), so the trapping wasm cases are guarded.
"""

from __future__ import annotations

from mvvm.isa import Instr
from mvvm.translator.emitter import Emitter, FieldValue
from mvvm.translator.semantics import semantic
from mvvm.wasm import encoder as w

REG_OPS = {
    "add": w.I64_ADD, "sub": w.I64_SUB, "and": w.I64_AND, "or": w.I64_OR, "xor": w.I64_XOR,
    "sll": w.I64_SHL, "srl": w.I64_SHR_U, "sra": w.I64_SHR_S, "mul": w.I64_MUL,
}
IMM_OPS = {
    "addi": w.I64_ADD, "andi": w.I64_AND, "ori": w.I64_OR, "xori": w.I64_XOR,
    "slli": w.I64_SHL, "srli": w.I64_SHR_U, "srai": w.I64_SHR_S,
}
REG_OPS_W = {
    "addw": w.I32_ADD, "subw": w.I32_SUB, "sllw": w.I32_SHL, "srlw": w.I32_SHR_U,
    "sraw": w.I32_SHR_S, "mulw": w.I32_MUL,
}
IMM_OPS_W = {"addiw": w.I32_ADD, "slliw": w.I32_SHL, "srliw": w.I32_SHR_U, "sraiw": w.I32_SHR_S}
COMPARES = {"slt": w.I64_LT_S, "sltu": w.I64_LT_U}
COMPARES_IMM = {"slti": w.I64_LT_S, "sltiu": w.I64_LT_U}
BRANCHES = {
    "beq": w.I64_EQ, "bne": w.I64_NE, "blt": w.I64_LT_S, "bge": w.I64_GE_S,
    "bltu": w.I64_LT_U, "bgeu": w.I64_GE_U,
}


@semantic(*REG_OPS)
def reg_op(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.x(i.rs1)
    e.x(i.rs2)
    e.code.op(REG_OPS[i.name])
    e.set_x(i.rd)


@semantic(*IMM_OPS)
def imm_op(e: Emitter, i: Instr, pc: FieldValue) -> None:
    if i.name == "addi" and i.rs1 == 0:
        e.imm(i.imm)                    # li: no need to read x0
    else:
        e.x(i.rs1)
        if i.imm != 0 or i.name != "addi":
            e.imm(i.imm)
            e.code.op(IMM_OPS[i.name])
    e.set_x(i.rd)


@semantic(*REG_OPS_W)
def reg_op_w(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.x(i.rs1)
    e.code.op(w.I32_WRAP_I64)
    e.x(i.rs2)
    e.code.op(w.I32_WRAP_I64, REG_OPS_W[i.name], w.I64_EXTEND_I32_S)
    e.set_x(i.rd)


@semantic(*IMM_OPS_W)
def imm_op_w(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.x(i.rs1)
    e.code.op(w.I32_WRAP_I64)
    e.imm32(i.imm)
    e.code.op(IMM_OPS_W[i.name], w.I64_EXTEND_I32_S)
    e.set_x(i.rd)


@semantic(*COMPARES)
def compare(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.x(i.rs1)
    e.x(i.rs2)
    e.code.op(COMPARES[i.name], w.I64_EXTEND_I32_U)
    e.set_x(i.rd)


@semantic(*COMPARES_IMM)
def compare_imm(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.x(i.rs1)
    e.imm(i.imm)
    e.code.op(COMPARES_IMM[i.name], w.I64_EXTEND_I32_U)
    e.set_x(i.rd)


@semantic(*BRANCHES)
def branch_condition(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Pushes the i32 condition; the structurer emits the two edges."""
    e.x(i.rs1)
    e.x(i.rs2)
    e.code.op(BRANCHES[i.name])


@semantic("lui")
def lui(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.imm(i.imm)
    e.set_x(i.rd)


@semantic("auipc")
def auipc(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.pc_relative(pc, i.imm)
    e.set_x(i.rd)


# -- M: high multiplies and division -------------------------------------------------------


def _high_product(e: Emitter, wide_op: int) -> None:
    """a b -> high 64 bits of the 128-bit product (wide-arithmetic proposal)."""
    e.code.fc(wide_op)
    high = e.temp()
    e.code.set(high).op(w.DROP).get(high)
    e.release((w.I64, high))


@semantic("mulh", "mulhu")
def mulh(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.x(i.rs1)
    e.x(i.rs2)
    _high_product(e, w.I64_MUL_WIDE_S if i.name == "mulh" else w.I64_MUL_WIDE_U)
    e.set_x(i.rd)


@semantic("mulhsu")
def mulhsu(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """signed x unsigned: the unsigned high part, minus rs2 when rs1 is negative."""
    e.x(i.rs1)
    e.x(i.rs2)
    _high_product(e, w.I64_MUL_WIDE_U)
    e.x(i.rs2)
    e.x(i.rs1)
    e.code.i64_const(63).op(w.I64_SHR_S, w.I64_AND, w.I64_SUB)
    e.set_x(i.rd)


# name -> (is 32-bit, signed, remainder)
DIVISIONS = {
    "div": (False, True, False), "divu": (False, False, False),
    "rem": (False, True, True), "remu": (False, False, True),
    "divw": (True, True, False), "divuw": (True, False, False),
    "remw": (True, True, True), "remuw": (True, False, True),
}


@semantic(*DIVISIONS)
def divide(e: Emitter, i: Instr, pc: FieldValue) -> None:
    word, signed, remainder = DIVISIONS[i.name]
    vt = w.I32 if word else w.I64
    a, b = e.temp(vt), e.temp(vt)
    for reg, local in ((i.rs1, a), (i.rs2, b)):
        e.x(reg)
        if word:
            e.code.op(w.I32_WRAP_I64)
        e.code.set(local)
    ops = _division_ops(word)
    c = e.code
    # b == 0: quotient all ones, remainder the dividend (rare: hinted out of the way).
    c.get(b).op(ops["eqz"]).hint(False).block(w.IF, vt)
    if remainder:
        c.get(a)
    else:
        c.op(ops["const"], 0x7F)            # -1
    c.op(w.ELSE)
    if signed:
        # b == -1: quotient -a (wraps MIN to MIN), remainder 0; avoids wasm's overflow trap.
        c.get(b).op(ops["const"], 0x7F, ops["eq"]).hint(False).block(w.IF, vt)
        c.op(ops["const"], 0)
        if not remainder:
            c.get(a).op(ops["sub"])
        c.op(w.ELSE)
    key = ("rem" if remainder else "div") + ("_s" if signed else "_u")
    c.get(a).get(b).op(ops[key])
    if signed:
        c.op(w.END)
    c.op(w.END)
    if word:
        c.op(w.I64_EXTEND_I32_S)
    e.set_x(i.rd)
    e.release((vt, a), (vt, b))


def _division_ops(word: bool) -> dict[str, int]:
    if word:
        return {"eqz": w.I32_EQZ, "eq": w.I32_EQ, "sub": w.I32_SUB, "const": w.I32_CONST,
                "div_s": w.I32_DIV_S, "div_u": w.I32_DIV_U, "rem_s": w.I32_REM_S,
                "rem_u": w.I32_REM_U}
    return {"eqz": w.I64_EQZ, "eq": w.I64_EQ, "sub": w.I64_SUB, "const": w.I64_CONST,
            "div_s": w.I64_DIV_S, "div_u": w.I64_DIV_U, "rem_s": w.I64_REM_S,
            "rem_u": w.I64_REM_U}
