"""`mvvm wasm`: a riscv64 Linux program as a standalone WebAssembly (WASI preview1) module.

discover.py finds the program's code (functions, data pointers, jump tables); program.py
builds the module (regions from the translator, the dispatcher and interpreter, the
program's data); linker.py joins the pieces; glue.py and shim/ (C, built by shim_build.py
into shim.wasm) are what the module runs on; runner.py and run.mjs run it under
wasmtime-py and Node; page.py writes a page that runs it in a browser.
"""
