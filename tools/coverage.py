"""The instruction coverage report: every row of the ISA table, whether MVVM translates it,
and which tests exercise it (the generic directed test and its reference CPU, a targeted
test, the random differential sequences). Exits 1 if an implemented row is uncovered.

    python3 tools/coverage.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from difftest import directed, sequences  # noqa: E402
from test_directed_control import TARGETED_TESTS  # noqa: E402

from mvvm.isa import TABLE, Flow, InsnSpec  # noqa: E402
from mvvm.translator.semantics import SEMANTICS  # noqa: E402


def implemented(spec: InsnSpec) -> bool:
    return spec.name in SEMANTICS or spec.flow is not Flow.NEXT


def tests_of(spec: InsnSpec, random_rows: set[str]) -> list[str]:
    found = []
    if directed.is_generic(spec):
        found.append(f"test_directed ({directed.reference(spec)})")
    if spec.name in TARGETED_TESTS:
        found.append(TARGETED_TESTS[spec.name].__name__)
    if spec.name in random_rows:
        found.append("test_differential")
    return found


def main() -> int:
    random_rows = {s.name for s in sequences.straight_rows(lambda s: True)}
    uncovered = 0
    print(f"{'instruction':14} {'ext':9} {'translated':10} tests")
    for spec in TABLE:
        tests = tests_of(spec, random_rows) if implemented(spec) else []
        if implemented(spec) and not tests:
            uncovered += 1
        print(f"{spec.name:14} {spec.ext:9} {'yes' if implemented(spec) else 'NO':10} "
              f"{', '.join(tests) or '-'}")
    count = sum(map(implemented, TABLE))
    print(f"\n{len(TABLE)} rows, {count} translated, {uncovered} translated but uncovered")
    return 1 if uncovered or count < len(TABLE) else 0


if __name__ == "__main__":
    raise SystemExit(main())
