"""Zba, Zbb, Zbs and Zbc semantics (being written)."""
