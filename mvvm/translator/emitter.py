"""The per-region code emitter: guest registers as wasm locals, and the region's exits.

A region is one wasm function `() -> i64`. On entry it loads the guest
registers it touches from the VM memory into locals; every exit stores back
the registers it writes and returns the next guest pc (with bit 0 set when
Python must look at the VM's exit reason). All exits branch to one shared
epilogue, so the write-back code exists once per region, not once per exit.
"""

from __future__ import annotations

from mvvm.runtime import layout
from mvvm.wasm import encoder as w

GUEST_MEMORY = 0
VM_MEMORY = 1

# Host functions every region module imports, in this order.
HOST_SYSCALL = 0        # () -> i32: run the syscall in the VM state; non-zero = stop
HOST_CLOCK = 1          # () -> i64: the counter CSRs' value


class Emitter:
    """Emits one region's body; semantics functions call the helpers below."""

    def __init__(self) -> None:
        self.code = w.Code()
        self.locals: list[int] = []
        self.next_pc = self.local(w.I64)          # where the region goes at its exit
        self.x_locals: dict[int, int] = {}
        self.f_locals: dict[int, int] = {}
        self.written: set[tuple[str, int]] = set()
        self.depth = 0                          # structured nesting inside the exit block
        self.pcs: list[tuple[int, int]] = []    # (body offset, guest pc) for trap mapping
        self._temps: dict[int, list[int]] = {w.I32: [], w.I64: []}
        self._flushes: list[int] = []           # body offsets where write-back goes

    # -- locals --------------------------------------------------------------------------

    def local(self, valtype: int) -> int:
        self.locals.append(valtype)
        return len(self.locals) - 1

    def temp(self, valtype: int = w.I64) -> int:
        """A scratch local; give it back with `release` so regions stay small."""
        pool = self._temps[valtype]
        return pool.pop() if pool else self.local(valtype)

    def release(self, *temps: tuple[int, int]) -> None:
        for valtype, index in temps:
            self._temps[valtype].append(index)

    def _reg_local(self, kind: str, reg: int) -> int:
        table = self.x_locals if kind == "x" else self.f_locals
        if reg not in table:
            table[reg] = self.local(w.I64)
        return table[reg]

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
            self.written.add(("x", reg))

    def f(self, reg: int) -> None:
        """Push the raw 64 bits of FP register `reg`."""
        self.code.get(self._reg_local("f", reg))

    def set_f(self, reg: int) -> None:
        self.code.set(self._reg_local("f", reg))
        self.written.add(("f", reg))

    # -- memory ------------------------------------------------------------------------

    def address(self, base: int, offset: int) -> None:
        """Push the wasm i32 address of guest address x[base] + offset (bias folded in)."""
        self.x(base)
        delta = offset - layout.BIAS
        if delta:
            self.code.i64_const(delta).op(w.I64_ADD)
        self.code.op(w.I32_WRAP_I64)

    def vm_load(self, offset: int, opcode: int = w.I64_LOAD) -> None:
        self.code.i32_const(0).mem(opcode, VM_MEMORY, offset)

    def vm_store_local(self, offset: int, local: int, opcode: int = w.I64_STORE) -> None:
        self.code.i32_const(0).get(local).mem(opcode, VM_MEMORY, offset)

    # -- exits -----------------------------------------------------------------------------

    def mark(self, pc: int) -> None:
        """Note that the code from here on belongs to the guest instruction at pc."""
        self.pcs.append((len(self.code), pc))

    def exit_to(self, pc: int) -> None:
        """Leave the region for guest address pc (a constant)."""
        self.code.i64_const(pc).set(self.next_pc)
        self.code.br(w.BR, self.depth)

    def exit_dynamic(self) -> None:
        """Leave the region for the guest address on top of the stack."""
        self.code.set(self.next_pc)
        self.code.br(w.BR, self.depth)

    def exit_reason(self, pc: int, reason: int) -> None:
        """Leave to Python with an exit reason; pc is where the guest stands."""
        self.code.i32_const(0).i32_const(reason).mem(w.I32_STORE, VM_MEMORY, layout.VM_REASON)
        self.exit_to(pc | 1)

    def _flush_code(self) -> w.Code:
        """Stores of every register the region writes: the exact state for Python."""
        code = w.Code()
        for kind, reg in sorted(self.written):
            base = layout.VM_X if kind == "x" else layout.VM_F
            code.i32_const(0).get(self._reg_local(kind, reg)).mem(
                w.I64_STORE, VM_MEMORY, base + 8 * reg)
        return code

    def flush_here(self) -> None:
        """Write back registers at this point. Which ones is only known when the whole
        region is emitted (a loop may write a register later in its body), so this
        leaves a mark that `finish` fills in."""
        self._flushes.append(len(self.code))

    def host_call(self, func: int, results: tuple[int, ...]) -> None:
        """Call a host import returning i32: zero goes on; non-zero leaves for Python
        at the pc the host put in the VM state, without the epilogue's write-back,
        since the host may have changed registers there (and the locals were flushed)."""
        self.code.call(func).block(w.IF)
        self.vm_load(layout.VM_PC)
        self.code.i64_const(1).op(w.I64_OR, w.RETURN, w.END)
        for kind, reg in results:
            base = layout.VM_X if kind == "x" else layout.VM_F
            self.vm_load(base + 8 * reg)
            self.code.set(self._reg_local(kind, reg))

    # -- assembling the function -------------------------------------------------------

    def finish(self) -> tuple[w.Code, list[tuple[int, int]]]:
        """Prologue (register loads) + body in the exit block + epilogue (write-back).
        Returns the function code and the (offset, guest pc) marks, now relative to it."""
        flush = self._flush_code()
        body = w.Code()
        shift: list[tuple[int, int]] = []       # (body offset, bytes inserted before it)
        last = 0
        for at in self._flushes:
            body += self.code[last:at] + flush
            last = at
            shift.append((at, len(body) - at))
        body += self.code[last:]
        prologue = w.Code()
        for table, base in ((self.x_locals, layout.VM_X), (self.f_locals, layout.VM_F)):
            for reg, local in sorted(table.items()):
                prologue.i32_const(0).mem(w.I64_LOAD, VM_MEMORY, base + 8 * reg).set(local)
        prologue.block(w.BLOCK)
        out = w.Code(prologue + body)
        out.op(w.END)
        out += flush
        out.get(self.next_pc).op(w.RETURN)
        return out, [(len(prologue) + offset + _inserted(shift, offset), pc)
                     for offset, pc in self.pcs]


def _inserted(shift: list[tuple[int, int]], offset: int) -> int:
    """How many bytes of write-back code were spliced in at or before a body offset."""
    total = 0
    for at, inserted in shift:
        if at > offset:
            break
        total = inserted
    return total
