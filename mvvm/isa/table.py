"""The instruction table: every RV64 instruction MVVM understands, the single source of truth.

The rows are written as data (name, funct fields, operand tokens) per instruction format and
turned into match/mask pairs by one small builder per format, so an encoding is stated once,
in the terms the RISC-V spec tables use.  The decoder and the disassembler are derived from it.

Operand tokens (the `operands` field of a row):

    rd rs1 rs2          integer registers
    fd fs1 fs2 fs3      floating-point registers (kept in rd/rs1/rs2/rs3)
    imm                 signed immediate (I, S format)
    shamt               shift amount, or the immediate of a shift-format instruction
    mem                 imm(rs1), the address of a load, store or jalr
    amo                 (rs1), the address of an lr/sc/amo
    target              pc-relative target of a branch or jal (imm is the byte offset)
    upper               the 20-bit immediate of lui/auipc (imm is the shifted value)
    csr                 a CSR number (kept in csr)
    zimm                the 5-bit immediate of csrr*i (kept in imm)
    rm                  the rounding-mode field (kept in rm)
    rtz                 a rounding mode the encoding fixes (fcvtmod.w.d's): printed only
    fli                 the 5-bit index of fli's constant, in the rs1 field (kept in rs1)
    pred,succ           the fence fields (imm keeps the raw imm[11:0])
"""

from __future__ import annotations

from collections.abc import Iterable

from mvvm.isa.instr import Flow, InsnSpec

# Major opcodes (bits 6:0).
LOAD, LOAD_FP, MISC_MEM, OP_IMM, AUIPC, OP_IMM_32 = 0x03, 0x07, 0x0F, 0x13, 0x17, 0x1B
STORE, STORE_FP, AMO, OP, LUI, OP_32 = 0x23, 0x27, 0x2F, 0x33, 0x37, 0x3B
MADD, MSUB, NMSUB, NMADD, OP_FP = 0x43, 0x47, 0x4B, 0x4F, 0x53
BRANCH, JALR, JAL, SYSTEM = 0x63, 0x67, 0x6F, 0x73
CACHE_BLOCK = 64            # bytes a cache-block operation covers (cbo.*, riscv_hwprobe)

_OPCODE = 0x7F
_FUNCT3 = 0x7 << 12
_RS2 = 0x1F << 20
_FUNCT7 = 0x7F << 25
_IMM12 = 0xFFF << 20
_FMT = 0x3 << 25
_FUNCT5 = 0x1F << 27


def _row(name: str, ext: str, match: int, mask: int, operands: str,
         flow: Flow = Flow.NEXT) -> InsnSpec:
    return InsnSpec(name, ext, match, mask | _OPCODE, operands, flow)


def _funct3(opcode: int, rows: Iterable[tuple[str, str, int]], operands: str,
            flow: Flow = Flow.NEXT) -> list[InsnSpec]:
    """I, S and B formats: the opcode and funct3 identify the instruction."""
    return [_row(n, ext, opcode | f3 << 12, _FUNCT3, operands, flow) for n, ext, f3 in rows]


def _funct7(opcode: int, rows: Iterable[tuple[str, str, int, int]],
            operands: str = "rd,rs1,rs2") -> list[InsnSpec]:
    """R format: funct7 and funct3 select the operation.

    Without an rs2 operand, rs2 is fixed at x0 (zext.h is the pack encoding with rs2 = x0).
    """
    rs2 = 0 if "rs2" in operands else _RS2
    return [_row(n, ext, opcode | f3 << 12 | f7 << 25, _FUNCT7 | _FUNCT3 | rs2, operands)
            for n, ext, f3, f7 in rows]


def _shifts(opcode: int, rows: Iterable[tuple[str, str, int, int]], high: int) -> list[InsnSpec]:
    """Immediate shifts: the bits above the shift amount (funct6 for RV64, funct7 for W) select."""
    field = ((1 << (32 - high)) - 1) << high
    return [_row(n, ext, opcode | f3 << 12 | top << high, field | _FUNCT3, "rd,rs1,shamt")
            for n, ext, f3, top in rows]


def _unary(opcode: int, rows: Iterable[tuple[str, str, int, int]]) -> list[InsnSpec]:
    """Bit-manipulation unary ops: the whole imm[11:0] is part of the opcode."""
    return [_row(n, ext, opcode | f3 << 12 | imm << 20, _IMM12 | _FUNCT3, "rd,rs1")
            for n, ext, f3, imm in rows]


def _amo(rows: Iterable[tuple[str, int, str]]) -> list[InsnSpec]:
    """A extension: funct5 selects, funct3 is the width (.w = 2, .d = 3), aq/rl are free bits.

    lr has no rs2 operand, so its rs2 field is part of the encoding.
    """
    return [_row(f"{n}.{width}", "A", AMO | f3 << 12 | f5 << 27,
                 _FUNCT5 | _FUNCT3 | (0 if "rs2" in operands else _RS2), operands)
            for width, f3 in (("w", 2), ("d", 3)) for n, f5, operands in rows]


def _fp(rows: Iterable[tuple[str, str, int, int | None, int | None, str]]) -> list[InsnSpec]:
    """OP-FP: funct7 selects; rs2 may be an extra selector and funct3 is either a selector or rm.

    A row gives rs2 = None when rs2 is a register operand and f3 = None when funct3 is the
    rounding mode (then the operands end in "rm").
    """
    specs = []
    for n, ext, f7, rs2, f3, operands in rows:
        match, mask = OP_FP | f7 << 25, _FUNCT7
        if rs2 is not None:
            match, mask = match | rs2 << 20, mask | _RS2
        if f3 is not None:
            match, mask = match | f3 << 12, mask | _FUNCT3
        specs.append(_row(n, ext, match, mask, operands))
    return specs


def _fused(rows: Iterable[tuple[str, int]]) -> list[InsnSpec]:
    """R4 format fused multiply-adds: the opcode selects the operation, fmt the precision."""
    return [_row(f"{n}.{p}", ext, opcode | fmt << 25, _FMT, "fd,fs1,fs2,fs3,rm")
            for p, ext, fmt in (("s", "F", 0), ("d", "D", 1), ("h", "Zfh", 2))
            for n, opcode in rows]


def _exact(name: str, ext: str, word: int, flow: Flow = Flow.NEXT) -> InsnSpec:
    """An instruction with no operand fields at all."""
    return _row(name, ext, word, 0xFFFFFFFF, "", flow)


_BASE = [
    _row("lui", "I", LUI, 0, "rd,upper"),
    _row("auipc", "I", AUIPC, 0, "rd,upper"),
    _row("jal", "I", JAL, 0, "rd,target", Flow.JAL),
    *_funct3(JALR, [("jalr", "I", 0)], "rd,mem", Flow.JALR),
    *_funct3(BRANCH, [("beq", "I", 0), ("bne", "I", 1), ("blt", "I", 4), ("bge", "I", 5),
                      ("bltu", "I", 6), ("bgeu", "I", 7)], "rs1,rs2,target", Flow.BRANCH),
    *_funct3(LOAD, [("lb", "I", 0), ("lh", "I", 1), ("lw", "I", 2), ("ld", "I", 3),
                    ("lbu", "I", 4), ("lhu", "I", 5), ("lwu", "I", 6)], "rd,mem"),
    *_funct3(STORE, [("sb", "I", 0), ("sh", "I", 1), ("sw", "I", 2), ("sd", "I", 3)], "rs2,mem"),
    *_funct3(OP_IMM, [("addi", "I", 0), ("slti", "I", 2), ("sltiu", "I", 3), ("xori", "I", 4),
                      ("ori", "I", 6), ("andi", "I", 7)], "rd,rs1,imm"),
    *_funct3(OP_IMM_32, [("addiw", "I", 0)], "rd,rs1,imm"),
    *_funct3(MISC_MEM, [("fence", "I", 0)], "pred,succ"),
    *_funct3(MISC_MEM, [("fence.i", "Zifencei", 1)], ""),
    _exact("ecall", "I", SYSTEM),
    _exact("ebreak", "I", SYSTEM | 1 << 20, Flow.TRAP),
    *_funct3(SYSTEM, [("csrrw", "Zicsr", 1), ("csrrs", "Zicsr", 2), ("csrrc", "Zicsr", 3)],
             "rd,csr,rs1"),
    *_funct3(SYSTEM, [("csrrwi", "Zicsr", 5), ("csrrsi", "Zicsr", 6), ("csrrci", "Zicsr", 7)],
             "rd,csr,zimm"),
    # Zawrs: wait for a reservation set to change, here at once (as the spec allows)
    _exact("wrs.nto", "Zawrs", SYSTEM | 0x00D << 20),
    _exact("wrs.sto", "Zawrs", SYSTEM | 0x01D << 20),
    # Zicbom, Zicboz: cache-block operations on the block holding (rs1); cbo.inval is not
    # here, since Linux does not let user code invalidate caches (SIGILL, as there)
    *(_row(name, ext, MISC_MEM | 2 << 12 | imm << 20, _FUNCT3 | _IMM12 | 0x1F << 7, "amo")
      for name, ext, imm in (("cbo.clean", "Zicbom", 1), ("cbo.flush", "Zicbom", 2),
                             ("cbo.zero", "Zicboz", 4))),
    # Zimop: may-be-operations, which write 0 to rd until an extension gives them a meaning
    *(_row(f"mop.r.{n}", "Zimop", SYSTEM | 4 << 12 | 1 << 31 | (n >> 4) << 30
           | (n >> 2 & 3) << 26 | 0b0111 << 22 | (n & 3) << 20, _FUNCT3 | _IMM12, "rd,rs1")
      for n in range(32)),
    *(_row(f"mop.rr.{n}", "Zimop", SYSTEM | 4 << 12 | 1 << 31 | (n >> 2) << 30
           | (n & 3) << 26 | 1 << 25, _FUNCT3 | _FUNCT7, "rd,rs1,rs2") for n in range(8)),
]

# Shift-format immediates (shift amount below a funct6/funct7) and the unary bit-manipulation
# ops, whose whole imm[11:0] is opcode.
_SHIFT_AND_UNARY = [
    *_shifts(OP_IMM, [("slli", "I", 1, 0x00), ("srli", "I", 5, 0x00), ("srai", "I", 5, 0x10),
                      ("rori", "Zbb", 5, 0x18), ("bclri", "Zbs", 1, 0x12),
                      ("bexti", "Zbs", 5, 0x12), ("binvi", "Zbs", 1, 0x1A),
                      ("bseti", "Zbs", 1, 0x0A)], high=26),
    *_shifts(OP_IMM_32, [("slli.uw", "Zba", 1, 0x02)], high=26),
    *_shifts(OP_IMM_32, [("slliw", "I", 1, 0x00), ("srliw", "I", 5, 0x00),
                         ("sraiw", "I", 5, 0x20), ("roriw", "Zbb", 5, 0x30)], high=25),
    *_unary(OP_IMM, [("clz", "Zbb", 1, 0x600), ("ctz", "Zbb", 1, 0x601),
                     ("cpop", "Zbb", 1, 0x602), ("sext.b", "Zbb", 1, 0x604),
                     ("sext.h", "Zbb", 1, 0x605), ("orc.b", "Zbb", 5, 0x287),
                     ("rev8", "Zbb", 5, 0x6B8), ("brev8", "Zbkb", 5, 0x687)]),
    *_unary(OP_IMM_32, [("clzw", "Zbb", 1, 0x600), ("ctzw", "Zbb", 1, 0x601),
                        ("cpopw", "Zbb", 1, 0x602)]),
]

_REG_REG = [
    *_funct7(OP, [
        ("add", "I", 0, 0x00), ("sub", "I", 0, 0x20), ("sll", "I", 1, 0x00), ("slt", "I", 2, 0x00),
        ("sltu", "I", 3, 0x00), ("xor", "I", 4, 0x00), ("srl", "I", 5, 0x00),
        ("sra", "I", 5, 0x20), ("or", "I", 6, 0x00), ("and", "I", 7, 0x00),
        ("mul", "M", 0, 0x01), ("mulh", "M", 1, 0x01), ("mulhsu", "M", 2, 0x01),
        ("mulhu", "M", 3, 0x01), ("div", "M", 4, 0x01), ("divu", "M", 5, 0x01),
        ("rem", "M", 6, 0x01), ("remu", "M", 7, 0x01),
        ("sh1add", "Zba", 2, 0x10), ("sh2add", "Zba", 4, 0x10), ("sh3add", "Zba", 6, 0x10),
        ("andn", "Zbb", 7, 0x20), ("orn", "Zbb", 6, 0x20), ("xnor", "Zbb", 4, 0x20),
        ("max", "Zbb", 6, 0x05), ("maxu", "Zbb", 7, 0x05), ("min", "Zbb", 4, 0x05),
        ("minu", "Zbb", 5, 0x05), ("rol", "Zbb", 1, 0x30), ("ror", "Zbb", 5, 0x30),
        ("bclr", "Zbs", 1, 0x24), ("bext", "Zbs", 5, 0x24), ("binv", "Zbs", 1, 0x34),
        ("bset", "Zbs", 1, 0x14),
        ("clmul", "Zbc", 1, 0x05), ("clmulr", "Zbc", 2, 0x05), ("clmulh", "Zbc", 3, 0x05),
        ("pack", "Zbkb", 4, 0x04), ("packh", "Zbkb", 7, 0x04),
        ("xperm4", "Zbkx", 2, 0x14), ("xperm8", "Zbkx", 4, 0x14),
        ("czero.eqz", "Zicond", 5, 0x07), ("czero.nez", "Zicond", 7, 0x07),
    ]),
    *_funct7(OP_32, [
        ("addw", "I", 0, 0x00), ("subw", "I", 0, 0x20), ("sllw", "I", 1, 0x00),
        ("srlw", "I", 5, 0x00), ("sraw", "I", 5, 0x20),
        ("mulw", "M", 0, 0x01), ("divw", "M", 4, 0x01), ("divuw", "M", 5, 0x01),
        ("remw", "M", 6, 0x01), ("remuw", "M", 7, 0x01),
        ("add.uw", "Zba", 0, 0x04), ("sh1add.uw", "Zba", 2, 0x10),
        ("sh2add.uw", "Zba", 4, 0x10), ("sh3add.uw", "Zba", 6, 0x10),
        ("rolw", "Zbb", 1, 0x30), ("rorw", "Zbb", 5, 0x30),
        ("packw", "Zbkb", 4, 0x04),             # rs2 = x0 is zext.h (below), as in the spec
    ]),
    *_funct7(OP_32, [("zext.h", "Zbb", 4, 0x04)], "rd,rs1"),
]

_ATOMIC = _amo([
    ("lr", 0x02, "rd,amo"), ("sc", 0x03, "rd,rs2,amo"),
    *((name, f5, "rd,rs2,amo") for name, f5 in (
        ("amoswap", 0x01), ("amoadd", 0x00), ("amoxor", 0x04), ("amoand", 0x0C), ("amoor", 0x08),
        ("amomin", 0x10), ("amomax", 0x14), ("amominu", 0x18), ("amomaxu", 0x1C))),
])


def _float(p: str, ext: str, fmt: int, width: int, moves: str | None = None) -> list[InsnSpec]:
    """The F, D or Zfh rows: the same operations, told apart by fmt (funct7 low bits) and width.

    `p` is the precision suffix of the arithmetic ("s", "d", "h"); memory and move
    instructions name the width instead ("w", "d", "h"), e.g. flw, fmv.x.w. `moves` is the
    extension of the loads, stores and moves when it is not `ext` (Zfhmin's of Zfh).
    """
    w = {"s": "w", "d": "d", "h": "h"}[p]
    moves = moves or ext
    ints = (("w", 0), ("wu", 1), ("l", 2), ("lu", 3))
    return [
        *_funct3(LOAD_FP, [(f"fl{w}", moves, width)], "fd,mem"),
        *_funct3(STORE_FP, [(f"fs{w}", moves, width)], "fs2,mem"),
        *_fp([(f"f{op}.{p}", ext, f7 | fmt, None, None, "fd,fs1,fs2,rm")
              for op, f7 in (("add", 0x00), ("sub", 0x04), ("mul", 0x08), ("div", 0x0C))]),
        *_fp([(f"fsqrt.{p}", ext, 0x2C | fmt, 0, None, "fd,fs1,rm")]),
        *_fp([(f"f{op}.{p}", ext, 0x10 | fmt, None, f3, "fd,fs1,fs2")
              for op, f3 in (("sgnj", 0), ("sgnjn", 1), ("sgnjx", 2))]),
        *_fp([(f"f{op}.{p}", ext, 0x14 | fmt, None, f3, "fd,fs1,fs2")
              for op, f3 in (("min", 0), ("max", 1))]),
        *_fp([(f"f{op}.{p}", ext, 0x50 | fmt, None, f3, "rd,fs1,fs2")
              for op, f3 in (("eq", 2), ("lt", 1), ("le", 0))]),
        *_fp([(f"fcvt.{i}.{p}", ext, 0x60 | fmt, rs2, None, "rd,fs1,rm") for i, rs2 in ints]),
        *_fp([(f"fcvt.{p}.{i}", ext, 0x68 | fmt, rs2, None, "fd,rs1,rm") for i, rs2 in ints]),
        *_fp([(f"fmv.x.{w}", moves, 0x70 | fmt, 0, 0, "rd,fs1"),
              (f"fclass.{p}", ext, 0x70 | fmt, 0, 1, "rd,fs1"),
              (f"fmv.{w}.x", moves, 0x78 | fmt, 0, 0, "fd,rs1")]),
    ]


def _zfa(p: str, fmt: int) -> list[InsnSpec]:
    """Zfa's rows of one precision: constants, NaN-propagating min/max, rounding to an
    integral value, quiet comparisons (fmvh.x.d and fmvp.d.x are RV32's, not here)."""
    return [
        *_fp([(f"fli.{p}", "Zfa", 0x78 | fmt, 1, 0, "fd,fli")]),
        *_fp([(f"f{op}.{p}", "Zfa", 0x14 | fmt, None, f3, "fd,fs1,fs2")
              for op, f3 in (("minm", 2), ("maxm", 3))]),
        *_fp([(f"f{op}.{p}", "Zfa", 0x20 | fmt, rs2, None, "fd,fs1,rm")
              for op, rs2 in (("round", 4), ("roundnx", 5))]),
        *_fp([(f"f{op}.{p}", "Zfa", 0x50 | fmt, None, f3, "rd,fs1,fs2")
              for op, f3 in (("leq", 4), ("ltq", 5))]),
    ]


_FLOAT = [
    *_float("s", "F", 0, 2),
    *_float("d", "D", 1, 3),
    *_fused([("fmadd", MADD), ("fmsub", MSUB), ("fnmsub", NMSUB), ("fnmadd", NMADD)]),
    *_fp([("fcvt.s.d", "D", 0x20, 1, None, "fd,fs1,rm"),
          ("fcvt.d.s", "D", 0x21, 0, None, "fd,fs1,rm")]),
    # Zfh: half precision (fmt 2), its conversions to and from S and D in Zfhmin
    *_float("h", "Zfh", 2, 1, moves="Zfhmin"),
    *_fp([("fcvt.s.h", "Zfhmin", 0x20, 2, None, "fd,fs1,rm"),
          ("fcvt.h.s", "Zfhmin", 0x22, 0, None, "fd,fs1,rm"),
          ("fcvt.d.h", "Zfhmin", 0x21, 2, None, "fd,fs1,rm"),
          ("fcvt.h.d", "Zfhmin", 0x22, 1, None, "fd,fs1,rm")]),
    # Zfa, for S, D and H; fcvtmod.w.d always rounds toward zero (funct3 = 1)
    *_zfa("s", 0), *_zfa("d", 1), *_zfa("h", 2),
    *_fp([("fcvtmod.w.d", "Zfa", 0x61, 8, 1, "rd,fs1,rtz")]),
]

TABLE: tuple[InsnSpec, ...] = (*_BASE, *_SHIFT_AND_UNARY, *_REG_REG, *_ATOMIC, *_FLOAT)
