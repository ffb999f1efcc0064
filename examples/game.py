"""Game scripting with mvvm.Machine: a riscv64 script whose update() the host calls every
frame, drawing through host callbacks.

    python3 examples/game.py [SCRIPT]       (SCRIPT: the prebuilt examples/game)
"""

import sys
import time
from pathlib import Path

import mvvm

FRAMES = 600
WIDTH = 100


def main() -> None:
    script = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("game")
    machine = mvvm.Machine(script)
    drawn: list[tuple[int, int, int]] = []

    @machine.host_function("draw")
    def draw(m: mvvm.Machine, entity: int, x: int, y: int) -> None:
        drawn.append((entity, x, y))

    @machine.host_function("width")
    def width(m: mvvm.Machine) -> int:
        return WIDTH

    machine.run()                       # main() sets up, then pauses: ready for frames
    update = machine.function("update")
    started = time.perf_counter()
    for frame in range(FRAMES):
        score = update(frame, max_instructions=100_000)     # a frame may not hog the host
    elapsed = time.perf_counter() - started
    machine.call("on_event", "bonus", 10)
    print(f"{FRAMES} frames, {len(drawn)} sprites drawn, last at {drawn[-1]}, "
          f"score {score}, then {machine.call('update', FRAMES)} after the bonus")
    print(f"{elapsed / FRAMES * 1e6:.0f} us per frame", file=sys.stderr)


if __name__ == "__main__":
    main()
