"""Tier 0: a RISC-V interpreter written in wasm, generated from the instruction table and
the translator's semantics (mvvm.interpreter.generate), so that cold code runs at once."""
