"""The dispatcher loop (in wasm) and the in-memory code cache behind it.

Control moves between regions without coming back to Python: each region
returns the next guest pc, and the dispatcher looks it up in an
open-addressing hash table in the VM memory (key: pc, value: slot in the
shared funcref table) and calls it. Only a miss, or a region that returns
`pc | 1`, ends `run` and comes back to Python.
"""

from __future__ import annotations

import ctypes

import wasmtime as wt

from mvvm.runtime import layout
from mvvm.runtime.engine import Runtime
from mvvm.translator.translate import REGION_EXPORT
from mvvm.wasm import encoder as w

VM = 1                         # memory index of the VM memory in the dispatcher module
INITIAL_ENTRIES = 1 << 14
PAGE = 0x10000


def dispatcher_module() -> bytes:
    """`lookup(pc) -> slot` probes the hash table and, on a miss, asks the host to translate
    (slot 0: it could not); `run() -> pc` is the dispatch loop. Regions import `lookup` to
    call their callees directly."""
    m = w.Module(name="dispatcher")
    region_type = m.type((w.I32,), (w.I64,))
    run_type = m.type((), (w.I64,))
    lookup_type = m.type((w.I64,), (w.I32,))
    translate = m.import_func("env", "translate", lookup_type)
    m.import_memory("env", "guest", 1)     # unused; keeps memory indices as in regions
    m.import_memory("env", "vm", 1)
    m.import_table("env", "regions", 1)
    lookup = m.function(lookup_type, [w.I32, w.I64, w.I32], _lookup_code(translate),
                        name="lookup", export="lookup")
    pc, slot = 0, 1
    c = w.Code()
    c.i32_const(0).mem(w.I64_LOAD, VM, layout.VM_PC).set(pc)
    c.block(w.LOOP)
    c.i32_const(0).mem(w.I32_LOAD, VM, layout.VM_INTERRUPT)
    _leave_if(c, pc, layout.REASON_INTERRUPT)
    c.get(pc).call(lookup).tee(slot).op(w.I32_EQZ)
    _leave_if(c, pc, layout.REASON_MISS)
    c.i32_const(0).get(slot).call_indirect(region_type)               # call depth 0
    c.tee(pc).i64_const(1).op(w.I64_AND, w.I64_EQZ).br(w.BR_IF, 0)
    c.op(w.END)
    c.get(pc)
    m.function(run_type, [w.I64, w.I32], c, name="run", export="run")
    return m.encode()


def _leave_if(c: w.Code, pc: int, reason: int) -> None:
    """Return `pc | 1` to Python with a reason when the i32 on the stack is true."""
    c.block(w.IF)
    c.i32_const(0).i32_const(reason).mem(w.I32_STORE, VM, layout.VM_REASON)
    c.get(pc).i64_const(1).op(w.I64_OR, w.RETURN, w.END)


def _lookup_code(translate: int) -> w.Code:
    pc, probe, key, mask = 0, 1, 2, 3
    c = w.Code()
    c.i32_const(0).mem(w.I32_LOAD, VM, layout.VM_HASH_MASK).set(mask)
    c.get(pc).op(w.I32_WRAP_I64).i32_const(1).op(w.I32_SHR_U).get(mask).op(w.I32_AND)
    c.i32_const(4).op(w.I32_SHL).set(probe)
    c.block(w.LOOP)
    c.get(probe).mem(w.I64_LOAD, VM, layout.VM_HASH).tee(key).get(pc).op(w.I64_EQ)
    c.block(w.IF).get(probe).mem(w.I32_LOAD, VM, layout.VM_HASH + 8).op(w.RETURN, w.END)
    c.get(key).op(w.I64_EQZ).block(w.IF).get(pc).call(translate).op(w.RETURN, w.END)
    c.get(probe).i32_const(layout.HASH_ENTRY).op(w.I32_ADD)
    c.get(mask).i32_const(4).op(w.I32_SHL, w.I32_AND).set(probe)
    c.br(w.BR, 0).op(w.END)
    c.op(w.UNREACHABLE)
    return c


class CodeCache:
    """One thread's instances of the image's regions (mvvm.runtime.translations): its
    funcref table and the hash table from entry pc to table slot."""

    def __init__(self, runtime: Runtime, host: list[wt.Func], translate: wt.Func) -> None:
        self.runtime = runtime
        self.generation = 0                     # of the translations it holds instances of
        self.regions = 0
        self.entries = INITIAL_ENTRIES
        self._ensure_vm_size()
        self._set_mask()
        instance = runtime.instantiate(dispatcher_module(), [
            translate, runtime.guest_memory, runtime.vm_memory, runtime.table])
        exports = instance.exports(runtime.store)
        self.run = exports["run"]
        self.imports = [*host, exports["lookup"], runtime.guest_memory, runtime.vm_memory,
                        runtime.table]

    def install(self, entry: int, module: wt.Module) -> int:
        """Instantiate a region and enter it in the hash table; returns its table slot."""
        store = self.runtime.store
        func = wt.Instance(store, module, self.imports).exports(store)[REGION_EXPORT]
        slot = self.runtime.table.grow(store, 1, func)
        self.regions += 1
        if 2 * self.regions > self.entries:
            self._rehash(self.entries * 2)
        self._insert(entry, slot)
        return slot

    def flush(self, generation: int) -> None:
        """Forget every instance (the translations moved to generation); table slots are
        not reused."""
        self.generation = generation
        self.regions = 0
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
        base, mask = self._base(), self.entries - 1
        index = (pc >> 1) & mask
        while ctypes.c_uint64.from_address(base + index * layout.HASH_ENTRY).value:
            index = (index + 1) & mask
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
