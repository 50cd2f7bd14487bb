"""Design objectives and constraints, parsed from short command-line strings and stored as JSON-able dicts.

Objectives: ``max:PROPERTY``, ``min:PROPERTY``, ``window:PROPERTY:LOW:HIGH`` (land inside [LOW, HIGH]). One
objective, or two (their Pareto front; only max/min goals). Constraints: ``PROPERTY>VALUE`` with one of
``>``, ``>=``, ``<``, ``<=``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GOALS = ("max", "min", "window")
OPERATORS = (">=", "<=", ">", "<")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def _check_property(name: str, text: str) -> str:
    name = name.strip()
    if not name:
        raise ValueError(f"{text!r}: the property name is empty")
    if not _PROPERTY.match(name):
        raise ValueError(f"{text!r}: {name!r} is not a property name (letters, digits, _ . - ; not a digit first)")
    return name


def _number(value: str, what: str, text: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ValueError(f"{text!r}: {what} {value.strip()!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{text!r}: {what} must be finite")
    return x


@dataclass(frozen=True)
class Objective:
    """Maximise or minimise ``property``, or bring it into the window [low, high]."""

    property: str
    goal: str  # "max" | "min" | "window"
    low: float | None = None
    high: float | None = None

    def __post_init__(self):
        if self.goal not in GOALS:
            raise ValueError(f"objective goal must be one of {', '.join(GOALS)}, not {self.goal!r}")
        if self.goal == "window":
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError(f"window objective on {self.property!r} needs low < high, got {self.low}, {self.high}")
        elif self.low is not None or self.high is not None:
            raise ValueError(f"a {self.goal} objective takes no window bounds")

    def to_dict(self) -> dict[str, Any]:
        return {"property": self.property, "goal": self.goal, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Objective:
        return cls(data["property"], data["goal"], data.get("low"), data.get("high"))

    def __str__(self) -> str:
        if self.goal == "window":
            return f"window:{self.property}:{self.low:g}:{self.high:g}"
        return f"{self.goal}:{self.property}"

    def distance(self, value: float) -> float:
        """How far ``value`` lies outside the window (0 inside); only for window objectives."""
        return max(self.low - value, 0.0, value - self.high)


def parse_objective(text: str) -> Objective:
    """``max:P``, ``min:P`` or ``window:P:LOW:HIGH`` -> Objective; ValueError naming the problem."""
    parts = text.strip().split(":")
    goal = parts[0].strip().lower()
    if goal not in GOALS:
        raise ValueError(f"objective {text!r}: goal {parts[0]!r} is not one of {', '.join(GOALS)} "
                         "(write max:PROPERTY, min:PROPERTY or window:PROPERTY:LOW:HIGH)")
    if goal == "window":
        if len(parts) != 4:
            raise ValueError(f"objective {text!r}: a window needs window:PROPERTY:LOW:HIGH")
        low, high = _number(parts[2], "low bound", text), _number(parts[3], "high bound", text)
        if not low < high:
            raise ValueError(f"objective {text!r}: the low bound must be below the high bound")
        return Objective(_check_property(parts[1], text), "window", low, high)
    if len(parts) != 2:
        raise ValueError(f"objective {text!r}: write {goal}:PROPERTY")
    return Objective(_check_property(parts[1], text), goal)


def check_objectives(objectives: Sequence[Objective]) -> None:
    """One objective, or two max/min objectives on different properties (a Pareto front)."""
    if len(objectives) not in (1, 2):
        raise ValueError(f"give one objective or two (a Pareto front), not {len(objectives)}")
    if len(objectives) == 2:
        if any(o.goal == "window" for o in objectives):
            raise ValueError("a Pareto front of two objectives takes max/min goals only, not a window")
        if objectives[0].property == objectives[1].property:
            raise ValueError(f"the two objectives are on the same property {objectives[0].property!r}")


@dataclass(frozen=True)
class Constraint:
    """``property op value``, e.g. density > 1.0."""

    property: str
    op: str
    value: float

    def __post_init__(self):
        if self.op not in OPERATORS:
            raise ValueError(f"constraint operator must be one of {' '.join(OPERATORS)}, not {self.op!r}")

    def holds(self, x: float) -> bool:
        """Whether a value satisfies the constraint (False for NaN: an unknown value is not known to be feasible)."""
        if x is None or not math.isfinite(x):
            return False
        return {">": x > self.value, ">=": x >= self.value, "<": x < self.value, "<=": x <= self.value}[self.op]

    def to_dict(self) -> dict[str, Any]:
        return {"property": self.property, "op": self.op, "value": self.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Constraint:
        return cls(data["property"], data["op"], float(data["value"]))

    def __str__(self) -> str:
        return f"{self.property}{self.op}{self.value:g}"


def parse_constraint(text: str) -> Constraint:
    """``PROPERTY>VALUE`` (> >= < <=) -> Constraint; ValueError naming the problem."""
    match = re.match(r"^\s*([^<>=]*?)\s*(>=|<=|>|<|==|=)\s*(.*?)\s*$", text)
    if not match:
        raise ValueError(f"constraint {text!r}: write PROPERTY>VALUE with one of > >= < <=")
    name, op, value = match.groups()
    if op in ("=", "=="):
        raise ValueError(f"constraint {text!r}: equality is not a constraint here; use a window objective or > >= < <=")
    if not value:
        raise ValueError(f"constraint {text!r}: the value after {op!r} is missing")
    if re.search(r"[<>=]", value):
        raise ValueError(f"constraint {text!r}: only one comparison per constraint")
    return Constraint(_check_property(name, text), op, _number(value, "value", text))
