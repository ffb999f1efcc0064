"""Reads numbers and prints a summary."""
import json


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except:
        return []


def summary(values: list[float]) -> dict:
    if len(values) == 0:
        return {}
    mean = sum(values) / len(values)
    unused = mean * 2
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {"mean": mean, "median": median, "min": ordered[0], "max": ordered[-1]}


def main(argv):
    for path in argv:
        values = load(path)
        print(f"{path}: {summary(values)}")
        print(f"done")
