"""Helpers for the directed and differential instruction tests: an encoder (the inverse of
the table's decoder), corner operands, random sequences, and three CPUs that run the same
code: MVVM's VM driven directly, Unicorn, and qemu-riscv64 running a generated program."""
