"""The core of each guest thread (in wasm): the dispatcher loop, the code lookup and
the tier-0 interpreter; and the in-memory code cache behind them.

Control moves between regions without coming back to Python: each region
returns the next guest pc, and the dispatcher looks it up in an
open-addressing hash table in the VM memory (key: pc, value: slot in the
shared funcref table) and calls it. Where no region is compiled, the
interpreter runs the code (tiered) or the host translates it at once (the
translate-everything mode). Only a region or interpreter that returns
`pc | 1` ends `run` and comes back to Python.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable

import wasmtime as wt

from mvvm.runtime import layout
from mvvm.runtime.engine import Runtime
from mvvm.runtime.translations import Compiled
from mvvm.wasm import encoder as w

VM = 1                         # memory index of the VM memory in the core module
INITIAL_ENTRIES = 1 << 14
PAGE = 0x10000
CORE_NAME = "core"             # the core module's name, which trap frames in tier 0 carry


def core_module(tiered: bool, memory64: bool = True) -> bytes:
    """`lookup(pc) -> slot` probes the hash table (slot 0: none); on a miss, tiered, it
    says so, else it asks the host to translate. `interpret(pc) -> pc` is tier 0; not
    tiered, it runs only while VM_TIER0_ONLY is set (VM._retire_in_tier0) and for the
    slow paths regions leave to it (`_retire_slow_paths`).
    `run() -> pc` is the dispatch loop. Regions import `lookup` to call their callees.
    The first host imports are the region modules' (mvvm.translator.emitter), in their
    order, so that the semantics the interpreter shares with the translator call the same
    indices. memory64: the guest memory's index width (mvvm.runtime.layout)."""
    m = w.Module(name=CORE_NAME)
    region_type = m.type((w.I32,), (w.I64,))
    run_type = m.type((), (w.I64,))
    lookup_type = m.type((w.I64,), (w.I32,))
    m.import_func("env", "syscall", m.type((), (w.I32,)))
    m.import_func("env", "clock", m.type((), (w.I64,)))
    m.import_func("env", "fp", m.type((w.I32, w.I64, w.I64, w.I64), (w.I64,)))
    translate = m.import_func("env", "translate", lookup_type)
    hot = m.import_func("env", "hot", lookup_type)
    expand = m.import_func("env", "expand", m.type((w.I32,), (w.I32,)))
    m.import_memory("env", "guest", *(layout.GUEST_IMPORT if memory64 else (1,)),
                    memory64=memory64)
    m.import_memory("env", "vm", 1)
    m.import_table("env", "regions", 1)
    lookup = m.function(lookup_type, [w.I32, w.I64, w.I32],
                        _lookup_code(None if tiered else translate),
                        name="lookup", export="lookup")
    from mvvm.interpreter.generate import interpreter  # only when not in the cache

    locals_, body = interpreter(lookup, hot, expand, memory64)
    interpret = m.function(m.type((w.I64,), (w.I64,)), locals_, body, name="interpret")
    m.function(run_type, [w.I64, w.I32], _run_code(region_type, lookup, interpret, tiered),
               name="run", export="run")
    return m.encode()


def _run_code(region_type: int, lookup: int, interpret: int, tiered: bool) -> w.Code:
    pc, slot = 0, 1
    c = w.Code()
    c.i32_const(0).mem(w.I64_LOAD, VM, layout.VM_PC).set(pc)
    c.block(w.BLOCK).block(w.LOOP)
    c.i32_const(0).mem(w.I32_LOAD, VM, layout.VM_INTERRUPT)
    _leave_if(c, pc, layout.REASON_INTERRUPT)
    if tiered:                                              # no region while VM_TIER0_ONLY
        c.i32_const(0).get(pc).call(lookup).i32_const(0)
        c.mem(w.I32_LOAD, VM, layout.VM_TIER0_ONLY).op(w.SELECT).tee(slot).op(w.I32_EQZ)
        c.block(w.IF, w.I64).get(pc).call(interpret)
        c.op(w.ELSE).i32_const(0).get(slot).call_indirect(region_type).op(w.END)
    else:                                   # regions only (lookup translates), but tier 0
        c.i32_const(0).mem(w.I32_LOAD, VM, layout.VM_TIER0_ONLY)      # while TIER0_ONLY
        c.block(w.IF, w.I64).get(pc).call(interpret).op(w.ELSE)
        c.get(pc).call(lookup).tee(slot).op(w.I32_EQZ)
        _leave_if(c, pc, layout.REASON_MISS)
        c.i32_const(0).get(slot).call_indirect(region_type).op(w.END)   # call depth 0
    c.set(pc)
    _retire_slow_paths(c, pc, interpret)
    c.op(w.END, w.END)
    c.get(pc)
    return c


def _retire_slow_paths(c: w.Code, pc: int, interpret: int) -> None:
    """Inside the dispatch loop, after a region or tier 0 returned pc: an even pc goes
    round the loop; `pc | 1` for REASON_SLOW (an FP instruction whose region left its
    rare slow path to tier 0) goes to tier 0 at once, as `interpret(pc | 1)`, which runs
    the instruction there whatever is compiled at pc, then goes on to the next region
    entry as usual; any other odd pc leaves the loop for Python. Through Python, a steady
    loop whose FMA cancelled to zero at every pass spent 5 us on each."""
    c.block(w.LOOP)
    c.get(pc).i64_const(1).op(w.I64_AND, w.I64_EQZ).br(w.BR_IF, 1)
    c.i32_const(0).mem(w.I32_LOAD, VM, layout.VM_REASON).i32_const(layout.REASON_SLOW)
    c.op(w.I32_NE).br(w.BR_IF, 2)
    c.get(pc).call(interpret).set(pc).br(w.BR, 0)
    c.op(w.END)


def hash_table(slots: dict[int, int], entries: int) -> bytes:
    """The hash table `lookup` probes (layout.VM_HASH, entries a power of two), holding
    the slots of the regions at these entry pcs: for code compiled ahead of time."""
    table = bytearray(entries * layout.HASH_ENTRY)
    for pc, slot in slots.items():
        at = _free_entry(pc, entries - 1, lambda index: int.from_bytes(
            table[index * layout.HASH_ENTRY:][:8], "little"))
        struct.pack_into("<QI", table, at * layout.HASH_ENTRY, pc, slot)
    return bytes(table)


def _free_entry(pc: int, mask: int, key_at: Callable[[int], int]) -> int:
    """Where pc goes in the hash table: linear probing from its hash, as `lookup` does."""
    index = (pc >> 1) & mask
    while key_at(index):
        index = (index + 1) & mask
    return index


def _leave_if(c: w.Code, pc: int, reason: int) -> None:
    """Return `pc | 1` to Python with a reason when the i32 on the stack is true."""
    c.block(w.IF)
    c.i32_const(0).i32_const(reason).mem(w.I32_STORE, VM, layout.VM_REASON)
    c.get(pc).i64_const(1).op(w.I64_OR, w.RETURN, w.END)


def _lookup_code(translate: int | None) -> w.Code:
    pc, probe, key, mask = 0, 1, 2, 3
    c = w.Code()
    c.i32_const(0).mem(w.I32_LOAD, VM, layout.VM_HASH_MASK).set(mask)
    c.get(pc).op(w.I32_WRAP_I64).i32_const(1).op(w.I32_SHR_U).get(mask).op(w.I32_AND)
    c.i32_const(4).op(w.I32_SHL).set(probe)
    c.block(w.LOOP)
    c.get(probe).mem(w.I64_LOAD, VM, layout.VM_HASH).tee(key).get(pc).op(w.I64_EQ)
    c.block(w.IF).get(probe).mem(w.I32_LOAD, VM, layout.VM_HASH + 8).op(w.RETURN, w.END)
    c.get(key).op(w.I64_EQZ).block(w.IF)
    if translate is None:
        c.i32_const(0)
    else:
        c.get(pc).call(translate)
    c.op(w.RETURN, w.END)
    c.get(probe).i32_const(layout.HASH_ENTRY).op(w.I32_ADD)
    c.get(mask).i32_const(4).op(w.I32_SHL, w.I32_AND).set(probe)
    c.br(w.BR, 0).op(w.END)
    c.op(w.UNREACHABLE)
    return c


class CodeCache:
    """One thread's instances of the image's regions (mvvm.runtime.translations): its
    funcref table and the hash table from entry pc to table slot."""

    def __init__(self, runtime: Runtime, host: list[wt.Func], core: wt.Module) -> None:
        self.runtime = runtime
        self.generation = 0                     # of the translations it holds instances of
        self.installed = 0                      # translations.order entries seen so far
        self.regions = 0
        self.slots: dict[int, int] = {}         # entry pc -> table slot
        self.compiled: dict[int, Compiled] = {}   # entry pc -> the region installed there
        self.entries = INITIAL_ENTRIES
        self._instances: dict[wt.Module, wt.Instance] = {}
        self._ensure_vm_size()
        self._set_mask()
        instance = wt.Instance(runtime.store, core, [
            *host, runtime.guest_memory, runtime.vm_memory, runtime.table])
        exports = instance.exports(runtime.store)
        self.run = exports["run"]
        syscall, clock, fp, _translate, hot, _expand = host
        self.imports = [syscall, clock, fp, exports["lookup"], hot, runtime.guest_memory,
                        runtime.vm_memory, runtime.table]

    def install(self, entry: int, compiled: Compiled) -> int:
        """Enter a region in the hash table, instantiating its module (a batch of regions)
        in this store the first time; returns its table slot. A region translated again
        takes the slot of the one it replaces, so that every caller finds it there."""
        store = self.runtime.store
        instance = self._instances.get(compiled.module)
        if instance is None:
            instance = self._instances[compiled.module] = wt.Instance(
                store, compiled.module, self.imports)
        func = instance.exports(store)[compiled.export]
        self.compiled[entry] = compiled
        if entry in self.slots:
            self.runtime.table.set(store, self.slots[entry], func)
            return self.slots[entry]
        slot = self.runtime.table.grow(store, 1, func)
        self.regions += 1
        if 2 * self.regions > self.entries:
            self._rehash(self.entries * 2)
        self._insert(entry, slot)
        self.slots[entry] = slot
        return slot

    def flush(self, generation: int) -> None:
        """Forget every instance (the translations moved to generation); table slots are
        not reused."""
        self.generation = generation
        self.regions = self.installed = 0
        self._instances, self.slots, self.compiled = {}, {}, {}
        self._clear()
        ctypes.memset(self.runtime.vm_address() + layout.VM_SITES, 0,
                      layout.SITE_ENTRY * layout.SITES)

    # -- the hash table in VM memory ---------------------------------------------------

    def _base(self) -> int:
        return self.runtime.vm_address() + layout.VM_HASH

    def _ensure_vm_size(self) -> None:
        need = layout.VM_HASH + self.entries * layout.HASH_ENTRY
        memory, store = self.runtime.vm_memory, self.runtime.store
        have = memory.data_len(store)
        if need > have:
            memory.grow(store, (need - have + PAGE - 1) // PAGE)

    def _set_mask(self) -> None:
        vm = self.runtime.vm_address()
        ctypes.c_uint32.from_address(vm + layout.VM_HASH_MASK).value = self.entries - 1

    def _clear(self) -> None:
        ctypes.memset(self._base(), 0, self.entries * layout.HASH_ENTRY)

    def _insert(self, pc: int, slot: int) -> None:
        base = self._base()
        index = _free_entry(pc, self.entries - 1, lambda i: ctypes.c_uint64.from_address(
            base + i * layout.HASH_ENTRY).value)
        at = base + index * layout.HASH_ENTRY
        ctypes.c_uint64.from_address(at).value = pc
        ctypes.c_uint32.from_address(at + 8).value = slot

    def _rehash(self, entries: int) -> None:
        base = self._base()
        old = [(ctypes.c_uint64.from_address(base + i * layout.HASH_ENTRY).value,
                ctypes.c_uint32.from_address(base + i * layout.HASH_ENTRY + 8).value)
               for i in range(self.entries)]
        self.entries = entries
        self._ensure_vm_size()
        self._clear()
        self._set_mask()
        for pc, slot in old:
            if pc:
                self._insert(pc, slot)
