"""The benchmark programs: which C source, what kind of work, and how small a run is for
the CI's quick mode.

The full size lives in each program (its default when argv[1] is absent), so a program
run by hand is a benchmark run; only the quick size, which exists for the harness, is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "src"

GROUPS = ("integer", "control", "memory", "float", "mixed", "startup")


@dataclass(frozen=True)
class Program:
    """One benchmark: `src/<name>.c`, its group, and its argv[1] in quick mode."""

    name: str
    group: str
    quick_size: int

    @property
    def source(self) -> Path:
        return SOURCES / f"{self.name}.c"

    @property
    def compute_bound(self) -> bool:
        """Start-up cost says nothing about generated code, so it has its own mean."""
        return self.group != "startup"

    def args(self, quick: bool) -> list[str]:
        return [str(self.quick_size)] if quick else []


PROGRAMS: tuple[Program, ...] = (
    Program("sha256", "integer", 2),
    Program("crc32", "integer", 2),
    Program("sort", "integer", 20_000),
    Program("sieve", "integer", 100_000),
    Program("matmul", "integer", 40),
    Program("interp", "control", 2_000),
    Program("recursion", "control", 20),
    Program("lexer", "control", 2_000),
    Program("memcpy", "memory", 2),
    Program("strlen", "memory", 2),
    Program("strcmp", "memory", 2),
    Program("nbody", "float", 1_000),
    Program("spectralnorm", "float", 100),
    Program("mandelbrot", "float", 101),
    Program("linsolve", "float", 30),
    Program("coremark", "mixed", 2),
    Program("hello", "startup", 1),
)


def select(spec: str | None) -> list[Program]:
    """The programs named in a comma-separated list of program or group names (all if None),
    in the suite's order.  An unknown name is an error, not an empty run."""
    if not spec:
        return list(PROGRAMS)
    wanted = {name.strip() for name in spec.split(",") if name.strip()}
    unknown = wanted - {p.name for p in PROGRAMS} - set(GROUPS)
    if unknown:
        known = ", ".join(p.name for p in PROGRAMS)
        raise ValueError(f"unknown program(s) {', '.join(sorted(unknown))}; "
                         f"known: {known}; groups: {', '.join(GROUPS)}")
    return [p for p in PROGRAMS if p.name in wanted or p.group in wanted]
