"""F and D semantics (being written)."""
