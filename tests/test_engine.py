"""The wasmtime store of a guest thread: a big program's modules all fit in it; and how deep
guest calls nest as wasm calls."""

from __future__ import annotations

import resource
import threading

import wasmtime as wt
from toolchain import PROGRAMS

import mvvm
from mvvm.linux import hoststack
from mvvm.linux.process import start_process
from mvvm.runtime.engine import HOST_STACK, Runtime
from mvvm.runtime.image import Image
from mvvm.runtime.layout import CALL_DEPTH_LIMIT, DEEP_CALL_DEPTH
from mvvm.wasm import encoder as w


def test_a_store_holds_more_than_wasmtimes_default_of_ten_thousand_instances():
    image = Image()
    runtime = Runtime(image.engine, image.region)
    m = w.Module()
    m.function(m.type((), (w.I64,)), [], w.Code().i64_const(7), export="f")
    module = wt.Module(image.engine, m.encode())
    for _ in range(10_001):
        instance = wt.Instance(runtime.store, module, [])
    assert instance.exports(runtime.store)["f"](runtime.store) == 7


def test_guest_calls_nest_deep_under_mvvm_run_and_shallow_in_an_embedding(build_program):
    """`mvvm run` gives its threads the host stack that DEEP_CALL_DEPTH wasm calls need, and
    its engine the wasm stack (Ackermann's 16,000 frames then return as wasm returns, not
    through the dispatcher); an embedding's calls run on its caller's threads, whose stack
    MVVM does not choose, so its guests nest calls only CALL_DEPTH_LIMIT deep."""
    binary = build_program(PROGRAMS / "compute.c", "O2")
    before = resource.getrlimit(resource.RLIMIT_STACK), threading.stack_size()
    try:
        process = start_process(str(binary), [str(binary)], [])
        assert process.vm is not None and process.vm.call_depth == DEEP_CALL_DEPTH
        soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
        assert soft == resource.RLIM_INFINITY or soft >= HOST_STACK
        assert threading.stack_size() >= HOST_STACK
        hoststack.restore()         # as for a host program the guest execs
        assert resource.getrlimit(resource.RLIMIT_STACK) == before[0]
    finally:
        hoststack.restore()         # the qemu runs of this test process must not see it
        threading.stack_size(before[1])
    assert mvvm.Machine(binary).vm.call_depth == CALL_DEPTH_LIMIT
