"""The wasm building blocks of the F, D and Zfh semantics (mvvm.translator.semantics.fp).

FP registers are raw 64-bit patterns in i64 locals. A single is NaN-boxed (upper 32 bits all
ones), a half too (upper 48 bits); an improperly boxed register reads as the canonical NaN.
Each instruction loads its operands once into locals, both as the format's bits and as a
wasm float. Halves have no wasm float type: their bit operations are integer code, and their
arithmetic is the host's (`SlowPath` with no fast path, `BitsOperand` for the operands).

Most instructions are framed by `SlowPath`: a wasm fast path for the common case (round to
nearest-even and an ordinary result) that may bail out to one host call (HOST_FP, the exact
Python implementation in mvvm.runtime.fp_soft), which computes the result and its flags for
everything else.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from mvvm.isa import Instr
from mvvm.runtime import layout
from mvvm.runtime.fp_soft import NV, NX, OF, SLOW_INDEX, UF
from mvvm.translator.emitter import Emitter, Field
from mvvm.translator.modules import HOST_FP
from mvvm.wasm import encoder as w

NAN_BOX = -(1 << 32)            # the upper 32 bits all ones
HALF_BOX = -(1 << 16)           # the upper 48 bits all ones
HALF_CANONICAL_NAN = 0x7E00
CANONICAL_NAN = {"s": 0x7FC00000, "d": 0x7FF8000000000000}
RNE = 0
DYNAMIC = 7


@dataclass(frozen=True)
class Fmt:
    """One FP format as wasm sees it: its float type, the integer type of its bits, and the
    opcodes of both by name, so that one emitter serves .s and .d."""

    p: str                      # mnemonic suffix: "s" or "d"
    ftype: int
    itype: int
    width: int
    frac: int
    f: dict[str, int] = field(repr=False)
    i: dict[str, int] = field(repr=False)

    @property
    def sign(self) -> int:
        return 1 << (self.width - 1)

    @property
    def exp_mask(self) -> int:
        return self.sign - (1 << self.frac)

    @property
    def frac_mask(self) -> int:
        return (1 << self.frac) - 1

    @property
    def min_normal(self) -> float:
        return 2.0 ** (2 - (1 << (self.width - 2 - self.frac)))

    def fconst(self, code: w.Code, value: float) -> None:
        code.op(self.f["const"])
        code.extend(struct.pack("<f" if self.p == "s" else "<d", value))

    def iconst(self, code: w.Code, value: int) -> None:
        if self.itype == w.I32:
            code.i32_const(value)
        else:
            code.i64_const(value)


SINGLE = Fmt("s", w.F32, w.I32, 32, 23, f={
    "add": w.F32_ADD, "sub": w.F32_SUB, "mul": w.F32_MUL, "div": w.F32_DIV,
    "sqrt": w.F32_SQRT, "min": w.F32_MIN, "max": w.F32_MAX, "abs": w.F32_ABS,
    "neg": w.F32_NEG, "eq": w.F32_EQ, "ne": w.F32_NE, "lt": w.F32_LT, "le": w.F32_LE,
    "gt": w.F32_GT, "ge": w.F32_GE, "const": w.F32_CONST, "from_bits": w.F32_REINTERPRET_I32,
    "to_bits": w.I32_REINTERPRET_F32, "from_i64_s": w.F32_CONVERT_I64_S,
    "from_i64_u": w.F32_CONVERT_I64_U, "splat": w.F32X4_SPLAT, "madd": w.F32X4_RELAXED_MADD,
    "extract_lane": w.F32X4_EXTRACT_LANE,
}, i={
    "and": w.I32_AND, "or": w.I32_OR, "xor": w.I32_XOR, "shl": w.I32_SHL,
    "shr_u": w.I32_SHR_U, "add": w.I32_ADD, "sub": w.I32_SUB, "ne": w.I32_NE,
    "lt_u": w.I32_LT_U, "ge_u": w.I32_GE_U, "gt_u": w.I32_GT_U, "ctz": w.I32_CTZ,
})
DOUBLE = Fmt("d", w.F64, w.I64, 64, 52, f={
    "add": w.F64_ADD, "sub": w.F64_SUB, "mul": w.F64_MUL, "div": w.F64_DIV,
    "sqrt": w.F64_SQRT, "min": w.F64_MIN, "max": w.F64_MAX, "abs": w.F64_ABS,
    "neg": w.F64_NEG, "eq": w.F64_EQ, "ne": w.F64_NE, "lt": w.F64_LT, "le": w.F64_LE,
    "gt": w.F64_GT, "ge": w.F64_GE, "const": w.F64_CONST, "from_bits": w.F64_REINTERPRET_I64,
    "to_bits": w.I64_REINTERPRET_F64, "from_i64_s": w.F64_CONVERT_I64_S,
    "from_i64_u": w.F64_CONVERT_I64_U, "splat": w.F64X2_SPLAT, "madd": w.F64X2_RELAXED_MADD,
    "extract_lane": w.F64X2_EXTRACT_LANE,
}, i={
    "and": w.I64_AND, "or": w.I64_OR, "xor": w.I64_XOR, "shl": w.I64_SHL,
    "shr_u": w.I64_SHR_U, "add": w.I64_ADD, "sub": w.I64_SUB, "ne": w.I64_NE,
    "lt_u": w.I64_LT_U, "ge_u": w.I64_GE_U, "gt_u": w.I64_GT_U, "ctz": w.I64_CTZ,
})
# Half precision as far as wasm goes: its bits, kept zero-extended in an i64 (so the
# integer opcodes are DOUBLE's); ftype is that i64 too, for there is no f16.
HALF = Fmt("h", w.I64, w.I64, 16, 10, f={}, i=DOUBLE.i)
FORMATS = {"s": SINGLE, "d": DOUBLE}


# -- operands and results ---------------------------------------------------------------


def unbox(e: Emitter, reg: int) -> None:
    """Push a single register's 32 bits (i32), or the canonical NaN if it is not boxed."""
    e.f(reg)
    e.code.op(w.I32_WRAP_I64).i32_const(0x7FC00000)
    e.f(reg)
    e.code.i64_const(NAN_BOX).op(w.I64_GE_U, w.SELECT)


def unbox_half(e: Emitter, reg: int) -> None:
    """Push a half register's 16 bits (i64, zero-extended), or the canonical NaN if it is
    not boxed."""
    e.f(reg)
    e.code.i64_const(0xFFFF).op(w.I64_AND).i64_const(HALF_CANONICAL_NAN)
    e.f(reg)
    e.code.i64_const(HALF_BOX).op(w.I64_GE_U, w.SELECT)


class Operand:
    """One FP register operand, loaded once: its bits (unboxed for singles) and its value."""

    def __init__(self, e: Emitter, fmt: Fmt, reg: int) -> None:
        self.e, self.fmt, self.reg = e, fmt, reg
        self.bits_local = None
        if fmt is SINGLE:
            self.bits_local = e.temp(w.I32)
            unbox(e, reg)
            e.code.set(self.bits_local)
        self.value = e.temp(fmt.ftype)
        if fmt is DOUBLE:
            e.f_value(reg)
        else:
            self.push_bits()
            e.code.op(fmt.f["from_bits"])
        e.code.set(self.value)

    def push_bits(self) -> None:
        if self.bits_local is None:
            self.e.f(self.reg)
        else:
            self.e.code.get(self.bits_local)

    def push_i64(self) -> None:
        """The bits as the slow path's i64 argument."""
        self.push_bits()
        if self.bits_local is not None:
            self.e.code.op(w.I64_EXTEND_I32_U)

    def release(self) -> None:
        self.e.release((self.fmt.ftype, self.value))
        if self.bits_local is not None:
            self.e.release((w.I32, self.bits_local))


class BitsOperand:
    """An FP register operand the host alone reads: its bits in `fmt` (unboxed), pushed as
    the slow path's argument when the call is made."""

    def __init__(self, e: Emitter, fmt: Fmt, reg: int) -> None:
        self.e, self.fmt, self.reg = e, fmt, reg

    def push_i64(self) -> None:
        if self.fmt is HALF:
            unbox_half(self.e, self.reg)
        elif self.fmt is SINGLE:
            unbox(self.e, self.reg)
            self.e.code.op(w.I64_EXTEND_I32_U)
        else:
            self.e.f(self.reg)


class IntOperand:
    """An integer register operand of fcvt.{s,d}.{w,wu,l,lu}, as the slow path's argument."""

    def __init__(self, e: Emitter, reg: int) -> None:
        self.e, self.reg = e, reg

    def push_i64(self) -> None:
        self.e.x(self.reg)


def set_float(e: Emitter, fmt: Fmt, rd: int) -> None:
    """Pop the result's bits as i64 (zero-extended for singles and halves) into rd,
    NaN-boxing singles and halves."""
    if fmt is SINGLE:
        e.code.i64_const(NAN_BOX).op(w.I64_OR)
    elif fmt is HALF:
        e.code.i64_const(HALF_BOX).op(w.I64_OR)
    e.set_f(rd)


def push_result_bits(code: w.Code, fmt: Fmt) -> None:
    """A float result on the stack -> the i64 that `set_float` and the frame carry."""
    code.op(fmt.f["to_bits"])
    if fmt is SINGLE:
        code.op(w.I64_EXTEND_I32_U)


# -- flags and rounding modes ------------------------------------------------------------


def raise_flags(e: Emitter) -> None:
    """Pop i32 flag bits and accrue them into fflags. The store happens only when a flag is
    new, so a loop that raises NX on every operation reads fcsr but does not keep storing it
    (a chain of store-load forwarding through every FP operation); hinted unlikely."""
    c, new = e.code, e.temp(w.I32)
    e.vm_load(layout.VM_FCSR, w.I32_LOAD)
    c.i32_const(-1).op(w.I32_XOR, w.I32_AND).tee(new).hint(False).block(w.IF)
    c.i32_const(0)
    e.vm_load(layout.VM_FCSR, w.I32_LOAD)
    c.get(new).op(w.I32_OR).mem(w.I32_STORE, 1, layout.VM_FCSR)
    e.refresh_fp_steady()           # NX may be new
    c.op(w.END)
    e.release((w.I32, new))


def accrue_inexact(e: Emitter, push_inexact: Callable[[], None]) -> None:
    """Set NX if push_inexact's i32 says the result is inexact, evaluating it only while NX
    is clear. NX is sticky and nearly every program has an inexact result at once, so the
    usual cost is one load and a branch (hinted unlikely), not the exact error terms
    behind the test."""
    c = e.code
    push_nx_clear(e)
    c.hint(False).block(w.IF)
    push_inexact()
    c.block(w.IF).i32_const(0)
    e.vm_load(layout.VM_FCSR, w.I32_LOAD)
    c.i32_const(NX).op(w.I32_OR).mem(w.I32_STORE, 1, layout.VM_FCSR)
    e.refresh_fp_steady()
    c.op(w.END, w.END)


class Rounding:
    """An instruction's rounding mode: static, or frm read at run time (7, "dyn").

    The dynamic mode while frm holds 5, 6 or 7 is an illegal instruction, checked where the
    instruction starts, as qemu does. It traps (`unreachable`, which the VM reports as
    SIGILL at this pc) rather than exiting the region: an exit writes back the dirty
    registers, about 150 bytes at every dynamically rounded instruction, a third of all FP
    code, for a fault no real program takes. The price: at that SIGILL, as at any trap,
    only the pc is exact. (Reserved static modes never get here: the decoder makes them
    illegal.)

    With `in_slow_path`, for an instruction whose fast path runs only in RNE (frm 0), the
    check is left to its slow path, which every other frm value takes: the common case
    pays one test of frm, not two.
    """

    def __init__(self, e: Emitter, i: Instr, *, in_slow_path: bool = False) -> None:
        self.e = e
        dynamic = isinstance(i.rm, Field) or (i.rm == DYNAMIC and not e.assume_steady)
        self.static: int | None = None if dynamic else RNE if i.rm == DYNAMIC else i.rm
        self.local: int | None = None
        self.in_slow_path = in_slow_path
        if self.static is None:
            c, self.local = e.code, e.temp(w.I32)
            if isinstance(i.rm, Field):         # tier 0: the field, or frm if it says dyn
                e.imm32(i.rm)
                c.tee(self.local).i32_const(DYNAMIC).op(w.I32_EQ).block(w.IF)
            e.vm_load(layout.VM_FCSR, w.I32_LOAD)
            c.i32_const(5).op(w.I32_SHR_U).set(self.local)
            if isinstance(i.rm, Field):
                c.op(w.END)
            if not in_slow_path:
                self.check()

    def check(self) -> None:
        """Trap (SIGILL) if the dynamic mode is a reserved one."""
        if self.local is not None:
            self.e.code.get(self.local).i32_const(4).op(w.I32_GT_U)
            self.e.code.block(w.IF).op(w.UNREACHABLE, w.END)

    @property
    def may_be_rne(self) -> bool:
        return self.static in (None, RNE)

    def push(self) -> None:
        if self.local is None:
            self.e.code.i32_const(self.static or 0)
        else:
            self.e.code.get(self.local)

    def release(self) -> None:
        if self.local is not None:
            self.e.release((w.I32, self.local))


class SlowPath:
    """The frame of one instruction with a fast path and the host slow path behind it:

        block $done (result i64)
          block $slow
            block $special
              fast path: may branch to $slow or $special; ends with `done` and its result
            end
            `flags_set_already` for the special result (`special_if`), else on to $slow
          end
          host call (op * 8 + rm, a, b, c)
        end

    `depth` counts the blocks the fast path has opened inside $special, for its branches.
    The result is the i64 `set_float` takes, or with `double` an f64 for a double's
    register (`set_result`): then a fast path's double goes to its register as it is.
    """

    def __init__(self, e: Emitter, name: str,
                 operands: list[Operand | BitsOperand | IntOperand],
                 rounding: Rounding | None = None, *, double: bool = False,
                 rd: int | None = None) -> None:
        self.e, self.c = e, e.code
        self.rd = rd                    # the result's register, for set_result and special_if
        self.index = SLOW_INDEX[name]
        self.operands = operands
        self.rounding = rounding
        self.double = double
        self.depth = 0
        self.tested = False             # the fast path goes slow behind a test
        self.special: tuple[Fmt, int, int] | None = None     # see special_if
        self.c.block(w.BLOCK, w.F64 if double else w.I64).block(w.BLOCK).block(w.BLOCK)
        e.depth += 3

    def to_slow_if(self) -> None:
        """Pop an i32: non-zero takes the slow path. This test and special_if's are hinted
        unlikely, so that Cranelift lays out the code they lead to past the function's hot
        code: otherwise it follows the test, and the fast path jumps over it to go on
        (spectralnorm ran 9% faster, over four code layouts; the other FP programs the
        same)."""
        self.tested = True
        self.c.hint(False).br(w.BR_IF, self.depth + 1)

    def to_slow(self) -> None:
        self.c.br(w.BR, self.depth + 1)

    def special_if(self, fmt: Fmt, r: int, infinite: int = OF | NX) -> None:
        """Pop an i32: non-zero means r, the RNE result the engine computed, is special (an
        infinity, a NaN or a tiny value), whose flags only the slow path tells: take it,
        unless `flags_set_already` (after the fast path, out of its way). infinite: the
        flags an infinite result may raise. One per frame; r keeps its value."""
        assert self.special is None
        self.tested = True
        self.special = (fmt, r, infinite)
        self.c.hint(False).br(w.BR_IF, self.depth)

    def flags_set_already(self, fmt: Fmt, r: int, infinite: int = OF | NX) -> None:
        """For a special RNE result r: done with r itself (a NaN made canonical) if every
        flag such a result can raise is set already (NV for a NaN; `infinite` for an
        infinity; UF and NX for a tiny or zero value): flags are sticky, so the slow path
        would change nothing else. A loop whose sums overflow at every pass went through
        the host at each one, 400 times qemu's time. Where the slow path leaves the
        region (`leaves`: this is behind a test), r goes to the register and the region
        exits for the next instruction rather than join the fast path's result: the join
        gave the steady loop's result two definitions, which cost mandelbrot's loop 13%
        (25-40% with the test on products too)."""
        c = self.c
        self.tested = True
        c.i32_const(NV).i32_const(infinite).i32_const(UF | NX)
        c.get(r).op(fmt.f["abs"])
        fmt.fconst(c, float("inf"))
        c.op(fmt.f["eq"], w.SELECT).get(r).get(r).op(fmt.f["ne"], w.SELECT)
        self.e.vm_load(layout.VM_FCSR, w.I32_LOAD)
        c.i32_const(-1).op(w.I32_XOR, w.I32_AND, w.I32_EQZ)
        self.open(w.IF)
        fmt.iconst(c, CANONICAL_NAN[fmt.p])
        c.op(fmt.f["from_bits"]).get(r).get(r).get(r).op(fmt.f["ne"], w.SELECT).set(r)
        if self.leaves():
            self._leave_with(fmt, r)
        else:
            self.done_float(fmt, r)
        self.close()

    def _leave_with(self, fmt: Fmt, r: int) -> None:
        """rd = r, then leave for the next instruction (FP arithmetic is never compressed),
        which tier 0 runs in wasm until a region's entry: no host, no Python."""
        e, dirty = self.e, self.e.dirty
        self.c.get(r)
        if not self.double:
            push_result_bits(self.c, fmt)
        self.set_result(fmt)
        e.side_exit(e.pcs[-1][1] + 4)
        e.dirty = dirty

    def done(self) -> None:
        """Leave with the result's i64 bits on the stack."""
        if self.double:
            self.c.op(w.F64_REINTERPRET_I64)
        self.c.br(w.BR, self.depth + 2)

    def done_float(self, fmt: Fmt, value: int) -> None:
        self.c.get(value)
        if self.double and fmt is DOUBLE:
            self.c.br(w.BR, self.depth + 2)
            return
        push_result_bits(self.c, fmt)
        self.done()

    def set_result(self, fmt: Fmt) -> None:
        """After `finish`: the result into FP register rd (see set_float)."""
        assert self.rd is not None
        if self.double:
            self.e.set_f_value(self.rd)
        else:
            set_float(self.e, fmt, self.rd)

    def require_rne(self) -> None:
        """What follows computes in round-to-nearest-even only: other modes go slow."""
        if self.rounding is None or self.rounding.static == RNE:
            return
        if self.rounding.static is None:
            self.rounding.push()
            self.to_slow_if()
        else:
            self.to_slow()

    def inexact_if(self) -> None:
        """Pop an i32: non-zero means the result was rounded, which only round-to-nearest
        keeps on the fast path, and which accrues NX. In the steady FP state (RNE, NX set:
        Emitter.assume_steady) that changes nothing: the test is dropped, and with it
        (Cranelift's dead code) its computation; spectralnorm's fcvt.d.l paid a dozen
        instructions per pass for it."""
        if self.e.assume_steady and (self.rounding is None or self.rounding.static == RNE):
            self.c.op(w.DROP)
            return
        self.open(w.IF)
        self.require_rne()
        self.c.i32_const(NX)
        raise_flags(self.e)
        self.close()

    def open(self, opcode: int, result: int = w.VOID) -> None:
        self.c.block(opcode, result)
        self.depth += 1
        self.e.depth += 1

    def close(self) -> None:
        self.c.op(w.END)
        self.depth -= 1
        self.e.depth -= 1

    def finish(self) -> None:
        """Close $special and $slow, emit the host call (or the region's exit), close
        $done: the result is on the stack."""
        assert self.depth == 0
        c = self.c
        c.op(w.END)
        self.e.depth -= 1
        if self.special is not None:
            self.depth = -1                 # $special is closed
            self.flags_set_already(*self.special)
            self.depth = 0
        c.op(w.END)
        self.e.depth -= 1
        if self.leaves():
            self.e.side_exit(self.e.pcs[-1][1], layout.REASON_SLOW)
        else:
            self._host_call()
        if self.double:
            c.op(w.F64_REINTERPRET_I64)
        c.op(w.END)
        self.e.depth -= 1

    def left_to_tier0(self) -> bool:
        """Whether, past the fast path, what is left is rare enough for tier 0: in the
        steady FP state's copy of a loop (RNE, NX set), where the slow path leaves the
        region, an emulation would only serve results that are not normal and whose flags
        are not all set. Its code cost more than its rare use saves, though it never runs:
        Cranelift hoists its loop-invariant parts out of the loop, and their values and its
        own temporaries crowd the registers, so the loop's own values go to the stack
        (linsolve's inner loop: its induction variable through memory at every pass, 25%
        of its time)."""
        return self.e.assume_steady and self.leaves()

    def leaves(self) -> bool:
        """Whether the slow path leaves the region for tier 0 to run the instruction
        (REASON_SLOW), rather than call the host from the region's code. A call anywhere
        in a region makes Cranelift keep the values live across it in memory, and
        regalloc2 spills them on the fast path too, in the steady copy of a loop as well
        (the caller-saved registers are all of the XMM ones and most of the others):
        mandelbrot ran 20% faster without calls in its steady loop, nbody 15%; without
        them in the loop's other copy too, mandelbrot 16% more, linsolve 12% (the mean
        over four code layouts). Only where the translator lets it
        (Emitter.slow_paths_leave), and only behind a test. A dynamic rounding mode other
        than RNE takes the slow path at every inexact result; it calls the host from tier
        0 as it would from here, after a trip through the dispatcher."""
        return self.e.slow_paths_leave and self.tested

    def _host_call(self) -> None:
        c = self.c
        if self.rounding is not None and self.rounding.in_slow_path:
            self.rounding.check()
        c.i32_const(self.index << 3)
        if self.rounding is not None:
            self.rounding.push()
            c.op(w.I32_OR)
        for operand in self.operands:
            operand.push_i64()
        for _ in range(3 - len(self.operands)):
            c.i64_const(0)
        c.call(HOST_FP)


# -- checks and error-free transformations ------------------------------------------------


def push_fused(e: Emitter, fmt: Fmt, a: int, b: int, c: int, negate_product: bool,
               negate_addend: bool) -> None:
    """Push RN(+-a * b +- c), rounded once: relaxed_madd on splats, which the engine's
    deterministic relaxed SIMD makes a true fused multiply-add (the host's FMA instruction,
    else a libcall to an exact fma), so the sign flips before it are exact."""
    code = e.code
    for value, negate in ((a, negate_product), (b, False), (c, negate_addend)):
        code.get(value)
        if negate:
            code.op(fmt.f["neg"])
        code.simd(fmt.f["splat"])
    code.simd(fmt.f["madd"]).simd(fmt.f["extract_lane"], 0)


def push_nx_clear(e: Emitter) -> None:
    """i32: NX is not yet set in fflags (known to be set when e.assume_steady)."""
    if e.assume_steady:
        e.code.i32_const(0)
        return
    e.vm_load(layout.VM_FCSR, w.I32_LOAD)
    e.code.i32_const(NX).op(w.I32_AND, w.I32_EQZ)


def normal_range(fmt: Fmt) -> tuple[int, int]:
    """(least, span): a result is normal, and not +-min normal either, when its bits
    shifted left by one (no sign) minus least are below span as unsigned numbers. A rounded
    result of +-min normal may come from a tiny value (underflow, with tininess detected
    after rounding), so it does not count: least is the bits above min normal's."""
    least = (1 << fmt.frac) + 1
    return least << 1, (fmt.exp_mask - least) << 1


def push_is_normal(code: w.Code, fmt: Fmt, value: int) -> None:
    """i32: value is a normal number other than +-min normal (`normal_range`): one
    unsigned compare after a subtraction, where two float compares cost several
    instructions each."""
    least, span = normal_range(fmt)
    code.get(value).op(fmt.f["to_bits"])
    fmt.iconst(code, 1)
    code.op(fmt.i["shl"])
    fmt.iconst(code, least)
    code.op(fmt.i["sub"])
    fmt.iconst(code, span)
    code.op(fmt.i["lt_u"])


def push_is_finite(code: w.Code, fmt: Fmt, value: int) -> None:
    """i32: |value| < inf, on the bits without the sign (as `push_is_normal`)."""
    code.get(value).op(fmt.f["to_bits"])
    fmt.iconst(code, 1)
    code.op(fmt.i["shl"])
    fmt.iconst(code, fmt.exp_mask << 1)
    code.op(fmt.i["lt_u"])


def push_is_zero(code: w.Code, fmt: Fmt, value: int) -> None:
    code.get(value)
    fmt.fconst(code, 0.0)
    code.op(fmt.f["eq"])


def push_two_sum_error(e: Emitter, fmt: Fmt, a: int, b: int, s: int,
                       subtract: bool = False) -> None:
    """Knuth's TwoSum: the exact error (a + b) - s of s = RN(a + b) (or of a - b), valid in
    any binary format without overflow, subnormals included."""
    c, f, t = e.code, fmt.f, e.temp(fmt.ftype)
    c.get(s).get(a).op(f["sub"]).set(t)
    c.get(a).get(s).get(t).op(f["sub"], f["sub"])
    c.get(b).get(t).op(f["add"] if subtract else f["sub"])
    c.op(f["sub"] if subtract else f["add"])
    e.release((fmt.ftype, t))


def push_product_error(e: Emitter, push_a: Callable[[], None], push_b: Callable[[], None],
                       exponents: tuple[int, int], p: int) -> None:
    """The exact error a*b - p of p = RN(+-a*b), for normal doubles a, b (bits pushed by
    push_a/push_b, biased exponents in the i64 locals `exponents`) whose product is not
    tiny: the exponent sum must be at least 1128, so that the error's scale is a normal
    power of two. The error is below 2**54 units of the significands' product, so the low 64
    bits of that product minus p's significand at the same scale give it exactly."""
    c, (ea, eb) = e.code, exponents
    bits = e.temp()
    for push in (push_a, push_b):
        push()
        c.i64_const(DOUBLE.frac_mask).op(w.I64_AND).i64_const(1 << 52).op(w.I64_OR)
    c.op(w.I64_MUL)
    c.get(p).op(w.I64_REINTERPRET_F64).tee(bits)
    c.i64_const(DOUBLE.frac_mask).op(w.I64_AND).i64_const(1 << 52).op(w.I64_OR)
    c.get(bits).i64_const(52).op(w.I64_SHR_U).i64_const(0x7FF).op(w.I64_AND)
    c.get(ea).op(w.I64_SUB).get(eb).op(w.I64_SUB).i64_const(1075).op(w.I64_ADD)
    c.op(w.I64_SHL, w.I64_SUB, w.F64_CONVERT_I64_S)
    c.get(ea).get(eb).op(w.I64_ADD).i64_const(1127).op(w.I64_SUB).i64_const(52).op(w.I64_SHL)
    c.get(bits).i64_const(DOUBLE.sign).op(w.I64_AND, w.I64_OR, w.F64_REINTERPRET_I64)
    c.op(w.F64_MUL)
    e.release((w.I64, bits))


def push_tie_fixed(e: Emitter, fmt: Fmt, z: int, err: int, sticky: int) -> None:
    """Push z corrected for double rounding. z = RN(y) with y = z + err exactly (err, a
    double), and the exact value is y + sticky, sticky being below y's last bit. RN of the
    exact value differs from z only when y is the midpoint between z and its neighbour on
    err's side and sticky points past it: then it is that neighbour. (An infinite z
    overflowed: no midpoint.) The test is branch-free and the fix a select, so neither
    lengthens z's dependency chain much."""
    c, f = e.code, fmt.f
    neighbour, negative = e.temp(fmt.ftype), e.temp(w.I32)
    c.get(z).op(f["to_bits"])
    fmt.iconst(c, 1)
    fmt.iconst(c, -1)
    c.get(err)
    DOUBLE.fconst(c, 0.0)
    c.op(w.F64_LT).tee(negative).get(z)
    fmt.fconst(c, 0.0)
    c.op(f["lt"], w.I32_EQ, w.SELECT, fmt.i["add"], f["from_bits"]).tee(neighbour)
    c.get(z)
    c.get(neighbour)
    _promote(c, fmt)
    c.get(z)
    _promote(c, fmt)
    c.op(w.F64_SUB).get(err)
    DOUBLE.fconst(c, 2.0)
    c.op(w.F64_MUL, w.F64_EQ).get(sticky)
    DOUBLE.fconst(c, 0.0)
    c.op(w.F64_NE, w.I32_AND).get(sticky)
    DOUBLE.fconst(c, 0.0)
    c.op(w.F64_LT).get(negative).op(w.I32_EQ, w.I32_AND)
    push_is_finite(c, DOUBLE, err)              # z infinite: no midpoint, err is not one
    c.op(w.I32_AND, w.SELECT)
    e.release((fmt.ftype, neighbour), (w.I32, negative))


def _promote(code: w.Code, fmt: Fmt) -> None:
    if fmt is SINGLE:
        code.op(w.F64_PROMOTE_F32)


def push_odd_significand(e: Emitter, push_bits: Callable[[], None]) -> None:
    """i64: a double's significand (implicit bit included) without its trailing zeros."""
    c, sig = e.code, e.temp()
    push_bits()
    c.i64_const(DOUBLE.frac_mask).op(w.I64_AND)
    push_bits()
    c.i64_const(DOUBLE.exp_mask).op(w.I64_AND).i64_const(0).op(w.I64_NE, w.I64_EXTEND_I32_U)
    c.i64_const(52).op(w.I64_SHL, w.I64_OR).tee(sig).get(sig).op(w.I64_CTZ, w.I64_SHR_U)
    e.release((w.I64, sig))


def push_product_inexact(e: Emitter, push_x: Callable[[], None],
                         push_y: Callable[[], None]) -> None:
    """i32: the exact product of two doubles needs more than 53 significant bits, i.e. is
    not a double (for products in the normal range): the product of the significands' odd
    parts, as 128 bits, is at least 2**53."""
    c, high = e.code, e.temp()
    push_odd_significand(e, push_x)
    push_odd_significand(e, push_y)
    c.fc(w.I64_MUL_WIDE_U).set(high).i64_const(53).op(w.I64_SHR_U).get(high).op(w.I64_OR)
    c.i64_const(0).op(w.I64_NE)
    e.release((w.I64, high))
