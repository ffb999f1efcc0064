"""A plugin sandbox with mvvm.Machine: untrusted riscv64 functions run with an instruction
budget and a snapshot to go back to; the host survives whatever they do.

    python3 examples/plugin.py [PLUGIN]     (PLUGIN: the prebuilt examples/plugin)
"""

import sys
from pathlib import Path

import mvvm


def main() -> None:
    plugin = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("plugin")
    machine = mvvm.Machine(plugin)
    machine.run()                                   # C start-up, then main returns
    clean = machine.snapshot()
    for name, args in [("shout", ("hello, sandbox",)), ("hang", ()), ("scribble", ()),
                       ("snoop", ()), ("vandalise", ()), ("shout", ("still here",))]:
        try:
            result = machine.call(name, *args, max_instructions=1_000_000)
            if name == "shout":
                result = repr(machine.memory.read_str(result))
            print(f"{name}: returned {result}")
        except mvvm.BudgetExceeded:
            print(f"{name}: stopped after 1,000,000 instructions")
        except mvvm.GuestFault as fault:
            print(f"{name}: {fault.args[0].splitlines()[0]}, at {fault.backtrace[0]}")
        machine.restore(clean)                      # each call starts from the same state


if __name__ == "__main__":
    main()
