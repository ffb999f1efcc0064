"""The glue piece of a `mvvm wasm` module: what `mvvm run` does in Python around the wasm
(mvvm.runtime.vm), done in wasm.

It defines the guest memory, the VM memory and the table of regions; it gives the shim
(C, which sees only its own memory) small functions to reach the other two; it answers
the dispatcher's host imports that only matter to a JIT (translate, hot, expand: never);
it holds the program's constants (`config`); and it computes the 128-bit products that
translated code takes from the wide-arithmetic proposal, which browsers lack.
"""

from __future__ import annotations

from enum import IntEnum

from mvvm.wasm import encoder as w

SHIM_MEMORY, GUEST, VM = 0, 1, 2            # the glue's memory indices
# A 32-bit memory; its last page stays unbacked, so the wrapped null page (guest addresses
# below mvvm.runtime.layout.BIAS) is always out of bounds.
MAX_GUEST_PAGES = 0xFFFF


class Config(IntEnum):
    """The program's constants, by key (the shim's CONFIG_* in its generated layout.h)."""

    ENTRY = 0
    PHDR = 1
    PHNUM = 2
    STACK_TOP = 3
    STACK_SIZE = 4
    BRK = 5
    BRK_SIZE = 6
    HWCAP = 7
    STRACE = 8
    CODE_START = 9              # the span of the program's executable segments
    CODE_END = 10


def glue_module(config: dict[Config, int], guest_pages: int, vm_pages: int,
                table_size: int) -> bytes:
    m = w.Module(name="glue")
    m.import_memory("env", "memory", 1)
    m.memory(guest_pages, MAX_GUEST_PAGES)
    m.memory(vm_pages)
    m.table(table_size)
    m.export("guest", w.EXPORT_MEMORY, GUEST)
    m.export("vm", w.EXPORT_MEMORY, VM)
    m.export("regions", w.EXPORT_TABLE, 0)
    _vm_access(m)
    _guest_access(m)
    never = m.type((w.I64,), (w.I32,))
    for name in ("translate", "hot"):
        m.function(never, [], w.Code().i32_const(0), export=name)
    m.function(m.type((w.I32,), (w.I32,)), [], w.Code().i32_const(0), export="expand")
    m.function(m.type((w.I32,), (w.I64,)), [], _config_code(config), export="config")
    wide = m.type((w.I64, w.I64), (w.I64, w.I64))
    m.function(wide, [w.I64], _mul_wide_u(), export="mul_wide_u")
    m.function(wide, [w.I64], _mul_wide_s(m.imported_funcs + len(m.functions) - 1),
               export="mul_wide_s")
    return m.encode()


def _vm_access(m: w.Module) -> None:
    get64, set64 = m.type((w.I32,), (w.I64,)), m.type((w.I32, w.I64), ())
    get32, set32 = m.type((w.I32,), (w.I32,)), m.type((w.I32, w.I32), ())
    m.function(get64, [], w.Code().get(0).mem(w.I64_LOAD, VM), export="vm_get")
    m.function(set64, [], w.Code().get(0).get(1).mem(w.I64_STORE, VM), export="vm_set")
    m.function(get32, [], w.Code().get(0).mem(w.I32_LOAD, VM), export="vm_get32")
    m.function(set32, [], w.Code().get(0).get(1).mem(w.I32_STORE, VM), export="vm_set32")


def _guest_access(m: w.Module) -> None:
    three = m.type((w.I32, w.I32, w.I32), ())
    copy = w.MEMORY_COPY
    m.function(three, [], w.Code().get(0).get(1).get(2).fc(copy).op(SHIM_MEMORY, GUEST),
               export="guest_read")
    m.function(three, [], w.Code().get(0).get(1).get(2).fc(copy).op(GUEST, SHIM_MEMORY),
               export="guest_write")
    m.function(three, [], w.Code().get(0).get(1).get(2).fc(w.MEMORY_FILL).op(GUEST),
               export="guest_fill")
    m.function(m.type((), (w.I32,)), [], w.Code().op(w.MEMORY_SIZE, GUEST),
               export="guest_pages")
    m.function(m.type((w.I32,), (w.I32,)), [], w.Code().get(0).op(w.MEMORY_GROW, GUEST),
               export="guest_grow")


def _config_code(config: dict[Config, int]) -> w.Code:
    c = w.Code()
    for key, value in config.items():
        c.get(0).i32_const(key).op(w.I32_EQ).block(w.IF).i64_const(value).op(w.RETURN, w.END)
    return c.i64_const(0)


def _mul_wide_u() -> w.Code:
    """(a, b) -> (low, high) of the unsigned 128-bit product, from 32-bit halves:
    high = a1*b1 + (a0*b1 >> 32) + (a1*b0 >> 32) + carries of the middle column."""
    a, b, mid = 0, 1, 2
    c = w.Code()

    def half(local: int, high: bool) -> None:
        c.get(local)
        if high:
            c.i64_const(32).op(w.I64_SHR_U)
        else:
            c.i64_const(0xFFFFFFFF).op(w.I64_AND)

    def product(x_high: bool, y_high: bool) -> None:
        half(a, x_high)
        half(b, y_high)
        c.op(w.I64_MUL)

    c.get(a).get(b).op(w.I64_MUL)                                   # low
    product(False, False)
    c.i64_const(32).op(w.I64_SHR_U)
    product(False, True)
    c.i64_const(0xFFFFFFFF).op(w.I64_AND, w.I64_ADD)
    product(True, False)
    c.i64_const(0xFFFFFFFF).op(w.I64_AND, w.I64_ADD).set(mid)
    product(True, True)
    product(False, True)
    c.i64_const(32).op(w.I64_SHR_U, w.I64_ADD)
    product(True, False)
    c.i64_const(32).op(w.I64_SHR_U, w.I64_ADD)
    c.get(mid).i64_const(32).op(w.I64_SHR_U, w.I64_ADD)              # high
    return c


def _mul_wide_s(mul_wide_u: int) -> w.Code:
    """The signed product's high half is the unsigned one minus b when a < 0 and minus a
    when b < 0 (mod 2**64); the low half is the same."""
    a, b, high = 0, 1, 2
    c = w.Code()
    c.get(a).get(b).call(mul_wide_u).set(high)
    c.get(high)
    c.get(b).get(a).i64_const(63).op(w.I64_SHR_S, w.I64_AND, w.I64_SUB)
    c.get(a).get(b).i64_const(63).op(w.I64_SHR_S, w.I64_AND, w.I64_SUB)
    return c
