"""MVVM: RISC-V (riscv64 Linux) programs run by translation to WebAssembly, compiled by wasmtime."""
