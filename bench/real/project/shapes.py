"""A small project for ruff to check: ordinary code with a few findings."""
import os, sys
from typing import List, Optional


class Shape:
    def __init__(self, name: str, sides: Optional[int] = None):
        self.name = name
        self.sides = sides

    def area(self) -> float:
        raise NotImplementedError

    def describe(self) -> str:
        return "%s with %s sides" % (self.name, self.sides)


class Square(Shape):
    def __init__(self, side: float):
        super(Square, self).__init__("square", 4)
        self.side = side

    def area(self) -> float:
        return self.side ** 2


class Circle(Shape):
    def __init__(self, radius: float):
        super().__init__("circle")
        self.radius = radius

    def area(self) -> float:
        return 3.14159 * self.radius ** 2


def total_area(shapes: List[Shape]) -> float:
    total = 0
    for s in shapes:
        total += s.area()
    return total


def largest(shapes=[]):
    best = None
    for s in shapes:
        if best == None or s.area() > best.area():
            best = s
    return best
