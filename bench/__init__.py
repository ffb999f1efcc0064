"""MVVM's benchmark suite: the project's own C programs, each run natively, under
qemu-riscv64 and under MVVM, so that every speed claim is measured against both the
reference emulator and the hardware's limit on the same source.

`python3 -m bench --help` runs it; `programs.py` lists the programs and `src/` holds them.
"""
