"""The package's layers import downwards only: below the Linux layer nothing reaches into it
or into the faces (the command line, mvvm.Machine, the WASI output, the GDB stub), and the
Linux layer reaches into no face. Function-level imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

from toolchain import ROOT

PACKAGE = ROOT / "mvvm"
FACES = {"cli", "embed", "wasi", "gdbstub", "__main__"}
BELOW_LINUX = {"isa", "wasm", "translator", "interpreter", "runtime", "elf"}


def _imports(path: Path) -> set[str]:
    """The mvvm modules the file imports, as dotted names, relative imports resolved."""
    package = ["mvvm", *path.relative_to(PACKAGE).parent.parts]     # where `.` points
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            if module == "mvvm":                # from mvvm import isa
                found.update(f"mvvm.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("mvvm.")}


def _layer(module: str) -> str:
    return module.split(".")[1]


def test_layers_import_downwards_only():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        forbidden = (FACES | {"linux"} if layer in BELOW_LINUX
                     else FACES if layer == "linux" else set())
        wrong += [f"{path.relative_to(ROOT)} imports {module}" for module in _imports(path)
                  if _layer(module) in forbidden]
    assert not wrong, "\n".join(wrong)
