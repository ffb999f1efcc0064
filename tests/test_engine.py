"""The wasmtime store of a guest thread: a big program's modules all fit in it."""

from __future__ import annotations

import wasmtime as wt

from mvvm.runtime.engine import Runtime
from mvvm.runtime.image import Image
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
