"""wasmtime, set up for MVVM: per host thread a store with its view of the guest memory
(mvvm.runtime.memories), its VM memory, its table of translated regions, and the raw
call paths.

wasmtime-py's `Func.__call__` costs ~33 us and a `wasmtime.Func` host callback
~16 us (DESIGN.md); the "unchecked" raw entry points cost ~2.4 us for a call
into wasm that calls back into Python once. Every hot crossing uses them.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable

import wasmtime as wt
from wasmtime import _ffi as ffi

from mvvm.runtime import layout, memories
from mvvm.wasm import encoder as w

RawCallback = Callable[[ctypes.Array], int]


class WasmTrap(Exception):
    """Translated code trapped; `frames` are (module name, module offset), innermost first."""

    def __init__(self, code: wt.TrapCode | None, message: str,
                 frames: list[tuple[str | None, int]]) -> None:
        super().__init__(message)
        self.code = code
        self.frames = frames


# Engine settings; their text is part of the disk cache's version key (settings_text).
SETTINGS = {
    "wasm_wide_arithmetic": True,               # i64.mul_wide_* for mulh
    "wasm_threads": True,                       # atomics, for the A extension
    "wasm_tail_call": True,                     # regions chain by return_call_indirect
    "wasm_relaxed_simd": True,                  # relaxed_madd: the F and D fused ops
    "wasm_relaxed_simd_deterministic": True,    # ... always fused (a libcall without FMA)
    "wasm_memory64": True,                      # the guest's 64-bit address space
    "parallel_compilation": False,              # no compile threads: fork() keeps working
    "memory_reservation": memories.ENGINE_RESERVATION,  # see mvvm.runtime.memories
    "memory_guard_size": memories.GUARD,
    "memory_may_move": False,                   # its base can be hoisted out of loops
}


def cranelift_flags(sandbox: bool) -> dict[str, str]:
    """Cranelift's own flags. Its Spectre mitigation on heap accesses (a cmov per access,
    so that a mispredicted bounds check loads nothing outside the memory) cost 14% on the
    bench over the bounds checks themselves (memory64; measured at 0d1352c): `mvvm run`
    goes without, since there the guest is a process like any other (qemu-user's model);
    an embedding's sandbox keeps it, as wasmtime does by default."""
    return {"enable_heap_access_spectre_mitigation": "true" if sandbox else "false"}


# The wasm stack of an engine for `mvvm run` (no sandbox): layout.DEEP_CALL_DEPTH guest
# calls of 2.4 KiB frames, as wasmtime's default 512 KiB holds layout.CALL_DEPTH_LIMIT of
# 2.6 KiB. A host thread that runs guest code that deep needs HOST_STACK of stack (the
# wasm stack, and Python's beyond it for the host calls made from there).
WASM_STACK = 48 << 20
HOST_STACK = 64 << 20


def settings_text(sandbox: bool) -> str:
    """The engine's settings, for the disk cache's version key."""
    return repr(sorted(SETTINGS.items()) + sorted(cranelift_flags(sandbox).items())
                + [("wasm_branch_hinting", True)])


def make_engine(profiler: str | None = None, sandbox: bool = False) -> wt.Engine:
    """profiler: "perfmap" or "jitdump", wasmtime's agents that tell Linux perf about
    compiled code. They change no code, so the disk cache serves runs with and without.
    sandbox: for an embedding (cranelift_flags)."""
    config = wt.Config()
    for name, value in SETTINGS.items():
        setattr(config, name, value)
    for name, value in cranelift_flags(sandbox).items():
        ffi.wasmtime_config_cranelift_flag_set(config.ptr(), name.encode(), value.encode())
    ffi.wasmtime_config_wasm_branch_hinting_set(config.ptr(), True)   # see w.Code.hint
    if not sandbox:                 # an embedding calls in on threads of any stack size
        ffi.wasmtime_config_async_stack_size_set(config.ptr(), WASM_STACK)     # >= the next
        config.max_wasm_stack = WASM_STACK
    if profiler is not None:
        config.profiler = profiler
    ffi.wasmtime_config_host_memory_creator_set(config.ptr(),
                                                ctypes.byref(memories.CREATOR.struct))
    return wt.Engine(config)


@functools.cache
def _memories_module(engine: wt.Engine) -> wt.Module:
    """A module that only defines the guest memory and a VM memory: wasmtime makes a
    module's memories with the host memory creator (its host `Memory`s it makes by
    itself), which gives the guest memory the process's region and the VM memory one of
    its own (mvvm.runtime.memories)."""
    m = w.Module(name="memories")
    m.memory(layout.GUEST_PAGES, layout.GUEST_PAGES, memory64=True)
    m.memory(1)
    m.export("guest", w.EXPORT_MEMORY, 0)
    m.export("vm", w.EXPORT_MEMORY, 1)
    return wt.Module(engine, m.encode())


# A store's instances: one per module of regions (a batch; a region when compiling every
# region at first sight), far more than wasmtime's default of 10,000.
INSTANCES = 1 << 20


class Runtime:
    """One host thread's store and the objects every translated module imports: the
    guest memory (the process's) and the thread's own VM memory and table."""

    def __init__(self, engine: wt.Engine, guest: memories.Region) -> None:
        self.engine = engine
        self.store = wt.Store(self.engine)
        self.store.set_limits(instances=INSTANCES)
        with memories.CREATOR.handing_out(guest):
            holder = wt.Instance(self.store, _memories_module(engine), [])
        exports = holder.exports(self.store)
        memory, vm_memory = exports["guest"], exports["vm"]
        assert isinstance(memory, wt.Memory) and isinstance(vm_memory, wt.Memory)
        self.guest_memory = memory
        self.vm_memory = vm_memory
        self._vm_address = ctypes.cast(vm_memory.data_ptr(self.store), ctypes.c_void_p).value
        self.table = wt.Table(self.store, wt.TableType(wt.ValType.funcref(),
                                                       wt.Limits(1, None)), None)
        self._keep: list[object] = []           # ctypes callbacks must outlive the store
        self._context = ctypes.c_void_p(ctypes.addressof(self.store._context().contents))
        self._trap = ctypes.c_void_p()
        self._trap_out = ctypes.byref(self._trap)
        self._error = ctypes.c_void_p()         # the last raw call's, for `outcome`
        self._args = (ffi.wasmtime_val_raw_t * 4)()

    def vm_address(self) -> int:
        """The host address of the VM memory's byte 0: stable, since every memory is reserved
        up front (memory_reservation), so the VM's ctypes views of it stay valid (and it
        is read once: each region's install asked wasmtime again)."""
        return self._vm_address or 0

    def host_function(self, params: list[wt.ValType], results: list[wt.ValType],
                      callback: RawCallback) -> wt.Func:
        """A raw host function: callback gets the wasmtime_val_raw_t array (arguments in,
        results out). It must not raise; it returns nothing of interest to wasm."""

        def trampoline(env: int, caller: object, values: ctypes.Array, count: int) -> int:
            callback(values)
            return 0

        raw = ffi.wasmtime_func_unchecked_callback_t(trampoline)
        no_finalizer = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(0)
        self._keep += [raw, no_finalizer]
        func = ffi.wasmtime_func_t()
        signature = wt.FuncType(params, results)     # must live until wasmtime has copied it
        ffi.wasmtime_func_new_unchecked(self.store._context(), signature.ptr(), raw, None,
                                        no_finalizer, ctypes.byref(func))
        return wt.Func._from_raw(func)

    def call_i64(self, func: wt.Func) -> int:
        """Call a `() -> i64` wasm function through the raw path (see _raw_call)."""
        self._trap.value = None
        self._error.value = _raw_call(self._context, ctypes.byref(func._func), self._args,
                                      ONE, self._trap_out)
        return self.outcome()

    def raw_call(self, func: wt.Func) -> tuple[int, ...]:
        """What a raw call of func made elsewhere (mvvm.embed's fast call, in C) needs:
        the entry point, the store's context, func, the arguments-and-results array, and
        where it leaves its trap and its error; `outcome` then tells what came of it."""
        return (_RAW_CALL_ADDRESS, self._context.value or 0, ctypes.addressof(func._func),
                ctypes.addressof(self._args), ctypes.addressof(self._trap),
                ctypes.addressof(self._error))

    def outcome(self) -> int:
        """The last raw call's i64 result, or the error or the trap it ended in, raised."""
        error = self._error.value
        if error:
            raise wt.WasmtimeError._from_ptr(ctypes.cast(error, ERROR_POINTER))
        if self._trap.value:
            trap = wt.Trap._from_ptr(ctypes.cast(self._trap, TRAP_POINTER))
            frames = [(f.module_name, f.module_offset) for f in trap.frames]
            raise WasmTrap(trap.trap_code, trap.message, frames)
        return self._args[0].i64 & 0xFFFFFFFFFFFFFFFF


# wasmtime_func_call_unchecked without wasmtime-py's wrapper and argument conversions: a
# crossing into wasm and back costs 0.55 us this way, 1.7 us through ffi's (an embedding's
# call into the guest is little more than this).
_raw_call = ctypes.CDLL(ffi.dll._name).wasmtime_func_call_unchecked
_raw_call.restype = ctypes.c_void_p
_RAW_CALL_ADDRESS = ctypes.cast(_raw_call, ctypes.c_void_p).value or 0
ONE = ctypes.c_size_t(1)
ERROR_POINTER = ctypes.POINTER(ffi.wasmtime_error_t)
TRAP_POINTER = ctypes.POINTER(ffi.wasm_trap_t)
