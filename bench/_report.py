"""One line per figure, for `make bench`'s table (scripts/bench_table.py collects them from every script):

    BENCH|<name>|<value>|<unit>|<goal>|<ratio>|<baseline>

*goal* is "<= 2", ">= 0.5", "== 0" or "" (no goal); *ratio* is value ÷ baseline value ("" without a baseline);
*baseline* is "<what>=<value><unit>", measured in the same run on the same machine. Scripts print their own
human-readable lines as well; these are for the table.

    from _report import report
    report("audit.verify_1M", 1.42, "s", goal=("<=", 2.0), baseline=("sha256 of the lines", 0.61))
"""

from __future__ import annotations

import math

PREFIX = "BENCH|"
OPERATORS = ("<=", ">=", "==", "<", ">")


def _number(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return str(value)
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{min(digits, 6)}f}"


def report(
    name: str,
    value: float,
    unit: str,
    *,
    goal: tuple[str, float] | None = None,
    baseline: tuple[str, float] | None = None,
) -> str:
    """Print (and return) the table line of one figure."""
    if goal is not None and goal[0] not in OPERATORS:
        raise ValueError(f"goal operator must be one of {OPERATORS}, got {goal[0]!r}")
    goal_text = f"{goal[0]} {_number(goal[1])}" if goal else ""
    ratio = ""
    baseline_text = ""
    if baseline is not None:
        label, base = baseline
        baseline_text = f"{label}={_number(base)}{unit}"
        if base:
            ratio = _number(value / base)
    line = PREFIX + "|".join([name, _number(value), unit, goal_text, ratio, baseline_text])
    print(line, flush=True)
    return line


def met(value: float, goal: str) -> bool | None:
    """Whether *value* meets a goal written as report() writes it ("<= 2"); None without a goal."""
    goal = goal.strip()
    if not goal:
        return None
    for op in OPERATORS:
        if goal.startswith(op):
            target = float(goal[len(op) :])
            return {
                "<=": value <= target,
                ">=": value >= target,
                "==": value == target,
                "<": value < target,
                ">": value > target,
            }[op]
    raise ValueError(f"not a goal: {goal!r}")
