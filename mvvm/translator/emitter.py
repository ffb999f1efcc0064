"""The per-region code emitter: guest registers as wasm locals, and the region's exits.

It is also the operand interface the semantics write to (registers, immediates, the pc,
exits): tier 0 binds the same interface to the register file and to instruction fields
decoded at run time (mvvm.interpreter.emitter).

A region is one wasm function `(call depth) -> i64`. On entry it loads the guest
registers that are live there from the VM memory into locals; each exit
stores back the registers that are dirty at that exit and either returns the
next guest pc to its caller (with bit 0 set when Python must look at the VM's
exit reason), or, for a jump to another region, chains: it finds the region
compiled there and tail-calls it, so that control goes from region to region
without coming back through the dispatcher loop.
Which registers those are comes from mvvm.translator.dataflow; the emitter
tracks the dirty set as it emits, starting each block from the analysis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mvvm.isa.effects import FP
from mvvm.runtime import layout
from mvvm.translator.modules import (
    CALL_DEPTH_LOCAL,
    REGION_TYPE,
    SLOT_LOOKUP,
    VM_MEMORY,
    push_slot,
)
from mvvm.wasm import encoder as w

FCSR_STEADY_MASK = 0xE1     # fcsr's frm field and NX flag ...
FCSR_STEADY = 0x01          # ... when frm is RNE (0) and NX is set


@dataclass(frozen=True, eq=False)
class Field:
    """An instruction field known only at run time: the interpreter decodes it into a local.

    Semantics see it where the translator gives them an int (a register number, an
    immediate, the pc). Comparing one with a constant is false, which takes the general
    path of a special case; asking for its truth is a bug, so it raises.
    """

    local: int

    def __bool__(self) -> bool:
        raise TypeError("an instruction field decoded at run time has no value yet")


FieldValue = int | Field    # what an Instr field holds: an int, or in tier 0 a Field


class Emitter:
    """Emits one region's body; semantics functions call the helpers below."""

    def __init__(self, memory64: bool = True) -> None:
        """memory64: the guest memory has a 64-bit index (`mvvm run`); else 32 (mvvm.wasi)."""
        self.memory64 = memory64
        self.address_type = w.I64 if memory64 else w.I32
        self.code = w.Code()
        self.locals: list[int] = []
        self.next_pc = self.local(w.I64)          # where the region goes at its exit
        self.x_locals: dict[int, int] = {}
        self.f_locals: dict[int, int] = {}
        self.dirty = 0                          # register mask (mvvm.isa.effects bits)
        self.entry_live = 0                     # registers the prologue loads
        self.depth = 0                          # structured nesting inside the exit blocks
        self.chains = False                     # some exit chains (the tail needs its code)
        self.pcs: list[tuple[int, int]] = []    # (body offset, guest pc) for trap mapping
        # (body offset, callee): a region's guest pc (call_region) or SLOT_LOOKUP (slot_of)
        self.calls: list[tuple[int, int]] = []
        self.steady: int | None = None          # see keep_fp_steady
        self.assume_steady = False              # emitting the FP code for steady == 1
        self.slow_paths_leave = False           # see fp_emit.SlowPath.leaves
        self.direct_calls = False               # see call_region
        self._temps: dict[int, list[int]] = {w.I32: [], w.I64: [], w.F32: [], w.F64: [],
                                             w.V128: []}
        self._register_moves: dict[int, tuple[bytes, bytes]] = {}    # see _moves

    # -- locals --------------------------------------------------------------------------

    def local(self, valtype: int) -> int:
        """A new local; its index counts the region's one parameter first."""
        self.locals.append(valtype)
        return len(self.locals)

    def temp(self, valtype: int = w.I64) -> int:
        """A scratch local; give it back with `release` so regions stay small."""
        pool = self._temps[valtype]
        return pool.pop() if pool else self.local(valtype)

    def release(self, *temps: tuple[int, int]) -> None:
        for valtype, index in temps:
            self._temps[valtype].append(index)

    def _reg_local(self, kind: str, reg: int) -> int:
        """The local of a guest register. An FP register's is an f64 local holding its 64
        bits (wasm moves them unchanged): Cranelift keeps it in an XMM register, where an
        i64 local would take one of the integer registers, which x86 has too few of."""
        table = self.x_locals if kind == "x" else self.f_locals
        if reg not in table:
            table[reg] = self.local(w.I64 if kind == "x" else w.F64)
        return table[reg]

    def register_local(self, bit: int) -> tuple[int, int]:
        """The local of the register whose mask bit (mvvm.isa.effects) is bit, and its
        type: for code that saves and restores it without making it dirty."""
        kind, number, _ = _home(bit)
        return self._reg_local(kind, number), w.F64 if kind == "f" else w.I64

    # -- guest registers ---------------------------------------------------------------

    def x(self, reg: int) -> None:
        """Push integer register `reg` (x0 reads as zero)."""
        if reg == 0:
            self.code.i64_const(0)
        else:
            self.code.get(self._reg_local("x", reg))

    def set_x(self, reg: int) -> None:
        """Pop into integer register `reg`; writes to x0 are discarded."""
        if reg == 0:
            self.code.op(w.DROP)
        else:
            self.code.set(self._reg_local("x", reg))
            self.dirty |= 1 << reg

    def f(self, reg: int) -> None:
        """Push the raw 64 bits of FP register `reg` (an i64)."""
        self.f_value(reg)
        self.code.op(w.I64_REINTERPRET_F64)

    def set_f(self, reg: int) -> None:
        """Pop the raw 64 bits (an i64) into FP register `reg`."""
        self.code.op(w.F64_REINTERPRET_I64)
        self.set_f_value(reg)

    def f_value(self, reg: int) -> None:
        """Push FP register `reg` as an f64 (its bits unchanged): a double's value without
        the moves between register files that a round trip through i64 costs."""
        self.code.get(self._reg_local("f", reg))

    def set_f_value(self, reg: int) -> None:
        """Pop an f64 into FP register `reg`, its bits unchanged."""
        self.code.set(self._reg_local("f", reg))
        self.dirty |= 1 << (FP + reg)

    # -- immediates ----------------------------------------------------------------------

    def imm(self, value: FieldValue) -> None:
        """Push an i64 immediate (or the pc): a constant here, a decoded field in tier 0."""
        if isinstance(value, Field):
            self.code.get(value.local)
        else:
            self.code.i64_const(value)

    def imm32(self, value: FieldValue) -> None:
        """Push an immediate as i32."""
        if isinstance(value, Field):
            self.code.get(value.local).op(w.I32_WRAP_I64)
        else:
            self.code.i32_const(value)

    def pc_relative(self, pc: FieldValue, offset: FieldValue) -> None:
        """Push pc + offset (auipc, a link address, the next instruction's pc)."""
        if isinstance(pc, Field) or isinstance(offset, Field):
            self.imm(pc)
            self.imm(offset)
            self.code.op(w.I64_ADD)
        else:
            self.code.i64_const(pc + offset)

    # -- memory ------------------------------------------------------------------------

    def address(self, base: FieldValue, offset: FieldValue) -> int:
        """Push the wasm index of guest address x[base] + offset, and return the constant
        offset the access adds to it (its memarg offset). With memory64 that is the
        immediate itself when it is not negative (wasm adds it without wrapping, so an
        address that would wrap past 2**64 is out of bounds, and so unmapped, either way)."""
        self.x(base)
        if isinstance(offset, Field):
            self.imm(offset)
            self.code.op(w.I64_ADD)
            offset = 0
        if self.memory64 and offset >= 0:
            return offset
        self.guest_index(offset)
        return 0

    def guest_index(self, offset: int = 0) -> None:
        """Turn the guest address on the stack, plus offset, into its wasm index (of
        address_type): with memory64 the address itself, else the bias taken off and the
        wrap to 32 bits (mvvm.runtime.layout)."""
        delta = offset if self.memory64 else offset - layout.BIAS
        if delta:
            self.code.i64_const(delta).op(w.I64_ADD)
        if not self.memory64:
            self.code.op(w.I32_WRAP_I64)

    def vm_load(self, offset: int, opcode: int = w.I64_LOAD) -> None:
        self.code.i32_const(0).mem(opcode, VM_MEMORY, offset)

    def vm_store_local(self, offset: int, local: int, opcode: int = w.I64_STORE) -> None:
        self.code.i32_const(0).get(local).mem(opcode, VM_MEMORY, offset)

    # -- exits -----------------------------------------------------------------------------

    def mark(self, pc: int) -> None:
        """Note that the code from here on belongs to the guest instruction at pc."""
        self.pcs.append((len(self.code), pc))

    def exit_to(self, pc: int, chain: bool = False) -> None:
        """Leave the region for guest address pc (a constant)."""
        self.code.i64_const(pc)
        self.exit_dynamic(chain)

    def side_exit(self, pc: int, reason: int | None = None) -> None:
        """Leave for pc (with an exit reason, if given) on a path that branches off: the
        code after it goes on with the registers as dirty as they were."""
        dirty = self.dirty
        if reason is None:
            self.exit_to(pc)
        else:
            self.exit_reason(reason, pc)
        self.dirty = dirty

    def exit_dynamic(self, chain: bool = False) -> None:
        """Leave the region for the guest address on top of the stack: return it to the
        caller, or with chain, go on to the region compiled there (see `_chain`)."""
        self.write_back()
        self.code.set(self.next_pc)
        self.code.br(w.BR, self.depth if chain else self.depth + 1)
        self.chains |= chain

    def exit_reason(self, reason: int, pc: FieldValue, offset: FieldValue = 0) -> None:
        """Leave to Python with an exit reason; pc + offset is where the guest stands."""
        self.code.i32_const(0).i32_const(reason).mem(w.I32_STORE, VM_MEMORY, layout.VM_REASON)
        if isinstance(pc, Field) or isinstance(offset, Field):
            self.pc_relative(pc, offset)
            self.code.i64_const(1).op(w.I64_OR)
            self.exit_dynamic()
        else:
            self.exit_to(pc + offset | 1)

    def store_pc(self, pc: FieldValue) -> None:
        """Make VM_PC exact before a host call that reads it."""
        self.code.i32_const(0)
        self.imm(pc)
        self.code.mem(w.I64_STORE, VM_MEMORY, layout.VM_PC)

    def write_back(self) -> None:
        """Store the dirty registers: from here on the VM state is exact."""
        self.store(self.dirty)
        self.dirty = 0

    def store(self, mask: int) -> None:
        """Store the registers in mask to the VM state."""
        for reg in _bits(mask):
            self.code.extend(self._moves(reg)[1])

    def reload(self, mask: int) -> None:
        """Load the registers in mask from the VM state (after a call changed it)."""
        self.code.extend(self._loads(mask))

    def _loads(self, mask: int) -> w.Code:
        code = w.Code()
        for reg in _bits(mask):
            code.extend(self._moves(reg)[0])
        return code

    def _moves(self, reg: int) -> tuple[bytes, bytes]:
        """The code that loads a register's local from the VM state, and the code that
        stores it there: made once, for a region moves each register many times (a seventh
        of the translator's time went to making them)."""
        moves = self._register_moves.get(reg)
        if moves is None:
            kind, number, base = _home(reg)
            local, offset = self._reg_local(kind, number), base + 8 * number
            load = w.Code().i32_const(0).mem(_LOAD[kind], VM_MEMORY, offset).set(local)
            store = w.Code().i32_const(0).get(local).mem(_STORE[kind], VM_MEMORY, offset)
            moves = self._register_moves[reg] = (bytes(load), bytes(store))
        return moves

    def call_region(self, pc: int) -> None:
        """Call the region at the guest pc (the call depth on the stack): a direct call,
        whose function the module chooses (mvvm.translator.translate.pack). Only where
        direct_calls is set: a module that holds the whole program."""
        self.calls.append((self.code.call_later(), pc))

    def slot_of(self, pc: int) -> None:
        """Push the table slot of the region at the guest pc in the i64 local pc (0: none),
        by a call of the module's SLOT_LOOKUP."""
        self.code.get(pc)
        self.calls.append((self.code.call_later(), SLOT_LOOKUP))

    def host_call(self, func: int) -> None:
        """Call a host import returning i32 after a write-back: zero goes on; non-zero
        leaves for Python at the pc the host put in the VM state, with no further
        write-back, since the host may have changed registers there."""
        self.code.call(func).block(w.IF)
        self.vm_load(layout.VM_PC)
        self.code.i64_const(1).op(w.I64_OR, w.RETURN, w.END)

    # -- the FP state most code runs in -----------------------------------------------

    def keep_fp_steady(self) -> None:
        """Keep an i32 local that is 1 while fcsr's rounding mode is RNE and its NX flag is
        set: the state nearly every FP loop runs in, where an instruction needs neither
        frm nor the test of its result for inexactness (assume_steady). It is computed at
        entry and again wherever fcsr may have changed other than by raising flags, which
        cannot end the state (`refresh_fp_steady`)."""
        self.steady = self.local(w.I32)

    def refresh_fp_steady(self) -> None:
        if self.steady is not None:
            self.code.extend(self._fp_steady())

    def _fp_steady(self) -> w.Code:
        code = w.Code().i32_const(0).mem(w.I32_LOAD, VM_MEMORY, layout.VM_FCSR)
        return code.i32_const(FCSR_STEADY_MASK).op(w.I32_AND).i32_const(FCSR_STEADY).op(
            w.I32_EQ).set(self.steady)

    # -- assembling the function -------------------------------------------------------

    def finish(self) -> tuple[w.Code, list[tuple[int, int]], list[tuple[int, int]]]:
        """Prologue (live register loads) + body in the blocks $return and $chain + the
        chain + `return next_pc`. Returns the function code, and the (offset, guest pc)
        marks and region calls, now relative to it."""
        prologue = self._loads(self.entry_live)
        if self.steady is not None:
            prologue.extend(self._fp_steady())
        prologue.block(w.BLOCK).block(w.BLOCK)
        out = w.Code(prologue).then(self.code)
        out.op(w.END)
        if self.chains:
            out.then(self._chain())
        out.op(w.END)
        out.get(self.next_pc).op(w.RETURN)
        moved = len(prologue)
        return (out, [(moved + offset, pc) for offset, pc in self.pcs],
                [(moved + offset, pc) for offset, pc in self.calls])

    def _chain(self) -> w.Code:
        """From next_pc (the registers written back) straight into the region compiled there,
        by a tail call at the same call depth: the region's own exits then answer this
        one's caller. The table slot comes from the direct-mapped pc -> slot cache the call
        sites share (VM_SITES), else from the dispatcher's lookup, which fills it. No region
        there, or an interrupt pending, and it returns next_pc to the dispatcher instead:
        a cycle of chained regions must still stop for a signal or a time limit."""
        c, slot = w.Code(), self.local(w.I32)
        c.i32_const(0).mem(w.I32_LOAD, VM_MEMORY, layout.VM_INTERRUPT).br(w.BR_IF, 0)
        push_slot(c, self.next_pc, self.local(w.I32), slot)
        c.tee(slot).op(w.I32_EQZ).br(w.BR_IF, 0)
        c.get(CALL_DEPTH_LOCAL).get(slot).call_indirect(REGION_TYPE, tail=True)
        return c


def record_jump(e: Emitter, source: int, target: int) -> None:
    """Note in the profile of indirect jumps (layout.VM_JUMP_SOURCES) that the jump at the
    pc in i64 local source went to the pc in i64 local target, so that tier 1 can keep the
    targets inside the jump's region; tier 0 notes every jump, tier 1 the targets its
    region did not hold. A jump whose bucket another one held starts it afresh; targets go
    in by linear probing from a hash of theirs (a jump table's targets collide in any 5
    bits of their addresses), and a full bucket keeps what it has."""
    c = e.code
    bucket, first, index, address = (e.temp(w.I32) for _ in range(4))
    seen = e.temp()
    c.get(source).op(w.I32_WRAP_I64).i32_const(1).op(w.I32_SHR_U)
    c.i32_const(layout.JUMP_SOURCES - 1).op(w.I32_AND).tee(bucket)
    c.i32_const(3).op(w.I32_SHL).mem(w.I64_LOAD, VM_MEMORY, layout.VM_JUMP_SOURCES)
    c.get(source).op(w.I64_NE).block(w.IF)
    c.get(bucket).i32_const(3).op(w.I32_SHL).get(source)
    c.mem(w.I64_STORE, VM_MEMORY, layout.VM_JUMP_SOURCES)
    c.get(bucket).i32_const(8 * layout.JUMP_TARGETS).op(w.I32_MUL)
    c.i32_const(layout.VM_JUMP_TARGETS).op(w.I32_ADD).i32_const(0)
    c.i32_const(8 * layout.JUMP_TARGETS).fc(w.MEMORY_FILL).op(VM_MEMORY)
    c.op(w.END)
    c.get(target).op(w.I32_WRAP_I64).i32_const(1).op(w.I32_SHR_U)
    c.i32_const(layout.JUMP_TARGETS - 1).op(w.I32_AND).tee(first).set(index)
    c.block(w.BLOCK).block(w.LOOP)
    c.get(bucket).i32_const(layout.JUMP_TARGETS).op(w.I32_MUL).get(index).op(w.I32_ADD)
    c.i32_const(3).op(w.I32_SHL).tee(address)
    c.mem(w.I64_LOAD, VM_MEMORY, layout.VM_JUMP_TARGETS).tee(seen).get(target)
    c.op(w.I64_EQ).br(w.BR_IF, 1)
    c.get(seen).op(w.I64_EQZ).block(w.IF)
    c.get(address).get(target).mem(w.I64_STORE, VM_MEMORY, layout.VM_JUMP_TARGETS)
    c.br(w.BR, 2).op(w.END)
    c.get(index).i32_const(1).op(w.I32_ADD).i32_const(layout.JUMP_TARGETS - 1)
    c.op(w.I32_AND).tee(index).get(first).op(w.I32_NE).br(w.BR_IF, 0)
    c.op(w.END, w.END)
    e.release((w.I32, bucket), (w.I32, first), (w.I32, index), (w.I32, address),
              (w.I64, seen))


_LOAD = {"x": w.I64_LOAD, "f": w.F64_LOAD}       # a register's home, by its local's type
_STORE = {"x": w.I64_STORE, "f": w.F64_STORE}


def _bits(mask: int) -> Iterator[int]:
    """The numbers of the bits set in mask, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _home(reg: int) -> tuple[str, int, int]:
    """(kind, number, VM offset of the register file) of a register mask bit."""
    return ("f", reg - FP, layout.VM_F) if reg >= FP else ("x", reg, layout.VM_X)
