"""The translator's emitter, rebound for tier 0: operands are run-time fields.

The translator keeps guest registers in wasm locals and knows every field of an
instruction while it emits. The interpreter knows neither: it decodes the
fields into locals at run time (mvvm.isa.Instr then holds `Field`s instead of
ints) and reads and writes the register file in the VM memory at those
indices. The semantics in mvvm.translator.semantics run unchanged against this
emitter, so an instruction's meaning is written once for both tiers.
"""

from __future__ import annotations

from mvvm.runtime import layout
from mvvm.translator.emitter import Emitter, Field, FieldValue
from mvvm.translator.modules import VM_MEMORY
from mvvm.wasm import encoder as w

PC_PARAM = 0            # the interpreter's parameter, the guest pc, is also its pc local


class InterpreterEmitter(Emitter):
    """Registers live in the VM memory; every exit returns from the interpreter."""

    def __init__(self, memory64: bool = True) -> None:
        super().__init__(memory64)
        self.pc = Field(PC_PARAM)
        self.length = Field(self.local(w.I64))          # 2 or 4
        self.executed = Field(self.local(w.I64))        # instructions, not yet counted
        self.imm_field = Field(self.local(w.I64))
        self.rm_field = Field(self.local(w.I64))
        # Register fields hold the byte offset of the register (number * 8) as an i32.
        self.registers = {name: Field(self.local(w.I32)) for name in ("rd", "rs1", "rs2", "rs3")}

    # -- guest registers ---------------------------------------------------------------

    def x(self, reg: FieldValue) -> None:
        if isinstance(reg, Field):
            self.code.get(reg.local).mem(w.I64_LOAD, VM_MEMORY, layout.VM_X)
        elif reg == 0:
            self.code.i64_const(0)
        else:
            self.code.i32_const(0).mem(w.I64_LOAD, VM_MEMORY, layout.VM_X + 8 * reg)

    def set_x(self, reg: FieldValue) -> None:
        """A write to x0 goes to a sink word, so that x0's slot keeps reading zero."""
        if isinstance(reg, Field):
            self.code.get(reg.local).i32_const(layout.VM_X0_SINK - layout.VM_X)
            self.code.get(reg.local).op(w.SELECT)
            self._store(layout.VM_X)
        elif reg == 0:
            self.code.op(w.DROP)
        else:
            self.code.i32_const(8 * reg)
            self._store(layout.VM_X)

    def f(self, reg: FieldValue) -> None:
        if isinstance(reg, Field):
            self.code.get(reg.local).mem(w.I64_LOAD, VM_MEMORY, layout.VM_F)
        else:
            self.code.i32_const(0).mem(w.I64_LOAD, VM_MEMORY, layout.VM_F + 8 * reg)

    def set_f(self, reg: FieldValue) -> None:
        if isinstance(reg, Field):
            self.code.get(reg.local)
        else:
            self.code.i32_const(8 * reg)
        self._store(layout.VM_F)

    def f_value(self, reg: FieldValue) -> None:
        self.f(reg)
        self.code.op(w.F64_REINTERPRET_I64)

    def set_f_value(self, reg: FieldValue) -> None:
        self.code.op(w.I64_REINTERPRET_F64)
        self.set_f(reg)

    def _store(self, base: int) -> None:
        """(value, address) on the stack -> store the value at base + address."""
        value, address = self.temp(), self.temp(w.I32)
        self.code.set(address).set(value).get(address).get(value)
        self.code.mem(w.I64_STORE, VM_MEMORY, base)
        self.release((w.I64, value), (w.I32, address))

    # -- state and exits: the register file is the state, so nothing to write back ----

    def write_back(self) -> None:
        pass

    def reload(self, mask: int) -> None:
        pass

    def mark(self, pc: int) -> None:
        pass                    # a trap's pc is VM_PC, which the interpreter keeps exact

    def exit_dynamic(self) -> None:
        self.count_executed()
        self.code.op(w.RETURN)

    def host_call(self, func: int) -> None:
        self.count_executed()
        super().host_call(func)

    def count_executed(self) -> None:
        """Add the instructions run since the last count to VM_TIER0_INSTRUCTIONS and take
        them from VM_BUDGET (at each return and host call: a trap loses the few since,
        which only --stats shows, and which a budget has no use for: the guest stops)."""
        c = self.code
        for word, op in ((layout.VM_TIER0_INSTRUCTIONS, w.I64_ADD),
                         (layout.VM_BUDGET, w.I64_SUB)):
            c.i32_const(0).i32_const(0).mem(w.I64_LOAD, VM_MEMORY, word)
            c.get(self.executed.local).op(op).mem(w.I64_STORE, VM_MEMORY, word)
        c.i64_const(0).set(self.executed.local)
