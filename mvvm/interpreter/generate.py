"""Tier 0: the interpreter function, generated from the instruction table.

`interpret(pc) -> pc` runs guest code from pc, one instruction at a time (from an odd
pc, pc - 1 first, without looking for compiled code there: an FP slow path a region
left to tier 0):

    loop $next
      after a jump: leave at an interrupt, or for compiled code at the target;
                    count the target and ask for tier 1 when it is hot
      check the page is executable; fetch 32 bits; if the low 16
      are a compressed instruction, take its expansion's word instead (a table
      in the VM memory that the host fills as values are first met)
      br_table on opcode and funct3 -> a case, or a bucket that tells its cases
      apart by mask and match; no case: SIGILL
      case: decode the row's fields into locals, run the translator's semantics
            for it (mvvm.interpreter.emitter), then pc += length, or jump
    end

It returns the next pc with bit 0 clear when compiled code should run there,
and `pc | 1` with VM_REASON set otherwise, like a translated region. Every
instruction that can trap first sets VM_PC to its pc, so a trap in tier 0 is
precise; the register file is always the architectural state.

The profile is a table of u32 counters in the VM memory indexed by a hash of
the pc: jump targets and the fall-through of untaken branches are counted, so
a non-zero count also says a block ran (mvvm.runtime.tiers reads it).
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.interpreter.emitter import InterpreterEmitter
from mvvm.isa import TABLE, Flow, InsnSpec, Instr
from mvvm.isa.decoder import REGISTERS, Term, imm_terms
from mvvm.isa.effects import may_trap
from mvvm.runtime import layout
from mvvm.translator.emitter import Field, record_jump
from mvvm.translator.modules import GUEST_MEMORY, VM_MEMORY
from mvvm.translator.semantics import FORMS, SEMANTICS, supported
from mvvm.wasm import encoder as w

KEY_BITS = 0x707F               # opcode and funct3: what the br_table dispatches on
ENTRY, COUNT_ONLY = 1, 2        # the `jumped` local after a jump: may start a region, or not
# Fields a semantics form may fix, and where they sit in the word (the zimm of csr*i: imm).
FORM_BITS = {"csr": (20, 0xFFF), "rs1": (15, 0x1F), "imm": (15, 0x1F)}


@dataclass(frozen=True)
class Case:
    """One arm of the interpreter: a table row, with the fields its form fixes."""

    spec: InsnSpec
    form: tuple[tuple[str, int], ...]
    match: int
    mask: int


def cases() -> list[Case]:
    """Every (row, form) the translator implements, most specific first."""
    out = []
    for spec in TABLE:
        forms = FORMS[spec.name](spec) if spec.name in FORMS else [{}]
        for form in forms:
            match, mask = spec.match, spec.mask
            for name, value in form.items():
                shift, bits = FORM_BITS[name]
                match, mask = match | value << shift, mask | bits << shift
            case = Case(spec, tuple(sorted(form.items())), match, mask)
            if supported(_instr(case, InterpreterEmitter())):
                out.append(case)
    return sorted(out, key=lambda c: -c.mask.bit_count())


def _instr(case: Case, e: InterpreterEmitter) -> Instr:
    """The case's instruction: fixed fields as ints, the others as run-time fields."""
    tokens = set(case.spec.operands.split(","))
    fields: dict[str, object] = {name: e.registers[name]
                                 for name, _ in (REGISTERS[t] for t in tokens & REGISTERS.keys())}
    if imm_terms(case.spec):
        fields["imm"] = e.imm_field
    if "rm" in tokens:
        fields["rm"] = e.rm_field
    fields.update(case.form)
    return Instr(case.spec, 0, e.length, **fields)  # type: ignore[arg-type]


def _key(word: int) -> int:
    """The br_table index of an opcode+funct3 value."""
    return (word >> 2 & 31) << 3 | (word >> 12 & 7)


def _buckets(all_cases: list[Case]) -> dict[int, list[int]]:
    """br_table index -> the cases (indices, most specific first) that can match there."""
    buckets: dict[int, list[int]] = {}
    for index, case in enumerate(all_cases):
        for funct3 in range(8):
            if (case.match >> 12 ^ funct3) & case.mask >> 12 & 7 == 0:
                buckets.setdefault(_key(case.match & 0x7F | funct3 << 12), []).append(index)
    return buckets


class _Generator:
    def __init__(self, lookup: int, hot: int, expand: int, memory64: bool) -> None:
        self.e = InterpreterEmitter(memory64)
        self.c = self.e.code
        self.lookup, self.hot, self.expand = lookup, hot, expand
        self.raw = self.e.local(w.I32)
        self.page = self.e.local(w.I64)
        self.jumped = self.e.local(w.I32)
        self.count = self.e.local(w.I32)

    def function(self) -> tuple[list[int], w.Code]:
        """The whole body: the loop, and in it one block per bucket and per case, nested
        so that the br_table (innermost) reaches each, with $illegal around them all."""
        c, e = self.c, self.e
        all_cases = cases()
        buckets = _buckets(all_cases)
        groups = sorted({tuple(v) for v in buckets.values()})
        n, m = len(all_cases), len(groups)
        pc = e.pc.local                 # an odd pc: run that instruction first, as it is
        c.i64_const(-1).set(self.page)
        c.i32_const(ENTRY).i32_const(0).get(pc).i64_const(1).op(w.I64_AND, w.I64_EQZ)
        c.op(w.SELECT).set(self.jumped)
        c.get(pc).i64_const(-2).op(w.I64_AND).set(pc)
        c.block(w.LOOP)
        self._after_jump()
        self._fetch()
        c.block(w.BLOCK)                                    # $illegal
        for _ in range(n + m):
            c.block(w.BLOCK)
        self._dispatch(all_cases, buckets, groups)
        for k, group in enumerate(groups):
            c.op(w.END)
            self._bucket(all_cases, group, m - 1 - k, n)
        for j, case in enumerate(all_cases):
            c.op(w.END)
            self._case(case, next_depth=n - j)
        c.op(w.END)
        e.exit_reason(layout.REASON_ILLEGAL, e.pc)
        c.op(w.END, w.UNREACHABLE)
        return e.locals, c

    def _dispatch(self, all_cases: list[Case], buckets: dict[int, list[int]],
                  groups: list[tuple[int, ...]]) -> None:
        """br_table on opcode and funct3: to the case itself when only one can match
        there on those bits alone, else to the bucket's block; nothing there: $illegal.
        (Depths: bucket k is k blocks out, case j m + j, $illegal m + n.)"""
        c, n, m = self.c, len(all_cases), len(groups)
        targets = []
        for key in range(256):
            group = tuple(buckets.get(key, ()))
            if not group:
                targets.append(m + n)
            elif len(group) == 1 and not all_cases[group[0]].mask & ~KEY_BITS:
                targets.append(m + group[0])
            else:
                targets.append(groups.index(group))
        c.get(self.raw).i32_const(2).op(w.I32_SHR_U).i32_const(31).op(w.I32_AND)
        c.i32_const(3).op(w.I32_SHL).get(self.raw).i32_const(12).op(w.I32_SHR_U)
        c.i32_const(7).op(w.I32_AND, w.I32_OR, w.BR_TABLE)
        c.extend(w.uleb(len(targets)) + b"".join(w.uleb(t) for t in targets) + w.uleb(m + n))

    # -- the parts of the loop ---------------------------------------------------------

    def _after_jump(self) -> None:
        """At a jump target: stop for an interrupt and count the target in the profile.
        If it may start a region (a call, return or indirect target, a loop header, the
        interpreter's entry): past the hot threshold, ask the host to compile it; once
        asked (the host then sets the count far below zero, and so it does for every
        region it installs), look for compiled code there. Either way a non-zero answer
        sends the pc back to the dispatcher."""
        c, e = self.c, self.e
        c.get(self.jumped).block(w.IF)
        e.vm_load(layout.VM_INTERRUPT, w.I32_LOAD)
        c.block(w.IF)
        e.exit_reason(layout.REASON_INTERRUPT, e.pc)
        c.op(w.END)
        self._count()
        c.get(self.jumped).i32_const(ENTRY).op(w.I32_EQ)
        e.vm_load(layout.VM_TIER0_ONLY, w.I32_LOAD)
        c.op(w.I32_EQZ, w.I32_AND).block(w.IF)
        c.get(self.count).i32_const(0).op(w.I32_LT_S).block(w.IF)
        c.get(e.pc.local).call(self.lookup).block(w.IF)
        self._to_compiled()
        c.op(w.ELSE).get(self.count)
        e.vm_load(layout.VM_HOT_THRESHOLD, w.I32_LOAD)
        c.op(w.I32_GE_S).block(w.IF)
        c.get(e.pc.local).call(self.hot).block(w.IF)
        self._to_compiled()
        c.op(w.END, w.END, w.END)
        c.i32_const(0).set(self.jumped)
        c.op(w.END)

    def _to_compiled(self) -> None:
        """Return pc to the dispatcher, which has a region for it; ends an `if`."""
        self.e.count_executed()
        self.c.get(self.e.pc.local).op(w.RETURN, w.END)

    def _count(self) -> None:
        """Count the block at pc in the profile; the new count is in self.count."""
        c, e = self.c, self.e
        c.get(e.pc.local).op(w.I32_WRAP_I64).i32_const(1).op(w.I32_SHR_U)
        c.i32_const(layout.COUNTERS - 1).op(w.I32_AND).i32_const(2).op(w.I32_SHL)
        address = e.temp(w.I32)
        c.tee(address).get(address).mem(w.I32_LOAD, VM_MEMORY, layout.VM_COUNTERS)
        c.i32_const(1).op(w.I32_ADD).tee(self.count).mem(w.I32_STORE, VM_MEMORY,
                                                         layout.VM_COUNTERS)
        e.release((w.I32, address))

    def _fetch(self) -> None:
        """The page check, the budget, the count, and the instruction's word into raw."""
        c, e = self.c, self.e
        pc = e.pc.local
        self._check_page()
        c.get(e.executed.local)
        e.vm_load(layout.VM_BUDGET)
        c.op(w.I64_GE_S).block(w.IF)
        e.exit_reason(layout.REASON_BUDGET, e.pc)
        c.op(w.END)
        c.get(e.executed.local).i64_const(1).op(w.I64_ADD).set(e.executed.local)
        # One 32-bit load: the guest window is backed whole, so reading past a 16-bit
        # instruction at the end of a page cannot fault.
        c.get(pc)
        e.guest_index()
        c.mem(w.I32_LOAD, GUEST_MEMORY).tee(self.raw).i32_const(3).op(w.I32_AND)
        c.i32_const(3).op(w.I32_EQ).block(w.IF)
        c.i64_const(4).set(e.length.local)
        c.op(w.ELSE)
        c.get(self.raw).i32_const(0xFFFF).op(w.I32_AND).tee(self.raw)
        c.i32_const(2).op(w.I32_SHL).mem(w.I32_LOAD, VM_MEMORY, layout.VM_RVC).tee(self.raw)
        c.op(w.I32_EQZ).block(w.IF)                         # not yet met: ask the host
        c.get(pc)
        e.guest_index()
        c.mem(w.I32_LOAD16_U, GUEST_MEMORY).call(self.expand).set(self.raw)
        c.op(w.END)
        c.i64_const(2).set(e.length.local)
        c.op(w.END)

    def _check_page(self) -> None:
        """When pc enters another page, look it up in the VM's bitmap of executable pages;
        not executable (or past the guest window): leave for the host to say why."""
        c, e = self.c, self.e
        pc, page = e.pc.local, self.page
        c.get(pc).i64_const(12).op(w.I64_SHR_U).get(page).op(w.I64_NE).block(w.IF)
        c.get(pc).i64_const(12).op(w.I64_SHR_U).tee(page)
        c.i64_const(layout.EXEC_BYTES * 8).op(w.I64_LT_U).block(w.IF, w.I32)
        c.get(page).op(w.I32_WRAP_I64).i32_const(3).op(w.I32_SHR_U)
        c.mem(w.I32_LOAD8_U, VM_MEMORY, layout.VM_EXEC)
        c.get(page).op(w.I32_WRAP_I64).i32_const(7).op(w.I32_AND, w.I32_SHR_U)
        c.i32_const(1).op(w.I32_AND)
        c.op(w.ELSE).i32_const(0).op(w.END, w.I32_EQZ).block(w.IF)
        c.i64_const(-1).set(page)
        e.exit_reason(layout.REASON_MISS, e.pc)
        c.op(w.END, w.END)

    def _bucket(self, all_cases: list[Case], group: tuple[int, ...], outer: int,
                n: int) -> None:
        """Tell a bucket's cases apart, most specific first; `outer` counts the bucket
        blocks still open around this code."""
        c = self.c
        for index in group:
            case = all_cases[index]
            mask = case.mask & ~KEY_BITS
            if mask:
                c.get(self.raw).i32_const(_signed32(mask)).op(w.I32_AND)
                c.i32_const(_signed32(case.match & mask)).op(w.I32_EQ)
                c.br(w.BR_IF, outer + index)
            else:
                c.br(w.BR, outer + index)
                return
        c.br(w.BR, outer + n)

    def _case(self, case: Case, next_depth: int) -> None:
        """Decode the fields, then the instruction's effect; next_depth reaches $next."""
        e, c = self.e, self.c
        instr = _instr(case, e)
        self._decode_fields(instr)
        if may_trap(instr) or isinstance(instr.rm, Field):
            e.store_pc(e.pc)                # a trap's pc (host calls store it themselves)
        flow = case.spec.flow
        if flow is Flow.BRANCH:
            SEMANTICS[case.spec.name](e, instr, e.pc)
            c.block(w.IF)
            self._jump_relative(instr.imm, branch=True)
            c.op(w.ELSE)
            self._step()
            self._count()
            c.op(w.END)
        elif flow is Flow.JAL:
            self._link(instr)
            self._jump_relative(instr.imm)
        elif flow is Flow.JALR:
            target = e.temp()
            e.x(instr.rs1)
            c.get(instr.imm.local).op(w.I64_ADD).i64_const(-2).op(w.I64_AND).set(target)
            self._record_jump(instr, target)
            self._link(instr)
            c.get(target).set(e.pc.local).i32_const(ENTRY).set(self.jumped)
            e.release((w.I64, target))
        elif flow is Flow.TRAP:
            e.exit_reason(layout.REASON_EBREAK, e.pc)
        else:
            SEMANTICS[case.spec.name](e, instr, e.pc)
            self._step()
        c.br(w.BR, next_depth)

    def _record_jump(self, instr: Instr, target: int) -> None:
        """An indirect jump other than a return (a jump table's, a computed goto, a call
        through a pointer): note its target in the profile of indirect jumps
        (`record_jump`)."""
        c, e = self.c, self.e
        rd, rs1 = (instr.rd.local, instr.rs1.local)         # byte offsets: number * 8
        c.get(rd).op(w.I32_EQZ).get(rs1).i32_const(8).op(w.I32_EQ)
        c.get(rs1).i32_const(40).op(w.I32_EQ, w.I32_OR, w.I32_AND, w.I32_EQZ).block(w.IF)
        record_jump(e, e.pc.local, target)
        c.op(w.END)

    def _decode_fields(self, instr: Instr) -> None:
        c = self.c
        for name, shift in dict.fromkeys(REGISTERS[t] for t in instr.spec.operands.split(",")
                                         if t in REGISTERS):
            field = getattr(instr, name)
            if isinstance(field, Field):
                c.get(self.raw).i32_const(shift - 3).op(w.I32_SHR_U).i32_const(0xF8)
                c.op(w.I32_AND).set(field.local)
        if isinstance(instr.imm, Field):
            for k, term in enumerate(imm_terms(instr.spec)):
                self._term(term)
                if k:
                    c.op(w.I32_OR)
            c.op(w.I64_EXTEND_I32_S).set(instr.imm.local)
        if isinstance(instr.rm, Field):
            c.get(self.raw).i32_const(12).op(w.I32_SHR_U).i32_const(7).op(w.I32_AND)
            c.op(w.I64_EXTEND_I32_U).set(instr.rm.local)

    def _term(self, term: Term) -> None:
        c = self.c
        c.get(self.raw)
        if term.shift:
            c.i32_const(term.shift).op(w.I32_SHR_S if term.signed else w.I32_SHR_U)
        if term.mask != -1:
            c.i32_const(_signed32(term.mask)).op(w.I32_AND)
        if term.left:
            c.i32_const(term.left).op(w.I32_SHL)

    def _step(self) -> None:
        e = self.e
        e.pc_relative(e.pc, e.length)
        self.c.set(e.pc.local)

    def _link(self, instr: Instr) -> None:
        e = self.e
        e.pc_relative(e.pc, e.length)
        e.set_x(instr.rd)

    def _jump_relative(self, offset: Field, *, branch: bool = False) -> None:
        """pc += offset, a jump. A branch forward (an if's merge, not a loop header or a
        function entry) only counts in the profile: jumped = 2."""
        e, c = self.e, self.c
        e.pc_relative(e.pc, offset)
        c.set(e.pc.local)
        if branch:
            c.i32_const(COUNT_ONLY).get(offset.local).i64_const(0).op(w.I64_LT_S, w.I32_SUB)
        else:
            c.i32_const(ENTRY)
        c.set(self.jumped)


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def interpreter(lookup: int, hot: int, expand: int,
                memory64: bool = True) -> tuple[list[int], w.Code]:
    """The locals and body of `interpret(pc: i64) -> i64`, calling the module's functions
    lookup (pc -> table slot, 0 if none), hot (pc -> non-zero if it installed code) and
    expand (a 16-bit value -> its expansion's word, which it also stores in VM_RVC);
    memory64: the guest memory's index width (mvvm.runtime.layout)."""
    return _Generator(lookup, hot, expand, memory64).function()
